package espaceclient

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/internal/hookguard/hookguardtest"
)

// The inbound webhook's server for the raw-HTTP tests: its listener counts
// the bytes it read (internal/hookguard/hookguardtest, shared with the
// bridge's tests of both hooks' bounds).

// guardedServer is the customer space's inbound hook, finding clients in
// identities, on a counting listener.
func (g *inboundRig) guardedServer(t *testing.T, identities IdentityDirectory) (addr string, read *atomic.Int64) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	mux := http.NewServeMux()
	NewInbound(g.e.svc, identities, log).Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	read = new(atomic.Int64)
	srv.Listener = hookguardtest.CountingListener{Listener: srv.Listener, Read: read}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), read
}

// storedTotals counts every request, message and delivery of the rig's
// database (its own: nothing else writes there).
func (g *inboundRig) storedTotals(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("requests=%d messages=%d deliveries=%d",
		g.count(t, `SELECT count(*) FROM requests`), g.count(t, `SELECT count(*) FROM messages`),
		g.count(t, `SELECT count(*) FROM inbound_deliveries`))
}

// signedHeaders are Standard Webhooks headers of id, signed over body.
func (g *inboundRig) signedHeaders(id string, stamp time.Time, body []byte) map[string]string {
	ts := strconv.FormatInt(stamp.Unix(), 10)
	return map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": SignStandardWebhook(g.secret, id, ts, body)}
}
