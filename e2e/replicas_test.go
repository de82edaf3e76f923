package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Two replicas on one database; a burst of 30 requests and 15 follow-ups
// spread over both APIs while a random replica is SIGKILLed five times, each
// restarted within about 1.5 s. Within two minutes of the last kill every
// request has exactly one Redmine issue carrying its reference, and every
// follow-up exactly one note. (Issue 8, item 2: River rescues a job left
// running by a dead process only after RescueStuckJobsAfter, 1 h by default.)
//
// Not parallel: it is the heaviest scenario and runs alone, before the others.
func TestE2EKilledReplicasResume(t *testing.T) {
	const (
		requestCount = 30
		kills        = 5
		settleBound  = 2 * time.Minute
	)
	d := newDeployment(t)
	cfgA := d.writeConfig("replica-a", nil)
	cfgB := d.writeConfig("replica-b", nil)
	d.migrate(cfgA)
	replicas := []*replica{d.serve(cfgA), d.serve(cfgB)}
	rm := newStaff(t, d.st)
	tenants := []*customer{newTenant(t), newTenant(t), newTenant(t)}

	// The killer: five times, wait until both replicas are ready, SIGKILL one
	// at random, start it again 0.2 to 1.5 s later.
	var (
		killMu   sync.Mutex
		lastKill time.Time
		killLog  []string
		killErrs []string
	)
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		time.Sleep(500 * time.Millisecond)
		for k := 0; k < kills; k++ {
			time.Sleep(time.Duration(500+randomInt(1000)) * time.Millisecond)
			if !eventually(60*time.Second, func() (bool, string) { return replicas[0].ready() && replicas[1].ready(), "" }) {
				killMu.Lock()
				killErrs = append(killErrs, fmt.Sprintf("kill %d: the replicas were not both ready within 60 s", k+1))
				killMu.Unlock()
				return
			}
			v := replicas[randomInt(len(replicas))]
			ok := v.signal(syscall.SIGKILL, 15*time.Second)
			at := time.Now()
			pause := time.Duration(200+randomInt(1300)) * time.Millisecond
			time.Sleep(pause)
			err := v.startProcess()
			killMu.Lock()
			lastKill = at
			killLog = append(killLog, fmt.Sprintf("kill %d: %s at %s, restarted after %s", k+1, v.in.name, at.Format("15:04:05.000"), pause))
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

	// The burst: 30 requests, and after every second one a follow-up on the
	// one before, alternating between the two APIs. A call cut off by a kill
	// is sent again to the other replica, with a new text, as a client would;
	// what was stored either way is read back from the API afterwards.
	type sent struct {
		tenant    *customer
		requestID string
		text      string
	}
	var acknowledgedRequests, acknowledgedFollowUps []sent
	burstStart := time.Now()
	op := 0
	for i := 0; i < requestCount; i++ {
		tn := tenants[i%len(tenants)]
		var r apiRequest
		n := i
		status, raw, attempts := sendAnyReplica(replicas, op, func(base string, attempt int) (int, []byte, error) {
			body := fmt.Sprintf("Demande %d (essai %d) : la chaudière s'arrête la nuit.", n, attempt)
			return tn.call(base, http.MethodPost, "/api/v1/requests", newRequestFields(fmt.Sprintf("Chaudière %d", n), body), &r)
		})
		op++
		if status != http.StatusCreated {
			t.Errorf("request %d: HTTP %d after %d attempts: %.300s", i, status, attempts, raw)
		} else {
			acknowledgedRequests = append(acknowledgedRequests, sent{tenant: tn, requestID: r.ID, text: r.Reference})
		}
		time.Sleep(250 * time.Millisecond)
		if i%2 == 1 && len(acknowledgedRequests) >= 2 {
			prev := acknowledgedRequests[len(acknowledgedRequests)-2]
			var text string
			status, raw, attempts := sendAnyReplica(replicas, op, func(base string, attempt int) (int, []byte, error) {
				text = fmt.Sprintf("Suivi %d (essai %d) %s : elle s'est encore arrêtée à 3 h.", i/2, attempt, d.prefix)
				return prev.tenant.call(base, http.MethodPost, "/api/v1/requests/"+prev.requestID+"/messages", map[string]string{"body": text}, nil)
			})
			op++
			if status != http.StatusCreated {
				t.Errorf("follow-up %d: HTTP %d after %d attempts: %.300s", i/2, status, attempts, raw)
			} else {
				acknowledgedFollowUps = append(acknowledgedFollowUps, sent{tenant: prev.tenant, requestID: prev.requestID, text: text})
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
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
	if len(killLog) != kills {
		t.Fatalf("only %d of %d kills happened", len(killLog), kills)
	}
	t.Logf("burst: %d requests and %d follow-ups acknowledged in %s", len(acknowledgedRequests), len(acknowledgedFollowUps), burst.Round(100*time.Millisecond))
	for _, r := range replicas {
		r.waitReady(60 * time.Second)
	}
	base := replicas[0].in.baseURL

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
	if len(all) < requestCount || followUpCount < requestCount/2 {
		t.Errorf("the clients have %d requests and %d follow-ups, want at least %d and %d", len(all), followUpCount, requestCount, requestCount/2)
	}
	t.Logf("stored: %d requests, %d follow-ups", len(all), followUpCount)

	// Everything reaches Redmine exactly once, within two minutes of the last kill.
	check := func() (bool, string) {
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
			if len(s.followUps) == 0 {
				continue
			}
			is := rm.issue(got[0].ID)
			for _, text := range s.followUps {
				if n := len(is.notesContaining(text)); n != 1 {
					problems = append(problems, fmt.Sprintf("%s: %d notes in #%d for follow-up %q, want 1", ref, n, is.ID, text))
				}
			}
		}
		for ref, got := range issues {
			if !seen[ref] {
				problems = append(problems, fmt.Sprintf("%s: Redmine issues %v for a request the clients do not have", ref, issueIDs(got)))
			}
		}
		sort.Strings(problems)
		return len(problems) == 0, fmt.Sprintf("%d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	deadline := last.Add(settleBound)
	var state string
	ok := false
	for {
		ok, state = check()
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(3 * time.Second)
	}
	if !ok {
		t.Fatalf("%s after the last kill, not everything is in Redmine exactly once: %s\n%s",
			time.Since(last).Round(time.Second), state, d.jobCounts())
	}
	t.Logf("everything in Redmine exactly once %s after the last kill", time.Since(last).Round(time.Second))

	// Two more polls: nothing is added late (no duplicate), then the counts.
	time.Sleep(2 * pollInterval)
	if ok, state := check(); !ok {
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
