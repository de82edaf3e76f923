package bridge_test

// Second half of the sync review's regression tests (see sync_promises_test.go): client → Redmine, split for length.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// faultInjector answers a chosen HTTP status instead of Redmine for the
// calls its rule picks. It sits behind the harness's faultTransport; install
// it with injectFaults before the bridge starts.
type faultInjector struct {
	next   http.RoundTripper
	rule   atomic.Pointer[func(*http.Request) int]
	failed atomic.Int64
}

func injectFaults(h *harness) *faultInjector {
	f := &faultInjector{next: h.net.next}
	h.net.next = f
	return f
}

func (f *faultInjector) set(rule func(*http.Request) int) {
	if rule == nil {
		f.rule.Store(nil)
		return
	}
	f.rule.Store(&rule)
}

func (f *faultInjector) RoundTrip(r *http.Request) (*http.Response, error) {
	if rp := f.rule.Load(); rp != nil {
		if code := (*rp)(r); code != 0 {
			f.failed.Add(1)
			if r.Body != nil {
				r.Body.Close()
			}
			body := fmt.Sprintf(`{"errors":["injected HTTP %d"]}`, code)
			return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d injected", code), Request: r,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader([]byte(body)))}, nil
		}
	}
	return f.next.RoundTrip(r)
}

// uploadsFail is a rule failing every file upload with code.
func uploadsFail(code int) func(*http.Request) int {
	return func(r *http.Request) int {
		if r.Method == http.MethodPost && r.URL.Path == "/uploads.json" {
			return code
		}
		return 0
	}
}

// jobsAttempted counts the request's jobs of that kind that have run at least once.
func (h *harness) jobsAttempted(requestID, kind string) int {
	var n int
	_ = h.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = $2 AND args->>'request_id' = $1 AND attempted_at IS NOT NULL`, requestID, kind).Scan(&n)
	return n
}

// jobsSettled waits until no job of the request is left to run, retry or
// snooze: a stopped request leaves nothing running for ever.
func (h *harness) jobsSettled(requestID string) {
	h.t.Helper()
	h.waitFor("every mirroring job of the request finished (none retrying or snoozing)", 60*time.Second, func() bool {
		n := -1
		_ = h.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE args->>'request_id' = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')`, requestID).Scan(&n)
		return n == 0
	})
}

// syncNotes returns the sync user's journals on the issue whose note holds text.
func (h *harness) syncNotes(issueID redmine.IssueID, text string) []redmine.Journal {
	h.t.Helper()
	is, err := h.admin.GetIssue(context.Background(), issueID, "journals")
	if err != nil {
		h.t.Fatal(err)
	}
	syncID := envInt(h.t.(*testing.T), "REDMINE_SYNC_USER_ID")
	var out []redmine.Journal
	for _, j := range is.Journals {
		if j.User.ID == syncID && strings.Contains(j.Notes, text) {
			out = append(out, j)
		}
	}
	return out
}

const closeNoteText = "Demande clôturée depuis l'espace client"

// mirrorErrorLine is check --live's line about a request, "" when none.
func (h *harness) mirrorErrorLine(reference string) string {
	h.t.Helper()
	lines, err := bridge.MirrorErrors(context.Background(), h.store.Pool())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, l := range lines {
		if strings.Contains(l, reference) {
			return l
		}
	}
	return ""
}

// fixTracker points category "autre" at an existing tracker again.
func (h *harness) fixTracker() {
	fixed := *h.cfg
	fixed.Categories = append([]config.Category(nil), h.cfg.Categories...)
	for i := range fixed.Categories {
		if fixed.Categories[i].ID == "autre" {
			fixed.Categories[i].Redmine.Tracker = "Demande"
		}
	}
	h.reload(&fixed)
}

// Review #1 "CloseUndoneByEarlierMessageRetried": the client writes a
// follow-up with a photo, then closes; the follow-up's upload fails for a
// while (injected 503). The close waits behind the follow-up, and once both
// are written the issue and the client's request stay closed.
func TestSyncCloseAfterRetriedFollowUpStaysClosed(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	faults := injectFaults(h)
	h.start()
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	h.settled(r.ID)
	faults.set(uploadsFail(http.StatusServiceUnavailable))
	text := "Merci, c'est réparé, voici la photo."
	tenant.postMessage(r.ID, text, file{"apres.jpg", jpegBytes(3)})
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/close", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("close: HTTP %d", code)
	}
	h.waitFor("both actions' jobs ran while the upload fails", 60*time.Second, func() bool {
		return faults.failed.Load() >= 2 && h.jobsAttempted(r.ID, "mirror_message") >= 2
	})
	if n := len(h.syncNotes(issueID, closeNoteText)); n != 0 {
		t.Errorf("the close reached Redmine before the follow-up written before it (%d closing notes)", n)
	}
	faults.set(nil)
	h.settled(r.ID)
	msgs, closes := h.syncNotes(issueID, text), h.syncNotes(issueID, closeNoteText)
	if len(msgs) != 1 || len(closes) != 1 {
		t.Fatalf("%d follow-up notes and %d closing notes in Redmine, want 1 and 1", len(msgs), len(closes))
	}
	if msgs[0].ID > closes[0].ID {
		t.Errorf("Redmine has the closing (journal %d) before the follow-up (journal %d)", closes[0].ID, msgs[0].ID)
	}
	is, err := h.admin.GetIssue(ctx, issueID, "attachments")
	if err != nil {
		t.Fatal(err)
	}
	if is.Status.Name != h.cfg.Redmine.ClientClosedStatus {
		t.Errorf("Redmine status %q after the client's close, want %q", is.Status.Name, h.cfg.Redmine.ClientClosedStatus)
	}
	if !strings.Contains(attachmentNames(is), "apres.jpg") {
		t.Errorf("the follow-up's photo is not on the issue: %s", attachmentNames(is))
	}
	h.poll()
	got := tenant.get(r.ID)
	if got.Status != "closed" || countMessages(got, "status", "") != 0 || indexOf(got, "reopened", "") >= 0 {
		t.Errorf("the client closed last but sees status %s (status events %d, reopened at %d)",
			got.Status, countMessages(got, "status", ""), indexOf(got, "reopened", ""))
	}
}

// Review #10 "FollowUpsReorderedAfterOutage": five follow-ups written while
// Redmine answers 503 reach Redmine once each, in the order written.
func TestSyncFollowUpsReachRedmineInTheClientsOrder(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tenant, r, issueID := h.mirrored("autre")
	h.settled(r.ID)
	h.net.fail503.Store(true)
	var texts []string
	for i := 1; i <= 5; i++ {
		texts = append(texts, fmt.Sprintf("Message numéro %d de la série %s.", i, r.Reference))
		tenant.postMessage(r.ID, texts[i-1])
	}
	h.waitFor("every follow-up's job ran during the outage", 60*time.Second, func() bool {
		return h.jobsAttempted(r.ID, "mirror_message") == len(texts)
	})
	h.net.fail503.Store(false)
	h.settled(r.ID)
	var ids []redmine.JournalID
	for i, text := range texts {
		notes := h.syncNotes(issueID, text)
		if len(notes) != 1 {
			t.Fatalf("follow-up %d is in Redmine %d times, want once", i+1, len(notes))
		}
		ids = append(ids, notes[0].ID)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] < ids[i-1] {
			t.Errorf("follow-ups reached Redmine out of order: journal ids %v for messages 1 to 5", ids)
			break
		}
	}
}

// Review #4 "RetriesExhaustedLeaveNoTrace": a mirror job on its last attempt
// (a 3-attempt job here stands in for one that used up its attempts) records
// the stop on the request; check --live lists it, no job of the request is
// left retrying or snoozing, and resync brings the request and its follow-up.
func TestSyncLastAttemptIsRecordedOnTheRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	h.net.down.Store(true)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Pendant la panne", "body": "Redmine est en panne tout le week-end."})
	follow := "Une précision : le digicode du hall A aussi."
	tenant.postMessage(r.ID, follow)
	if _, err := h.bridge.River().Insert(ctx, bridge.MirrorRequestArgs{RequestID: r.ID}, &river.InsertOpts{MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the stop recorded on the request", 60*time.Second, func() bool {
		req, err := h.store.GetRequest(ctx, r.ID)
		return err == nil && req.MirrorError != ""
	})
	if line := h.mirrorErrorLine(r.Reference); !strings.Contains(line, "not mirrored") {
		t.Errorf("check --live line for %s: %q, want it listed as not mirrored", r.Reference, line)
	}
	h.jobsSettled(r.ID)
	h.net.down.Store(false)
	if lines, err := h.bridge.Resync(ctx, []string{r.Reference}); err != nil || len(lines) != 1 {
		t.Fatalf("resync: %q %v", lines, err)
	}
	issueID := h.waitMirrored(tenant, r.ID)
	h.settled(r.ID)
	found, err := h.admin.FindByCustomField(ctx, h.cfg.Redmine.CustomFields.Reference, r.Reference, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != issueID {
		t.Errorf("Redmine issues for %s: %v, want exactly [%d]", r.Reference, bridge.IssueIDs(found), issueID)
	}
	if n := len(h.syncNotes(issueID, follow)); n != 1 {
		t.Errorf("the follow-up is in Redmine %d times after resync, want once", n)
	}
	if line := h.mirrorErrorLine(r.Reference); line != "" {
		t.Errorf("check --live still lists the request after resync: %q", line)
	}
}

// Review #6 "ResyncForgetsFollowUps" and B5 (Reopen dropped by resync): a
// request stopped by a permanent error gets a follow-up, a close and a
// message that reopens it; after the fix, one resync brings all of them to
// Redmine in order, and the issue ends reopened like the client's request.
func TestSyncResyncQueuesFollowUpsAndKeepsTheReopen(t *testing.T) {
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) {
		for i := range c.Categories {
			if c.Categories[i].ID == "autre" {
				c.Categories[i].Redmine.Tracker = "Tracker supprimé"
			}
		}
	}})
	ctx := context.Background()
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	r := tenant.create(map[string]string{"category": "autre", "subject": "Perdue ?", "body": "Premier message."})
	h.waitFor("mirror error recorded", 60*time.Second, func() bool {
		req, err := h.store.GetRequest(ctx, r.ID)
		return err == nil && req.MirrorError != ""
	})
	second, third := "Deuxième message, important.", "Finalement la fuite reprend."
	tenant.postMessage(r.ID, second)
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/close", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("close: HTTP %d", code)
	}
	tenant.postMessage(r.ID, third)
	if got := tenant.get(r.ID); got.Status != "in_progress" || indexOf(got, "reopened", "") < 0 {
		t.Fatalf("premise: the last message should reopen the request: status %s", got.Status)
	}
	h.jobsSettled(r.ID)
	h.fixTracker()
	if lines, err := h.bridge.Resync(ctx, []string{r.Reference}); err != nil || len(lines) != 1 || !strings.Contains(lines[0], r.Reference) {
		t.Fatalf("resync: %q %v", lines, err)
	}
	issueID := h.waitMirrored(tenant, r.ID)
	h.settled(r.ID)
	n2, nc, n3 := h.syncNotes(issueID, second), h.syncNotes(issueID, closeNoteText), h.syncNotes(issueID, third)
	if len(n2) != 1 || len(nc) != 1 || len(n3) != 1 {
		t.Fatalf("after resync Redmine has %d, %d, %d notes for the follow-up, the close and the reopening message; want 1 each", len(n2), len(nc), len(n3))
	}
	if !(n2[0].ID < nc[0].ID && nc[0].ID < n3[0].ID) {
		t.Errorf("Redmine order: follow-up %d, close %d, reopening message %d; want the client's order", n2[0].ID, nc[0].ID, n3[0].ID)
	}
	is, err := h.admin.GetIssue(ctx, issueID)
	if err != nil {
		t.Fatal(err)
	}
	if is.Status.Name != h.cfg.Redmine.ReopenStatus {
		t.Errorf("Redmine status %q, want %q: the client's last message reopened the request", is.Status.Name, h.cfg.Redmine.ReopenStatus)
	}
	h.poll()
	if got := tenant.get(r.ID); got.Status != "in_progress" {
		t.Errorf("client status %s after a poll, want in_progress", got.Status)
	}
	if line := h.mirrorErrorLine(r.Reference); line != "" {
		t.Errorf("check --live still lists the request: %q", line)
	}
}

// Review #7 "FollowUpPermanentErrorNotReported": Redmine refuses a
// follow-up's file for good (injected 422 on the upload) on a mirrored
// request: check --live lists the request and the cause, the client's later
// close waits behind it (and the client's view stays closed), and resync
// after the fix writes both, in order.
func TestSyncFollowUpPermanentErrorIsReported(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	faults := injectFaults(h)
	h.start()
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	h.settled(r.ID)
	faults.set(uploadsFail(http.StatusUnprocessableEntity))
	text := "Voici la facture du plombier."
	followID := tenant.postMessage(r.ID, text, file{"facture.pdf", pdfBytes()})
	if code := tenant.call("POST", "/api/v1/requests/"+r.ID+"/close", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("close: HTTP %d", code)
	}
	var req espaceclient.Request
	h.waitFor("the stop recorded on the request", 60*time.Second, func() bool {
		var err error
		req, err = h.store.GetRequest(ctx, r.ID)
		return err == nil && req.MirrorError != ""
	})
	if !strings.Contains(req.MirrorError, "facture.pdf") {
		t.Errorf("mirror_error %q does not name the refused file", req.MirrorError)
	}
	if line := h.mirrorErrorLine(r.Reference); !strings.Contains(line, fmt.Sprintf("(issue #%d) stopped", issueID)) {
		t.Errorf("check --live line for %s: %q, want the stopped issue #%d", r.Reference, line, issueID)
	}
	h.jobsSettled(r.ID)
	if m, _ := h.store.GetMessage(ctx, followID, false); m.MirroredAt != nil {
		t.Errorf("the follow-up is marked mirrored though Redmine refused it")
	}
	if n := len(h.syncNotes(issueID, closeNoteText)); n != 0 {
		t.Errorf("the close reached Redmine ahead of the refused follow-up")
	}
	h.poll()
	if got := tenant.get(r.ID); got.Status != "closed" {
		t.Errorf("client status %s while the close waits, want the client's close kept", got.Status)
	}
	faults.set(nil)
	if lines, err := h.bridge.Resync(ctx, []string{r.Reference}); err != nil || len(lines) != 1 {
		t.Fatalf("resync: %q %v", lines, err)
	}
	h.settled(r.ID)
	msgs, closes := h.syncNotes(issueID, text), h.syncNotes(issueID, closeNoteText)
	if len(msgs) != 1 || len(closes) != 1 || msgs[0].ID > closes[0].ID {
		t.Fatalf("after resync: %d follow-up notes and %d closing notes, want 1 then 1", len(msgs), len(closes))
	}
	is, err := h.admin.GetIssue(ctx, issueID, "attachments")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(attachmentNames(is), "facture.pdf") || is.Status.Name != h.cfg.Redmine.ClientClosedStatus {
		t.Errorf("issue after resync: attachments %s, status %q; want facture.pdf and %q", attachmentNames(is), is.Status.Name, h.cfg.Redmine.ClientClosedStatus)
	}
	if line := h.mirrorErrorLine(r.Reference); line != "" {
		t.Errorf("check --live still lists the request: %q", line)
	}
}
