package espaceclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

var referenceRe = regexp.MustCompile(`^D-\d{4}-\d{6}$`)

// A tenant files a repair with two photos, reads it, lists it, follows up
// with a PDF, closes it (twice), then writes again, which reopens it.
func TestRequestLifecycle(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	photo1, photo2 := jpegBytes(t), pngBytes(t)

	res := tenant.postMultipart("/api/v1/requests", repairFields("A12"),
		[]Upload{{"évier.jpg", photo1}, {"C:\\Photos\\fuite.png", photo2}})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	created := res.json(t)
	id := str(t, created, "id")
	if ref := str(t, created, "reference"); !referenceRe.MatchString(ref) || !strings.HasSuffix(ref, "-000001") {
		t.Fatalf("reference %q", ref)
	}
	if res.header.Get("Location") != "/api/v1/requests/"+id {
		t.Fatalf("Location %q", res.header.Get("Location"))
	}
	for path, want := range map[string]any{
		"status": "new", "status_label": "à traiter", "transmission": "en cours de transmission",
		"redmine_issue_id": nil, "due_at": nil, "category": "travaux", "category_label": "Réparation ou travaux",
		"payer": "owner", "payer_label": "Le propriétaire", "urgency": "high", "lot": "A12",
		"location": "Cuisine, 2e étage", "can_reply": true,
		"messages.0.author_kind": "client", "messages.0.body": "L'eau coule depuis ce matin.\nMerci.",
		"messages.0.attachments.0.filename": "évier.jpg", "messages.0.attachments.0.content_type": "image/jpeg",
		"messages.0.attachments.1.filename": "fuite.png", "messages.0.attachments.1.content_type": "image/png",
	} {
		if got := at(t, created, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	if _, ok := created["created_at"].(string); !ok {
		t.Errorf("created_at missing")
	}
	if c, a, cl := e.outbox.counts(); c != 1 || a != 0 || cl != 0 {
		t.Fatalf("outbox calls %d %d %d", c, a, cl)
	}
	call := e.outbox.created[0]
	if call.Req.ID != id || call.Msg.Body == "" || len(call.Msg.Attachments) != 2 || call.Req.AuthorEmail != tenant.email {
		t.Fatalf("outbox RequestCreated got %+v", call)
	}
	e.expectRows(1, 1, 2)

	// Read it back, and download a photo.
	res = tenant.get("/api/v1/requests/" + id)
	if res.status != http.StatusOK {
		t.Fatalf("get: %d %s", res.status, res.body)
	}
	got := res.json(t)
	if length(t, got, "messages") != 1 || length(t, got, "messages.0.attachments") != 2 {
		t.Fatalf("thread: %s", res.body)
	}
	url := str(t, got, "messages.0.attachments.0.url")
	dl := tenant.get(url)
	if dl.status != http.StatusOK || !bytes.Equal(dl.body, photo1) {
		t.Fatalf("download: %d (%d bytes)", dl.status, len(dl.body))
	}
	for h, want := range map[string]string{
		"Content-Type":           "image/jpeg",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "private, no-store",
		"Content-Disposition":    `attachment; filename="_vier.jpg"; filename*=UTF-8''%C3%A9vier.jpg`,
	} {
		if dl.header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, dl.header.Get(h), want)
		}
	}

	// The list.
	res = tenant.get("/api/v1/requests")
	list := res.json(t)
	if res.status != http.StatusOK || length(t, list, "requests") != 1 || str(t, list, "requests.0.id") != id {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	if _, has := at(t, list, "requests.0").(map[string]any)["messages"]; has {
		t.Errorf("the list carries threads")
	}
	if res = tenant.get("/api/v1/requests?status=closed"); length(t, res.json(t), "requests") != 0 {
		t.Fatalf("status filter: %s", res.body)
	}
	if res = tenant.get("/api/v1/requests?status=bogus"); res.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad status filter: %d", res.status)
	}

	// A follow-up with a PDF.
	res = tenant.postMultipart("/api/v1/requests/"+id+"/messages", map[string]string{"body": "Voici le devis du plombier."},
		[]Upload{{"devis.pdf", pdfBytes()}})
	if res.status != http.StatusCreated {
		t.Fatalf("follow-up: %d %s", res.status, res.body)
	}
	msg := res.json(t)
	if str(t, msg, "author_kind") != "client" || str(t, msg, "attachments.0.content_type") != "application/pdf" ||
		str(t, msg, "request.id") != id {
		t.Fatalf("follow-up answer: %s", res.body)
	}
	if c, a, cl := e.outbox.counts(); c != 1 || a != 1 || cl != 0 || e.outbox.added[0].Reopen {
		t.Fatalf("outbox calls %d %d %d", c, a, cl)
	}
	e.expectRows(1, 2, 3)

	// Close, twice: one event, one outbox call.
	for i := 0; i < 2; i++ {
		res = tenant.do(http.MethodPost, "/api/v1/requests/"+id+"/close", nil, "")
		if res.status != http.StatusOK {
			t.Fatalf("close #%d: %d %s", i+1, res.status, res.body)
		}
	}
	closed := res.json(t)
	if str(t, closed, "status") != "closed" || str(t, closed, "status_label") != "clôturé" || at(t, closed, "closed_at") == nil {
		t.Fatalf("closed: %s", res.body)
	}
	n := length(t, closed, "messages")
	last := fmt.Sprint(n - 1)
	if str(t, closed, "messages."+last+".kind") != "closed" || str(t, closed, "messages."+last+".author_kind") != "system" ||
		!strings.HasPrefix(str(t, closed, "messages."+last+".body"), "Demande clôturée par vous le ") {
		t.Fatalf("closing event: %s", res.body)
	}
	if n != 3 {
		t.Fatalf("%d messages after closing twice, want 3", n)
	}
	if _, _, cl := e.outbox.counts(); cl != 1 {
		t.Fatalf("RequestClosed called %d times", cl)
	}

	// Writing again reopens it (on_client_message_after_close: reopen).
	res = tenant.postJSON("/api/v1/requests/"+id+"/messages", map[string]string{"body": "La fuite a repris."})
	if res.status != http.StatusCreated {
		t.Fatalf("message after close: %d %s", res.status, res.body)
	}
	if str(t, res.json(t), "request.status") != "in_progress" {
		t.Fatalf("not reopened: %s", res.body)
	}
	res = tenant.get("/api/v1/requests/" + id)
	thread := res.json(t)
	if length(t, thread, "messages") != 5 || str(t, thread, "messages.3.body") != "La fuite a repris." ||
		str(t, thread, "messages.4.kind") != "reopened" || str(t, thread, "messages.4.body") != "Demande rouverte par votre message." ||
		at(t, thread, "closed_at") != nil {
		t.Fatalf("thread after reopening: %s", res.body)
	}
	if _, a, _ := e.outbox.counts(); a != 2 || !e.outbox.added[1].Reopen || e.outbox.added[1].Req.Status != config.StatusInProgress {
		t.Fatalf("MessageAdded(reopen) not called as expected: %+v", e.outbox.added)
	}

	// One JSON log line per call, snake_case fields.
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	calls := 0
	for _, l := range lines {
		var f map[string]any
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if f["msg"] == "api call" {
			calls++
			if f["identity_id"] != tenant.id || f["method"] == nil || f["status"] == nil || f["duration_ms"] == nil || f["action"] == nil {
				t.Fatalf("log line %s", l)
			}
		}
	}
	if calls < 10 {
		t.Fatalf("%d api call lines", calls)
	}
}

func TestCreateWithJSONAndForm(t *testing.T) {
	e := newEnv(t)
	owner := e.newClient("owner", []string{"L1"}, []string{"M-77"})
	res := owner.postJSON("/api/v1/requests", map[string]any{
		"category": "changement-rib", "subject": "Nouveau RIB", "body": "Merci de noter mon nouveau RIB.",
	})
	if res.status != http.StatusCreated {
		t.Fatalf("JSON create: %d %s", res.status, res.body)
	}
	if got := str(t, res.json(t), "mandate"); got != "M-77" {
		t.Fatalf("the only mandate should be taken: %q", got)
	}
	res = owner.do(http.MethodPost, "/api/v1/requests",
		strings.NewReader("category=comptabilite&subject=Charges&body=Question+sur+les+charges"), "application/x-www-form-urlencoded")
	if res.status != http.StatusCreated {
		t.Fatalf("form create: %d %s", res.status, res.body)
	}
	for _, tc := range []struct {
		name   string
		body   string
		ct     string
		status int
		code   string
	}{
		{"unknown JSON field", `{"category":"autre","subject":"s","body":"b","colour":"red"}`, "application/json", 400, "bad_request"},
		{"files in JSON", `{"category":"autre","subject":"s","body":"b","attachments":["x"]}`, "application/json", 400, "bad_request"},
		{"malformed JSON", `{"category":`, "application/json", 400, "bad_request"},
		{"text/plain", `hello`, "text/plain", 415, "unsupported_media_type"},
		{"unknown category", `{"category":"piscine","subject":"s","body":"b"}`, "application/json", 422, "unknown_category"},
		{"empty subject", `{"category":"autre","subject":"  ","body":"b"}`, "application/json", 422, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := owner.do(http.MethodPost, "/api/v1/requests", strings.NewReader(tc.body), tc.ct)
			if res.status != tc.status || res.errCode(t) != tc.code {
				t.Fatalf("%d %s", res.status, res.body)
			}
		})
	}
	e.expectRows(2, 2, 0)
}

func TestMeAndCategories(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	res := tenant.get("/api/v1/me")
	me := res.json(t)
	if res.status != http.StatusOK || str(t, me, "id") != tenant.id || str(t, me, "email") != tenant.email ||
		str(t, me, "role") != "tenant" || str(t, me, "name") != "Client Test" || str(t, me, "lots.0") != "A12" ||
		length(t, me, "mandates") != 0 {
		t.Fatalf("me: %d %s", res.status, res.body)
	}
	res = tenant.get("/api/v1/categories")
	cats := res.json(t)
	var ids []string
	for i := 0; i < length(t, cats, "categories"); i++ {
		ids = append(ids, str(t, cats, fmt.Sprintf("categories.%d.id", i)))
	}
	if strings.Join(ids, ",") != "travaux,comptabilite,loyer-charges,voisinage,autre" {
		t.Fatalf("tenant categories: %v", ids)
	}
	if fmt.Sprint(at(t, cats, "categories.0.requires")) != "[lot location payer urgency]" || length(t, cats, "payers") != 5 {
		t.Fatalf("categories: %s", res.body)
	}
	owner := e.newClient("owner", []string{"L1"}, []string{"M-1"})
	cats = owner.get("/api/v1/categories").json(t)
	found := false
	for i := 0; i < length(t, cats, "categories"); i++ {
		if str(t, cats, fmt.Sprintf("categories.%d.id", i)) == "changement-rib" {
			found = true
			if fmt.Sprint(at(t, cats, fmt.Sprintf("categories.%d.requires", i))) != "[mandate]" {
				t.Fatalf("rib requires: %s", cats)
			}
		}
		if str(t, cats, fmt.Sprintf("categories.%d.id", i)) == "voisinage" {
			t.Fatalf("owner offered a tenant-only category")
		}
	}
	if !found {
		t.Fatal("owner not offered changement-rib")
	}
}

func TestTenantCannotUseOwnerCategory(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	res := tenant.postMultipart("/api/v1/requests", map[string]string{
		"category": "changement-rib", "subject": "RIB", "body": "Mon nouveau RIB", "mandate": "M-1",
	}, []Upload{{"rib.pdf", pdfBytes()}})
	if res.status != http.StatusForbidden || res.errCode(t) != "category_not_allowed" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if !strings.Contains(string(res.body), "réservée aux propriétaires") {
		t.Fatalf("message: %s", res.body)
	}
	e.expectRows(0, 0, 0)
	if c, _, _ := e.outbox.counts(); c != 0 {
		t.Fatal("outbox called")
	}
}

// Tenant B gets 404 on everything of tenant A's.
func TestOtherClientsRequestIsNotFound(t *testing.T) {
	e := newEnv(t)
	a := e.newClient("tenant", []string{"A12"}, nil)
	b := e.newClient("tenant", []string{"B7"}, nil)
	res := a.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", jpegBytes(t)}})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	req := res.json(t)
	id := str(t, req, "id")
	attURL := str(t, req, "messages.0.attachments.0.url")
	attID := attURL[strings.LastIndex(attURL, "/")+1:]

	for _, tc := range []struct {
		name string
		do   func() response
	}{
		{"get", func() response { return b.get("/api/v1/requests/" + id) }},
		{"attachment", func() response { return b.get(attURL) }},
		{"message", func() response {
			return b.postJSON("/api/v1/requests/"+id+"/messages", map[string]string{"body": "intrusion"})
		}},
		{"close", func() response { return b.do(http.MethodPost, "/api/v1/requests/"+id+"/close", nil, "") }},
		{"malformed id", func() response { return a.get("/api/v1/requests/not-a-uuid") }},
		{"malformed attachment id", func() response { return a.get("/api/v1/requests/" + id + "/attachments/x%27%3B%20DROP") }},
		{"attachment under another request id", func() response {
			other := b.postJSON("/api/v1/requests", map[string]string{"category": "autre", "subject": "s", "body": "b"}).json(t)
			return b.get("/api/v1/requests/" + str(t, other, "id") + "/attachments/" + attID)
		}},
		{"unknown route", func() response { return a.get("/api/v1/nothing") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.do()
			if res.status != http.StatusNotFound || res.errCode(t) != "not_found" {
				t.Fatalf("%d %s", res.status, res.body)
			}
		})
	}
	if l := b.get("/api/v1/requests").json(t); length(t, l, "requests") != 1 { // only B's own "autre"
		t.Fatalf("B lists %v", l)
	}
	res = a.get("/api/v1/requests/" + id)
	if str(t, res.json(t), "status") != "new" || length(t, res.json(t), "messages") != 1 {
		t.Fatalf("A's request changed: %s", res.body)
	}
}

// An owner reads (read-only) the requests filed on the owner's lots, and no others.
func TestOwnerSeesRequestsOnOwnLots(t *testing.T) {
	e := newEnv(t)
	owner := e.newClient("owner", []string{"L1", "L2"}, []string{"M-1"})
	onL1 := e.newClient("tenant", []string{"L1"}, nil)
	onL9 := e.newClient("tenant", []string{"L9"}, nil)
	r1 := onL1.postMultipart("/api/v1/requests", repairFields("L1"), []Upload{{"p.jpg", jpegBytes(t)}}).json(t)
	r9 := onL9.postMultipart("/api/v1/requests", repairFields("L9"), nil).json(t)
	own := owner.postJSON("/api/v1/requests", map[string]string{"category": "comptabilite", "subject": "Relevé", "body": "?"}).json(t)

	list := owner.get("/api/v1/requests").json(t)
	var ids []string
	for i := 0; i < length(t, list, "requests"); i++ {
		ids = append(ids, str(t, list, fmt.Sprintf("requests.%d.id", i)))
	}
	if len(ids) != 2 || ids[0] != str(t, own, "id") || ids[1] != str(t, r1, "id") {
		t.Fatalf("owner lists %v; want [own, L1's] newest first", ids)
	}
	res := owner.get("/api/v1/requests/" + str(t, r1, "id"))
	got := res.json(t)
	if res.status != http.StatusOK || at(t, got, "can_reply") != false {
		t.Fatalf("owner reading L1 request: %d %s", res.status, res.body)
	}
	if dl := owner.get(str(t, got, "messages.0.attachments.0.url")); dl.status != http.StatusOK {
		t.Fatalf("owner download: %d", dl.status)
	}
	res = owner.postJSON("/api/v1/requests/"+str(t, r1, "id")+"/messages", map[string]string{"body": "Je passe demain."})
	if res.status != http.StatusForbidden || res.errCode(t) != "read_only" {
		t.Fatalf("owner posting: %d %s", res.status, res.body)
	}
	res = owner.do(http.MethodPost, "/api/v1/requests/"+str(t, r1, "id")+"/close", nil, "")
	if res.status != http.StatusForbidden || res.errCode(t) != "read_only" {
		t.Fatalf("owner closing: %d %s", res.status, res.body)
	}
	if res = owner.get("/api/v1/requests/" + str(t, r9, "id")); res.status != http.StatusNotFound {
		t.Fatalf("owner reading L9 request: %d", res.status)
	}
	// A tenant on L1 does not see the owner's requests.
	if l := onL1.get("/api/v1/requests").json(t); length(t, l, "requests") != 1 {
		t.Fatalf("tenant lists %v", l)
	}
}

func TestDisguisedFileRefused(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	res := tenant.postMultipart("/api/v1/requests", repairFields("A12"),
		[]Upload{{"photo1.jpg", jpegBytes(t)}, {"photo.jpg", htmlBytes()}})
	if res.status != http.StatusUnsupportedMediaType || res.errCode(t) != "unsupported_file_type" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if m := str(t, res.json(t), "error.message"); m != "Le fichier « photo.jpg » n'est pas une image JPEG, PNG, WebP, HEIC ni un PDF." {
		t.Fatalf("message %q", m)
	}
	e.expectRows(0, 0, 0)
	var counters int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM reference_counters`).Scan(&counters)
	if c, _, _ := e.outbox.counts(); c != 0 || counters != 0 {
		t.Fatalf("outbox %d, counters %d", c, counters)
	}
	// Also on a follow-up.
	ok := tenant.postJSON("/api/v1/requests", map[string]string{"category": "autre", "subject": "s", "body": "b"}).json(t)
	res = tenant.postMultipart("/api/v1/requests/"+str(t, ok, "id")+"/messages", map[string]string{"body": "zip"},
		[]Upload{{"docs.pdf", zipBytes(t)}})
	if res.status != http.StatusUnsupportedMediaType {
		t.Fatalf("follow-up: %d %s", res.status, res.body)
	}
	e.expectRows(1, 1, 0)
}

func TestOversizedFileRefused(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	big := make([]byte, int(config.DefaultMaxFileSize)+1)
	copy(big, jpegBytes(t))
	res := tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"petite.jpg", jpegBytes(t)}, {"grande.jpg", big}})
	if res.status != http.StatusRequestEntityTooLarge || res.errCode(t) != "file_too_large" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if m := str(t, res.json(t), "error.message"); m != "Le fichier « grande.jpg » dépasse la taille maximale autorisée (5 Mo)." {
		t.Fatalf("message %q", m)
	}
	e.expectRows(0, 0, 0)

	// Too many files.
	six := make([]Upload, 6)
	for i := range six {
		six[i] = Upload{fmt.Sprintf("p%d.png", i), pngBytes(t)}
	}
	res = tenant.postMultipart("/api/v1/requests", repairFields("A12"), six)
	if res.status != http.StatusUnprocessableEntity || res.errCode(t) != "too_many_files" {
		t.Fatalf("six files: %d %s", res.status, res.body)
	}
	e.expectRows(0, 0, 0)
}

func TestBodyOverCapRefused(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Uploads.MaxFileSize = 16 << 10; c.Uploads.MaxFiles = 1 })
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	// The cap is 1 file × 16 KiB + text + 1 MiB: send 3 MiB of "other" fields.
	fields := repairFields("A12")
	fields["padding"] = strings.Repeat("x", 3<<20)
	res := tenant.postMultipart("/api/v1/requests", fields, nil)
	if res.status != http.StatusRequestEntityTooLarge || res.errCode(t) != "request_too_large" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	e.expectRows(0, 0, 0)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	anon := &client{e: e}
	for _, path := range []string{"/api/v1/me", "/api/v1/requests", "/api/v1/categories"} {
		res := anon.get(path)
		if res.status != http.StatusUnauthorized || res.errCode(t) != "unauthenticated" {
			t.Fatalf("%s without session: %d %s", path, res.status, res.body)
		}
	}
	res := anon.postJSON("/api/v1/requests", map[string]string{"category": "autre", "subject": "s", "body": "b"})
	if res.status != http.StatusUnauthorized {
		t.Fatalf("create without session: %d", res.status)
	}
	forged := &client{e: e, token: "ory_st_forgedforgedforgedforged"}
	if res := forged.get("/api/v1/me"); res.status != http.StatusUnauthorized || res.errCode(t) != "unauthenticated" {
		t.Fatalf("forged token: %d %s", res.status, res.body)
	}
	forgedCookie := &client{e: e, cookie: &http.Cookie{Name: kratos.SessionCookie, Value: "MTcwforged"}}
	if res := forgedCookie.get("/api/v1/me"); res.status != http.StatusUnauthorized {
		t.Fatalf("forged cookie: %d %s", res.status, res.body)
	}

	// No role in metadata_public → 403; a role in the traits is not trusted.
	noRole := kratostest.NewIdentity(t, kratostest.Options{})
	c := &client{e: e, token: kratostest.Login(t, noRole.Email, noRole.Password)}
	if res := c.get("/api/v1/me"); res.status != http.StatusForbidden || res.errCode(t) != "no_role" {
		t.Fatalf("no role: %d %s", res.status, res.body)
	}

	// The browser cookie works as well as the token.
	id := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "owner", "lots": []string{"L1"}}})
	browser := &client{e: e, cookie: kratostest.LoginBrowser(t, id.Email, id.Password)}
	res = browser.get("/api/v1/me")
	if res.status != http.StatusOK || str(t, res.json(t), "id") != id.ID || str(t, res.json(t), "role") != "owner" {
		t.Fatalf("cookie session: %d %s", res.status, res.body)
	}
	if strings.Contains(e.logs.String(), browser.cookie.Value) {
		t.Fatal("the session cookie appears in the logs")
	}

	// A state-changing request from another site's page is refused (CSRF),
	// before Kratos is even asked.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/requests",
		strings.NewReader(`{"category":"autre","subject":"s","body":"b"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	req.AddCookie(browser.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", resp.StatusCode)
	}
	e.expectRows(0, 0, 0)

	// A revoked session is refused at once.
	tok := kratostest.Login(t, id.Email, id.Password)
	kratostest.RevokeSessions(t, id.ID)
	if res := (&client{e: e, token: tok}).get("/api/v1/me"); res.status != http.StatusUnauthorized {
		t.Fatalf("revoked session: %d", res.status)
	}
}

func TestKratosUnreachable(t *testing.T) {
	e := newEnv(t)
	// A checker on a port where nothing listens.
	api := NewAPI(e.svc, kratos.NewSessions("http://127.0.0.1:1", nil), nil)
	api.log.SetOutput(e.logs)
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptestServer(t, mux)
	req, _ := http.NewRequest(http.MethodGet, srv+"/api/v1/me", nil)
	req.Header.Set(kratos.SessionTokenHeader, "ory_st_whatever")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestOutboxFailureStoresNothing(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	e.outbox.setFail(true)
	res := tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"p.jpg", jpegBytes(t)}})
	if res.status != http.StatusInternalServerError || res.errCode(t) != "outbox_failed" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if m := str(t, res.json(t), "error.message"); !strings.Contains(m, "réessayer") || !strings.Contains(m, "rien n'a été enregistré") {
		t.Fatalf("message %q", m)
	}
	e.expectRows(0, 0, 0)

	e.outbox.setFail(false)
	res = tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"p.jpg", jpegBytes(t)}})
	if res.status != http.StatusCreated {
		t.Fatalf("retry: %d %s", res.status, res.body)
	}
	id := str(t, res.json(t), "id")
	e.expectRows(1, 1, 1)

	e.outbox.setFail(true)
	if res := tenant.postJSON("/api/v1/requests/"+id+"/messages", map[string]string{"body": "suite"}); res.status != http.StatusInternalServerError {
		t.Fatalf("message with outbox down: %d", res.status)
	}
	if res := tenant.do(http.MethodPost, "/api/v1/requests/"+id+"/close", nil, ""); res.status != http.StatusInternalServerError {
		t.Fatalf("close with outbox down: %d", res.status)
	}
	e.expectRows(1, 1, 1)
	e.outbox.setFail(false)
	if got := str(t, tenant.get("/api/v1/requests/"+id).json(t), "status"); got != "new" {
		t.Fatalf("status %s after a failed close", got)
	}
}

// 20 clients file at once: 20 distinct references, numbered 1 to 20.
func TestConcurrentReferences(t *testing.T) {
	// One identity posts all 20: lift its write rate and upload limits.
	e := newEnv(t, func(c *config.Config) {
		c.Limits = config.Limits{WritesPerMinute: 6000, WritesBurst: 100, ConcurrentUploads: 20, UploadsInFlight: 20}
	})
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	const n = 20
	refs := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res := tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"p.jpg", jpegBytes(t)}})
			if res.status != http.StatusCreated {
				t.Errorf("create %d: %d %s", i, res.status, res.body)
				return
			}
			var m struct{ Reference string }
			if err := json.Unmarshal(res.body, &m); err != nil {
				t.Errorf("create %d: %v", i, err)
			}
			refs[i] = m.Reference
		}(i)
	}
	wg.Wait()
	sort.Strings(refs)
	year := time.Now().In(mustParis(t)).Year()
	for i, r := range refs {
		if want := FormatReference("D", year, int64(i+1)); r != want {
			t.Fatalf("references %v: #%d is %q, want %q", refs, i, r, want)
		}
	}
	e.expectRows(n, n, n)
	if c, _, _ := e.outbox.counts(); c != n {
		t.Fatalf("outbox %d", c)
	}
}

func TestNewRequestAfterClose(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Redmine.OnClientMessageAfterClose = "new_request" })
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	old := tenant.postMultipart("/api/v1/requests", repairFields("A12"), nil).json(t)
	oldID := str(t, old, "id")
	if res := tenant.do(http.MethodPost, "/api/v1/requests/"+oldID+"/close", nil, ""); res.status != http.StatusOK {
		t.Fatalf("close: %d", res.status)
	}
	res := tenant.postMultipart("/api/v1/requests/"+oldID+"/messages", map[string]string{"body": "Ça recommence."},
		[]Upload{{"p.jpg", jpegBytes(t)}})
	if res.status != http.StatusCreated {
		t.Fatalf("message: %d %s", res.status, res.body)
	}
	m := res.json(t)
	newID := str(t, m, "request.id")
	if newID == oldID || str(t, m, "request.linked_request_id") != oldID || str(t, m, "request.status") != "new" ||
		str(t, m, "request.category") != "travaux" || !strings.HasPrefix(str(t, m, "request.subject"), "Suite "+str(t, old, "reference")) ||
		res.header.Get("Location") != "/api/v1/requests/"+newID {
		t.Fatalf("answer: %s", res.body)
	}
	if str(t, tenant.get("/api/v1/requests/"+oldID).json(t), "status") != "closed" {
		t.Fatal("old request reopened")
	}
	if c, a, _ := e.outbox.counts(); c != 2 || a != 0 {
		t.Fatalf("outbox created=%d added=%d", c, a)
	}
}

func mustParis(t *testing.T) *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
