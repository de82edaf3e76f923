package espaceclient

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/redmine"
)

// storeEnv is a Service on a fresh database, without HTTP or Kratos: the
// identities are built by hand (the session check is tested in api_test.go).
type storeEnv struct {
	t      *testing.T
	store  *Store
	svc    *Service
	outbox *recordingOutbox
	now    time.Time
}

func newStoreEnv(t *testing.T, now time.Time) *storeEnv {
	t.Helper()
	pool, _ := testenv.NewPool(t)
	e := &storeEnv{t: t, store: NewStore(pool), outbox: &recordingOutbox{}, now: now}
	e.svc = NewService(e.store, config.NewHolder(testConfig()), e.outbox, func() time.Time { return e.now })
	return e
}

var (
	alice = Identity{ID: "3f0a4c62-9a43-4a7e-8d0e-1b2c3d4e5f60", Email: "alice@example.test", Name: "Alice Martin",
		Role: config.RoleTenant, Lots: []string{"A12"}}
	bob = Identity{ID: "3f0a4c62-9a43-4a7e-8d0e-1b2c3d4e5f61", Email: "bob@example.test", Name: "Bob Durand",
		Role: config.RoleOwner, Lots: []string{"A12"}, Mandates: []string{"M-1"}}
)

func (e *storeEnv) create(id Identity, files ...Upload) Request {
	e.t.Helper()
	r, err := e.svc.CreateRequest(context.Background(), id, NewRequest{
		Category: "travaux", Subject: "Fuite", Body: "Ça fuit.", Location: "Cuisine", Payer: "owner", Urgency: "normal", Lot: "A12",
	}, files, SourceAPI)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// The reference year is the agency's (Europe/Paris): 31 December 23:30 UTC is
// already 1 January in Paris.
func TestReferenceYearIsParisYear(t *testing.T) {
	e := newStoreEnv(t, time.Date(2026, 12, 31, 22, 30, 0, 0, time.UTC))
	if r := e.create(alice); r.Reference != "D-2026-000001" {
		t.Fatalf("got %s", r.Reference)
	}
	if r := e.create(alice); r.Reference != "D-2026-000002" {
		t.Fatalf("got %s", r.Reference)
	}
	e.now = time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)
	if r := e.create(alice); r.Reference != "D-2027-000001" {
		t.Fatalf("got %s", r.Reference)
	}
	// A failed creation takes no number for good.
	e.outbox.setFail(true)
	if _, err := e.svc.CreateRequest(context.Background(), alice, NewRequest{Category: "autre", Subject: "s", Body: "b"}, nil, ""); err == nil {
		t.Fatal("accepted with the outbox down")
	}
	e.outbox.setFail(false)
	if r := e.create(alice); r.Reference != "D-2027-000002" {
		t.Fatalf("got %s", r.Reference)
	}
}

func TestBridgeFacingStore(t *testing.T) {
	ctx := context.Background()
	e := newStoreEnv(t, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	req := e.create(alice, Upload{"photo.jpg", jpegBytes(t)})
	first := req.Messages[0]

	// Unscoped lookups.
	if _, err := e.store.GetRequest(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("malformed id: %v", err)
	}
	if _, err := e.store.GetRequest(ctx, "3f0a4c62-0000-0000-0000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := e.store.RequestByIssue(ctx, 4242); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown issue: %v", err)
	}
	th, err := e.store.GetRequestThread(ctx, req.ID, true)
	if err != nil || len(th.Messages) != 1 || !bytes.Equal(th.Messages[0].Attachments[0].Data, jpegBytes(t)) ||
		th.AuthorEmail != alice.Email || th.IdentityID != alice.ID {
		t.Fatalf("thread: %+v %v", th, err)
	}
	if th, _ := e.store.GetRequestThread(ctx, req.ID, false); th.Messages[0].Attachments[0].Data != nil {
		t.Fatal("data loaded without withData")
	}
	m, err := e.store.GetMessage(ctx, first.ID, true)
	if err != nil || m.Body != "Ça fuit." || len(m.Attachments) != 1 || len(m.Attachments[0].Data) == 0 || m.MirroredAt != nil {
		t.Fatalf("message: %+v %v", m, err)
	}

	// RecordMirrored, twice: one ack, first message mirrored, status from the issue.
	at := e.now.Add(time.Minute)
	for i := 0; i < 2; i++ {
		if err := e.store.RecordMirrored(ctx, req.ID, 101, "New", config.StatusNew, "", "Votre demande a bien été enregistrée sous le n° 101.", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.RecordMirrored(ctx, req.ID, 102, "New", config.StatusNew, "", "x", at); !errors.Is(err, ErrIssueMismatch) {
		t.Fatalf("another issue: %v", err)
	}
	got, err := e.store.RequestByIssue(ctx, 101)
	if err != nil || got.ID != req.ID || got.RedmineStatus != "New" || *got.RedmineIssueID != 101 {
		t.Fatalf("by issue: %+v %v", got, err)
	}
	th, _ = e.store.GetRequestThread(ctx, req.ID, false)
	if len(th.Messages) != 2 || th.Messages[1].Kind != KindAck || th.Messages[1].AuthorName != "Agence" ||
		th.Messages[0].MirroredAt == nil {
		t.Fatalf("after mirroring: %+v", th.Messages)
	}
	view, _ := e.svc.GetRequest(ctx, alice, req.ID)
	if s := summaryOf(testConfig(), alice, view); s.Transmission != TransmissionDone || *s.RedmineIssueID != 101 {
		t.Fatalf("summary %+v", s)
	}

	// A follow-up, mirrored as journal 500.
	e.now = e.now.Add(30 * time.Minute)
	msg, err := e.svc.AddMessage(ctx, alice, req.ID, "Suite", nil, SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	j := redmine.JournalID(500)
	if err := e.store.MarkMessageMirrored(ctx, msg.ID, &j, at); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkMessageMirrored(ctx, msg.ID, &j, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m, _ := e.store.GetMessage(ctx, msg.ID, false); *m.RedmineJournalID != 500 || !m.MirroredAt.Equal(at) {
		t.Fatalf("mirrored message %+v", m)
	}
	if err := e.store.MarkMessageMirrored(ctx, "3f0a4c62-0000-0000-0000-000000000000", nil, at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown message: %v", err)
	}

	// A staff note with a document, seen twice by the poller.
	staffAt := at.Add(2 * time.Hour)
	for i := 0; i < 2; i++ {
		added, err := e.store.AddStaffMessage(ctx, req.ID, 501, "Sophie", "Le plombier passe jeudi.", staffAt,
			[]Attachment{{Filename: "../bon.pdf", ContentType: TypePDF, Data: pdfBytes(), RedmineAttachmentID: attachmentPtr(9001)}})
		if err != nil || added != (i == 0) {
			t.Fatalf("staff note #%d: %v %v", i+1, added, err)
		}
	}
	if known, _ := e.store.AttachmentKnown(ctx, 9001); !known {
		t.Fatal("attachment 9001 unknown")
	}

	// A status change from journal 502, seen twice; then the same status again.
	for i := 0; i < 2; i++ {
		changed, err := e.store.ApplyRedmineStatus(ctx, req.ID, journalPtr(502), "Feedback", config.StatusWaitingClient,
			"Statut : en attente de votre réponse", staffAt.Add(time.Minute))
		if err != nil || changed != (i == 0) {
			t.Fatalf("status #%d: %v %v", i+1, changed, err)
		}
	}
	if changed, _ := e.store.ApplyRedmineStatus(ctx, req.ID, journalPtr(503), "Feedback", config.StatusWaitingClient, "x", staffAt); changed {
		t.Fatal("no-op status change reported as a change")
	}
	changed, err := e.store.ApplyRedmineStatus(ctx, req.ID, journalPtr(504), "Closed", config.StatusClosed, "Statut : clôturé", staffAt.Add(2*time.Minute))
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if r, _ := e.store.GetRequest(ctx, req.ID); r.Status != config.StatusClosed || r.ClosedAt == nil || r.RedmineStatus != "Closed" {
		t.Fatalf("closed by staff: %+v", r)
	}

	// A public document without a note, twice.
	for i := 0; i < 2; i++ {
		added, err := e.store.AddStaffAttachment(ctx, req.ID, 9002, "Facture.pdf", TypePDF, pdfBytes(), staffAt.Add(3*time.Minute))
		if err != nil || added != (i == 0) {
			t.Fatalf("staff document #%d: %v %v", i+1, added, err)
		}
	}
	if added, _ := e.store.AddStaffAttachment(ctx, req.ID, 9001, "bon.pdf", TypePDF, pdfBytes(), staffAt); added {
		t.Fatal("attachment 9001 (from the note) added again")
	}

	// What the client sees now, in order.
	view, err = e.svc.GetRequest(ctx, alice, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range view.Messages {
		kinds = append(kinds, m.AuthorKind+"/"+m.Kind)
	}
	want := "client/message system/ack client/message staff/message system/status system/status system/message"
	if got := joinSpace(kinds); got != want {
		t.Fatalf("thread %s\nwant   %s", got, want)
	}
	note := view.Messages[3]
	if note.AuthorName != "Sophie" || len(note.Attachments) != 1 || note.Attachments[0].Filename != "bon.pdf" ||
		note.Attachments[0].URL == "" {
		t.Fatalf("staff note %+v", note)
	}
	doc := view.Messages[6]
	if doc.Body != "Document ajouté : Facture.pdf" || len(doc.Attachments) != 1 {
		t.Fatalf("staff document %+v", doc)
	}
	a, err := e.svc.GetAttachment(ctx, alice, req.ID, doc.Attachments[0].ID)
	if err != nil || !bytes.Equal(a.Data, pdfBytes()) {
		t.Fatalf("download staff document: %v", err)
	}
	// The owner of lot A12 reads it too; nobody else does.
	if _, err := e.svc.GetAttachment(ctx, bob, req.ID, doc.Attachments[0].ID); err != nil {
		t.Fatalf("owner download: %v", err)
	}
	stranger := Identity{ID: "3f0a4c62-9a43-4a7e-8d0e-1b2c3d4e5f62", Role: config.RoleTenant, Lots: []string{"A12"}}
	if _, err := e.svc.GetAttachment(ctx, stranger, req.ID, doc.Attachments[0].ID); asError(err).Status != 404 {
		t.Fatalf("stranger download: %v", err)
	}

	if err := e.store.SetMirrorError(ctx, req.ID, "tracker deleted"); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.store.GetRequest(ctx, req.ID); r.MirrorError != "tracker deleted" {
		t.Fatal(r.MirrorError)
	}
}

// RecordMirrored leaves a request the client already closed closed.
func TestRecordMirroredKeepsClientStatus(t *testing.T) {
	ctx := context.Background()
	e := newStoreEnv(t, time.Now())
	req := e.create(alice)
	if _, err := e.svc.Close(ctx, alice, req.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordMirrored(ctx, req.ID, 7, "New", config.StatusNew, "no mandate ticket", "ack", time.Now()); err != nil {
		t.Fatal(err)
	}
	r, _ := e.store.GetRequest(ctx, req.ID)
	if r.Status != config.StatusClosed || r.NeedsAttention != "no mandate ticket" {
		t.Fatalf("%+v", r)
	}
}

func TestAddMessageByReference(t *testing.T) {
	ctx := context.Background()
	e := newStoreEnv(t, time.Now())
	req := e.create(alice)
	got, msg, err := e.svc.AddMessageByReference(ctx, alice, " "+req.Reference+" ", "par e-mail", []Upload{{"scan.pdf", pdfBytes()}}, SourceInbound)
	if err != nil || got.ID != req.ID || msg.Source != SourceInbound || len(got.Messages) != 2 {
		t.Fatalf("%+v %+v %v", got, msg, err)
	}
	if _, _, err := e.svc.AddMessageByReference(ctx, bob, req.Reference, "x", nil, SourceInbound); asError(err).Status != 403 {
		t.Fatalf("owner on lot: %v", err)
	}
	other := Identity{ID: "3f0a4c62-9a43-4a7e-8d0e-1b2c3d4e5f63", Role: config.RoleTenant}
	if _, _, err := e.svc.AddMessageByReference(ctx, other, req.Reference, "x", nil, SourceInbound); asError(err).Status != 404 {
		t.Fatalf("stranger: %v", err)
	}
}

// journalPtr and attachmentPtr return a pointer to a Redmine id.
func journalPtr(i int) *redmine.JournalID { id := redmine.JournalID(i); return &id }

func attachmentPtr(i int) *redmine.AttachmentID { id := redmine.AttachmentID(i); return &id }

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
