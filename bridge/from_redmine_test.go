package bridge_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// mirrored files a request and waits for its issue.
func (h *harness) mirrored(category string) (*client, apiRequest, redmine.IssueID) {
	h.t.Helper()
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": category, "subject": "Volet roulant bloqué", "body": "Le volet de la chambre ne remonte plus."})
	return tenant, r, h.waitMirrored(tenant, r.ID)
}

func (h *harness) poll() bridge.PollStats {
	h.t.Helper()
	st, err := h.bridge.PollOnce(context.Background())
	if err != nil {
		h.t.Fatalf("poll: %v", err)
	}
	return st
}

func (h *harness) statusID(name string) int {
	s, ok := mustDirectory(h.t, h.admin, h.cfg).Status(name)
	if !ok {
		h.t.Fatalf("no status %q", name)
	}
	return s.ID
}

func countMessages(r apiRequest, kind, bodyPart string) int {
	n := 0
	for _, m := range r.Messages {
		if m.Kind == kind && strings.Contains(m.Body, bodyPart) {
			n++
		}
	}
	return n
}

func TestStaffNoteAndStatusFlowBackOncePrivateNeverAppears(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")

	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Bonjour, un technicien passe jeudi matin.\n<b>Détails</b> : https://agence.example/rdv", StatusID: h.statusID("In Progress")}); err != nil {
		t.Fatal(err)
	}
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "NOTE PRIVÉE : locataire en retard de loyer.", PrivateNotes: true}); err != nil {
		t.Fatal(err)
	}
	h.poll()
	got := tenant.get(r.ID)
	if n := countMessages(got, "message", "un technicien passe jeudi"); n != 1 {
		t.Errorf("staff note shown %d times, want 1", n)
	}
	if n := countMessages(got, "status", "en cours"); n != 1 {
		t.Errorf("status event shown %d times, want 1: %+v", n, got.Messages)
	}
	if got.Status != "in_progress" {
		t.Errorf("status = %s, want in_progress", got.Status)
	}
	for _, m := range got.Messages {
		if m.Kind == "message" && m.AuthorKind == "staff" {
			if m.AuthorName != "Marie" {
				t.Errorf("staff note signed %q, want the first name Marie", m.AuthorName)
			}
			// Shown safely: escaped, line breaks and links kept.
			for _, want := range []string{"&lt;b&gt;Détails&lt;/b&gt;", "<br>", `<a href="https://agence.example/rdv"`} {
				if !strings.Contains(m.BodyHTML, want) {
					t.Errorf("body_html lacks %q: %s", want, m.BodyHTML)
				}
			}
		}
	}
	// More polls, and a refresh forced by a nudge, change nothing.
	for i := 0; i < 3; i++ {
		h.poll()
	}
	if err := h.bridge.RefreshIssue(ctx, issueID); err != nil {
		t.Fatal(err)
	}
	again := tenant.get(r.ID)
	if len(again.Messages) != len(got.Messages) {
		t.Errorf("messages went from %d to %d after more polls", len(got.Messages), len(again.Messages))
	}
	for _, m := range again.Messages {
		if strings.Contains(m.Body, "PRIVÉE") {
			t.Fatalf("a private note reached the client: %q", m.Body)
		}
	}
}

func TestClientFollowUpDoesNotEchoBack(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, _ := h.mirrored("autre")
	var msg struct{ ID string }
	tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "Je suis disponible mardi."}, nil, &msg)
	h.waitFor("follow-up mirrored", 60*time.Second, func() bool {
		m, err := h.store.GetMessage(ctx, msg.ID, false)
		return err == nil && m.MirroredAt != nil
	})
	h.poll()
	h.poll()
	got := tenant.get(r.ID)
	if n := countMessages(got, "message", "Je suis disponible mardi."); n != 1 {
		t.Fatalf("the client's message appears %d times, want 1", n)
	}
	for _, m := range got.Messages {
		if m.AuthorKind == "staff" {
			t.Errorf("unexpected staff message %q", m.Body)
		}
	}
}

func TestStaffAttachmentFlowsBack(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	token, err := h.staff.Upload(ctx, "devis-plombier.pdf", pdfBytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Voici le devis.", Uploads: []redmine.UploadRef{{Token: token, Filename: "devis-plombier.pdf", ContentType: "application/pdf"}}}); err != nil {
		t.Fatal(err)
	}
	h.poll()
	got := tenant.get(r.ID)
	var url string
	for _, m := range got.Messages {
		if m.AuthorKind == "staff" && strings.Contains(m.Body, "Voici le devis.") && len(m.Attachments) == 1 {
			url = m.Attachments[0].URL
		}
	}
	if url == "" {
		t.Fatalf("staff attachment not in the thread: %+v", got.Messages)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+url, nil)
	req.Header.Set("X-Session-Token", tenant.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(buf.Bytes(), pdfBytes()) {
		t.Errorf("download: HTTP %d, %d bytes", resp.StatusCode, buf.Len())
	}
}

func TestWebhookNudgeBringsChangeWithoutPolling(t *testing.T) {
	h := newHarness(t, harnessOpts{}) // no periodic poll at all in the harness
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Réponse rapide par webhook."}); err != nil {
		t.Fatal(err)
	}
	secret := h.cfg.Webhooks.RedmineSecret.Reveal()
	body := fmt.Sprintf(`{"payload":{"action":"updated","issue":{"id":%d,"subject":"ne pas croire ce contenu"},"url":"http://x"}}`, issueID)
	resp, err := http.Post(h.srv.URL+"/hooks/redmine?token="+url.QueryEscape(secret), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: HTTP %d", resp.StatusCode)
	}
	h.waitFor("staff note visible after the nudge", 30*time.Second, func() bool {
		return countMessages(tenant.get(r.ID), "message", "Réponse rapide par webhook.") == 1
	})
}

func TestForgedWebhooksAreRefusedWithoutCallingRedmine(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	_, _, issueID := h.mirrored("autre")
	before := h.net.calls.Load()
	body := fmt.Sprintf(`{"payload":{"action":"updated","issue":{"id":%d}}}`, issueID)
	cases := []struct {
		name   string
		url    string
		header map[string]string
		body   string
		want   int
	}{
		{"no secret", "/hooks/redmine", nil, body, 401},
		{"wrong token", "/hooks/redmine?token=wrong", nil, body, 401},
		{"wrong header token", "/hooks/redmine", map[string]string{"X-Passerelle-Token": "nope"}, body, 401},
		{"bad signature", "/hooks/redmine", map[string]string{"X-Redmine-Signature-256": "sha256=" + strings.Repeat("0", 64)}, body, 401},
		{"malformed with good token", "/hooks/redmine?token=" + url.QueryEscape(h.cfg.Webhooks.RedmineSecret.Reveal()), nil, "{not json", 400},
		{"oversized", "/hooks/redmine?token=" + url.QueryEscape(h.cfg.Webhooks.RedmineSecret.Reveal()), nil, `{"x":"` + strings.Repeat("a", 2<<20) + `"}`, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", h.srv.URL+c.url, strings.NewReader(c.body))
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	time.Sleep(time.Second) // a wrongly enqueued job would run within this
	if n := h.net.calls.Load() - before; n != 0 {
		t.Errorf("forged webhooks caused %d Redmine calls", n)
	}
}

// Redmine 7's native webhooks sign the body with HMAC-SHA256.
func TestSignedNativeWebhookIsAccepted(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tenant, r, issueID := h.mirrored("autre")
	if err := h.staff.UpdateIssue(context.Background(), issueID, redmine.IssueUpdate{Notes: "Signé HMAC."}); err != nil {
		t.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"type":"issue.updated","data":{"issue":{"id":%d}}}`, issueID))
	req, _ := http.NewRequest("POST", h.srv.URL+"/hooks/redmine", bytes.NewReader(body))
	req.Header.Set("X-Redmine-Signature-256", "sha256="+bridge.HMACHex(h.cfg.Webhooks.RedmineSecret.Reveal(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	h.waitFor("note after signed nudge", 30*time.Second, func() bool {
		return countMessages(tenant.get(r.ID), "message", "Signé HMAC.") == 1
	})
}

// With 1,000 issues or more in Redmine that Passerelle does not mirror, an idle poll
// makes exactly one request to Redmine.
func TestIdlePollCostsOneRequest(t *testing.T) {
	// Other tests share this Redmine: a short overlap keeps their recent
	// changes out of the measured poll's window.
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.PollOverlap = 2 * time.Second }})
	ensureUnmirroredIssues(t, h, 1000)
	h.mirrored("autre")
	h.poll()                    // applies what is pending and sets the cursor
	time.Sleep(3 * time.Second) // past the overlap, on Redmine's clock
	h.poll()
	before := h.net.calls.Load()
	st := h.poll()
	if n := h.net.calls.Load() - before; n != 1 {
		t.Errorf("idle poll made %d Redmine requests, want 1 (%+v)", n, st)
	}
	if st.Fetched != 0 {
		t.Errorf("idle poll fetched %d issues", st.Fetched)
	}
}

// ensureUnmirroredIssues makes sure Redmine holds at least n issues without a
// customer-space reference (created once; later runs reuse them).
func ensureUnmirroredIssues(t *testing.T, h *harness, n int) {
	t.Helper()
	ctx := context.Background()
	// Every issue of the shared Redmine is one this test's fresh database
	// does not mirror; those created below have no reference at all. Counted
	// without a custom-field filter: Redmine 5.0.4 on SQLite takes over 20 s
	// for "cf_1=!*" once it holds ~10,000 issues (seen in a clean-clone run),
	// 0.1 s for the plain count.
	page, err := h.admin.ListIssues(ctx, redmine.IssueQuery{StatusID: "*", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.admin.Project(ctx, "gestion-locative")
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := mustDirectory(t, h.admin, h.cfg).Tracker("Demande")
	for i := page.TotalCount; i < n; i++ {
		if _, err := h.admin.CreateIssue(ctx, redmine.IssueCreate{ProjectID: p.ID, TrackerID: tr.ID, Subject: "Ticket interne " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClientClosesThenWritesAgain(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/close", nil, nil, nil); code != 200 {
		t.Fatalf("close: HTTP %d", code)
	}
	closed := h.cfg.Redmine.ClientClosedStatus
	h.waitFor("issue closed in Redmine", 60*time.Second, func() bool {
		is, err := h.admin.GetIssue(ctx, issueID)
		return err == nil && is.Status.Name == closed
	})
	is, _ := h.admin.GetIssue(ctx, issueID, "journals")
	if !journalsContain(is, "Demande clôturée depuis l'espace client") {
		t.Error("no note saying the client closed it")
	}
	var msg struct{ ID string }
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "Finalement le problème revient."}, nil, &msg); code != 201 {
		t.Fatalf("message after close: HTTP %d", code)
	}
	h.waitFor("issue reopened in Redmine", 60*time.Second, func() bool {
		is, err := h.admin.GetIssue(ctx, issueID)
		return err == nil && is.Status.Name == h.cfg.Redmine.ReopenStatus
	})
	h.poll()
	if got := tenant.get(r.ID); got.Status == "closed" {
		t.Errorf("request still closed for the client")
	}
}

func journalsContain(is redmine.Issue, s string) bool {
	for _, j := range is.Journals {
		if strings.Contains(j.Notes, s) {
			return true
		}
	}
	return false
}

func TestInboundWebhookDeliveredTwiceCreatesOneRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	secret := h.cfg.Webhooks.InboundSecret.Reveal()
	body := []byte(fmt.Sprintf(`{"type":"request","identity":{"email":%q},"request":{"category":"autre","subject":"Par la passerelle e-mail","body":"Message reçu par e-mail."}}`, tenant.email))
	send := func(id string, ts time.Time, sig string) (int, string) {
		req, _ := http.NewRequest("POST", h.srv.URL+"/hooks/inbound", bytes.NewReader(body))
		stamp := strconv.FormatInt(ts.Unix(), 10)
		if sig == "" {
			sig = espaceclient.SignStandardWebhook(secret, id, stamp, body)
		}
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", stamp)
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	id := "msg_" + uniqueName("inb")
	code1, body1 := send(id, time.Now(), "")
	code2, body2 := send(id, time.Now(), "")
	if code1 != 201 || code2 != 201 || body1 != body2 {
		t.Fatalf("deliveries: %d %s / %d %s; want the same 201 twice", code1, body1, code2, body2)
	}
	if c, _ := send("msg_bad_"+uniqueName("x"), time.Now(), "v1,"+strings.Repeat("A", 44)); c != 401 {
		t.Errorf("bad signature: HTTP %d, want 401", c)
	}
	if c, _ := send("msg_old_"+uniqueName("x"), time.Now().Add(-10*time.Minute), ""); c != 401 {
		t.Errorf("stale timestamp: HTTP %d, want 401", c)
	}
	var list struct {
		Requests []apiRequest `json:"requests"`
	}
	tenant.call("GET", "/api/v1/requests", nil, nil, &list)
	if len(list.Requests) != 1 {
		t.Fatalf("requests = %d, want 1", len(list.Requests))
	}
	h.waitMirrored(tenant, list.Requests[0].ID)
}

// A poll between the client's close and its mirroring must not put Redmine's
// older status back over the client's close.
func TestPollBeforeTheCloseIsMirroredKeepsTheClientsClose(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := h.bridge.Stop(sctx); err != nil { // the close job will wait
		t.Fatal(err)
	}
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/close", nil, nil, nil); code != 200 {
		t.Fatalf("close: HTTP %d", code)
	}
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Une note juste avant la clôture."}); err != nil {
		t.Fatal(err)
	}
	h.poll()
	got := tenant.get(r.ID)
	if got.Status != "closed" {
		t.Fatalf("status = %s after a poll, want the client's close kept", got.Status)
	}
	if countMessages(got, "message", "Une note juste avant la clôture.") != 1 {
		t.Errorf("the staff note should still come through")
	}
	if countMessages(got, "status", "") != 0 {
		t.Errorf("a status event was added over the client's close: %+v", got.Messages)
	}
	if err := h.bridge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitFor("issue closed in Redmine", 60*time.Second, func() bool {
		is, err := h.admin.GetIssue(ctx, issueID)
		return err == nil && is.Status.Name == h.cfg.Redmine.ClientClosedStatus
	})
	h.poll()
	if got := tenant.get(r.ID); got.Status != "closed" {
		t.Errorf("status = %s once mirrored, want closed", got.Status)
	}
}

// With on_client_message_after_close: new_request, writing on a closed
// request files a new one, linked for staff, and the old issue stays closed.
func TestClientWritesAfterCloseStartsALinkedRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.OnClientMessageAfterClose = "new_request" }})
	ctx := context.Background()
	tenant, r, oldIssue := h.mirrored("autre")
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/close", nil, nil, nil); code != 200 {
		t.Fatalf("close: HTTP %d", code)
	}
	h.waitFor("issue closed in Redmine", 60*time.Second, func() bool {
		is, err := h.admin.GetIssue(ctx, oldIssue)
		return err == nil && is.Status.Name == h.cfg.Redmine.ClientClosedStatus
	})
	var answer struct {
		Request struct {
			ID        string `json:"id"`
			Reference string `json:"reference"`
		} `json:"request"`
	}
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "Le volet est de nouveau bloqué."}, nil, &answer); code != 201 {
		t.Fatalf("message after close: HTTP %d", code)
	}
	if answer.Request.ID == "" || answer.Request.ID == r.ID {
		t.Fatalf("no new request in the answer: %+v", answer)
	}
	newIssue := h.waitMirrored(tenant, answer.Request.ID)
	is, err := h.admin.GetIssue(ctx, newIssue)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Suite de la demande %s (#%d)", r.Reference, oldIssue); !strings.Contains(is.Description, want) {
		t.Errorf("new issue does not point to the old one (%q):\n%s", want, is.Description)
	}
	if !strings.Contains(is.Description, "Le volet est de nouveau bloqué.") {
		t.Errorf("new issue lacks the client's message:\n%s", is.Description)
	}
	if old, _ := h.admin.GetIssue(ctx, oldIssue); old.Status.Name != h.cfg.Redmine.ClientClosedStatus {
		t.Errorf("old issue reopened: %s", old.Status.Name)
	}
}

// After a burst of more than a page of changes, polls go back to one request
// as soon as the burst is older than the overlap: the overlap counts from the
// poll's time on Redmine's clock, not from the last change seen.
func TestIdlePollAfterABurstCostsOneRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.PollOverlap = 2 * time.Second }})
	ctx := context.Background()
	h.poll() // first poll: everything so far; sets the cursor
	p, err := h.admin.Project(ctx, "gestion-locative")
	if err != nil {
		t.Fatal(err)
	}
	var burstEnd time.Time     // the latest updated_on of the burst, on Redmine's clock
	for i := 0; i < 105; i++ { // issues carrying a reference, not ours
		is, err := h.admin.CreateIssue(ctx, redmine.IssueCreate{ProjectID: p.ID, Subject: "Rafale " + strconv.Itoa(i),
			CustomFields: []redmine.CustomFieldSet{{ID: h.cfg.Redmine.CustomFields.Reference, Value: uniqueName("RAFALE")}}})
		if err != nil {
			t.Fatal(err)
		}
		if is.UpdatedOn.After(burstEnd) {
			burstEnd = is.UpdatedOn
		}
	}
	// Let the burst get older than the 2 s overlap, on Redmine's clock, before
	// the poll that reads it: that poll's time less a second is the cursor the
	// next one reads from (less the overlap). Sleeping after it instead left the
	// burst's last ~3 s in the first idle poll's window: a second page as soon
	// as those and the other writers' changes reached 100.
	time.Sleep(4 * time.Second)
	if st := h.poll(); st.Pages < 2 || st.Listed < 105 {
		t.Fatalf("the burst poll listed %d issues in %d pages", st.Listed, st.Pages)
	}
	for i := 0; i < 2; i++ {
		before := h.net.calls.Load()
		st := h.poll()
		if n := h.net.calls.Load() - before; n != 1 || st.Fetched != 0 {
			t.Errorf("idle poll %d after the burst: %d requests, %d fetched; want 1 request", i, n, st.Fetched)
		}
	}
	// The window moved past the burst: the next poll reads from the cursor
	// less the overlap, which must be after the burst's last change. (Not
	// st.Listed == 0: the other packages' tests write into the same Redmine
	// project meanwhile, and their issues are rightly listed.)
	cursor, ok, err := h.bridge.IssuesCursor(ctx)
	if err != nil || !ok {
		t.Fatalf("no poll cursor after the idle polls (ok=%v): %v", ok, err)
	}
	if since := cursor.Add(-h.cfg.Redmine.PollOverlap); !since.After(burstEnd) {
		t.Errorf("after two idle polls the next poll reads from %s, not past the burst's last change %s", since, burstEnd)
	}
}
