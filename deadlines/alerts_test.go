package deadlines

import (
	"testing"
	"time"

	"passerelle/deadlines/sla"
)

func running(id string, warn, due time.Time) sla.Deadline {
	return sla.Deadline{ID: id, Target: sla.FirstAnswer, State: sla.Running, WarnAt: warn, Due: due}
}

func TestPlanAlerts(t *testing.T) {
	warn, due := paris(t, "2026-11-24 12:30"), paris(t, "2026-11-24 17:00")
	d := running("first_answer@req:r1", warn, due)
	paused := d
	paused.ID, paused.State = "action@req:r1", sla.Paused
	met := d
	met.ID, met.State = "resolution@req:r1", sla.Met
	ds := []sla.Deadline{d, paused, met}
	type alert struct {
		kind AlertKind
		skip bool
	}
	cases := []struct {
		name    string
		now     time.Time
		claimed map[alertKey]bool
		want    []alert
	}{
		{"before the warning", warn.Add(-time.Second), nil, nil},
		{"at the warning", warn, nil, []alert{{AlertWarning, false}}},
		{"warning already claimed", warn.Add(time.Hour), map[alertKey]bool{{d.ID, AlertWarning}: true}, nil},
		{"at the due time, warned", due, map[alertKey]bool{{d.ID, AlertWarning}: true}, []alert{{AlertEscalation, false}}},
		{"first seen past due: escalation, warning skipped", due.Add(time.Hour), nil, []alert{{AlertEscalation, false}, {AlertWarning, true}}},
		{"all claimed", due.Add(48 * time.Hour), map[alertKey]bool{{d.ID, AlertWarning}: true, {d.ID, AlertEscalation}: true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claimed := tc.claimed
			if claimed == nil {
				claimed = map[alertKey]bool{}
			}
			got := planAlerts(ds, claimed, tc.now)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i, w := range tc.want {
				if got[i].deadline.ID != d.ID || got[i].kind != w.kind || got[i].skip != w.skip {
					t.Errorf("[%d] = %s %s skip=%v, want %s skip=%v", i, got[i].deadline.ID, got[i].kind, got[i].skip, w.kind, w.skip)
				}
			}
		})
	}
}

func TestNextAlertAt(t *testing.T) {
	warn, due := paris(t, "2026-11-24 12:30"), paris(t, "2026-11-24 17:00")
	a := running("a", warn, due)
	b := running("b", warn.Add(-time.Hour), due.Add(24*time.Hour))
	at := func(claimed map[alertKey]bool) string {
		n := nextAlertAt([]sla.Deadline{a, b}, claimed)
		if n == nil {
			return "none"
		}
		return n.In(warn.Location()).Format("01-02 15:04")
	}
	if got := at(map[alertKey]bool{}); got != "11-24 11:30" {
		t.Errorf("nothing claimed: %s, want b's warning", got)
	}
	if got := at(map[alertKey]bool{{"b", AlertWarning}: true}); got != "11-24 12:30" {
		t.Errorf("b warned: %s, want a's warning", got)
	}
	if got := at(map[alertKey]bool{{"b", AlertWarning}: true, {"a", AlertWarning}: true}); got != "11-24 17:00" {
		t.Errorf("both warned: %s, want a's due time", got)
	}
	all := map[alertKey]bool{{"a", AlertWarning}: true, {"a", AlertEscalation}: true, {"b", AlertWarning}: true, {"b", AlertEscalation}: true}
	if got := at(all); got != "none" {
		t.Errorf("all claimed: %s", got)
	}
}
