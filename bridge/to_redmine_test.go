package bridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
	"passerelle/kratos/kratostest"
	"passerelle/redmine"
)

func TestTenantRepairWithPhotosThenFollowUpWithPDF(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	lot := uniqueName("LOT")
	tenant := h.newClient(config.RoleTenant, []string{lot}, nil)

	r := tenant.create(map[string]string{
		"category": "travaux", "subject": "Fuite sous l'évier", "body": "L'eau coule depuis ce matin.",
		"location": "Cuisine, sous l'évier", "payer": "owner", "urgency": "urgent", "lot": lot,
	}, file{"evier.jpg", jpegBytes(1)}, file{"compteur.png", pngBytes(2)})
	if r.RedmineIssueID != nil {
		t.Fatalf("redmine_issue_id should be null before mirroring")
	}
	issueID := h.waitMirrored(tenant, r.ID)

	issue, err := h.admin.GetIssue(ctx, issueID, "attachments", "journals")
	if err != nil {
		t.Fatal(err)
	}
	rule := mustCategory(t, h.cfg, "travaux").Redmine
	if issue.Project.Name == "" || issue.Tracker.Name != rule.Tracker {
		t.Errorf("tracker = %q, want %q", issue.Tracker.Name, rule.Tracker)
	}
	if issue.AssignedTo == nil || issue.AssignedTo.ID != rule.Assignee.Group {
		t.Errorf("assigned_to = %+v, want group %d", issue.AssignedTo, rule.Assignee.Group)
	}
	if issue.Priority.Name != rule.Priority {
		t.Errorf("priority = %q, want %q", issue.Priority.Name, rule.Priority)
	}
	if got := issue.CustomField(h.cfg.Redmine.CustomFields.Reference); got != r.Reference {
		t.Errorf("reference custom field = %q, want %q", got, r.Reference)
	}
	if !strings.Contains(issue.Subject, r.Reference) {
		t.Errorf("subject %q does not carry the reference", issue.Subject)
	}
	for _, want := range []string{"Cuisine, sous l'évier", "Le propriétaire", lot, tenant.email, "L'eau coule depuis ce matin."} {
		if !strings.Contains(issue.Description, want) {
			t.Errorf("description lacks %q:\n%s", want, issue.Description)
		}
	}
	if names := attachmentNames(issue); names != "compteur.png,evier.jpg" {
		t.Errorf("attachments = %s, want both photos", names)
	}

	// The client sees the number, when to expect an answer, and the
	// acknowledgment, once.
	got := tenant.get(r.ID)
	if !strings.HasPrefix(got.DueLabel, "Réponse attendue avant le ") {
		t.Errorf("due_label = %q", got.DueLabel)
	}
	acks := 0
	for _, m := range got.Messages {
		if m.Kind == "ack" {
			acks++
			if !strings.Contains(m.Body, fmt.Sprint(issueID)) {
				t.Errorf("ack %q lacks the Redmine number", m.Body)
			}
		}
	}
	if acks != 1 {
		t.Errorf("acks = %d, want 1", acks)
	}

	// A follow-up with a PDF becomes one note with the file.
	var msg struct{ ID string }
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "Voici le devis du plombier."},
		[]file{{"devis.pdf", pdfBytes()}}, &msg); code != http.StatusCreated {
		t.Fatalf("follow-up: HTTP %d", code)
	}
	h.waitFor("follow-up mirrored", 60*time.Second, func() bool {
		m, err := h.store.GetMessage(ctx, msg.ID, false)
		return err == nil && m.MirroredAt != nil
	})
	issue, _ = h.admin.GetIssue(ctx, issueID, "attachments", "journals")
	notes := 0
	for _, j := range issue.Journals {
		if strings.Contains(j.Notes, "Voici le devis du plombier.") {
			notes++
			if !strings.Contains(j.Notes, tenant.nameHint()) {
				t.Errorf("note does not say who wrote it: %q", j.Notes)
			}
		}
	}
	if notes != 1 {
		t.Errorf("notes with the follow-up = %d, want 1", notes)
	}
	if names := attachmentNames(issue); names != "compteur.png,devis.pdf,evier.jpg" {
		t.Errorf("attachments after follow-up = %s", names)
	}
}

func TestOwnerRIBChangeBecomesSubtaskOfMandateTicket(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	mandate := uniqueName("M")
	parent := h.createMandateTicket(t, mandate)
	owner := h.newClient(config.RoleOwner, []string{uniqueName("LOT")}, []string{mandate})

	r := owner.create(map[string]string{"category": "changement-rib", "subject": "Nouveau RIB",
		"body": "Merci de verser les loyers sur mon nouveau compte.", "mandate": mandate}, file{"rib.pdf", pdfBytes()})
	issueID := h.waitMirrored(owner, r.ID)
	issue, err := h.admin.GetIssue(ctx, issueID)
	if err != nil {
		t.Fatal(err)
	}
	if issue.ParentID() != parent {
		t.Errorf("parent = %d, want the mandate ticket %d", issue.ParentID(), parent)
	}
	if issue.AssignedTo == nil || issue.AssignedTo.ID != envInt(t, "REDMINE_GROUP_COMPTABILITE_ID") {
		t.Errorf("assigned_to = %+v, want the Comptabilité group", issue.AssignedTo)
	}
	got := owner.get(r.ID)
	found := false
	for _, m := range got.Messages {
		if m.Kind == "ack" && strings.Contains(m.Body, fmt.Sprint(issueID)) && strings.Contains(m.Body, "comptabilité") {
			found = true
		}
	}
	if !found {
		t.Errorf("no acknowledgment with the Redmine number in the thread: %+v", got.Messages)
	}

	// Accounting closes the subtask with a public note: the owner sees both.
	accounting := redmine.New(redmine.Config{URL: testenv.Get(t, "REDMINE_URL"), APIKey: testenv.Get(t, "REDMINE_ACCOUNTING_API_KEY")})
	if err := accounting.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Votre nouveau RIB est enregistré.", StatusID: h.statusID("Closed")}); err != nil {
		t.Fatal(err)
	}
	h.poll()
	got = owner.get(r.ID)
	if countMessages(got, "message", "Votre nouveau RIB est enregistré.") != 1 || got.Status != "closed" {
		t.Errorf("owner's request after accounting closed the subtask: status %s, messages %+v", got.Status, got.Messages)
	}
}

func TestRIBChangeWithoutMandateTicketStillReachesRedmine(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	mandate := uniqueName("M-SANS-TICKET")
	owner := h.newClient(config.RoleOwner, nil, []string{mandate})
	r := owner.create(map[string]string{"category": "changement-adresse", "subject": "Nouvelle adresse",
		"body": "J'habite désormais 3 rue des Lilas.", "mandate": mandate})
	issueID := h.waitMirrored(owner, r.ID)
	issue, err := h.admin.GetIssue(context.Background(), issueID)
	if err != nil {
		t.Fatal(err)
	}
	if issue.ParentID() != 0 {
		t.Errorf("parent = %d, want none", issue.ParentID())
	}
	if !strings.Contains(issue.Description, "ticket mandat introuvable") {
		t.Errorf("the issue is not marked for staff attention:\n%s", issue.Description)
	}
	req, _ := h.store.GetRequest(context.Background(), r.ID)
	if req.NeedsAttention == "" {
		t.Error("needs_attention not recorded")
	}
}

// A crash after Redmine accepted the issue but before the mapping was
// committed: the retry adopts the issue instead of creating a second one.
func TestFailureAfterIssueCreatedBeforeCommitCreatesOneIssue(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	injected := &atomic.Int32{}
	h.bridge.SetCrashAfterIssueCreated(failFirst(injected))
	h.start()
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": "comptabilite", "subject": "Régularisation de charges", "body": "Je ne comprends pas le montant."})
	issueID := h.waitMirrored(tenant, r.ID)
	if injected.Load() != 1 {
		t.Fatalf("the failure was injected %d times, want 1 (the retry adopts the issue and never creates again)", injected.Load())
	}
	found, err := h.admin.FindByCustomField(context.Background(), h.cfg.Redmine.CustomFields.Reference, r.Reference, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != issueID {
		t.Fatalf("issues with reference %s: %v, want exactly [%d]", r.Reference, bridge.IssueIDs(found), issueID)
	}
}

// The same for a follow-up note: written, then a crash before it was
// recorded; the retry finds it by its marker.
func TestFailureAfterNoteWrittenCreatesOneNote(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	injected := &atomic.Int32{}
	h.bridge.SetCrashAfterNoteWritten(failFirst(injected))
	h.start()
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Question", "body": "Bonjour."})
	issueID := h.waitMirrored(tenant, r.ID)
	var msg struct{ ID string }
	tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "Une précision unique 7d1f."}, nil, &msg)
	h.waitFor("follow-up mirrored", 60*time.Second, func() bool {
		m, err := h.store.GetMessage(context.Background(), msg.ID, false)
		return err == nil && m.MirroredAt != nil
	})
	issue, _ := h.admin.GetIssue(context.Background(), issueID, "journals")
	n := 0
	for _, j := range issue.Journals {
		if strings.Contains(j.Notes, "Une précision unique 7d1f.") {
			n++
		}
	}
	if n != 1 || injected.Load() < 1 {
		t.Fatalf("notes = %d (want 1), injected = %d", n, injected.Load())
	}
}

// Redmine unreachable while 20 requests are filed: every request is accepted
// at once, then mirrored exactly once when Redmine is back.
func TestRedmineDownWhileTwentyRequestsAreFiled(t *testing.T) {
	// One tenant files 20 requests at once: a load generator, over the
	// per-identity write limit (espaceclient TestWriteRateLimitAnswers429AndStoresNothing covers it).
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) {
		c.Limits = config.Limits{WritesPerMinute: 6000, WritesBurst: 100, ConcurrentUploads: 20}.WithDefaults(c.Uploads)
	}})
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	h.net.down.Store(true)
	var wg sync.WaitGroup
	reqs := make([]apiRequest, 20)
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			reqs[i] = tenant.create(map[string]string{"category": "autre", "subject": fmt.Sprintf("Demande %d", i), "body": "Redmine est en panne."})
		}(i)
	}
	wg.Wait()
	// Let the jobs fail at least once against the dead Redmine.
	h.waitFor("first failed attempts", 30*time.Second, func() bool { return h.net.calls.Load() >= 20 })
	for _, r := range reqs {
		if got := tenant.get(r.ID); got.RedmineIssueID != nil {
			t.Fatalf("%s mirrored while Redmine was down", r.Reference)
		}
	}
	h.net.down.Store(false)
	for _, r := range reqs {
		issueID := h.waitMirrored(tenant, r.ID)
		found, err := h.admin.FindByCustomField(context.Background(), h.cfg.Redmine.CustomFields.Reference, r.Reference, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].ID != issueID {
			t.Errorf("%s: issues %v, want exactly [%d]", r.Reference, bridge.IssueIDs(found), issueID)
		}
	}
}

// A 5xx answer is retried like an outage.
func TestRedmine503IsRetried(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	h.net.fail503.Store(true)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Pendant une 503", "body": "Test."})
	h.waitFor("a failed attempt", 30*time.Second, func() bool { return h.net.calls.Load() >= 1 })
	h.net.fail503.Store(false)
	h.waitMirrored(tenant, r.ID)
}

// A rule pointing at a tracker Redmine does not have: no endless retries,
// the cause is recorded and check --live names it.
func TestRuleWithMissingTrackerStopsAndIsReported(t *testing.T) {
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) {
		for i := range c.Categories {
			if c.Categories[i].ID == "autre" {
				c.Categories[i].Redmine.Tracker = "Tracker supprimé"
			}
		}
	}})
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Perdue ?", "body": "Non, jamais perdue."})
	var req espaceclient.Request
	h.waitFor("mirror error recorded", 60*time.Second, func() bool {
		var err error
		req, err = h.store.GetRequest(context.Background(), r.ID)
		return err == nil && req.MirrorError != ""
	})
	if !strings.Contains(req.MirrorError, "Tracker supprimé") {
		t.Errorf("mirror_error = %q, want the culprit named", req.MirrorError)
	}
	calls := h.net.calls.Load()
	time.Sleep(3 * time.Second) // retries would show here (retry delay capped at 1s)
	if h.net.calls.Load() != calls {
		t.Errorf("the job kept calling Redmine after a permanent error")
	}
	// The client's text is still there.
	if got := tenant.get(r.ID); len(got.Messages) == 0 || got.Messages[0].Body != "Non, jamais perdue." {
		t.Errorf("the client's message was lost: %+v", got.Messages)
	}
	problems, _ := bridge.CheckLive(context.Background(), h.cfg, h.rm, h.admin)
	if !containsLine(problems, `tracker "Tracker supprimé" does not exist`) {
		t.Errorf("check --live did not name the tracker: %q", problems)
	}

	// The admin fixes the rule and resyncs: the request reaches Redmine, once.
	fixed := *h.cfg
	fixed.Categories = append([]config.Category(nil), h.cfg.Categories...)
	for i := range fixed.Categories {
		if fixed.Categories[i].ID == "autre" {
			fixed.Categories[i].Redmine.Tracker = "Demande"
		}
	}
	h.reload(&fixed)
	lines, err := h.bridge.Resync(context.Background(), nil)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], r.Reference) {
		t.Fatalf("resync: %v %q", err, lines)
	}
	issueID := h.waitMirrored(tenant, r.ID)
	found, _ := h.admin.FindByCustomField(context.Background(), h.cfg.Redmine.CustomFields.Reference, r.Reference, 0)
	if len(found) != 1 || found[0].ID != issueID {
		t.Errorf("issues for %s: %v", r.Reference, bridge.IssueIDs(found))
	}
	if req, _ := h.store.GetRequest(context.Background(), r.ID); req.MirrorError != "" {
		t.Errorf("mirror_error not cleared: %q", req.MirrorError)
	}
}

func (h *harness) createMandateTicket(t *testing.T, number string) redmine.IssueID {
	t.Helper()
	ctx := context.Background()
	tr, ok := mustDirectory(t, h.admin, h.cfg).Tracker(h.cfg.Redmine.MandateTracker)
	if !ok {
		t.Fatal("no Mandat tracker")
	}
	p, err := h.admin.Project(ctx, "gestion-locative")
	if err != nil {
		t.Fatal(err)
	}
	is, err := h.admin.CreateIssue(ctx, redmine.IssueCreate{ProjectID: p.ID, TrackerID: tr.ID, Subject: "Mandat de gestion " + number,
		CustomFields: []redmine.CustomFieldSet{{ID: h.cfg.Redmine.CustomFields.MandateNumber, Value: number}}})
	if err != nil {
		t.Fatal(err)
	}
	if is.CustomField(h.cfg.Redmine.CustomFields.MandateNumber) != number {
		t.Fatal("Redmine dropped the mandate number custom field")
	}
	return is.ID
}

func mustDirectory(t testing.TB, c *redmine.Client, cfg *config.Config) *redmine.Directory {
	t.Helper()
	d, err := c.LoadDirectory(context.Background(), []string{"gestion-locative"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustCategory(t *testing.T, cfg *config.Config, id string) config.Category {
	c, ok := cfg.Category(id)
	if !ok {
		t.Fatalf("no category %s", id)
	}
	return c
}

func attachmentNames(is redmine.Issue) string {
	var names []string
	for _, a := range is.Attachments {
		names = append(names, a.Filename)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// A database restored from an old backup numbers references again from where
// the backup stood: an issue already in Redmine with that reference belongs to
// another request and must not be adopted (its client would see the other
// client's notes).
func TestIssueOfAnotherRequestWithTheSameReferenceIsNotAdopted(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	// Fail once after creating, so the retry searches by reference and finds
	// both the older issue of another request and this request's own.
	injected := &atomic.Int32{}
	h.bridge.SetCrashAfterIssueCreated(failFirst(injected))
	h.start()
	ctx := context.Background()
	paris, _ := time.LoadLocation("Europe/Paris")
	ref := espaceclient.FormatReference(h.cfg.ReferencePrefix, time.Now().In(paris).Year(), 1)
	p, err := h.admin.Project(ctx, "gestion-locative")
	if err != nil {
		t.Fatal(err)
	}
	stale, err := h.admin.CreateIssue(ctx, redmine.IssueCreate{ProjectID: p.ID, Subject: "[" + ref + "] demande d'un autre client",
		CustomFields: []redmine.CustomFieldSet{{ID: h.cfg.Redmine.CustomFields.Reference, Value: ref}}})
	if err != nil {
		t.Fatal(err)
	}
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Ma demande", "body": "Bonjour."})
	if r.Reference != ref {
		t.Fatalf("reference = %s, want %s", r.Reference, ref)
	}
	issueID := h.waitMirrored(tenant, r.ID)
	if issueID == stale.ID {
		t.Fatalf("the request was attached to another client's issue %d", stale.ID)
	}
	found, err := h.admin.FindByCustomField(ctx, h.cfg.Redmine.CustomFields.Reference, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || injected.Load() != 1 {
		t.Errorf("issues with %s: %v (want the other client's and exactly one of ours); failures injected: %d", ref, bridge.IssueIDs(found), injected.Load())
	}
}

// hostileBody is a client text full of what Redmine would format: an
// external image, phishing links, a forged agency heading and bold text,
// HTML, macros, wiki links, a mention, Redmine links, an attempt to close
// the verbatim block, and copies of Passerelle's marker lines.
const hostileBody = `*Fin du message client.*

h2. Note interne de l'agence

RIB validé par la comptabilité, virement sur "ce compte":http://evil.example/phish et http://evil.example/auto
!http://evil.example/pixel.png!
<script>alert(1)</script> <img src="http://evil.example/raw.png">
</pre>
!http://evil.example/after-close.png! "après":http://evil.example/after
<pre>
{{collapse(Voir)
caché
}} {{toc}} [[Wiki]] @admin #1 r1 commit:abc123 attachment:x.png
_Réf. message espace client : 00000000-0000-4000-8000-000000000000_
_Identifiant interne espace client : 00000000-0000-4000-8000-000000000000_
Éléonore, 3e étage : ça fuit « beaucoup ».`

// staffWikiHTML is what Redmine's formatter made of an issue's description
// and notes, as a staff member's browser gets them on the issue page: the
// contents of its "wiki" divs (Redmine's own page around them has scripts
// and links of its own). The page itself is never printed: it carries the
// staff member's Atom key.
func staffWikiHTML(t *testing.T, issueID redmine.IssueID) []string {
	t.Helper()
	env := testenv.Env(t, "REDMINE_URL", "REDMINE_STAFF_API_KEY")
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/issues/%d", env[0], issueID), nil)
	req.Header.Set("X-Redmine-API-Key", env[1]) // Redmine accepts it on issues#show, HTML included
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="loggedas"`) {
		t.Fatalf("GET /issues/%d as staff: HTTP %d, not logged in", issueID, resp.StatusCode)
	}
	// Stop before the edit form (its textarea holds the raw description).
	if i := strings.Index(page, `<div id="update"`); i >= 0 {
		page = page[:i]
	}
	var out []string
	for {
		i := strings.Index(page, `class="wiki">`)
		if i < 0 {
			break
		}
		page = page[i+len(`class="wiki">`):]
		depth, end := 1, len(page)
		for j := 0; j < len(page); {
			open, cl := strings.Index(page[j:], "<div"), strings.Index(page[j:], "</div>")
			if cl < 0 {
				break
			}
			if open >= 0 && open < cl {
				depth++
				j += open + 4
				continue
			}
			depth--
			j += cl
			if depth == 0 {
				end = j
				break
			}
			j += len("</div>")
		}
		out = append(out, page[:end])
		page = page[end:]
	}
	if len(out) == 0 {
		t.Fatalf("GET /issues/%d: no formatted text found on the page", issueID)
	}
	return out
}

// Issue 10 item 4, against the real Redmine: a client whose name trait,
// e-mail and text are full of markup files a request and a follow-up; the
// issue page staff open shows all of it as text.
func TestHostileClientTextRendersAsTextForStaff(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	lot := uniqueName("LOT")
	email := "spoof-" + strings.ToLower(uniquePrefix()) + "@agence.test"
	id := kratostest.NewIdentity(t, kratostest.Options{Email: email,
		First:          `Marie (gestionnaire, Agence) "cliquez":http://evil.example/name-phish`,
		Last:           `!http://evil.example/name.png! @admin h2. x`,
		MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}, "mandates": []string{}}})
	tenant := &client{h: h, id: id.ID, email: email, token: kratostest.Login(t, id.Email, id.Password)}

	r := tenant.create(map[string]string{"category": "travaux", "subject": "Fuite", "body": hostileBody,
		"location": `Cuisine !http://evil.example/location.png!`, "payer": "owner", "urgency": "urgent", "lot": lot})
	issueID := h.waitMirrored(tenant, r.ID)
	var msg struct{ ID string }
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": hostileBody + "\nsuite 8c41"}, nil, &msg); code != http.StatusCreated {
		t.Fatalf("follow-up: HTTP %d", code)
	}
	h.waitFor("follow-up mirrored", 60*time.Second, func() bool {
		m, err := h.store.GetMessage(ctx, msg.ID, false)
		return err == nil && m.MirroredAt != nil
	})

	wiki := staffWikiHTML(t, issueID)
	if len(wiki) != 2 {
		t.Fatalf("%d formatted texts on the page, want the description and the note", len(wiki))
	}
	page := strings.Join(wiki, "\n<!-- next -->\n")
	lower := strings.ToLower(page)
	for _, bad := range []struct{ what, html string }{
		{"an external image", `<img src="http://evil.example`},
		{"any image", `<img`},
		{"an external link", `href="http://evil.example`},
		{"an e-mail link from the trait", `href="mailto:`},
		{"a heading", `<h2`},
		{"a forged bold line", `<strong>fin du message client.</strong>`},
		{"a script", `<script`},
		{"a macro (collapse)", `collapsed-text`},
		{"a macro (toc)", `class="toc`},
		{"a wiki link", `class="wiki-page`},
		{"a mention", `user-mention`},
		{"an issue link", `>#1</a>`},
	} {
		if strings.Contains(lower, strings.ToLower(bad.html)) {
			t.Errorf("the staff page shows %s (%s)", bad.what, bad.html)
		}
	}
	// The text is there, as text, with its accents.
	if !strings.Contains(page, "Note interne de l") || !strings.Contains(page, "Éléonore, 3e étage : ça fuit « beaucoup ».") || !strings.Contains(page, "suite 8c41") {
		t.Errorf("the client's text is not shown:\n%s", page)
	}
	if !strings.Contains(page, "Déclaré par le client") || !strings.Contains(page, email) {
		t.Errorf("the declared name and e-mail are not shown as such:\n%s", page)
	}
	if testing.Verbose() {
		t.Logf("formatted description and note of #%d:\n%s", issueID, page)
	}
}

// Issue 10 item 4: a copy of the marker line of a message, inside a note
// Passerelle wrote for a client, does not stand for that message's note. The
// copy is what Passerelle writes when a client types the marker into a
// message (ClientNote); it is put in Redmine while the bridge cannot reach
// it, so that it is already there when the real message is mirrored (message
// ids are random: this stands for a client who learnt or guessed one). The
// real message is then written once, and recorded with its own journal.
func TestClientTypedMarkerDoesNotSkipFollowUp(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Question", "body": "Bonjour."})
	issueID := h.waitMirrored(tenant, r.ID)

	h.net.down.Store(true)
	var msg struct{ ID string }
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "La vraie précision 5e2a."}, nil, &msg); code != http.StatusCreated {
		t.Fatalf("follow-up: HTTP %d", code)
	}
	req, err := h.store.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Env(t, "REDMINE_URL", "REDMINE_SYNC_API_KEY")
	sync := redmine.New(redmine.Config{URL: env[0], APIKey: env[1]}) // the sync user, around the broken transport
	forged := bridge.ClientNote(req, espaceclient.Message{ID: "0b7c7d1e-0000-4000-8000-00000000f0f0", AuthorName: "Client Test",
		Body: "Je recopie :\n_" + bridge.MessageMarker(msg.ID) + "_"})
	if err := sync.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: forged}); err != nil {
		t.Fatal(err)
	}
	h.net.down.Store(false)

	var mirrored espaceclient.Message
	h.waitFor("follow-up mirrored", 60*time.Second, func() bool {
		m, err := h.store.GetMessage(ctx, msg.ID, false)
		mirrored = m
		return err == nil && m.MirroredAt != nil
	})
	issue, err := h.admin.GetIssue(ctx, issueID, "journals")
	if err != nil {
		t.Fatal(err)
	}
	var real []redmine.JournalID
	for _, j := range issue.Journals {
		if strings.Contains(j.Notes, "La vraie précision 5e2a.") {
			real = append(real, j.ID)
		}
	}
	if len(real) != 1 {
		t.Fatalf("notes with the follow-up = %d, want 1 (the quoted marker made Passerelle skip it)", len(real))
	}
	if mirrored.RedmineJournalID == nil || *mirrored.RedmineJournalID != real[0] {
		t.Errorf("the message was recorded as journal %v, want its own note %d", mirrored.RedmineJournalID, real[0])
	}
}
