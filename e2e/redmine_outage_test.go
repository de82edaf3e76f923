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

// Redmine itself is stopped (the process, not a fake transport) for 60 s
// while four clients file 140 requests and 60 follow-ups: every call is
// acknowledged (201) and the clients see "en cours de transmission", never
// an error; once Redmine is started again everything reaches it, each
// request as one issue and each follow-up as one note. (Issue 9,
// scenario 2.)
//
// Not parallel: it stops the stack's Redmine.
func TestRedmineStoppedWhileClientsWrite(t *testing.T) {
	const (
		outage          = 60 * time.Second
		writers         = 4
		newPerWriter    = 35
		followPerWriter = 15
		settleBound     = 5 * time.Minute
	)
	d := newDeployment(t)
	in := d.writeConfig("redmine-outage", map[string]string{
		// Retries at most 10 s apart, so the backlog starts soon after Redmine
		// is back (production: 5 min).
		"redmine.max_retry_delay": "10s",
	})
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)

	// Before the outage, each client has one request already in Redmine.
	tenants := make([]*customer, writers)
	before := make([]apiRequest, writers)
	for i := range tenants {
		tenants[i] = newTenant(t)
		before[i] = tenants[i].create(base, "Volet roulant bloqué", "Le volet de la chambre ne remonte plus.")
	}
	for i := range tenants {
		tenants[i].waitIssue(base, before[i].ID, syncBound)
	}

	stopComponent(t, "redmine")
	down := time.Now()

	// The writers: requests and follow-ups spread over the outage, half of
	// the follow-ups on the request already in Redmine, half on the last one
	// filed during the outage. Every answer must be 201, and a request filed
	// now must show "en cours de transmission".
	type ack struct {
		tenant    *customer
		requestID string
		text      string // the follow-up's text ("" for a request)
	}
	var (
		mu       sync.Mutex
		acks     []ack
		problems []string
		wg       sync.WaitGroup
	)
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	pause := outage / time.Duration(newPerWriter+followPerWriter+5)
	for w := range tenants {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tn := tenants[w]
			last, follows := "", 0
			for i := 0; i < newPerWriter+followPerWriter; i++ {
				time.Sleep(pause)
				// Three calls in ten are follow-ups: 15 of 50.
				if k := i % 10; k == 2 || k == 5 || k == 8 {
					target := before[w].ID
					if follows%2 == 1 && last != "" {
						target = last
					}
					follows++
					text := fmt.Sprintf("Suivi %s-%d-%d : toujours bloqué ce matin.", d.prefix, w, i)
					status, raw, err := tn.call(base, http.MethodPost, "/api/v1/requests/"+target+"/messages", map[string]string{"body": text}, nil)
					if err != nil || status != http.StatusCreated {
						report("writer %d, follow-up %d: HTTP %d %v: %.300s", w, i, status, err, raw)
						continue
					}
					mu.Lock()
					acks = append(acks, ack{tenant: tn, requestID: target, text: text})
					mu.Unlock()
					continue
				}
				var r struct {
					apiRequest
					Transmission string `json:"transmission"`
				}
				fields := newRequestFields(fmt.Sprintf("Fuite %d-%d", w, i), "De l'eau coule sous l'évier de la cuisine.")
				status, raw, err := tn.call(base, http.MethodPost, "/api/v1/requests", fields, &r)
				if err != nil || status != http.StatusCreated {
					report("writer %d, request %d: HTTP %d %v: %.300s", w, i, status, err, raw)
					continue
				}
				if r.Transmission != "en cours de transmission" || r.RedmineIssueID != nil {
					report("writer %d, request %s: shows transmission %q, issue %v during the outage", w, r.Reference, r.Transmission, r.RedmineIssueID)
				}
				last = r.ID
				mu.Lock()
				acks = append(acks, ack{tenant: tn, requestID: r.ID})
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	// The clients' lists answer during the outage too.
	for i, tn := range tenants {
		if status, raw, err := tn.call(base, http.MethodGet, "/api/v1/requests", nil, nil); err != nil || status != http.StatusOK {
			report("client %d: list during the outage: HTTP %d %v: %.300s", i, status, err, raw)
		}
	}
	if rest := outage - time.Since(down); rest > 0 {
		time.Sleep(rest)
	}
	for _, p := range problems {
		t.Error(p)
	}
	requests, followUps := 0, 0
	for _, a := range acks {
		if a.text == "" {
			requests++
		} else {
			followUps++
		}
	}
	t.Logf("Redmine down for %s: %d requests and %d follow-ups acknowledged, %d problem(s)",
		time.Since(down).Round(time.Second), requests, followUps, len(problems))
	if requests+followUps < writers*(newPerWriter+followPerWriter) {
		t.Errorf("%d calls acknowledged, want %d", requests+followUps, writers*(newPerWriter+followPerWriter))
	}

	startStack(t)
	up := time.Now()

	// Everything reaches Redmine exactly once.
	wantNotes := map[string][]string{} // request id → follow-up texts
	for _, a := range acks {
		if a.text != "" {
			wantNotes[a.requestID] = append(wantNotes[a.requestID], a.text)
		}
	}
	check := func() (bool, string) {
		var problems []string
		issues := rm.issuesOfPrefix(d.prefix)
		refs := map[string]bool{}
		for _, tn := range tenants {
			for _, r := range tn.list(base) {
				refs[r.Reference] = true
				got := issues[r.Reference]
				if len(got) != 1 {
					problems = append(problems, fmt.Sprintf("%s: %d Redmine issues %v", r.Reference, len(got), issueIDs(got)))
					continue
				}
				if r.RedmineIssueID == nil || *r.RedmineIssueID != got[0].ID {
					problems = append(problems, fmt.Sprintf("%s: the client shows issue %s, Redmine has #%d", r.Reference, deref(r.RedmineIssueID), got[0].ID))
				}
				if texts := wantNotes[r.ID]; len(texts) > 0 {
					is := rm.issue(got[0].ID)
					for _, text := range texts {
						if n := len(is.notesContaining(text)); n != 1 {
							problems = append(problems, fmt.Sprintf("%s: %d notes in #%d for %q, want 1", r.Reference, n, is.ID, text))
						}
					}
				}
			}
		}
		for ref, got := range issues {
			if !refs[ref] {
				problems = append(problems, fmt.Sprintf("%s: Redmine issues %v for a request no client has", ref, issueIDs(got)))
			}
		}
		sort.Strings(problems)
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
		}
		return len(problems) == 0, strings.Join(problems, "\n  ")
	}
	waitUntil(t, settleBound, "every request and follow-up in Redmine exactly once", check)
	t.Logf("everything in Redmine exactly once %s after Redmine was started again", time.Since(up).Round(time.Second))

	// Two more polls add nothing.
	time.Sleep(2 * pollInterval)
	if ok, state := check(); !ok {
		t.Errorf("a few seconds later:\n  %s\n%s", state, d.jobCounts())
	}
}
