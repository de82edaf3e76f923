package deadlines

import (
	"testing"
	"time"

	"passerelle/config"
	"passerelle/deadlines/deadlinestest"
	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
)

// paris parses a wall time in Europe/Paris.
func paris(t *testing.T, s string) time.Time { return deadlinestest.Paris(t, s) }

func msg(id, author, kind string, at time.Time) espaceclient.Message {
	return espaceclient.Message{ID: id, AuthorKind: author, Kind: kind, CreatedAt: at}
}

func TestHistoryEvents(t *testing.T) {
	t0 := paris(t, "2026-11-23 10:00")
	status := msg("m5", espaceclient.AuthorSystem, espaceclient.KindStatus, t0.Add(5*time.Hour))
	status.ClientStatus = config.StatusWaitingClient
	req := espaceclient.Request{ID: "r1", CreatedAt: t0, Messages: []espaceclient.Message{
		msg("m1", espaceclient.AuthorClient, espaceclient.KindMessage, t0),                  // the filing itself
		msg("m2", espaceclient.AuthorSystem, espaceclient.KindAck, t0.Add(time.Minute)),     // acknowledgment: answers nothing
		msg("m3", espaceclient.AuthorSystem, espaceclient.KindMessage, t0.Add(2*time.Hour)), // document added by staff without a note
		msg("m4", espaceclient.AuthorStaff, espaceclient.KindMessage, t0.Add(3*time.Hour)),  // public staff note
		status, // Redmine status mapped to waiting_client
		msg("m6", espaceclient.AuthorClient, espaceclient.KindMessage, t0.Add(24*time.Hour)),       // client follow-up
		msg("m7", espaceclient.AuthorSystem, espaceclient.KindClosed, t0.Add(48*time.Hour)),        // client closes
		msg("m8", espaceclient.AuthorClient, espaceclient.KindMessage, t0.Add(72*time.Hour)),       // writes again
		msg("m9", espaceclient.AuthorSystem, espaceclient.KindReopened, t0.Add(72*time.Hour+1000)), // which reopens
	}}
	got := HistoryEvents(req)
	want := []sla.Event{
		{Kind: sla.Created, At: t0, ID: "req:r1"},
		{Kind: sla.StaffPublicNote, At: t0.Add(3 * time.Hour), ID: "msg:m4"},
		{Kind: sla.StatusChange, At: t0.Add(5 * time.Hour), ID: "msg:m5", Status: config.StatusWaitingClient},
		{Kind: sla.ClientMessage, At: t0.Add(24 * time.Hour), ID: "msg:m6"},
		{Kind: sla.StatusChange, At: t0.Add(48 * time.Hour), ID: "msg:m7", Status: config.StatusClosed},
		{Kind: sla.ClientMessage, At: t0.Add(72 * time.Hour), ID: "msg:m8"},
		{Kind: sla.StatusChange, At: t0.Add(72*time.Hour + 1000), ID: "msg:m9", Status: config.StatusInProgress},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Redmine dates journals to the second: a staff answer within the second of
// the filing is dated before it, and must still answer the request.
func TestStaffAnswerWithinTheFilingSecondAnswers(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	filed := paris(t, "2026-11-23 10:00").Add(700 * time.Millisecond)
	note := msg("m2", espaceclient.AuthorStaff, espaceclient.KindMessage, paris(t, "2026-11-23 10:00")) // journal at 10:00:00
	req := espaceclient.Request{ID: "r1", Category: "autre", AuthorRole: config.RoleTenant, CreatedAt: filed,
		Messages: []espaceclient.Message{note, msg("m1", espaceclient.AuthorClient, espaceclient.KindMessage, filed)}}
	evs := HistoryEvents(req)
	if len(evs) != 2 || evs[1].Kind != sla.StaffPublicNote || !evs[1].At.Equal(filed) {
		t.Fatalf("events = %+v, want the note moved to the filing", evs)
	}
	rd, _ := ComputeRequestDeadlines(cfg, req)
	if len(rd.Deadlines) != 1 || rd.Deadlines[0].State != sla.Met || rd.DueAt() != nil {
		t.Fatalf("deadlines = %+v, want the first answer met", rd.Deadlines)
	}
}

// A tenant's request filed on a Friday at 17:00: 2 working days, due Tuesday
// 17:00; answered on Monday, the first answer is met in time, and a
// follow-up on Tuesday starts a new one.
func TestComputeRequestDeadlinesFromHistory(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	fri := paris(t, "2026-11-20 17:00")
	req := espaceclient.Request{ID: "r1", Category: "autre", AuthorRole: config.RoleTenant, CreatedAt: fri,
		Messages: []espaceclient.Message{msg("m1", espaceclient.AuthorClient, espaceclient.KindMessage, fri)}}
	rd, err := ComputeRequestDeadlines(cfg, req)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := rd.NextAnswer()
	if !ok || d.ID != "first_answer@req:r1" || !d.Due.Equal(paris(t, "2026-11-24 17:00")) {
		t.Fatalf("next answer = %+v %v, want first_answer@req:r1 due Tuesday 17:00", d, ok)
	}
	// 75 % of 18 opening hours is 13 h 30: Friday 17-18 (1 h), Monday 9-18 (9 h), Tuesday 9:00-12:30.
	if !d.WarnAt.Equal(paris(t, "2026-11-24 12:30")) {
		t.Errorf("warn at %s, want Tuesday 12:30", d.WarnAt)
	}
	if got := DueLabel(cfg, d.Due); got != "Réponse attendue avant le mardi 24 novembre à 17 h" {
		t.Errorf("DueLabel = %q", got)
	}
	if got := rd.DueLabel(d.Due); got != "Réponse attendue avant le mardi 24 novembre à 17 h" {
		t.Errorf("RequestDeadlines.DueLabel = %q", got)
	}
	if got := FormatDueForStaff(d.Due, cfg); got != "2026-11-24 17:00" {
		t.Errorf("FormatDueForStaff = %q", got)
	}

	req.Messages = append(req.Messages,
		msg("m2", espaceclient.AuthorStaff, espaceclient.KindMessage, paris(t, "2026-11-23 11:00")),
		msg("m3", espaceclient.AuthorClient, espaceclient.KindMessage, paris(t, "2026-11-24 10:00")))
	rd, _ = ComputeRequestDeadlines(cfg, req)
	if len(rd.Deadlines) != 2 || rd.Deadlines[0].State != sla.Met || !rd.Deadlines[0].InTime() {
		t.Fatalf("deadlines = %+v, want the first met in time and a second", rd.Deadlines)
	}
	d, ok = rd.NextAnswer()
	if !ok || d.ID != "first_answer@msg:m3" || !d.Due.Equal(paris(t, "2026-11-26 10:00")) {
		t.Fatalf("next answer = %+v, want first_answer@msg:m3 due Thursday 10:00", d)
	}
	if due := rd.DueAt(); due == nil || !due.Equal(d.Due) {
		t.Errorf("DueAt = %v", due)
	}
}
