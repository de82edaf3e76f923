package espaceclient

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/kratos"
)

// Writing faster than limits.writes_per_minute answers 429 with Retry-After
// and a French message, stores nothing, and leaves reads and other clients
// alone.
func TestWriteRateLimitAnswers429AndStoresNothing(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Limits = config.Limits{WritesPerMinute: 2, WritesBurst: 2} })
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	other := e.newClient("tenant", []string{"B7"}, nil)
	newReq := map[string]string{"category": "autre", "subject": "Question", "body": "Bonjour"}
	for i := 0; i < 2; i++ {
		if res := tenant.postJSON("/api/v1/requests", newReq); res.status != http.StatusCreated {
			t.Fatalf("write %d within the burst: %d %s", i+1, res.status, res.body)
		}
	}
	e.expectRows(2, 2, 0)
	cases := []struct {
		name string
		post func() response
	}{
		{"new request", func() response { return tenant.postJSON("/api/v1/requests", newReq) }},
		{"new request with a file", func() response {
			return tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", jpegBytes(t)}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := c.post()
			if res.status != http.StatusTooManyRequests || res.errCode(t) != "too_many_requests" {
				t.Fatalf("over the rate: %d %s", res.status, res.body)
			}
			ra, err := strconv.Atoi(res.header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After = %q, want 1 to 60 seconds", res.header.Get("Retry-After"))
			}
			if msg := str(t, res.json(t), "error.message"); !strings.Contains(msg, "trop d'envois") || !strings.Contains(msg, "rien n'a été enregistré") {
				t.Errorf("message %q", msg)
			}
		})
	}
	e.expectRows(2, 2, 0)
	if res := tenant.get("/api/v1/requests"); res.status != http.StatusOK {
		t.Errorf("reading while rate-limited: %d", res.status)
	}
	if res := other.postJSON("/api/v1/requests", newReq); res.status != http.StatusCreated {
		t.Errorf("another client is limited too: %d %s", res.status, res.body)
	}
}

// A second upload while limits.concurrent_uploads are in flight answers 429
// too_many_uploads with Retry-After; the first one completes.
func TestUploadConcurrencyLimit(t *testing.T) {
	// A rate the polling below (20 a second at most) never reaches.
	e := newEnv(t, func(c *config.Config) {
		c.Limits = config.Limits{WritesPerMinute: 6000, WritesBurst: 1000, ConcurrentUploads: 1}
	})
	tenant := e.newClient("tenant", []string{"A12"}, nil)

	// The first upload sends its fields, then holds its body open.
	pr, pw := io.Pipe()
	// On failure, end the held body before the server closes (it waits for it).
	t.Cleanup(func() { _ = pw.CloseWithError(io.ErrUnexpectedEOF) })
	mw := multipart.NewWriter(pw)
	first := make(chan response, 1)
	go func() { first <- tenant.doStreaming(pr, mw.FormDataContentType()) }()
	go func() {
		for k, v := range repairFields("A12") {
			_ = mw.WriteField(k, v)
		}
	}()
	// Wait until the server admitted the first upload (it holds the slot):
	// probing earlier let a probe take the slot first, and the first was
	// refused instead (seen with -count=4).
	e.waitAdmitted(tenant, first)

	// The first holds the slot: a second one is refused with a 429 (an
	// empty form would otherwise be a 422, storing nothing either way).
	var second response
	deadline := time.Now().Add(10 * time.Second)
	for {
		second = tenant.postMultipart("/api/v1/requests", map[string]string{}, []Upload{{"x.jpg", jpegBytes(t)}})
		if second.status == http.StatusTooManyRequests || time.Now().After(deadline) {
			break
		}
		select {
		case res := <-first:
			// The premise failed (the held upload ended early): say so
			// rather than report a missing 429.
			t.Fatalf("the held upload ended before any second one was refused: %d %s", res.status, res.body)
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	if second.status != http.StatusTooManyRequests || second.errCode(t) != "too_many_uploads" || second.header.Get("Retry-After") == "" {
		t.Fatalf("second upload in flight: %d %s (Retry-After %q)", second.status, second.body, second.header.Get("Retry-After"))
	}
	if msg := str(t, second.json(t), "error.message"); !strings.Contains(msg, "déjà en cours") {
		t.Errorf("message %q", msg)
	}
	e.expectRows(0, 0, 0)

	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="attachments"; filename="photo.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	part, _ := mw.CreatePart(h)
	_, _ = part.Write(jpegBytes(t))
	_ = mw.Close()
	_ = pw.Close()
	if res := <-first; res.status != http.StatusCreated {
		t.Fatalf("first upload: %d %s", res.status, res.body)
	}
	e.expectRows(1, 1, 1)
	// The slot is free again.
	if res := tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", jpegBytes(t)}}); res.status != http.StatusCreated {
		t.Fatalf("upload after the first ended: %d %s", res.status, res.body)
	}
}

// doStreaming posts a multipart body read from body (which the caller writes).
func (c *client) doStreaming(body io.Reader, contentType string) response {
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+"/api/v1/requests", body)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(kratos.SessionTokenHeader, c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// Files that would take a request or an identity over its storage quota are
// refused with 413 quota_exceeded saying what is left; nothing is stored.
func TestStorageQuotas(t *testing.T) {
	photo := jpegBytes(t)
	size := config.ByteSize(len(photo))
	cases := []struct {
		name   string
		limits config.Limits
		// second is the write that goes over: a follow-up on the first
		// request, or a new request.
		followUp bool
		want     string
	}{
		{"per request", config.Limits{RequestQuota: size * 3 / 2, IdentityQuota: size * 100}, true, "place réservée aux documents d'une demande"},
		{"per identity", config.Limits{RequestQuota: size * 100, IdentityQuota: size * 3 / 2}, false, "place réservée à vos documents"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *config.Config) { cfg.Limits = c.limits })
			tenant := e.newClient("tenant", []string{"A12"}, nil)
			res := tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", photo}})
			if res.status != http.StatusCreated {
				t.Fatalf("first file, within the quota: %d %s", res.status, res.body)
			}
			id := str(t, res.json(t), "id")
			e.expectRows(1, 1, 1)
			if c.followUp {
				res = tenant.postMultipart("/api/v1/requests/"+id+"/messages", map[string]string{"body": "encore une"}, []Upload{{"photo2.jpg", photo}})
			} else {
				res = tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo2.jpg", photo}})
			}
			if res.status != http.StatusRequestEntityTooLarge || res.errCode(t) != "quota_exceeded" {
				t.Fatalf("over the quota: %d %s", res.status, res.body)
			}
			if msg := str(t, res.json(t), "error.message"); !strings.Contains(msg, c.want) || !strings.Contains(msg, "rien n'a été enregistré") {
				t.Errorf("message %q", msg)
			}
			e.expectRows(1, 1, 1)
			// Text alone still goes through: the quota is about files.
			if c.followUp {
				res = tenant.postJSON("/api/v1/requests/"+id+"/messages", map[string]string{"body": "sans fichier"})
			} else {
				res = tenant.postJSON("/api/v1/requests", map[string]string{"category": "autre", "subject": "s", "body": "b"})
			}
			if res.status != http.StatusCreated {
				t.Fatalf("text without files: %d %s", res.status, res.body)
			}
		})
	}
}

// inflightOf is the identity's count of uploads in flight.
func (l *identityLimits) inflightOf(identity string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[identity]; e != nil {
		return e.inflight
	}
	return 0
}

// The whole process reads at most limits.uploads_in_flight uploads at once,
// all identities together: while one client's upload is held open, another
// client's is refused with 429 server_busy (and stores nothing); once the
// first ends, the other's goes through.
func TestUploadsInFlightBoundTheProcess(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Limits = config.Limits{WritesPerMinute: 6000, WritesBurst: 1000, ConcurrentUploads: 1, UploadsInFlight: 1}
	})
	holder := e.newClient("tenant", []string{"A12"}, nil)
	other := e.newClient("tenant", []string{"A12"}, nil)

	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.CloseWithError(io.ErrUnexpectedEOF) })
	mw := multipart.NewWriter(pw)
	first := make(chan response, 1)
	go func() { first <- holder.doStreaming(pr, mw.FormDataContentType()) }()
	go func() {
		for k, v := range repairFields("A12") {
			_ = mw.WriteField(k, v)
		}
	}()
	e.waitAdmitted(holder, first)

	res := other.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", jpegBytes(t)}})
	if res.status != http.StatusTooManyRequests || res.errCode(t) != "server_busy" || res.header.Get("Retry-After") == "" {
		t.Fatalf("another client's upload while the process is full: %d %s", res.status, res.body)
	}
	e.expectRows(0, 0, 0)

	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="attachments"; filename="photo.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	part, _ := mw.CreatePart(h)
	_, _ = part.Write(jpegBytes(t))
	_ = mw.Close()
	_ = pw.Close()
	if res := <-first; res.status != http.StatusCreated {
		t.Fatalf("the held upload: %d %s", res.status, res.body)
	}
	if res := other.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", jpegBytes(t)}}); res.status != http.StatusCreated {
		t.Fatalf("the other client's upload once the first ended: %d %s", res.status, res.body)
	}
	e.expectRows(2, 2, 2)
}

// waitAdmitted waits until the server admitted c's held upload (it holds an
// upload slot), failing if the upload ended first or after 10 s.
func (e *env) waitAdmitted(c *client, first <-chan response) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.svc.limits.inflightOf(c.id) == 0 {
		select {
		case res := <-first:
			e.t.Fatalf("the held upload ended before it was admitted: %d %s", res.status, res.body)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the held upload was not admitted within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
