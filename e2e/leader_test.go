package e2e

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// Of three replicas on one database, the leader stopped (SIGTERM or SIGKILL), another takes over polling and watching within a minute.
func TestLeaderStoppedAnotherTakesOver(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			leaderStoppedTakeover(t, sig)
		})
	}
}

// takeoverBound is how long after the leader is stopped a staff note may
// take to reach the client, and the watcher to run again (issue 9,
// scenario 7: within a minute).
//
// River fact (river@v0.51.1, internal/leadership/elector.go): the leader
// re-elects every ElectInterval (5 s) and its row in river_leader expires
// ElectInterval + 10 s (electIntervalTTLPaddingDefault) = 15 s after its last
// re-election; followers bid every 5 to 6 s (ElectInterval +
// ElectIntervalJitter) and each bid first deletes expired rows. On SIGTERM
// the leader resigns (DELETE + NOTIFY "resigned"), and followers bid again
// within 50 ms; on SIGKILL the row stays until it expires: a new leader within
// about 15 + 6 = 21 s. The new leader's periodic jobs have RunOnStart, so it
// polls and watches at once. One known way past a minute: a poll or watch
// job the killed process was running stays "running" (so blocks its unique
// next insert) until River's rescuer, every 30 s, finds it older than
// JobTimeout + 10 s (40 + 10 s here): up to 80 s, for a kill landing inside
// a poll of about 0.1 s in 2 s.
const takeoverBound = time.Minute

func leaderStoppedTakeover(t *testing.T, sig syscall.Signal) {
	d := newDeployment(t)
	var ins []instance
	for _, name := range []string{"replica-a", "replica-b", "replica-c"} {
		in := d.writeConfig(name, nil)
		// The watcher probe: "comptabilite" requests have one minute to get a
		// first answer, on a 24/7 clock; "autre" requests none.
		d.patchConfig(in, "deadlines.policies", `[{category: comptabilite, first_answer: {within: 1m, clock: calendar}}]`)
		ins = append(ins, in)
	}
	d.migrate(ins[0])
	replicas := d.serveTimed(ins...)
	rm := newStaff(t, d.st)
	tenant := newTenant(t)
	base := func(skip int) string { return replicas[(skip+1)%len(replicas)].in.baseURL }

	// Before: the poller works.
	req := tenant.create(replicas[0].in.baseURL, "Porte du garage", "La porte du garage collectif ne se ferme plus.")
	issue := tenant.waitIssue(replicas[0].in.baseURL, req.ID, 60*time.Second)
	before := fmt.Sprintf("Le serrurier est prévenu. (%s avant l'arrêt)", d.prefix)
	rm.addNote(issue, before, false)
	waitUntil(t, syncBound, "a staff note reaches the client before the stop", func() (bool, string) {
		r := tenant.get(replicas[0].in.baseURL, req.ID)
		return r.countBodies(before) > 0, threadSummary(r)
	})

	// The watcher probe, filed just before the stop: its warning (45 s)
	// and escalation (60 s) fall due after the stop.
	probeFields := newRequestFields("Appel de fonds", "Je ne comprends pas l'appel de fonds du trimestre.")
	probeFields["category"] = "comptabilite"
	var probe apiRequest
	tenant.mustCall(replicas[0].in.baseURL, http.MethodPost, "/api/v1/requests", probeFields, &probe, http.StatusCreated)
	probeAt := time.Now()
	probeIssue := tenant.waitIssue(replicas[0].in.baseURL, probe.ID, syncBound)

	leader, leaderID := d.leaderOf(replicas, 30*time.Second)
	stopAt := time.Now()
	if stopAt.Sub(probeAt) > 40*time.Second {
		t.Fatalf("setup too slow: the probe's warning may fall due before the stop (%s after its filing)", stopAt.Sub(probeAt))
	}
	t.Logf("leader: %s (%s); stopping it with %s, %s after the probe %s", replicas[leader].in.name, leaderID, sig, stopAt.Sub(probeAt).Round(100*time.Millisecond), probe.Reference)
	if sig == syscall.SIGTERM {
		replicas[leader].terminate()
	} else {
		replicas[leader].kill()
	}
	api := base(leader) // a replica still running

	// Polling taken over: a staff note made now reaches the client.
	after := fmt.Sprintf("Le serrurier passe jeudi. (%s après l'arrêt)", d.prefix)
	rm.addNote(issue, after, false)
	took := waitSince(t, stopAt, takeoverBound, "a staff note made after the leader stopped reaches the client", func() (bool, string) {
		r := tenant.get(api, req.ID)
		return r.countBodies(after) > 0, threadSummary(r)
	})
	t.Logf("staff note seen by the client %s after the leader was stopped", took)

	// Watching taken over: the probe's escalation, which no run before the
	// stop could claim, comes once its deadline passes: at most one watcher
	// interval after it, or a minute after the stop. (Its warning, due at
	// 45 s, is sent only when a run falls between 45 and 60 s: a watcher run
	// that first sees a deadline past its due time skips the warning.)
	dueAt := probeAt.Add(time.Minute)
	watchBound := dueAt.Sub(stopAt) + max(watcherInterval, takeoverBound) + 15*time.Second
	took = waitSince(t, stopAt, watchBound, "the probe's escalation (the watcher runs again)", func() (bool, string) {
		m := mailsAbout(t, probe.Reference)
		n := len(rm.issue(probeIssue).notesContaining("Réf. alerte Passerelle"))
		return len(m["escalation"]) >= 1 && n >= 1, fmt.Sprintf("%s; %d escalation note(s)", describeMails(m), n)
	})
	t.Logf("probe escalated %s after the stop (%s after its deadline)", took, time.Since(dueAt).Round(100*time.Millisecond))
	if newLeader, id := d.leaderOf(replicas, 5*time.Second); newLeader == leader {
		t.Errorf("the stopped replica %s is still the River leader (%s)", replicas[leader].in.name, id)
	} else {
		t.Logf("new leader: %s (%s)", replicas[newLeader].in.name, id)
	}

	// Two polls more, then the counts.
	time.Sleep(2*pollInterval + time.Second)
	var problems []string
	check := func(what string, got, want int) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: %d, want %d", what, got, want))
		}
	}
	check("requests of the client", len(tenant.list(api)), 2)
	check("issues carrying "+req.Reference, len(rm.issuesOfReference(req.Reference)), 1)
	check("issues carrying "+probe.Reference, len(rm.issuesOfReference(probe.Reference)), 1)
	r := tenant.get(api, req.ID)
	check("thread messages with the note before the stop", r.countBodies(before), 1)
	check("thread messages with the note after the stop", r.countBodies(after), 1)
	m := mailsAbout(t, probe.Reference)
	if !alertsOnce(m) {
		problems = append(problems, "probe mails: want one escalation, at most one warning, got "+describeMails(m))
	}
	check("escalation notes on #"+fmt.Sprint(probeIssue), len(rm.issue(probeIssue).notesContaining("Réf. alerte Passerelle")), 1)
	other := mailsAbout(t, req.Reference)
	check("alert mails about "+req.Reference, len(other["warning"])+len(other["escalation"]), 0)
	if len(problems) > 0 {
		t.Errorf("counts:\n  %v\n%s\n%s", problems, threadSummary(r), describeMails(m))
	}
	t.Logf("counts: 2 requests, 1 issue each; notes before/after the stop once each; probe: %d warning, %d escalation mail, 1 escalation note",
		len(m["warning"]), len(m["escalation"]))
}
