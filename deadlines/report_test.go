package deadlines

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
)

func message(id, author string, at time.Time) espaceclient.Message {
	return espaceclient.Message{ID: id, AuthorKind: author, Kind: espaceclient.KindMessage, CreatedAt: at}
}

// request files a request at filed, answered by staff at each answers time.
func request(id, category string, role config.Role, filed time.Time, answers ...time.Time) espaceclient.Request {
	r := espaceclient.Request{ID: id, Reference: "D-2026-" + id, Category: category, AuthorRole: role, CreatedAt: filed,
		AuthorName: "Client " + id, Subject: "Objet " + id, Status: config.StatusInProgress,
		Messages: []espaceclient.Message{message(id+"-0", espaceclient.AuthorClient, filed)}}
	for i, a := range answers {
		r.Messages = append(r.Messages, message(id+"-s"+string(rune('a'+i)), espaceclient.AuthorStaff, a))
	}
	return r
}

func TestSLAReportAggregatesHistories(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	from, to := paris(t, "2026-11-01 00:00"), paris(t, "2026-12-01 00:00")
	now := paris(t, "2026-11-30 12:00")
	reqs := []espaceclient.Request{
		// Tenants, 2 working days. Filed Monday 10:00, due Wednesday 10:00.
		request("1", "autre", config.RoleTenant, paris(t, "2026-11-23 10:00"), paris(t, "2026-11-23 14:00")), // in time: 4 h
		request("2", "autre", config.RoleTenant, paris(t, "2026-11-16 10:00"), paris(t, "2026-11-19 10:00")), // late: 27 h counted
		request("3", "bail", config.RoleTenant, paris(t, "2026-11-02 10:00")),                                // no answer, past due
		request("4", "bail", config.RoleTenant, paris(t, "2026-11-30 10:00")),                                // running, not due yet
		// Owners, 1 working day.
		request("5", "comptabilite", config.RoleOwner, paris(t, "2026-11-20 17:00"), paris(t, "2026-11-23 10:00")), // in time: 2 h counted, 65 h elapsed
		// Before the period: not counted.
		request("6", "autre", config.RoleOwner, paris(t, "2026-10-30 10:00"), paris(t, "2026-10-30 11:00")),
	}
	closed := request("7", "autre", config.RoleOwner, paris(t, "2026-11-24 10:00"))
	cm := message("7-c", espaceclient.AuthorSystem, paris(t, "2026-11-24 11:00"))
	cm.Kind = espaceclient.KindClosed
	closed.Messages = append(closed.Messages, cm)
	reqs = append(reqs, closed)

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
