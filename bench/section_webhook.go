package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// hookBack is section 4 with the webhook plugin: a staff note saved through
// Redmine's REST API in the stack's webhook project until the API shows it,
// on a deployment that polls every 5 minutes (only the webhook can be fast).
type hookBack struct {
	// skipped says why the section did not run, failed why it stopped
	// ("" when it ran through).
	skipped, failed string
	port, project   string
	notes, issues   int
	window          time.Duration
	// pass is each note's save → visible through the API; raw is the
	// staff's PUT itself (the plugin posts from a thread of its own, after
	// the save: the PUT does not wait for it).
	pass, raw []time.Duration
	// toFetch is each note's save (the PUT answered) → the start of the
	// daemon's first read of the issue after it, at the proxy; fetch that
	// read's own time; rest the read's end → visible to the client.
	toFetch, fetch, rest []time.Duration
	// missed counts the notes not visible within hookBound (their pass is
	// hookBound).
	missed int
	// accepted and refused are the deployment's calls of /hooks/redmine
	// during the notes (passerelle_webhook_calls_total); polls the polls
	// that ran meanwhile (passerelle_poll_duration_seconds_count): 0, or the
	// figures are not only the webhook's.
	accepted, refused, polls float64
	// calls are the deployment's Redmine calls during the notes, by kind
	// (the nudged re-fetches, at the proxy).
	calls callCount
}

// hookBound is how long a note may take before it counts as missed.
const hookBound = 60 * time.Second

// hookPoll is the webhook deployment's redmine.poll_interval.
const hookPoll = 5 * time.Minute

// sectionWebhook runs a second deployment of the daemon as
// e2e/webhook_test.go does: listening on WEBHOOK_E2E_PORT (where the
// stack's webhook project posts, with the secret of the stack's
// configuration: webhooks.redmine_secret_file), category "autre" filed into
// WEBHOOK_E2E_PROJECT, polling every 5 minutes. It files requests there and
// adds notes public staff notes through Redmine at random moments of a
// window, each timed until GET /api/v1/requests/{id} shows it (the client
// reads every 50 ms).
func (e *env) sectionWebhook(ctx context.Context, r *report, notes, workers int) error {
	h := &r.hook
	h.port, h.project = os.Getenv("WEBHOOK_E2E_PORT"), os.Getenv("WEBHOOK_E2E_PROJECT")
	if notes <= 0 {
		h.skipped = "-webhook-notes 0"
		return nil
	}
	if h.port == "" || h.project == "" {
		h.skipped = "the stack's .stack/env has no WEBHOOK_E2E_PORT or WEBHOOK_E2E_PROJECT (a stack from before the webhook plugin: `make stack`)"
		return nil
	}
	addr := "127.0.0.1:" + h.port
	l, err := net.Listen("tcp", addr)
	if err != nil {
		h.skipped = fmt.Sprintf("port %s (WEBHOOK_E2E_PORT, where the stack's webhook project posts) was busy: %v. "+
			"Another process listens there (an e2e run of TestWebhookPluginFastPath, a demo)", h.port, err)
		logf("webhook: skipped: %s", h.skipped)
		return nil
	}
	l.Close()
	// A counting proxy of its own: the full burst's deployment keeps
	// polling through the shared one meanwhile.
	px, err := startProxy(e.st.redmineURL, e.st.referenceCF)
	if err != nil {
		return err
	}
	defer px.close()
	dep, err := e.newDeploymentWith(ctx, workers, map[string]string{
		"listen": addr, "public_url": "http://" + addr, "redmine.poll_interval": hookPoll.String(), "redmine.url": px.url,
	}, func(path string) error { return setCategoryProject(path, "autre", h.project) })
	if err != nil {
		return err
	}
	defer dep.d.stop()
	// The poll at start (RunOnStart) is over before anything is measured.
	polls := func() (float64, error) {
		m, err := dep.d.scrape(ctx)
		if err != nil {
			return 0, err
		}
		v, _ := m.sum("passerelle_poll_duration_seconds_count", "")
		return v, nil
	}
	for deadline := time.Now().Add(time.Minute); ; {
		p, err := polls()
		if err != nil {
			return err
		}
		if p >= 1 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook deployment: no poll at start after a minute (log: %s)", dep.d.logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.notes, h.issues = notes, min(notes, 10)
	h.window = time.Duration(max(20, notes)) * time.Second
	c := e.customers[4]
	staff := redmineAs{base: e.st.redmineURL, key: e.st.staffKey}
	var ids []string
	var issues []int
	for i := 0; i < h.issues; i++ {
		req, err := c.create(ctx, dep.d.baseURL, fmt.Sprintf("crochet %d", i))
		if err != nil {
			return err
		}
		ids = append(ids, req.ID)
	}
	for _, id := range ids {
		is, err := c.waitMirrored(ctx, dep.d.baseURL, id, 2*time.Minute)
		if err != nil {
			return err
		}
		issues = append(issues, is)
	}
	var got struct {
		Issue struct {
			Project struct {
				ID int `json:"id"`
			} `json:"project"`
		} `json:"issue"`
	}
	if _, _, err := staff.call(ctx, http.MethodGet, "/issues/"+strconv.Itoa(issues[0])+".json", nil, &got); err != nil {
		return err
	}
	if want := os.Getenv("WEBHOOK_E2E_PROJECT_ID"); want != "" && strconv.Itoa(got.Issue.Project.ID) != want {
		return fmt.Errorf("webhook deployment: issue #%d is in project %d, want %s (the category rule was not applied)", issues[0], got.Issue.Project.ID, want)
	}
	time.Sleep(2 * time.Second) // Passerelle's own writes post nothing (X-Skip-Webhooks); let any stray call land first
	hooks := func() (accepted, all, polls float64, err error) {
		m, err := dep.d.scrape(ctx)
		if err != nil {
			return 0, 0, 0, err
		}
		accepted, _ = m.sum("passerelle_webhook_calls_total", `hook="redmine",status="202"`)
		all, _ = m.sum("passerelle_webhook_calls_total", `hook="redmine"`)
		polls, _ = m.sum("passerelle_poll_duration_seconds_count", "")
		return accepted, all, polls, nil
	}
	acc0, all0, polls0, err := hooks()
	if err != nil {
		return err
	}
	mark := px.mark()
	logf("webhook: %d notes on %d issues of project %s at random moments of %s", notes, h.issues, h.project, h.window)
	h.pass, h.raw = make([]time.Duration, notes), make([]time.Duration, notes)
	saved := make([]time.Time, notes)
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make(chan error, notes)
	for i := 0; i < notes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(rand.Int64N(int64(h.window))))
			k := i % h.issues
			token := "Réponse crochet " + randomHex(4)
			t := time.Now()
			if err := staff.addNote(ctx, issues[k], token); err != nil {
				errs <- err
				return
			}
			h.raw[i] = time.Since(t)
			saved[i] = t.Add(h.raw[i])
			for time.Since(t) < hookBound {
				req, err := c.get(ctx, dep.d.baseURL, ids[k])
				if err != nil {
					errs <- err
					return
				}
				for _, m := range req.Messages {
					if m.AuthorKind == "staff" && strings.Contains(m.Body, token) {
						h.pass[i] = time.Since(t)
						return
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			h.missed++
			mu.Unlock()
			h.pass[i] = hookBound
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	time.Sleep(time.Second) // the last re-fetches are counted
	acc1, all1, polls1, err := hooks()
	if err != nil {
		return err
	}
	h.accepted, h.refused, h.polls = acc1-acc0, (all1-all0)-(acc1-acc0), polls1-polls0
	calls := px.since(mark)
	h.calls = callCount{item: "staff note", items: notes, byClass: countByClass(calls)}
	for i := range saved {
		for _, c := range calls {
			if c.class == classRead && c.issueID == issues[i%h.issues] && !c.start.Before(saved[i]) {
				if seen := saved[i].Add(h.pass[i] - h.raw[i]); c.end.Before(seen) {
					h.toFetch = append(h.toFetch, c.start.Sub(saved[i]))
					h.fetch = append(h.fetch, c.end.Sub(c.start))
					h.rest = append(h.rest, seen.Sub(c.end))
				}
				break
			}
		}
	}
	logf("webhook: p50 %s, p95 %s, max %s; PUT p95 %s; %v hooks accepted, %v polls", ms(percentile(h.pass, 50)),
		ms(percentile(h.pass, 95)), ms(percentile(h.pass, 100)), ms(percentile(h.raw, 95)), h.accepted, h.polls)
	return nil
}

// setCategoryProject points one category's rule at another Redmine project
// in a written configuration file (e2e/webhook_test.go does the same).
func setCategoryProject(path, category, project string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("%s: not YAML: %v", path, err)
	}
	value := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; m != nil && m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	cats := value(doc.Content[0], "categories")
	if cats == nil || cats.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s: no categories list", path)
	}
	for _, c := range cats.Content {
		if id := value(c, "id"); id == nil || id.Value != category {
			continue
		}
		p := value(value(c, "redmine"), "project")
		if p == nil {
			return fmt.Errorf("%s: category %s has no redmine.project", path, category)
		}
		*p = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: project}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			return err
		}
		return os.WriteFile(path, out, 0o600)
	}
	return fmt.Errorf("%s: no category %s", path, category)
}

func (r *report) writeWebhook(b *bytes.Buffer) {
	h := r.hook
	b.WriteString("### 4 with the webhook plugin\n\n")
	if h.skipped != "" {
		fmt.Fprintf(b, "Skipped in this run: %s.\n\n", h.skipped)
		return
	}
	if h.failed != "" {
		fmt.Fprintf(b, "Failed in this run (the run went on): %s.\n\n", h.failed)
		return
	}
	p95, raw95 := percentile(h.pass, 95), percentile(h.raw, 95)
	goal := time.Second + raw95
	fmt.Fprintf(b, `A second deployment of the daemon, set up as e2e/webhook_test.go sets up its own: it listens on
127.0.0.1:%s, where the stack's project %s has its Webhook row (the real redmine_webhook plugin, vendored in
third_party/, posting to `+"`/hooks/redmine?token=`"+` with the secret the stack's configuration names in
webhooks.redmine_secret_file); its category "autre" files into that project; redmine.poll_interval is %s, so only
the webhook can make a note fast. %d public staff notes on %d mirrored requests, each added through Redmine's REST
API with a staff member's key at a random moment of a %s window (several may overlap), timed until
`+"`GET /api/v1/requests/{id}`"+` shows it (the client reads every 50 ms). Raw: Redmine's own PUT, timed by the
staff client (the plugin posts from a thread of its own after the save: the PUT does not wait for it).

| | p50 | p95 | max |
| --- | --- | --- | --- |
| staff note saved → visible through the API | %s | %s | %s |
| Redmine's PUT /issues/N.json | %s | %s | %s |

Goal p95 ≤ 1 s + Redmine's own p95 = %s: %s.`, h.port, h.project, hookPoll, h.notes, h.issues, h.window,
		ms(percentile(h.pass, 50)), ms(p95), ms(percentile(h.pass, 100)),
		ms(percentile(h.raw, 50)), ms(raw95), ms(percentile(h.raw, 100)), ms(goal), met(p95 <= goal && h.missed == 0))
	if len(h.fetch) > 0 {
		pp := func(ds []time.Duration) string { return ms(percentile(ds, 50)) + " / " + ms(percentile(ds, 95)) }
		fmt.Fprintf(b, `

Where the time goes (p50 / p95 of the %d notes whose re-fetch the proxy saw before the client did): the
PUT answered → the daemon's read of the issue begins (the plugin's POST from its thread, the hook's answer, River
picking the job up) %s; that read (at the proxy) %s; its end → visible to the client (applying it, the client's
next read) %s.`, len(h.fetch), pp(h.toFetch), pp(h.fetch), pp(h.rest))
	}
	if h.missed > 0 {
		fmt.Fprintf(b, " %d of the notes were not visible within %s (counted as %s).", h.missed, hookBound, hookBound)
	}
	echo := fmt.Sprintf(": %.0f calls of the hook for %d notes", h.accepted+h.refused, h.notes)
	if h.accepted+h.refused == float64(h.notes) {
		echo = ": one call of the hook per note, none for those writes"
	}
	fmt.Fprintf(b, `

During the notes the deployment answered %.0f calls of /hooks/redmine 202 and %.0f otherwise
(passerelle_webhook_calls_total), made %.2f Redmine calls per note at the proxy (%s: the reads are the re-fetches
the nudges ask for; a PUT is the daemon's own write a note causes, the "Échéance réponse" field cleared once an
issue has its first public answer, sent with X-Skip-Webhooks%s) and ran %.0f polls (passerelle_poll_duration_seconds_count; 0 means every figure above is the webhook's).

![Redmine to client, webhook](%s/latency-back-webhook.png)

`, h.accepted, h.refused, h.calls.perItem(), h.calls.describe(), echo, h.polls, chartDir)
}
