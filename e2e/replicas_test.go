package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Two replicas on one database are SIGKILLed at random 20 times during a 300-message burst (requests and follow-ups from five tenants at once), each restarted: every message is mirrored exactly once within 2 minutes of the last kill, and the poller and the watcher still run afterwards.
//
// (Issue 9, scenario 3; it replaces issue 8's five-kill test, item 2: River
// rescues a job left running by a dead process only after
// RescueStuckJobsAfter, 1 h by default.) Not parallel: it is the heaviest
// scenario and runs alone, before the others.
func TestTwentyKillsDuringBurst(t *testing.T) {
	killedReplicasBurst(t, burstSpec{tenants: 5, messages: 300, kills: 20, settleBound: 2 * time.Minute})
}

// burstSpec is one killed-replicas scenario.
type burstSpec struct {
	tenants     int           // clients writing at once
	messages    int           // requests and follow-ups in all (2 in 5 are requests)
	kills       int           // SIGKILLs, spread over the burst
	settleBound time.Duration // from the last kill to everything in Redmine once
}

// killedReplicasBurst runs two replicas on one database, sends spec.messages
// client messages from spec.tenants tenants at once, spread over both APIs,
// while a random replica is SIGKILLed spec.kills times (each restarted 0.2 to
// 1.5 s later, the kills spread evenly over the burst). Then: every
// acknowledged message is stored, every stored request has exactly one issue
// and every follow-up exactly one note within spec.settleBound of the last
// kill; a staff note made afterwards reaches the client within a poll and
// 2 s; a request filed after the last kill with a one-minute deadline gets
// its escalation once (and at most one warning).
func killedReplicasBurst(t *testing.T, spec burstSpec) {
	d := newDeployment(t)
	cfgA := d.writeConfig("replica-a", nil)
	cfgB := d.writeConfig("replica-b", nil)
	// The watcher probe: "comptabilite" requests have one minute to get a
	// first answer, on a 24/7 clock; the burst's "autre" requests none.
	for _, in := range []instance{cfgA, cfgB} {
		d.patchConfig(in, "deadlines.policies", `[{category: comptabilite, first_answer: {within: 1m, clock: calendar}}]`)
	}
	d.migrate(cfgA)
	replicas := []*replica{d.serve(cfgA), d.serve(cfgB)}
	rm := newStaff(t, d.st)
	tenants := make([]*customer, spec.tenants)
	for i := range tenants {
		tenants[i] = newTenant(t)
	}

	// Pacing: kill k falls due once (k+1)/(kills+1) of the burst is sent,
	// and the burst waits for it half a step later, so the kills are spread
	// over the burst whatever the speed of either.
	var (
		started   atomic.Int64 // messages begun
		sent      atomic.Int64 // messages answered (or given up)
		killsDone atomic.Int64
		killerOut atomic.Bool
	)
	step := float64(spec.messages) / float64(spec.kills+1)
	killDueAt := func(k int) int64 { return int64(float64(k+1) * step) }
	gate := func(n int64) {
		for !killerOut.Load() {
			due := 0
			for k := 0; k < spec.kills; k++ {
				if float64(killDueAt(k))+step/2 <= float64(n) {
					due++
				}
			}
			if killsDone.Load() >= int64(due) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	var (
		killMu   sync.Mutex
		lastKill time.Time
		killLog  []string
		killErrs []string
	)
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		defer killerOut.Store(true)
		for k := 0; k < spec.kills; k++ {
			for sent.Load() < killDueAt(k) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Duration(randomInt(300)) * time.Millisecond)
			if !eventually(60*time.Second, func() (bool, string) { return replicas[0].ready() && replicas[1].ready(), "" }) {
				killMu.Lock()
				killErrs = append(killErrs, fmt.Sprintf("kill %d: the replicas were not both ready within 60 s", k+1))
				killMu.Unlock()
				return
			}
			v := replicas[randomInt(len(replicas))]
			ok := v.signal(syscall.SIGKILL, 15*time.Second)
			at, sentAt := time.Now(), sent.Load()
			killsDone.Add(1)
			pause := time.Duration(200+randomInt(1300)) * time.Millisecond
			time.Sleep(pause)
			err := v.startProcess()
			killMu.Lock()
			lastKill = at
			killLog = append(killLog, fmt.Sprintf("kill %d: %s at %s (%d messages sent), restarted after %s",
				k+1, v.in.name, at.Format("15:04:05.000"), sentAt, pause))
			if !ok {
				killErrs = append(killErrs, fmt.Sprintf("kill %d: %s still alive 15 s after SIGKILL", k+1, v.in.name))
			}
			if err != nil {
				killErrs = append(killErrs, fmt.Sprintf("kill %d: restart: %v", k+1, err))
			}
			killMu.Unlock()
			if err != nil {
				return
			}
		}
	}()

	// The burst: each tenant files requests and follows them up (2 in 5 of
	// its messages are requests), on both APIs. A call cut off by a kill is
	// sent again to the other replica, with a new text, as a client would;
	// what was stored either way is read back from the API afterwards.
	type sent1 struct {
		tenant    *customer
		requestID string
		text      string
	}
	var (
		ackMu                                       sync.Mutex
		acknowledgedRequests, acknowledgedFollowUps []sent1
		wg                                          sync.WaitGroup
	)
	burstStart := time.Now()
	perTenant := spec.messages / spec.tenants
	for ti, tn := range tenants {
		wg.Add(1)
		go func(ti int, tn *customer) {
			defer wg.Done()
			var mine []string
			for i := 0; i < perTenant; i++ {
				n := started.Add(1) - 1
				gate(n)
				op := int(n)
				if len(mine) == 0 || i%5 == 0 || i%5 == 2 {
					var r apiRequest
					status, raw, attempts := sendAnyReplica(replicas, op, func(base string, attempt int) (int, []byte, error) {
						body := fmt.Sprintf("Demande t%d-%d (essai %d) : la chaudière s'arrête la nuit.", ti, i, attempt)
						return tn.call(base, http.MethodPost, "/api/v1/requests", newRequestFields(fmt.Sprintf("Chaudière t%d-%d", ti, i), body), &r)
					})
					if status != http.StatusCreated {
						t.Errorf("tenant %d, request %d: HTTP %d after %d attempts: %.300s", ti, i, status, attempts, raw)
					} else {
						mine = append(mine, r.ID)
						ackMu.Lock()
						acknowledgedRequests = append(acknowledgedRequests, sent1{tenant: tn, requestID: r.ID, text: r.Reference})
						ackMu.Unlock()
					}
				} else {
					id := mine[randomInt(len(mine))]
					var text string
					status, raw, attempts := sendAnyReplica(replicas, op, func(base string, attempt int) (int, []byte, error) {
						text = fmt.Sprintf("Suivi t%d-%d (essai %d) %s : elle s'est encore arrêtée à 3 h.", ti, i, attempt, d.prefix)
						return tn.call(base, http.MethodPost, "/api/v1/requests/"+id+"/messages", map[string]string{"body": text}, nil)
					})
					if status != http.StatusCreated {
						t.Errorf("tenant %d, follow-up %d: HTTP %d after %d attempts: %.300s", ti, i, status, attempts, raw)
					} else {
						ackMu.Lock()
						acknowledgedFollowUps = append(acknowledgedFollowUps, sent1{tenant: tn, requestID: id, text: text})
						ackMu.Unlock()
					}
				}
				sent.Add(1)
				time.Sleep(time.Duration(50+randomInt(150)) * time.Millisecond)
			}
		}(ti, tn)
	}
	wg.Wait()
	burst := time.Since(burstStart)
	<-killerDone
	killMu.Lock()
	for _, l := range killLog {
		t.Log(l)
	}
	for _, e := range killErrs {
		t.Error(e)
	}
	last := lastKill
	killMu.Unlock()
	if len(killLog) != spec.kills {
		t.Fatalf("only %d of %d kills happened", len(killLog), spec.kills)
	}
	t.Logf("burst: %d requests and %d follow-ups acknowledged in %s", len(acknowledgedRequests), len(acknowledgedFollowUps), burst.Round(100*time.Millisecond))
	for _, r := range replicas {
		r.waitReady(60 * time.Second)
	}
	base := replicas[0].in.baseURL

	// The watcher probe, filed after the last kill: its warning (45 s) and
	// escalation (60 s) can only come from watcher runs after it.
	probeFields := newRequestFields("Régularisation des charges", "Je ne comprends pas le décompte de charges reçu.")
	probeFields["category"] = "comptabilite"
	var probe apiRequest
	tenants[0].mustCall(base, http.MethodPost, "/api/v1/requests", probeFields, &probe, http.StatusCreated)
	probeAt := time.Now()

	// What the clients have, read back through the API: every request and
	// every follow-up stored, including those of calls cut off by a kill.
	type stored struct {
		tenant    *customer
		request   apiRequest
		followUps []string
	}
	var all []*stored
	byID := map[string]*stored{}
	for _, tn := range tenants {
		for _, r := range tn.list(base) {
			full := tn.get(base, r.ID)
			s := &stored{tenant: tn, request: full}
			for _, m := range full.Messages {
				if m.AuthorKind == "client" && strings.HasPrefix(m.Body, "Suivi ") {
					s.followUps = append(s.followUps, m.Body)
				}
			}
			all = append(all, s)
			byID[r.ID] = s
		}
	}
	followUpCount := 0
	for _, s := range all {
		followUpCount += len(s.followUps)
	}
	for _, a := range acknowledgedRequests {
		if byID[a.requestID] == nil {
			t.Errorf("request %s was acknowledged (201) but the client does not have it", a.text)
		}
	}
	for _, a := range acknowledgedFollowUps {
		if s := byID[a.requestID]; s == nil || !contains(s.followUps, a.text) {
			t.Errorf("follow-up %q was acknowledged (201) but is not in the client's thread", a.text)
		}
	}
	wantRequests := len(acknowledgedRequests) + 1 // and the probe
	if len(all) < wantRequests || followUpCount < len(acknowledgedFollowUps) || len(acknowledgedRequests)+len(acknowledgedFollowUps) < perTenant*spec.tenants {
		t.Errorf("the clients have %d requests and %d follow-ups for %d and %d acknowledged (of %d messages)",
			len(all), followUpCount, wantRequests, len(acknowledgedFollowUps), perTenant*spec.tenants)
	}
	t.Logf("stored: %d requests (with the watcher probe), %d follow-ups", len(all), followUpCount)

	// Everything reaches Redmine exactly once, within settleBound of the
	// last kill. While waiting, an issue found complete is not read again;
	// the last check reads everything.
	complete := map[int]bool{}
	check := func(useCache bool) (bool, string) {
		var problems []string
		issues := rm.issuesOfPrefix(d.prefix)
		seen := map[string]bool{}
		shown := map[string]*int{}
		for _, tn := range tenants {
			for _, r := range tn.list(base) {
				shown[r.ID] = r.RedmineIssueID
			}
		}
		for _, s := range all {
			ref := s.request.Reference
			seen[ref] = true
			got := issues[ref]
			switch {
			case len(got) == 0:
				problems = append(problems, fmt.Sprintf("%s: no Redmine issue (nor the note of its %d follow-up(s))", ref, len(s.followUps)))
				continue
			case len(got) > 1:
				problems = append(problems, fmt.Sprintf("%s: %d Redmine issues %v", ref, len(got), issueIDs(got)))
				continue
			}
			if id := shown[s.request.ID]; id == nil || *id != got[0].ID {
				problems = append(problems, fmt.Sprintf("%s: the client shows issue %s, Redmine has #%d", ref, deref(id), got[0].ID))
			}
			if len(s.followUps) == 0 || useCache && complete[got[0].ID] {
				continue
			}
			is := rm.issue(got[0].ID)
			ok := true
			for _, text := range s.followUps {
				if n := len(is.notesContaining(text)); n != 1 {
					ok = false
					problems = append(problems, fmt.Sprintf("%s: %d notes in #%d for follow-up %q, want 1", ref, n, is.ID, text))
				}
			}
			complete[is.ID] = ok
		}
		for ref, got := range issues {
			if !seen[ref] {
				problems = append(problems, fmt.Sprintf("%s: Redmine issues %v for a request the clients do not have", ref, issueIDs(got)))
			}
		}
		sort.Strings(problems)
		n := len(problems)
		if n > 20 {
			problems = append(problems[:20], fmt.Sprintf("… and %d more", n-20))
		}
		return n == 0, fmt.Sprintf("%d problem(s):\n  %s", n, strings.Join(problems, "\n  "))
	}
	// A check reads Redmine for several seconds: it counts from its start.
	deadline := last.Add(spec.settleBound)
	var state string
	ok := false
	var checkedAt time.Time
	for {
		checkedAt = time.Now()
		if checkedAt.After(deadline) {
			break
		}
		if ok, state = check(true); ok {
			break
		}
		time.Sleep(3 * time.Second)
	}
	if !ok {
		t.Fatalf("%s after the last kill, not everything is in Redmine exactly once: %s\n%s",
			spec.settleBound, state, d.jobCounts())
	}
	t.Logf("everything in Redmine exactly once %s after the last kill (check started then, took %s)",
		checkedAt.Sub(last).Round(time.Second), time.Since(checkedAt).Round(time.Second))
	redriven := 0
	for _, r := range replicas {
		redriven += strings.Count(r.logTail(1<<30), "nobody working on them")
	}
	t.Logf("requests queued again by the redrive sweep (their job died with a killed process): %d", redriven)

	// Two more polls: nothing is added late (no duplicate), then the counts.
	time.Sleep(2 * pollInterval)
	if ok, state := check(false); !ok {
		t.Errorf("a few seconds later: %s\n%s", state, d.jobCounts())
	}
	issues := rm.issuesOfPrefix(d.prefix)
	total := 0
	for _, got := range issues {
		total += len(got)
	}
	if total != len(all) || len(issues) != len(all) {
		t.Errorf("Redmine holds %d issues for %d references, want %d and %d", total, len(issues), len(all), len(all))
	}
	t.Logf("counts: %d requests stored, %d issues for %d references; %d follow-ups stored, each one note", len(all), total, len(issues), followUpCount)

	// The poller still runs: a staff note made now reaches the client
	// within a poll and 2 s.
	target := all[0]
	for _, s := range all {
		if s.request.ID != probe.ID {
			target = s
			break
		}
	}
	note := fmt.Sprintf("Le chauffagiste passe lundi. (%s après la rafale)", d.prefix)
	targetIssue := rm.issuesOfReference(target.request.Reference)[0].ID
	rm.addNote(targetIssue, note, false)
	took := waitSince(t, time.Now(), visibleBound, "a staff note made after the burst reaches the client", func() (bool, string) {
		r := target.tenant.get(base, target.request.ID)
		return r.countBodies(note) > 0, threadSummary(r)
	})
	t.Logf("staff note after the burst seen by the client %s after the write", took)

	// The watcher still runs: the probe's escalation, once (see alertsOnce).
	probeIssue := tenants[0].waitIssue(base, probe.ID, syncBound)
	watchBound := time.Minute + watcherInterval + 20*time.Second
	waitSince(t, probeAt, watchBound, "the probe's escalation (the watcher runs after the last kill)", func() (bool, string) {
		m := mailsAbout(t, probe.Reference)
		n := len(rm.issue(probeIssue).notesContaining("Réf. alerte Passerelle"))
		return len(m["escalation"]) >= 1 && n >= 1, fmt.Sprintf("%s; %d escalation note(s)", describeMails(m), n)
	})
	time.Sleep(2 * pollInterval)
	m := mailsAbout(t, probe.Reference)
	n := len(rm.issue(probeIssue).notesContaining("Réf. alerte Passerelle"))
	if !alertsOnce(m) || n != 1 {
		t.Errorf("probe %s: want one escalation mail and note, at most one warning; got %s and %d note(s)", probe.Reference, describeMails(m), n)
	}
	t.Logf("watcher: probe %s escalated %s after its filing (mails: %d warning, %d escalation; %d escalation note)",
		probe.Reference, time.Since(probeAt).Round(time.Second), len(m["warning"]), len(m["escalation"]), n)
}

// sendAnyReplica sends one client call, first to replica op%2, and again to
// the next replica while the call fails in transport (a replica killed or
// restarting), for at most 30 s. send gets the replica's base URL and the
// attempt number (from 1), so each attempt can carry a text of its own.
func sendAnyReplica(replicas []*replica, op int, send func(base string, attempt int) (int, []byte, error)) (status int, raw []byte, attempts int) {
	deadline := time.Now().Add(30 * time.Second)
	for attempts = 1; ; attempts++ {
		r := replicas[(op+attempts-1)%len(replicas)]
		var err error
		status, raw, err = send(r.in.baseURL, attempts)
		if err == nil {
			return status, raw, attempts
		}
		if time.Now().After(deadline) {
			return 0, []byte(err.Error()), attempts
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// issueIDs lists issue numbers.
func issueIDs(list []rmIssue) []int {
	out := make([]int, len(list))
	for i, is := range list {
		out[i] = is.ID
	}
	return out
}

// contains tells whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
