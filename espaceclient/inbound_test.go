package espaceclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/kratos"
)

// inboundRig sends signed deliveries to POST /hooks/inbound of the test's
// customer space and of stand-in "processes" sharing its database.
type inboundRig struct {
	e      *env
	pool   *pgxpool.Pool
	secret string
	tenant *client
}

// inboundSecret signs the rig's deliveries.
const inboundSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newInboundRig(t *testing.T) *inboundRig {
	t.Helper()
	e := newEnv(t, func(c *config.Config) {
		c.Webhooks.InboundSecret = inboundSecret
		c.Webhooks.InboundTolerance = config.DefaultInboundTolerate
	})
	return &inboundRig{e: e, pool: e.pool, secret: inboundSecret,
		tenant: e.newClient(string(config.RoleTenant), []string{uniqueName("LOT")}, nil)}
}

// send posts one signed delivery to base (a server's URL). err is set when
// the connection died without an answer.
func (g *inboundRig) send(base, id string, body []byte) (int, string, error) {
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest("POST", base+"/hooks/inbound", bytes.NewReader(body))
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", stamp)
	req.Header.Set("webhook-signature", SignStandardWebhook(g.secret, id, stamp, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustSend is send to the harness's own server, which must answer.
func (g *inboundRig) mustSend(t *testing.T, id string, body []byte) (int, string) {
	t.Helper()
	code, resp, err := g.send(g.e.srv.URL, id, body)
	if err != nil {
		t.Fatalf("delivery %s: %v", id, err)
	}
	return code, resp
}

func (g *inboundRig) requestBody(subject, text string) []byte {
	return []byte(fmt.Sprintf(`{"type":"request","identity":{"email":%q},"request":{"category":"autre","subject":%q,"body":%q}}`,
		g.tenant.email, subject, text))
}

func (g *inboundRig) messageBody(reference, text string) []byte {
	return []byte(fmt.Sprintf(`{"type":"message","identity":{"email":%q},"reference":%q,"body":%q}`, g.tenant.email, reference, text))
}

// seedRequest files a request through the webhook and returns its id and reference.
func (g *inboundRig) seedRequest(t *testing.T) (id, reference string) {
	t.Helper()
	code, resp := g.mustSend(t, "msg_"+uniqueName("seed"), g.requestBody("Demande existante", "Premier message."))
	var a inboundAnswer
	if err := json.Unmarshal([]byte(resp), &a); code != 201 || err != nil || a.Request == nil {
		t.Fatalf("seed request: %d %s (%v)", code, resp, err)
	}
	return a.Request.ID, a.Request.Reference
}

// count runs a count(*) query.
func (g *inboundRig) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := g.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stored counts the messages with body text, and the requests with subject.
func (g *inboundRig) stored(t *testing.T, subject, text string) (requests, messages int) {
	t.Helper()
	return g.count(t, `SELECT count(*) FROM requests WHERE subject = $1`, subject),
		g.count(t, `SELECT count(*) FROM messages WHERE body = $1`, text)
}

// process starts another "process" on the same database: the same hooks
// with the customer space's service built on outbox and identities.
func (g *inboundRig) process(t *testing.T, wrap func(Outbox) Outbox, identities IdentityDirectory) *httptest.Server {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	var ob Outbox = g.e.outbox
	if wrap != nil {
		ob = wrap(ob)
	}
	if identities == nil {
		identities = kratos.NewDirectory(g.e.cfg.Get().Kratos.AdminURL, nil)
	}
	svc := NewService(g.e.store, g.e.cfg, ob, time.Now)
	mux := http.NewServeMux()
	NewInbound(svc, identities, log).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// crashingOutbox does the next outbox's work in the transaction, then the
// process "dies" before the commit: the handler is aborted (net/http drops
// the connection) and the transaction is rolled back, as PostgreSQL does for
// a dead client. Nothing after that point in the handler runs.
type crashingOutbox struct{ next Outbox }

func (c crashingOutbox) RequestCreated(ctx context.Context, tx pgx.Tx, req Request, first Message) error {
	if err := c.next.RequestCreated(ctx, tx, req, first); err != nil {
		return err
	}
	panic(http.ErrAbortHandler)
}

func (c crashingOutbox) MessageAdded(ctx context.Context, tx pgx.Tx, req Request, msg Message, reopen bool) error {
	if err := c.next.MessageAdded(ctx, tx, req, msg, reopen); err != nil {
		return err
	}
	panic(http.ErrAbortHandler)
}

func (c crashingOutbox) RequestClosed(ctx context.Context, tx pgx.Tx, req Request, msg Message) error {
	if err := c.next.RequestClosed(ctx, tx, req, msg); err != nil {
		return err
	}
	panic(http.ErrAbortHandler)
}

// inboundAnswer is the JSON of a 201 of POST /hooks/inbound, either shape.
type inboundAnswer struct {
	Request *struct {
		ID        string `json:"id"`
		Reference string `json:"reference"`
		Messages  []struct {
			ID string `json:"id"`
		} `json:"messages"`
	} `json:"request"`
	RequestID string `json:"request_id"`
	Reference string `json:"reference"`
	Message   *struct {
		ID string `json:"id"`
	} `json:"message"`
}

// ids returns the reference, request id and message id an answer names.
func (a inboundAnswer) ids() (reference, requestID, messageID string) {
	if a.Request != nil {
		if len(a.Request.Messages) == 1 {
			messageID = a.Request.Messages[0].ID
		}
		return a.Request.Reference, a.Request.ID, messageID
	}
	if a.Message != nil {
		messageID = a.Message.ID
	}
	return a.Reference, a.RequestID, messageID
}

// jsonShape lists the key paths of a JSON document (arrays merged), so two
// answers can be compared by shape.
func jsonShape(t *testing.T, doc string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, doc)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				set[prefix+"."+k] = true
				walk(prefix+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// (a) A delivery whose process died before its transaction committed stored
// nothing; the sender's retry of the same webhook-id must be processed (once)
// and answered 201, not refused as "in progress" for ever. A database from the
// previous version may hold such a claim as a status-0 row naming nothing:
// taken for dead past staleClaimAge, still answered 409 while it may be in
// flight.
func TestInboundDeliveryCrashedBeforeCommitIsProcessedOnRetry(t *testing.T) {
	g := newInboundRig(t)
	_, reference := g.seedRequest(t)
	crashed := g.process(t, func(o Outbox) Outbox { return crashingOutbox{o} }, nil)
	ctx := context.Background()
	crash := func(t *testing.T, id string, body []byte) {
		if code, resp, err := g.send(crashed.URL, id, body); err == nil {
			t.Fatalf("the crashing process answered %d %s; want the connection dropped", code, resp)
		}
	}
	oldClaim := func(age time.Duration) func(*testing.T, string, []byte) {
		return func(t *testing.T, id string, _ []byte) {
			_, err := g.pool.Exec(ctx, `INSERT INTO inbound_deliveries (webhook_id, status_code, response, received_at)
				VALUES ($1, 0, '', now() - make_interval(secs => $2))`, id, age.Seconds())
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name string
		// request: the delivery files a new request (else a follow-up on reference).
		request bool
		// before is what happened to an earlier delivery of the id.
		before   func(t *testing.T, id string, body []byte)
		wantCode int
		// wantStored is how many times the delivery's message is stored.
		wantStored int
	}{
		{"new request, process died mid-transaction", true, crash, 201, 1},
		{"follow-up, process died mid-transaction", false, crash, 201, 1},
		{"new request, previous version's claim past the bound", true, oldClaim(staleClaimAge + time.Minute), 201, 1},
		{"follow-up, previous version's claim past the bound", false, oldClaim(staleClaimAge + time.Minute), 201, 1},
		{"previous version's claim that may be in flight", true, oldClaim(10 * time.Second), 409, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "msg_" + uniqueName("crash")
			subject, text := "Sujet "+id, "Message "+id
			body := g.messageBody(reference, text)
			if c.request {
				body = g.requestBody(subject, text)
			}
			c.before(t, id, body)
			if _, n := g.stored(t, subject, text); n != 0 {
				t.Fatalf("before the retry: message stored %d times; the simulated crash must store nothing", n)
			}
			code, resp := g.mustSend(t, id, body)
			if code != c.wantCode {
				t.Fatalf("retry: HTTP %d %s, want %d", code, resp, c.wantCode)
			}
			reqs, msgs := g.stored(t, subject, text)
			if msgs != c.wantStored || (c.request && reqs != c.wantStored) {
				t.Errorf("after the retry: %d requests, %d messages; want %d", reqs, msgs, c.wantStored)
			}
			code2, resp2 := g.mustSend(t, id, body)
			if c.wantCode == 201 && (code2 != code || resp2 != resp) {
				t.Errorf("repeat: %d %s; want the first answer byte for byte: %d %s", code2, resp2, code, resp)
			}
			if reqs, msgs := g.stored(t, subject, text); msgs != c.wantStored || (c.request && reqs != c.wantStored) {
				t.Errorf("after the repeat: %d requests, %d messages; want %d", reqs, msgs, c.wantStored)
			}
		})
	}
}

// (b) A delivery stored and committed whose answer was never recorded (the
// process died between the commit and recording it): the retry must answer
// 201 for what was stored, in the first answer's shape, and store nothing
// again.
func TestInboundDeliveryStoredButUnansweredIsAnsweredOnRetry(t *testing.T) {
	g := newInboundRig(t)
	_, reference := g.seedRequest(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		request bool
	}{
		{"new request", true},
		{"follow-up", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "msg_" + uniqueName("lost")
			subject, text := "Sujet "+id, "Message "+id
			body := g.messageBody(reference, text)
			if c.request {
				body = g.requestBody(subject, text)
			}
			code1, resp1 := g.mustSend(t, id, body)
			if code1 != 201 {
				t.Fatalf("first delivery: %d %s", code1, resp1)
			}
			reqs1, msgs1 := g.stored(t, subject, text)
			allReqs, allMsgs := g.count(t, `SELECT count(*) FROM requests`), g.count(t, `SELECT count(*) FROM messages`)
			// The crash: the answer was never recorded.
			if _, err := g.pool.Exec(ctx, `UPDATE inbound_deliveries SET status_code = 0, response = '' WHERE webhook_id = $1`, id); err != nil {
				t.Fatal(err)
			}
			code2, resp2 := g.mustSend(t, id, body)
			if code2 != 201 {
				t.Fatalf("retry after the lost answer: HTTP %d %s, want 201", code2, resp2)
			}
			var a1, a2 inboundAnswer
			if err := json.Unmarshal([]byte(resp1), &a1); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(resp2), &a2); err != nil {
				t.Fatal(err)
			}
			ref1, rid1, mid1 := a1.ids()
			ref2, rid2, mid2 := a2.ids()
			if ref1 == "" || ref1 != ref2 || rid1 != rid2 || mid1 != mid2 {
				t.Errorf("retry names reference %q request %s message %s; first answer %q %s %s", ref2, rid2, mid2, ref1, rid1, mid1)
			}
			if s1, s2 := jsonShape(t, resp1), jsonShape(t, resp2); strings.Join(s1, " ") != strings.Join(s2, " ") {
				t.Errorf("rebuilt answer's shape differs:\nfirst   %v\nrebuilt %v", s1, s2)
			}
			reqs2, msgs2 := g.stored(t, subject, text)
			if reqs2 != reqs1 || msgs2 != msgs1 || msgs2 != 1 ||
				g.count(t, `SELECT count(*) FROM requests`) != allReqs || g.count(t, `SELECT count(*) FROM messages`) != allMsgs {
				t.Errorf("stored again: requests %d→%d, messages %d→%d", reqs1, reqs2, msgs1, msgs2)
			}
			code3, resp3 := g.mustSend(t, id, body)
			if code3 != code2 || resp3 != resp2 {
				t.Errorf("repeat after the rebuilt answer: %d %s; want it byte for byte: %d %s", code3, resp3, code2, resp2)
			}
		})
	}
}

// (c) Two deliveries of one webhook-id at the same time (a sender retrying
// on a timeout while the first is still being processed) store it once, and
// both get the same answer. A lock held by the test makes both wait inside
// their transactions, so they really overlap.
func TestInboundConcurrentDeliveriesOfOneIDStoreOnce(t *testing.T) {
	g := newInboundRig(t)
	seedID, reference := g.seedRequest(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		request bool
		// barrier is what both deliveries' transactions must wait for.
		barrier string
	}{
		{"new request", true, `SELECT 1 FROM reference_counters FOR UPDATE`},
		{"follow-up", false, `SELECT 1 FROM requests WHERE id = '` + seedID + `' FOR UPDATE`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "msg_" + uniqueName("twice")
			subject, text := "Sujet "+id, "Message "+id
			body := g.messageBody(reference, text)
			if c.request {
				body = g.requestBody(subject, text)
			}
			lock, err := g.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback(ctx)
			if _, err := lock.Exec(ctx, c.barrier); err != nil {
				t.Fatal(err)
			}
			type result struct {
				code int
				resp string
				err  error
			}
			results := make([]result, 2)
			var wg sync.WaitGroup
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, resp, err := g.send(g.e.srv.URL, id, body)
					results[i] = result{code, resp, err}
				}()
			}
			waiting := 0
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				waiting = g.count(t, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`)
				if waiting >= 2 {
					break
				}
			}
			t.Logf("%d deliveries waiting inside their transaction", waiting)
			if err := lock.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for i, r := range results {
				if r.err != nil || r.code != 201 {
					t.Errorf("delivery %d: HTTP %d %s %v; want 201", i+1, r.code, r.resp, r.err)
				}
			}
			if results[0].resp != results[1].resp {
				t.Errorf("the two deliveries got different answers:\n%s\n%s", results[0].resp, results[1].resp)
			}
			if reqs, msgs := g.stored(t, subject, text); msgs != 1 || (c.request && reqs != 1) {
				t.Errorf("stored %d requests, %d messages; want 1", reqs, msgs)
			}
		})
	}
}

// failingIdentities stands for Kratos being unreachable.
type failingIdentities struct{}

func (failingIdentities) ByID(context.Context, string) (Identity, error) {
	return Identity{}, errors.New("kratos unreachable")
}

func (failingIdentities) ByEmail(context.Context, string) (Identity, error) {
	return Identity{}, errors.New("kratos unreachable")
}

// A refusal (4xx, nothing stored) is recorded: its repeat gets the same
// bytes. A failure on our side (5xx) is not: the sender's retry is processed.
// Both behaved so before the claim moved into the transaction; this guards
// them.
func TestInboundRefusalsAreRecordedAndFailuresAreNot(t *testing.T) {
	g := newInboundRig(t)
	failing := g.process(t, nil, failingIdentities{})
	cases := []struct {
		name string
		// first is where the first delivery goes and what it carries.
		first     func(id, subject, text string) (base string, body []byte)
		wantFirst int
		// wantAgain is the answer of the retry (same id, the request body).
		wantAgain  int
		wantStored int
	}{
		{"unknown identity refused, repeat refused the same", func(id, subject, text string) (string, []byte) {
			return g.e.srv.URL, []byte(fmt.Sprintf(`{"type":"request","identity":{"email":"nobody-%s@example.invalid"},"request":{"category":"autre","subject":%q,"body":%q}}`, id, subject, text))
		}, 422, 422, 0},
		{"identities unavailable, retry processed", func(id, subject, text string) (string, []byte) {
			return failing.URL, g.requestBody(subject, text)
		}, 503, 201, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "msg_" + uniqueName("refusal")
			subject, text := "Sujet "+id, "Message "+id
			base, body := c.first(id, subject, text)
			code1, resp1, err := g.send(base, id, body)
			if err != nil || code1 != c.wantFirst {
				t.Fatalf("first delivery: %d %s %v; want %d", code1, resp1, err, c.wantFirst)
			}
			code2, resp2 := g.mustSend(t, id, body)
			if code2 != c.wantAgain {
				t.Fatalf("retry: %d %s; want %d", code2, resp2, c.wantAgain)
			}
			if c.wantFirst < 500 && resp2 != resp1 {
				t.Errorf("retry of a refusal: %s; want the first answer byte for byte: %s", resp2, resp1)
			}
			if _, msgs := g.stored(t, subject, text); msgs != c.wantStored {
				t.Errorf("stored %d messages, want %d", msgs, c.wantStored)
			}
		})
	}
}
