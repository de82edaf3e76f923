package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// PostgreSQL (which also holds Kratos' sessions) is stopped for real during
// a burst of requests and follow-ups, then started again. While it is down
// the API answers 503 with a clear JSON error and a Retry-After, never a
// 500, a 401 (Kratos cannot read its sessions: an outage, not a logout) or a
// hang; the same serve process recovers on its own; everything acknowledged
// (201) reaches Redmine exactly once, and the poller still runs. (Issue 9,
// scenario 4.)
//
// Not parallel: it stops the stack's PostgreSQL.
func TestPostgresRestartDuringBurst(t *testing.T) {
	const (
		writers      = 3
		pause        = 400 * time.Millisecond
		burstBefore  = 4 * time.Second
		downFor      = 10 * time.Second
		burstAfter   = 12 * time.Second
		recoverBound = 30 * time.Second
		settleBound  = 4 * time.Minute
	)
	d := newDeployment(t)
	in := d.writeConfig("pg-restart", map[string]string{
		// Retries at most 10 s apart, so what failed during the outage is
		// retried soon after it (production: 5 min).
		"redmine.max_retry_delay": "10s",
	})
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)
	pid := srv.pid()

	tenants := make([]*customer, writers)
	first := make([]apiRequest, writers)
	for i := range tenants {
		tenants[i] = newTenant(t)
		first[i] = tenants[i].create(base, "Chaudière en panne", "Plus d'eau chaude depuis ce matin.")
	}
	issues := make([]int, writers)
	for i := range tenants {
		issues[i] = tenants[i].waitIssue(base, first[i].ID, syncBound)
	}
	restoreStackWhenDone(t)

	var (
		posts, reads outageTally
		mu           sync.Mutex
		acks         []ackedItem
		upAt         time.Time // when PostgreSQL was started again
		recovered    time.Time // the first 201 after upAt
		wg           sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range tenants {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tn := tenants[w]
			last := first[w]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
				var o callOutcome
				item := ackedItem{tenant: tn}
				if i%3 == 2 {
					target := first[w]
					if i%2 == 1 {
						target = last
					}
					item.requestID, item.reference = target.ID, target.Reference
					item.text = fmt.Sprintf("Suivi %s-%d-%d : toujours pas d'eau chaude.", d.prefix, w, i)
					o = tn.timedCall(base, http.MethodPost, "/api/v1/requests/"+target.ID+"/messages", map[string]string{"body": item.text}, nil)
				} else {
					var r apiRequest
					o = tn.timedCall(base, http.MethodPost, "/api/v1/requests",
						newRequestFields(fmt.Sprintf("Radiateur froid %d-%d", w, i), "Le radiateur du salon reste froid."), &r)
					if o.status == http.StatusCreated {
						if r.ID == "" || r.Reference == "" {
							o.status, o.err = 0, fmt.Errorf("201 without id or reference: %.200s", o.raw)
						}
						item.requestID, item.reference = r.ID, r.Reference
						last = r
					}
				}
				if posts.record(o, http.StatusCreated, "service_unavailable", "session_unavailable") {
					mu.Lock()
					acks = append(acks, item)
					if !upAt.IsZero() && recovered.IsZero() && o.at.After(upAt) {
						recovered = o.at.Add(o.dur)
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	// A reader: the client's list, twice a second.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			reads.record(tenants[0].timedCall(base, http.MethodGet, "/api/v1/requests", nil, nil), http.StatusOK,
				"service_unavailable", "session_unavailable")
		}
	}()

	time.Sleep(burstBefore)
	stopPostgres(t)
	downAt := time.Now()
	time.Sleep(downFor)
	startPostgres(t)
	mu.Lock()
	upAt = time.Now()
	mu.Unlock()
	t.Logf("PostgreSQL down for %s", upAt.Sub(downAt).Round(100*time.Millisecond))
	time.Sleep(burstAfter)
	waitUntil(t, recoverBound, "a request acknowledged after PostgreSQL came back (serve recovers on its own)", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return !recovered.IsZero(), posts.summary()
	})
	close(stop)
	wg.Wait()
	t.Logf("posts: %s", posts.summary())
	t.Logf("reads: %s", reads.summary())
	t.Logf("the first post acknowledged %s after PostgreSQL was started again", recovered.Sub(upAt).Round(100*time.Millisecond))

	for _, ta := range []*outageTally{&posts, &reads} {
		for _, p := range ta.other {
			t.Errorf("an answer other than success or a clear 503: %s", p)
		}
		if ta.maxDur >= outageHangGuard {
			t.Errorf("a call took %s (%s): over the %s hang guard", ta.maxDur, ta.maxDurWhat, outageHangGuard)
		}
	}
	if posts.unavailable == 0 {
		t.Errorf("no post answered 503 while PostgreSQL was down: the outage was not seen (%s)", posts.summary())
	}
	if got := srv.pid(); got != pid || srv.startCount() != 1 || !srv.running() {
		t.Errorf("serve was restarted or stopped: pid %d → %d, %d start(s), running %v", pid, got, srv.startCount(), srv.running())
	}

	// Everything acknowledged reaches Redmine, exactly once.
	requests, followUps := 0, 0
	for _, a := range acks {
		if a.text == "" {
			requests++
		} else {
			followUps++
		}
	}
	waitUntil(t, settleBound, "every request and follow-up in Redmine exactly once", func() (bool, string) {
		return checkAllInRedmineOnce(base, d.prefix, rm, tenants, acks)
	})
	t.Logf("%d requests and %d follow-ups acknowledged: all in Redmine exactly once %s after PostgreSQL came back",
		requests, followUps, time.Since(upAt).Round(time.Second))

	// The poller still runs: a staff note made now reaches the client.
	note := fmt.Sprintf("Le chauffagiste passe demain matin. (%s après redémarrage)", d.prefix)
	rm.addNote(issues[0], note, false)
	noted := time.Now()
	waitUntil(t, syncBound, "a staff note made after the restart reaches the client", func() (bool, string) {
		r := tenants[0].get(base, first[0].ID)
		return r.countBodies(note) == 1, threadSummary(r)
	})
	t.Logf("a staff note made after the restart reached the client in %s", time.Since(noted).Round(100*time.Millisecond))

	time.Sleep(2 * pollInterval)
	if ok, state := checkAllInRedmineOnce(base, d.prefix, rm, tenants, acks); !ok {
		t.Errorf("a few seconds later:\n  %s\n%s", state, d.jobCounts())
	}
}

// Kratos is stopped for real: every customer-space call answers 503
// "connexion momentanément indisponible" with a Retry-After, at once (no
// hang, no 401: the clients are not logged out); the requests and follow-ups
// acknowledged just before reach Redmine while Kratos is still down; once
// Kratos is back the same serve process accepts the same sessions, and a staff
// note made during the outage reaches the client. (Issue 9, scenario 5.)
//
// Not parallel: it stops the stack's Kratos.
func TestKratosStoppedAnswers503MirroringGoesOn(t *testing.T) {
	const (
		writers      = 3
		perWriter    = 10
		downProbes   = 10 * time.Second
		mirrorBound  = 3 * time.Minute
		recoverBound = 60 * time.Second
	)
	d := newDeployment(t)
	in := d.writeConfig("kratos-stop", map[string]string{"redmine.max_retry_delay": "10s"})
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)
	pid := srv.pid()

	tenants := make([]*customer, writers)
	first := make([]apiRequest, writers)
	for i := range tenants {
		tenants[i] = newTenant(t)
		first[i] = tenants[i].create(base, "Porte de garage bloquée", "La télécommande ne fonctionne plus.")
	}
	issue := tenants[0].waitIssue(base, first[0].ID, syncBound)
	restoreStackWhenDone(t)

	// A backlog, acknowledged just before Kratos stops: requests and
	// follow-ups that Redmine (about 120 ms a creation) has not all
	// received yet when Kratos goes.
	var (
		mu   sync.Mutex
		acks []ackedItem
		wg   sync.WaitGroup
	)
	for w := range tenants {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tn := tenants[w]
			for i := 0; i < perWriter; i++ {
				if i%3 == 2 {
					text := fmt.Sprintf("Suivi %s-%d-%d : la porte reste bloquée.", d.prefix, w, i)
					tn.followUp(base, first[w].ID, text)
					mu.Lock()
					acks = append(acks, ackedItem{tenant: tn, requestID: first[w].ID, reference: first[w].Reference, text: text})
					mu.Unlock()
					continue
				}
				r := tn.create(base, fmt.Sprintf("Interphone muet %d-%d", w, i), "L'interphone ne sonne plus.")
				mu.Lock()
				acks = append(acks, ackedItem{tenant: tn, requestID: r.ID, reference: r.Reference})
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()

	stopKratos(t)
	downAt := time.Now()
	if kratosAnswers(t) {
		t.Fatal("Kratos still answers after stack-down.sh kratos")
	}
	_, stateAtStop := redmineHasAcks(rm, d.prefix, acks)
	t.Logf("Kratos stopped; %d calls acknowledged before; in Redmine then: %s", len(acks), stateAtStop)

	// While Kratos is down: every call answers a clear 503 at once.
	var calls outageTally
	staffNote := fmt.Sprintf("Le technicien est prévenu. (%s pendant la panne de Kratos)", d.prefix)
	rm.addNote(issue, staffNote, false)
	check := func(o callOutcome, ok int) {
		calls.record(o, ok, "session_unavailable")
		if o.status == http.StatusServiceUnavailable && !strings.Contains(strings.ToLower(o.message), "connexion momentanément indisponible") {
			t.Errorf("%s: message %q does not say \"connexion momentanément indisponible\"", o.what, o.message)
		}
	}
	for end := time.Now().Add(downProbes); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		tn := tenants[randomInt(len(tenants))]
		check(tn.timedCall(base, http.MethodPost, "/api/v1/requests", newRequestFields("Pendant la panne", "Texte."), nil), http.StatusCreated)
		check(tn.timedCall(base, http.MethodPost, "/api/v1/requests/"+first[0].ID+"/messages", map[string]string{"body": "Pendant la panne."}, nil), http.StatusCreated)
		check(tn.timedCall(base, http.MethodGet, "/api/v1/me", nil, nil), http.StatusOK)
		check(tn.timedCall(base, http.MethodGet, "/api/v1/requests", nil, nil), http.StatusOK)
	}
	t.Logf("calls with Kratos down: %s", calls.summary())
	for _, p := range calls.other {
		t.Errorf("an answer other than a clear 503 with Kratos down: %s", p)
	}
	if calls.unavailable != calls.attempted {
		t.Errorf("%d of %d calls answered 503 with Kratos down", calls.unavailable, calls.attempted)
	}
	if calls.maxDur >= outageHangGuard {
		t.Errorf("a call took %s (%s): over the %s hang guard", calls.maxDur, calls.maxDurWhat, outageHangGuard)
	}

	// Mirroring goes on: everything acknowledged reaches Redmine with
	// Kratos still down.
	waitUntil(t, mirrorBound, "every acknowledged request and follow-up in Redmine exactly once, Kratos down", func() (bool, string) {
		return redmineHasAcks(rm, d.prefix, acks)
	})
	if kratosAnswers(t) {
		t.Fatal("Kratos answers again: the mirroring was not shown to go on without it")
	}
	t.Logf("everything acknowledged in Redmine exactly once %s after Kratos was stopped (Kratos still down)",
		time.Since(downAt).Round(100*time.Millisecond))

	startKratos(t)
	upAt := time.Now()
	waitUntil(t, recoverBound, "the same sessions accepted again once Kratos is back", func() (bool, string) {
		o := tenants[0].timedCall(base, http.MethodGet, "/api/v1/me", nil, nil)
		return o.status == http.StatusOK, o.String()
	})
	t.Logf("sessions accepted again %s after Kratos was started", time.Since(upAt).Round(100*time.Millisecond))
	if got := srv.pid(); got != pid || srv.startCount() != 1 || !srv.running() {
		t.Errorf("serve was restarted or stopped: pid %d → %d, %d start(s), running %v", pid, got, srv.startCount(), srv.running())
	}
	waitUntil(t, syncBound, "the staff note made during the outage reaches the client", func() (bool, string) {
		r := tenants[0].get(base, first[0].ID)
		return r.countBodies(staffNote) == 1, threadSummary(r)
	})
	if ok, state := checkAllInRedmineOnce(base, d.prefix, rm, tenants, acks); !ok {
		t.Errorf("after Kratos came back:\n  %s\n%s", state, d.jobCounts())
	}
}

// redmineHasAcks checks, through Redmine only (the customer space cannot be
// read without Kratos), that every acknowledged request is one issue and
// every acknowledged follow-up one note of its request's issue.
func redmineHasAcks(rm *staff, prefix string, acks []ackedItem) (bool, string) {
	issues := rm.issuesOfPrefix(prefix)
	var problems []string
	requests, inRedmine := 0, 0
	notes := map[string][]string{} // reference → texts
	for _, a := range acks {
		if a.text != "" {
			notes[a.reference] = append(notes[a.reference], a.text)
			continue
		}
		requests++
		switch n := len(issues[a.reference]); n {
		case 1:
			inRedmine++
		case 0:
			problems = append(problems, a.reference+": not in Redmine yet")
		default:
			problems = append(problems, fmt.Sprintf("%s: %d issues %v", a.reference, n, issueIDs(issues[a.reference])))
		}
	}
	followUps, noted := 0, 0
	for ref, texts := range notes {
		followUps += len(texts)
		got := issues[ref]
		if len(got) != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d issues for its follow-ups", ref, len(got)))
			continue
		}
		is := rm.issue(got[0].ID)
		for _, text := range texts {
			switch n := len(is.notesContaining(text)); n {
			case 1:
				noted++
			default:
				problems = append(problems, fmt.Sprintf("%s: %d notes in #%d for %q, want 1", ref, n, is.ID, text))
			}
		}
	}
	sort.Strings(problems)
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
	}
	state := fmt.Sprintf("%d/%d requests, %d/%d follow-ups", inRedmine, requests, noted, followUps)
	if len(problems) > 0 {
		state += "\n  " + strings.Join(problems, "\n  ")
	}
	return len(problems) == 0, state
}
