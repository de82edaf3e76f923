package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every client-visible event reaches the admin's endpoint (webhooks.outbound)
// as JSON signed per Standard Webhooks, on the running binary: a receiver on
// loopback that verifies each signature with the shared secret and answers
// 500 to the first two attempts of each event, then 200, gets every event
// delivered exactly once (one 200 per webhook-id, the same id on every
// attempt), in the types request.created, request.transmitted,
// message.agency; a private note never. `passerelle notifications webhooks`
// shows the endpoint healthy with its deliveries.
func TestOutboundWebhookDeliveredOnceAfterFailures(t *testing.T) {
	t.Parallel() // no service stopped, its own addresses and deployment
	d := newDeployment(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	secretFile := filepath.Join(d.dir, "outbound.secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	rcv := newWebhookReceiver(t, key, 2)
	in := d.writeConfig("outbound", map[string]string{
		"notifications.sweep_interval": "1s",
		"redmine.max_retry_delay":      "5s",
	})
	d.patchConfig(in, "webhooks.outbound", fmt.Sprintf(`[{name: recepteur, url: "%s/hooks", secret_file: "%s"}]`, rcv.url, secretFile))
	d.migrate(in)
	srv := d.serve(in)
	rm := newStaff(t, d.st)
	tn := newTenant(t)

	req := tn.create(srv.in.baseURL, "Boîte aux lettres cassée", "La porte de ma boîte aux lettres ne ferme plus.")
	issue := tn.waitIssue(srv.in.baseURL, req.ID, syncBound)
	rm.addNote(issue, "Note privée : serrurier habituel.", true)
	rm.addNote(issue, "Un serrurier passe vendredi.", false)
	want := map[string]int{"request.created": 1, "request.transmitted": 1, "message.agency": 1}
	waitUntil(t, pollInterval+90*time.Second, "every event delivered once", func() (bool, string) {
		got := rcv.delivered(req.Reference)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("delivered %v; %s", got, rcv.describe())
	})
	time.Sleep(5 * time.Second) // nothing more comes
	if got := rcv.delivered(req.Reference); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a pause, delivered %v, want %v", got, want)
	}
	if bad := rcv.badSignatures(); bad != 0 {
		t.Fatalf("%d posts with a signature that does not verify", bad)
	}
	for _, body := range rcv.bodies() {
		if strings.Contains(body, "serrurier habituel") {
			t.Fatal("the private note reached the endpoint")
		}
	}
	if n := rcv.attemptsPerID(); n != 3 {
		t.Fatalf("attempts per webhook-id: %d, want 3 (two 500, then 200, with the same id)", n)
	}
	code, out := d.run("notifications", "webhooks", "--config", in.path)
	if code != 0 || !strings.Contains(out, "recepteur: healthy; 0 pending, 3 delivered, 0 failed") {
		t.Fatalf("passerelle notifications webhooks: exit %d\n%s", code, out)
	}
	t.Logf("counts: 3 events delivered once each after 2 refusals each; 0 private; %s", strings.TrimSpace(out))
}

// webhookReceiver is a Standard Webhooks receiver on loopback.
type webhookReceiver struct {
	t        *testing.T
	url      string
	key      []byte
	failures int

	mu       sync.Mutex
	attempts map[string]int    // webhook-id → posts
	ok       map[string]string // webhook-id → body answered 200
	bad      int
}

func newWebhookReceiver(t *testing.T, key []byte, failures int) *webhookReceiver {
	r := &webhookReceiver{t: t, key: key, failures: failures, attempts: map[string]int{}, ok: map[string]string{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	r.url = "http://" + l.Addr().String()
	return r
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.verify(id, ts, req.Header.Get("webhook-signature"), body) {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.attempts[id]++
	if r.attempts[id] <= r.failures {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if _, dup := r.ok[id]; dup {
		r.ok[id+"#dup"+strconv.Itoa(r.attempts[id])] = string(body)
	} else {
		r.ok[id] = string(body)
	}
	w.WriteHeader(http.StatusOK)
}

// verify checks the signature as the standard says: HMAC-SHA256 of
// "id.timestamp.body" with the secret's key, base64, after "v1,"; a
// timestamp within five minutes.
func (r *webhookReceiver) verify(id, ts, sigs string, body []byte) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// delivered counts the events answered 200 for one reference, by type
// (a duplicate delivery counts twice).
func (r *webhookReceiver) delivered(ref string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, body := range r.ok {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Request struct {
					Reference string `json:"reference"`
				} `json:"request"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(body), &ev) == nil && ev.Data.Request.Reference == ref {
			out[ev.Type]++
		}
	}
	return out
}

func (r *webhookReceiver) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.ok {
		out = append(out, b)
	}
	return out
}

func (r *webhookReceiver) badSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// attemptsPerID returns the number of posts of each webhook-id when they all
// agree, else -1.
func (r *webhookReceiver) attemptsPerID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.attempts {
		if n != 0 && a != n {
			return -1
		}
		n = a
	}
	return n
}

func (r *webhookReceiver) describe() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for id, n := range r.attempts {
		parts = append(parts, fmt.Sprintf("%s×%d", id, n))
	}
	sort.Strings(parts)
	return "attempts " + strings.Join(parts, " ") + fmt.Sprintf(", bad signatures %d", r.bad)
}
