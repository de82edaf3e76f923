package sla

import (
	"math"
	"strings"
	"testing"
	"time"

	"passerelle/config"
)

func created(ts, id string) Event { return Event{Kind: Created, At: at(ts), ID: id} }
func client(ts, id string) Event  { return Event{Kind: ClientMessage, At: at(ts), ID: id} }
func staff(ts, id string) Event   { return Event{Kind: StaffPublicNote, At: at(ts), ID: id} }
func status(ts, id string, s config.ClientStatus) Event {
	return Event{Kind: StatusChange, At: at(ts), ID: id, Status: s}
}

func policy(limits map[Target]Duration) Policy {
	p := Policy{Limits: map[Target]Limit{}, WarnShare: 0.75}
	for t, d := range limits {
		p.Limits[t] = Limit{Within: d, Rule: "test"}
	}
	return p
}

// want is what a test expects of one deadline; empty fields are not checked.
type want struct {
	id      string
	state   State
	due     string
	end     string
	allowed time.Duration
	used    time.Duration
}

func check(t *testing.T, got []Deadline, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, d := range got {
			t.Logf("got %s %s due %s", d.ID, d.State, d.Due)
		}
		t.Fatalf("%d deadlines, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		d := got[i]
		if d.ID != w.id {
			t.Errorf("[%d] ID = %q, want %q", i, d.ID, w.id)
		}
		if d.State != w.state {
			t.Errorf("%s: state = %s, want %s", d.ID, d.State, w.state)
		}
		if w.due == "-" && !d.Due.IsZero() {
			t.Errorf("%s: due = %s, want none", d.ID, d.Due)
		} else if w.due != "" && w.due != "-" && !d.Due.Equal(at(w.due)) {
			t.Errorf("%s: due = %s, want %s", d.ID, d.Due, w.due)
		}
		if w.end != "" && !d.End.Equal(at(w.end)) {
			t.Errorf("%s: end = %s, want %s", d.ID, d.End, w.end)
		}
		if w.allowed != 0 && d.Allowed != w.allowed {
			t.Errorf("%s: allowed = %s, want %s", d.ID, d.Allowed, w.allowed)
		}
		if w.used != 0 && d.Used != w.used {
			t.Errorf("%s: used = %s, want %s", d.ID, d.Used, w.used)
		}
	}
}

func TestCompute(t *testing.T) {
	tenant := policy(map[Target]Duration{FirstAnswer: days(2)})
	owner := policy(map[Target]Duration{FirstAnswer: days(1)})
	urgent := policy(map[Target]Duration{FirstAnswer: days(2), Action: days(1), Resolution: days(10)})
	neighbours := policy(map[Target]Duration{FirstAnswer: days(2), Action: calDays(7)})
	cases := []struct {
		name   string
		policy Policy
		events []Event
		want   []want
	}{
		{"owner, Friday 17:59, unanswered", owner,
			[]Event{created("2026-11-27 17:59", "r")},
			[]want{{id: "first_answer@r", state: Running, due: "2026-11-30 17:59", allowed: 9 * time.Hour}}},
		{"tenant answered in time", tenant,
			[]Event{created("2026-11-30 10:00", "r"), staff("2026-12-01 11:00", "j1")},
			[]want{{id: "first_answer@r", state: Met, due: "2026-12-02 10:00", end: "2026-12-01 11:00", allowed: 18 * time.Hour, used: 10 * time.Hour}}},
		{"filed on a Sunday", tenant,
			[]Event{created("2026-11-29 10:00", "r")},
			[]want{{id: "first_answer@r", state: Running, due: "2026-12-01 18:00", allowed: 18 * time.Hour}}},
		{"answered late", owner,
			[]Event{created("2026-11-30 10:00", "r"), staff("2026-12-02 10:00", "j1")},
			[]want{{id: "first_answer@r", state: Met, due: "2026-12-01 10:00", used: 18 * time.Hour}}},
		{"waiting_client pauses across a night and a holiday", tenant,
			[]Event{created("2026-11-10 10:00", "r"), status("2026-11-10 12:00", "s1", config.StatusWaitingClient),
				client("2026-11-12 15:00", "m1")},
			[]want{{id: "first_answer@r", state: Running, due: "2026-11-16 13:00", allowed: 18 * time.Hour, used: 2 * time.Hour}}},
		{"still waiting on the client", tenant,
			[]Event{created("2026-11-10 10:00", "r"), status("2026-11-10 12:00", "s1", config.StatusWaitingClient)},
			[]want{{id: "first_answer@r", state: Paused, due: "-", used: 2 * time.Hour}}},
		{"waiting ends when the status changes", tenant,
			[]Event{created("2026-11-30 10:00", "r"), status("2026-11-30 12:00", "s1", config.StatusWaitingClient),
				status("2026-12-03 09:00", "s2", config.StatusInProgress)},
			[]want{{id: "first_answer@r", state: Running, due: "2026-12-04 16:00", used: 2 * time.Hour}}},
		{"follow-up after an answer starts a new answer deadline", tenant,
			[]Event{created("2026-11-30 10:00", "r"), staff("2026-11-30 11:00", "j1"),
				client("2026-12-01 10:00", "m1"), client("2026-12-01 11:00", "m2")},
			[]want{{id: "first_answer@r", state: Met, end: "2026-11-30 11:00"},
				{id: "first_answer@m1", state: Running, due: "2026-12-03 10:00"}}},
		{"follow-up before any answer does not restart", tenant,
			[]Event{created("2026-11-30 10:00", "r"), client("2026-12-01 10:00", "m1")},
			[]want{{id: "first_answer@r", state: Running, due: "2026-12-02 10:00"}}},
		{"question to the client, answer, staff note while still waiting", urgent,
			[]Event{created("2026-11-30 10:00", "r"),
				staff("2026-11-30 11:00", "j1"), status("2026-11-30 11:00", "s1", config.StatusWaitingClient),
				client("2026-12-02 10:00", "m1"),
				staff("2026-12-02 12:00", "j2")},
			[]want{{id: "first_answer@r", state: Met, end: "2026-11-30 11:00"},
				{id: "action@r", state: Met, end: "2026-11-30 11:00"},
				{id: "resolution@r", state: Paused, due: "-", used: 3 * time.Hour},
				{id: "first_answer@m1", state: Met, end: "2026-12-02 12:00", used: 2 * time.Hour}}},
		{"closed stops everything", urgent,
			[]Event{created("2026-11-30 10:00", "r"), status("2026-11-30 15:00", "s1", config.StatusClosed),
				client("2026-11-30 16:00", "m1")},
			[]want{{id: "first_answer@r", state: Stopped, end: "2026-11-30 15:00"},
				{id: "action@r", state: Stopped},
				{id: "resolution@r", state: Met}}},
		{"closed while waiting", tenant,
			[]Event{created("2026-11-30 10:00", "r"), status("2026-11-30 12:00", "s1", config.StatusWaitingClient),
				status("2026-12-07 12:00", "s2", config.StatusClosed)},
			[]want{{id: "first_answer@r", state: Stopped, used: 2 * time.Hour}}},
		{"reopened by a client message", urgent,
			[]Event{created("2026-11-30 10:00", "r"), staff("2026-11-30 11:00", "j1"),
				status("2026-12-01 10:00", "s1", config.StatusClosed),
				client("2026-12-07 10:00", "m1"), status("2026-12-07 10:01", "s2", config.StatusInProgress)},
			[]want{{id: "first_answer@r", state: Met},
				{id: "action@r", state: Met},
				{id: "resolution@r", state: Met, end: "2026-12-01 10:00"},
				{id: "resolution@s2", state: Running},
				{id: "first_answer@m1", state: Running, due: "2026-12-09 10:01"}}},
		{"calendar-time policy ignores opening hours", neighbours,
			[]Event{created("2026-11-28 10:00", "r")},
			[]want{{id: "first_answer@r", state: Running, due: "2026-12-01 18:00"},
				{id: "action@r", state: Running, due: "2026-12-05 10:00", allowed: 7 * 24 * time.Hour}}},
		{"calendar-time pause shifts by the pause", neighbours,
			[]Event{created("2026-11-28 10:00", "r"), staff("2026-11-30 09:30", "j1"),
				status("2026-11-30 09:30", "s1", config.StatusWaitingClient),
				status("2026-12-01 09:30", "s2", config.StatusInProgress)},
			[]want{{id: "first_answer@r", state: Met},
				{id: "action@r", state: Met, end: "2026-11-30 09:30"}}},
		{"events before Created are ignored, unsorted events sorted", owner,
			[]Event{staff("2026-11-30 11:00", "j1"), created("2026-11-30 10:00", "r"), client("2026-11-30 09:00", "m0")},
			[]want{{id: "first_answer@r", state: Met, end: "2026-11-30 11:00"}}},
		{"no Created, no deadline", owner,
			[]Event{client("2026-11-30 09:00", "m0")}, nil},
		{"ids fall back on instants", owner,
			[]Event{created("2026-11-30 10:00", ""), staff("2026-11-30 11:00", ""), client("2026-12-01 10:00", "")},
			[]want{{id: "first_answer@2026-11-30T09:00:00Z", state: Met},
				{id: "first_answer@2026-12-01T09:00:00Z", state: Running}}},
	}
	k := mustCalendar(t, config.Calendar{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.events, tc.policy, k)
			check(t, got, tc.want)
			again := Compute(tc.events, tc.policy, k)
			for i := range got {
				if got[i].ID != again[i].ID || !got[i].Due.Equal(again[i].Due) {
					t.Errorf("recomputing changed %s", got[i].ID)
				}
			}
		})
	}
}

// A calendar-time deadline paused for a day is due a day later.
func TestCalendarPauseShift(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	p := policy(map[Target]Duration{Resolution: calDays(7)})
	ds := Compute([]Event{created("2026-11-28 10:00", "r"),
		status("2026-11-30 10:00", "s1", config.StatusWaitingClient),
		status("2026-12-01 16:00", "s2", config.StatusInProgress)}, p, k)
	check(t, ds, []want{{id: "resolution@r", state: Running, due: "2026-12-06 16:00", used: 48 * time.Hour}})
}

// Overdue before the pause: the due time stays known.
func TestPausedAfterDue(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	p := policy(map[Target]Duration{FirstAnswer: days(1)})
	ds := Compute([]Event{created("2026-11-30 10:00", "r"),
		status("2026-12-02 10:00", "s1", config.StatusWaitingClient)}, p, k)
	check(t, ds, []want{{id: "first_answer@r", state: Paused, due: "2026-12-01 10:00", used: 18 * time.Hour}})
	if ds[0].Overdue(at("2026-12-03 10:00")) {
		t.Error("a paused deadline is not overdue (nothing to escalate)")
	}
}

func TestProgressAndWarning(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	p := policy(map[Target]Duration{FirstAnswer: days(1)})
	d := Compute([]Event{created("2026-11-27 17:59", "r")}, p, k)[0]
	if want := at("2026-11-30 15:44"); !d.WarnAt.Equal(want) {
		t.Errorf("WarnAt = %s, want %s (75 %% of 9 working hours)", d.WarnAt, want)
	}
	cases := []struct {
		name string
		now  string
		want float64
	}{
		{"at the start", "2026-11-27 17:59", 0},
		{"over the weekend", "2026-11-29 12:00", 1.0 / 540},
		{"at the warning", "2026-11-30 15:44", 0.75},
		{"at the due time", "2026-11-30 17:59", 1},
		{"the next morning", "2026-12-01 09:54", 1 + 55.0/540},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Progress(at(tc.now)); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Progress = %v, want %v", got, tc.want)
			}
		})
	}
	if d.Overdue(at("2026-11-30 17:58")) || !d.Overdue(at("2026-11-30 17:59")) {
		t.Error("Overdue must turn true exactly at Due")
	}
	// Progress freezes during a pause and once met.
	d = Compute([]Event{created("2026-11-30 09:00", "r"), status("2026-11-30 18:00", "s", config.StatusWaitingClient)}, p, k)[0]
	if got := d.Progress(at("2026-12-10 12:00")); got != 1 {
		t.Errorf("paused Progress = %v, want 1", got)
	}
	d = Compute([]Event{created("2026-11-30 09:00", "r"), staff("2026-11-30 13:30", "j")}, p, k)[0]
	if got := d.Progress(at("2026-12-10 12:00")); got != 0.5 || !d.InTime() {
		t.Errorf("met Progress = %v, InTime = %v; want 0.5, true", got, d.InTime())
	}
}

func TestNext(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	p := policy(map[Target]Duration{FirstAnswer: days(2), Action: days(1), Resolution: days(10)})
	ds := Compute([]Event{created("2026-11-30 10:00", "r")}, p, k)
	d, ok := Next(ds)
	if !ok || d.Target != Action || !d.Due.Equal(at("2026-12-01 10:00")) {
		t.Errorf("Next = %s %s, want action due 2026-12-01 10:00", d.ID, d.Due)
	}
	d, ok = Next(ds, FirstAnswer)
	if !ok || d.Target != FirstAnswer {
		t.Errorf("Next(first_answer) = %s", d.ID)
	}
	ds = Compute([]Event{created("2026-11-30 10:00", "r"), staff("2026-11-30 11:00", "j"), status("2026-11-30 12:00", "s", config.StatusClosed)}, p, k)
	if d, ok := Next(ds); ok {
		t.Errorf("Next after closing = %s, want none", d.ID)
	}
}

func TestExplain(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	p := policy(map[Target]Duration{FirstAnswer: days(2)})
	d := Compute([]Event{created("2026-11-10 10:00", "r"), status("2026-11-10 12:00", "s1", config.StatusWaitingClient),
		client("2026-11-12 15:00", "m1")}, p, k)[0]
	type iv struct {
		from, to string
		counted  bool
		why      string
	}
	want := []iv{
		{"2026-11-10 10:00", "2026-11-10 12:00", true, "heures ouvrées"},
		{"2026-11-10 12:00", "2026-11-12 15:00", false, "en attente de la réponse du client"},
		{"2026-11-12 15:00", "2026-11-12 18:00", true, "heures ouvrées"},
		{"2026-11-12 18:00", "2026-11-13 09:00", false, "fermé : hors heures d'ouverture"},
		{"2026-11-13 09:00", "2026-11-13 18:00", true, "heures ouvrées"},
		{"2026-11-13 18:00", "2026-11-16 09:00", false, "fermé : samedi, dimanche"},
		{"2026-11-16 09:00", "2026-11-16 13:00", true, "heures ouvrées"},
		{"2026-11-16 13:00", "2026-11-16 14:00", true, "heures ouvrées — échéance dépassée"},
	}
	got := d.Explain(at("2026-11-16 14:00"))
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("%s → %s %v %s", g.From, g.To, g.Counted, g.Why)
		}
		t.Fatalf("%d intervals, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if !g.From.Equal(at(w.from)) || !g.To.Equal(at(w.to)) || g.Counted != w.counted || g.Why != w.why {
			t.Errorf("[%d] = %s → %s %v %q, want %s → %s %v %q", i, g.From, g.To, g.Counted, g.Why, w.from, w.to, w.counted, w.why)
		}
	}
	// A closed stretch over a holiday names it.
	d = Compute([]Event{created("2026-11-10 17:00", "r")}, p, k)[0]
	got = d.Explain(at("2026-11-12 10:00"))
	if len(got) < 2 || got[1].Why != "fermé : jour férié (Armistice de 1918)" {
		t.Errorf("holiday stretch = %+v", got)
	}
	// Calendar time and a reopened request.
	q := policy(map[Target]Duration{FirstAnswer: calDays(1)})
	d = Compute([]Event{created("2026-11-30 10:00", "r"), staff("2026-11-30 11:00", "j"),
		status("2026-11-30 12:00", "s1", config.StatusClosed),
		client("2026-12-05 10:00", "m"), status("2026-12-05 10:30", "s2", config.StatusNew)}, q, k)[1]
	got = d.Explain(at("2026-12-05 11:00"))
	var whys []string
	for _, g := range got {
		whys = append(whys, g.Why)
	}
	if strings.Join(whys, "|") != "demande clôturée|temps calendaire" || !d.Due.Equal(at("2026-12-06 10:30")) {
		t.Errorf("reopened: %v, due %s", whys, d.Due)
	}
}
