package espaceclient

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// Raw-HTTP helpers of the inbound webhook's tests: a server whose listener
// counts the bytes it read, and posts written by hand (the same as the
// bridge's tests of both hooks' bounds, bridge/webhook_guard_test.go).

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, read: l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// CloseWrite keeps net/http's graceful close (FIN, then a pause before the
// RST), so that the client reads an early answer.
func (c countingConn) CloseWrite() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// rawPost is one POST written by hand on its own connection, so that a body
// can be larger than what the server reads, sent chunked or trickled.
type rawPost struct {
	path   string
	header map[string]string
	// size is the body's length; chunked sends it without Content-Length.
	size    int64
	chunked bool
	// pause is slept between 1-byte writes (a slow sender) when not zero.
	pause time.Duration
	// hold keeps the connection open, unanswered, until it is closed.
	hold chan struct{}
	// content, when not nil, is the body (size is then its length).
	content []byte
}

// rawResult is what the server answered and how much the client wrote.
type rawResult struct {
	status int
	header http.Header
	body   string
	sent   int64
	err    error
}

// do sends p to addr and reads the answer.
func (p rawPost) do(t *testing.T, addr string) rawResult {
	t.Helper()
	if p.content != nil {
		p.size = int64(len(p.content))
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", p.path, addr)
	for k, v := range p.header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if p.chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", p.size)
	}
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for left := p.size; left > 0; {
			n := min(int64(len(chunk)), left)
			if p.pause > 0 || p.hold != nil {
				n = 1
			}
			if p.content != nil {
				chunk = p.content
			}
			var err error
			if p.chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", n, chunk[:n])
			} else {
				_, err = conn.Write(chunk[:n])
			}
			if err != nil {
				return
			}
			sent.Add(n)
			left -= n
			if p.hold != nil {
				<-p.hold
				conn.Close()
				return
			}
			time.Sleep(p.pause)
		}
		if p.chunked {
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		<-done
		return rawResult{sent: sent.Load(), err: err}
	}
	b, _ := io.ReadAll(resp.Body)
	conn.Close()
	<-done
	return rawResult{status: resp.StatusCode, header: resp.Header, body: string(b), sent: sent.Load()}
}

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
	srv.Listener = countingListener{Listener: srv.Listener, read: read}
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
