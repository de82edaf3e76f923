package deadlines

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"passerelle/deadlines/deadlinestest"
	"passerelle/internal/testenv"
)

func TestSLAReportAggregatesHistories(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	reqs, from, to, now := deadlinestest.November(t)

	var items []AnswerItem
	for _, r := range reqs {
		rd, err := ComputeRequestDeadlines(cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, AnswerItems(r, rd.Deadlines, from, to, now)...)
	}
	rep := BuildSLAReport(cfg, items)
	if all, err := SLAReportOf(cfg, reqs, from, to, now); err != nil || !reflect.DeepEqual(all, rep) {
		t.Errorf("SLAReportOf = %+v, %v; want %+v", all, err, rep)
	}

	tot := rep.Total
	if tot.Deadlines != 6 || tot.InTime != 2 || tot.AnsweredLate != 1 || tot.UnansweredDue != 1 || tot.Pending != 1 || tot.ClosedNoReply != 1 {
		t.Fatalf("total = %+v", tot)
	}
	if tot.Share != 0.5 {
		t.Errorf("share = %v, want 2 in time of 4 decided", tot.Share)
	}
	// Answers counted 2 h, 4 h, 27 h: the median is 4 h; elapsed 4 h, 65 h, 72 h: 65 h.
	if tot.MedianCounted != 4*time.Hour || tot.MedianElapsed != 65*time.Hour {
		t.Errorf("medians = %s, %s", tot.MedianCounted, tot.MedianElapsed)
	}
	byRole := map[string]SLALine{}
	for _, l := range rep.ByRole {
		byRole[l.Key] = l
	}
	if l := byRole["tenant"]; l.Deadlines != 4 || l.InTime != 1 || l.Share != 1.0/3 || l.MedianCounted != (4*time.Hour+27*time.Hour)/2 {
		t.Errorf("tenants = %+v", l)
	}
	if l := byRole["owner"]; l.Deadlines != 2 || l.InTime != 1 || l.ClosedNoReply != 1 || l.Share != 1 {
		t.Errorf("owners = %+v", l)
	}
	var cats []string
	for _, l := range rep.ByCategory {
		cats = append(cats, l.Key)
	}
	if strings.Join(cats, ",") != "comptabilite,bail,autre" {
		t.Errorf("categories = %v, want configuration order, only those with deadlines", cats)
	}
}
