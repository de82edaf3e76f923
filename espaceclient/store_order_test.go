package espaceclient

import (
	"context"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/redmine"
)

// orderScene is a request filed at t0 (Passerelle's clock, with a fraction of
// a second), mirrored as issue 101, and a client follow-up written at t1 and
// mirrored as journal 500: what staff answer from Redmine comes after.
type orderScene struct {
	t      *testing.T
	e      *storeEnv
	req    Request
	first  Message
	follow Message
}

var (
	orderT0 = time.Date(2026, 11, 23, 9, 0, 0, 400_000_000, time.UTC)
	orderT1 = time.Date(2026, 11, 23, 13, 0, 20, 700_000_000, time.UTC)
)

func newOrderScene(t *testing.T) *orderScene {
	t.Helper()
	ctx := context.Background()
	e := newStoreEnv(t, orderT0)
	req := e.create(alice)
	if err := e.store.RecordMirrored(ctx, req.ID, 101, "New", config.StatusNew, "", "ack", orderT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	s := &orderScene{t: t, e: e, req: req, first: req.Messages[0]}
	s.follow = s.clientMessage("Suite", orderT1, 500)
	return s
}

// clientMessage writes a client follow-up at `at` and, when journal is not 0,
// records it mirrored as that Redmine journal.
func (s *orderScene) clientMessage(body string, at time.Time, journal redmine.JournalID) Message {
	s.t.Helper()
	s.e.now = at
	m, err := s.e.svc.AddMessage(context.Background(), alice, s.req.ID, body, nil, SourceAPI)
	if err != nil {
		s.t.Fatal(err)
	}
	if journal != 0 {
		s.mirrored(m.ID, journal)
	}
	return m
}

// closeRequest closes the request as the client at `at`, the close mirrored
// as journal; it returns the "closed" event.
func (s *orderScene) closeRequest(at time.Time, journal redmine.JournalID) Message {
	s.t.Helper()
	s.e.now = at
	r, err := s.e.svc.Close(context.Background(), alice, s.req.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	ev := r.Messages[len(r.Messages)-1]
	if ev.Kind != KindClosed {
		s.t.Fatalf("last event %+v", ev)
	}
	s.mirrored(ev.ID, journal)
	return ev
}

func (s *orderScene) mirrored(messageID string, journal redmine.JournalID) {
	s.t.Helper()
	if err := s.e.store.MarkMessageMirrored(context.Background(), messageID, &journal, s.e.now.Add(time.Second)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *orderScene) staffNote(journal redmine.JournalID, body string, at time.Time) {
	s.t.Helper()
	if added, err := s.e.store.AddStaffMessage(context.Background(), s.req.ID, journal, "Sophie", body, at, nil); err != nil || !added {
		s.t.Fatalf("staff note %d: %v %v", journal, added, err)
	}
}

func (s *orderScene) status(journal *redmine.JournalID, redmineStatus string, cs config.ClientStatus, at time.Time) {
	s.t.Helper()
	changed, err := s.e.store.ApplyRedmineStatus(context.Background(), s.req.ID, journal, redmineStatus, cs, "Statut : "+StatusLabel(cs), at)
	if err != nil || !changed {
		s.t.Fatalf("status %s: %v %v", redmineStatus, changed, err)
	}
}

func (s *orderScene) thread() []Message {
	s.t.Helper()
	r, err := s.e.store.GetRequestThread(context.Background(), s.req.ID, false)
	if err != nil {
		s.t.Fatal(err)
	}
	return r.Messages
}

func (s *orderScene) request() Request {
	s.t.Helper()
	r, err := s.e.store.GetRequest(context.Background(), s.req.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// threadLabel names each message of a thread: client:BODY, staff:BODY, and
// the kind of system messages (doc for a staff document).
func threadLabel(msgs []Message) string {
	var out []string
	for _, m := range msgs {
		switch {
		case m.AuthorKind == AuthorClient:
			out = append(out, "client:"+m.Body)
		case m.AuthorKind == AuthorStaff:
			out = append(out, "staff:"+m.Body)
		case m.Kind == KindMessage:
			out = append(out, "doc")
		default:
			out = append(out, m.Kind)
		}
	}
	return strings.Join(out, " ")
}

func findMessage(t *testing.T, msgs []Message, label string) Message {
	t.Helper()
	for _, m := range msgs {
		if threadLabel([]Message{m}) == label {
			return m
		}
	}
	t.Fatalf("no %s in the thread", label)
	return Message{}
}

// What Redmine did after a client message reached it is stored after that
// message, whatever Redmine's clock says (behind Passerelle's, or truncated to
// the second): the thread shows the answer below the question, and the
// deadline computation (which replays the thread by created_at) sees the
// follow-up answered. What Redmine did before a client message reached it
// keeps its time.
func TestRedmineEventsAfterTheClientMessagesBeforeThem(t *testing.T) {
	us := time.Microsecond
	behind := orderT1.Add(-20 * time.Second) // written 20 s after the follow-up, Redmine 40 s behind
	sameSecond := orderT1.Truncate(time.Second)
	cases := []struct {
		name string
		act  func(s *orderScene)
		want string
		// check, when set, looks at the stored thread further.
		check func(t *testing.T, s *orderScene, msgs []Message)
	}{
		{
			name: "answer dated 40 s before the mirrored follow-up",
			act:  func(s *orderScene) { s.staffNote(501, "Réponse", behind) },
			want: "client:Ça fuit. ack client:Suite staff:Réponse",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				if got := findMessage(t, msgs, "staff:Réponse").CreatedAt; !got.Equal(s.follow.CreatedAt.Add(us)) {
					t.Errorf("answer at %s, want 1 µs after the follow-up (%s)", got, s.follow.CreatedAt)
				}
			},
		},
		{
			name: "answer in the follow-up's second (Redmine times are whole seconds)",
			act:  func(s *orderScene) { s.staffNote(501, "Réponse", sameSecond) },
			want: "client:Ça fuit. ack client:Suite staff:Réponse",
		},
		{
			name: "status event in the follow-up's second",
			act: func(s *orderScene) {
				s.status(journalPtr(501), "Feedback", config.StatusWaitingClient, sameSecond.Add(us))
			},
			want: "client:Ça fuit. ack client:Suite status",
		},
		{
			name: "status event dated 40 s before the follow-up",
			act:  func(s *orderScene) { s.status(journalPtr(501), "Feedback", config.StatusWaitingClient, behind) },
			want: "client:Ça fuit. ack client:Suite status",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				if r := s.request(); r.Status != config.StatusWaitingClient || r.UpdatedAt.Before(s.follow.CreatedAt) {
					t.Errorf("request %s, updated %s", r.Status, r.UpdatedAt)
				}
			},
		},
		{
			// The bridge stores a journal's status (1 µs after its time)
			// before its note: both moved, they keep that order.
			name: "note and status of one journal, both dated before the follow-up",
			act: func(s *orderScene) {
				s.status(journalPtr(501), "Feedback", config.StatusWaitingClient, behind.Add(us))
				s.staffNote(501, "Réponse", behind)
			},
			want: "client:Ça fuit. ack client:Suite staff:Réponse status",
		},
		{
			name: "staff document without a note dated before the follow-up",
			act: func(s *orderScene) {
				if added, err := s.e.store.AddStaffAttachment(context.Background(), s.req.ID, 9002, "plan.pdf", TypePDF, pdfBytes(), behind); err != nil || !added {
					s.t.Fatal(added, err)
				}
			},
			want: "client:Ça fuit. ack client:Suite doc",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				doc := findMessage(t, msgs, "doc")
				if len(doc.Attachments) != 1 || doc.Attachments[0].Filename != "plan.pdf" {
					t.Errorf("document %+v", doc)
				}
			},
		},
		{
			name: "status without a journal dated before the latest message",
			act:  func(s *orderScene) { s.status(nil, "Feedback", config.StatusWaitingClient, behind) },
			want: "client:Ça fuit. ack client:Suite status",
		},
		{
			name: "answer in the second the request was filed",
			act:  func(s *orderScene) { s.staffNote(400, "Réponse", orderT0.Truncate(time.Second)) },
			want: "client:Ça fuit. staff:Réponse ack client:Suite",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				if got := findMessage(t, msgs, "staff:Réponse").CreatedAt; !got.Equal(s.first.CreatedAt.Add(us)) {
					t.Errorf("answer at %s, want 1 µs after the first message (%s)", got, s.first.CreatedAt)
				}
			},
		},
		{
			name: "staff reopening dated before the client's mirrored close",
			act: func(s *orderScene) {
				closed := s.closeRequest(orderT1.Add(5*time.Minute), 510)
				s.status(journalPtr(511), "In Progress", config.StatusInProgress, closed.CreatedAt.Add(-20*time.Second))
			},
			want: "client:Ça fuit. ack client:Suite closed status",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				if r := s.request(); r.Status != config.StatusInProgress || r.ClosedAt != nil {
					t.Errorf("request %s closed at %v", r.Status, r.ClosedAt)
				}
			},
		},
		{
			name: "answer to a follow-up that reopened the request",
			act: func(s *orderScene) {
				s.closeRequest(orderT1.Add(5*time.Minute), 510)
				m := s.clientMessage("Rouvre", orderT1.Add(10*time.Minute), 511)
				s.staffNote(512, "Réponse", m.CreatedAt.Add(-20*time.Second))
			},
			want: "client:Ça fuit. ack client:Suite closed client:Rouvre reopened staff:Réponse",
		},
		// Guards: nothing moves that need not.
		{
			name: "answer already after the follow-up keeps Redmine's time",
			act:  func(s *orderScene) { s.staffNote(501, "Réponse", orderT1.Add(time.Minute)) },
			want: "client:Ça fuit. ack client:Suite staff:Réponse",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				if got := findMessage(t, msgs, "staff:Réponse").CreatedAt; !got.Equal(orderT1.Add(time.Minute)) {
					t.Errorf("answer at %s, want Redmine's %s", got, orderT1.Add(time.Minute))
				}
			},
		},
		{
			name: "journal written before the follow-up reached Redmine keeps its time",
			act:  func(s *orderScene) { s.staffNote(499, "Réponse", behind) },
			want: "client:Ça fuit. ack staff:Réponse client:Suite",
			check: func(t *testing.T, s *orderScene, msgs []Message) {
				if got := findMessage(t, msgs, "staff:Réponse").CreatedAt; !got.Equal(behind) {
					t.Errorf("answer at %s, want Redmine's %s", got, behind)
				}
			},
		},
		{
			name: "a follow-up not in Redmine yet is not jumped",
			act: func(s *orderScene) {
				later := s.clientMessage("Encore", orderT1.Add(10*time.Minute), 0)
				s.staffNote(501, "Réponse", later.CreatedAt.Add(-5*time.Second))
			},
			want: "client:Ça fuit. ack client:Suite staff:Réponse client:Encore",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newOrderScene(t)
			c.act(s)
			msgs := s.thread()
			if got := threadLabel(msgs); got != c.want {
				t.Errorf("thread %s\nwant   %s", got, c.want)
			}
			if c.check != nil {
				c.check(t, s, msgs)
			}
		})
	}
}

// A change from Redmine dated before the request's last change (a replayed
// journal, Redmine's clock behind) never moves updated_at back.
func TestRedmineStatusNeverMovesUpdatedAtBack(t *testing.T) {
	ctx := context.Background()
	latest := orderT1.Add(time.Hour)
	older := orderT1.Add(30 * time.Minute)
	cases := []struct {
		name string
		cs   config.ClientStatus
		rs   string
	}{
		{"waiting for the client", config.StatusWaitingClient, "Feedback"},
		{"closed by staff", config.StatusClosed, "Closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newOrderScene(t)
			s.staffNote(501, "Réponse", latest)
			if got := s.request().UpdatedAt; !got.Equal(latest) {
				t.Fatalf("updated_at %s after the note, want %s", got, latest)
			}
			if changed, err := s.e.store.ApplyRedmineStatus(ctx, s.req.ID, journalPtr(502), c.rs, c.cs, "Statut : "+StatusLabel(c.cs), older); err != nil || !changed {
				t.Fatal(changed, err)
			}
			r := s.request()
			if !r.UpdatedAt.Equal(latest) {
				t.Errorf("updated_at moved from %s to %s", latest, r.UpdatedAt)
			}
			if r.Status != c.cs {
				t.Errorf("status %s, want %s", r.Status, c.cs)
			}
			if c.cs == config.StatusClosed && (r.ClosedAt == nil || !r.ClosedAt.Equal(older)) {
				t.Errorf("closed_at %v, want the event's %s", r.ClosedAt, older)
			}
		})
	}
}

// PostgreSQL text refuses a NUL byte and invalid UTF-8: a staff note carrying
// one is stored with U+FFFD in its place instead of failing for ever.
func TestStaffTextWithNULIsStored(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name             string
		author, body     string
		filename, ctype  string
		wantAuthor       string
		wantBody         string
		wantFile, wantCT string
	}{
		{name: "NUL in the body", author: "Sophie", body: "Le plombier\x00 passe jeudi.",
			wantAuthor: "Sophie", wantBody: "Le plombier\uFFFD passe jeudi."},
		{name: "NUL in the author's name", author: "So\x00phie", body: "Bonjour",
			wantAuthor: "So\uFFFDphie", wantBody: "Bonjour"},
		{name: "invalid UTF-8 in the body", author: "Sophie", body: "caf\xe9 \xff!",
			wantAuthor: "Sophie", wantBody: "caf\uFFFD \uFFFD!"},
		{name: "NUL in an attachment's name and type", author: "Sophie", body: "Voici le bon.",
			filename: "bon\x00.pdf", ctype: "application/pdf\x00",
			wantAuthor: "Sophie", wantBody: "Voici le bon.", wantFile: "bon.pdf", wantCT: "application/octet-stream"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newOrderScene(t)
			var atts []Attachment
			if c.filename != "" {
				atts = []Attachment{{Filename: c.filename, ContentType: c.ctype, Data: pdfBytes(), RedmineAttachmentID: attachmentPtr(9100 + i)}}
			}
			added, err := s.e.store.AddStaffMessage(ctx, s.req.ID, 501, c.author, c.body, orderT1.Add(time.Minute), atts)
			if err != nil || !added {
				t.Fatalf("staff note: %v %v", added, err)
			}
			msgs := s.thread()
			note := msgs[len(msgs)-1]
			if note.AuthorKind != AuthorStaff || note.AuthorName != c.wantAuthor || note.Body != c.wantBody {
				t.Errorf("stored %q by %q, want %q by %q", note.Body, note.AuthorName, c.wantBody, c.wantAuthor)
			}
			if c.filename != "" && (len(note.Attachments) != 1 || note.Attachments[0].Filename != c.wantFile ||
				note.Attachments[0].ContentType != c.wantCT) {
				t.Errorf("attachments %+v", note.Attachments)
			}
		})
	}
	t.Run("document without a note", func(t *testing.T) {
		s := newOrderScene(t)
		added, err := s.e.store.AddStaffAttachment(ctx, s.req.ID, 9200, "fac\x00ture\xff.pdf", "application/pdf\x00", pdfBytes(), orderT1.Add(time.Minute))
		if err != nil || !added {
			t.Fatalf("staff document: %v %v", added, err)
		}
		msgs := s.thread()
		doc := msgs[len(msgs)-1]
		if doc.Body != "Document ajouté : facture_.pdf" || len(doc.Attachments) != 1 ||
			doc.Attachments[0].Filename != "facture_.pdf" || doc.Attachments[0].ContentType != "application/octet-stream" {
			t.Errorf("document %q %+v", doc.Body, doc.Attachments)
		}
	})
}
