// Package deadlinestest holds the request histories the deadline tests of
// several packages share (the SLA report is aggregated in deadlines and
// printed by cmd/passerelle: both read the same month).
package deadlinestest

import (
	"testing"
	"time"

	"passerelle/config"
	"passerelle/espaceclient"
)

// Paris parses "2006-01-02 15:04" in Europe/Paris.
func Paris(t testing.TB, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Message is a thread message of author at a time.
func Message(id, author string, at time.Time) espaceclient.Message {
	return espaceclient.Message{ID: id, AuthorKind: author, Kind: espaceclient.KindMessage, CreatedAt: at}
}

// Request files a request at filed, answered by staff at each answers time.
func Request(id, category string, role config.Role, filed time.Time, answers ...time.Time) espaceclient.Request {
	r := espaceclient.Request{ID: id, Reference: "D-2026-" + id, Category: category, AuthorRole: role, CreatedAt: filed,
		AuthorName: "Client " + id, Subject: "Objet " + id, Status: config.StatusInProgress,
		Messages: []espaceclient.Message{Message(id+"-0", espaceclient.AuthorClient, filed)}}
	for i, a := range answers {
		r.Messages = append(r.Messages, Message(id+"-s"+string(rune('a'+i)), espaceclient.AuthorStaff, a))
	}
	return r
}

// November is a month of answers under the example configuration's
// policies, and the report's period (from, to) and clock (now): one in time,
// one late, one unanswered past due, one running, an owner's answered over a
// weekend, one before the period, one closed by the client unanswered.
func November(t testing.TB) (reqs []espaceclient.Request, from, to, now time.Time) {
	t.Helper()
	from, to = Paris(t, "2026-11-01 00:00"), Paris(t, "2026-12-01 00:00")
	now = Paris(t, "2026-11-30 12:00")
	reqs = []espaceclient.Request{
		// Tenants, 2 working days. Filed Monday 10:00, due Wednesday 10:00.
		Request("1", "autre", config.RoleTenant, Paris(t, "2026-11-23 10:00"), Paris(t, "2026-11-23 14:00")), // in time: 4 h
		Request("2", "autre", config.RoleTenant, Paris(t, "2026-11-16 10:00"), Paris(t, "2026-11-19 10:00")), // late: 27 h counted
		Request("3", "bail", config.RoleTenant, Paris(t, "2026-11-02 10:00")),                                // no answer, past due
		Request("4", "bail", config.RoleTenant, Paris(t, "2026-11-30 10:00")),                                // running, not due yet
		// Owners, 1 working day.
		Request("5", "comptabilite", config.RoleOwner, Paris(t, "2026-11-20 17:00"), Paris(t, "2026-11-23 10:00")), // in time: 2 h counted, 65 h elapsed
		// Before the period: not counted.
		Request("6", "autre", config.RoleOwner, Paris(t, "2026-10-30 10:00"), Paris(t, "2026-10-30 11:00")),
	}
	closed := Request("7", "autre", config.RoleOwner, Paris(t, "2026-11-24 10:00"))
	cm := Message("7-c", espaceclient.AuthorSystem, Paris(t, "2026-11-24 11:00"))
	cm.Kind = espaceclient.KindClosed
	closed.Messages = append(closed.Messages, cm)
	return append(reqs, closed), from, to, now
}
