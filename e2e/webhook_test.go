package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"passerelle/internal/testenv"
)

// fastPathBound is the promise of the webhook fast path: a staff note is
// visible to the client this soon after the staff member saves it.
const fastPathBound = 2 * time.Second

// TestWebhookPluginFastPath drives the real redmine_webhook plugin (0.0.5,
// vendored in third_party/ and installed by `make stack`) end to end, with
// the poll interval set to 5 minutes so that only a webhook can be fast:
//
//   - a tenant's request becomes an issue of the stack's webhook project
//     (WEBHOOK_E2E_PROJECT), whose Webhook row points at
//     http://127.0.0.1:$WEBHOOK_E2E_PORT/hooks/redmine?token=<secret>, where
//     this test runs its serve;
//   - each public staff note made through Redmine's REST API is visible to
//     the client in under 2 s (the figures are logged), with no poll between
//     the note and its arrival;
//   - Passerelle's own writes (the issue's creation, the client's follow-up
//     mirrored as a note: all sent with X-Skip-Webhooks) cause no webhook at
//     all, counted on serve's /metrics (passerelle_webhook_calls_total) and in
//     its log (one line per call of /hooks/redmine, log_level debug);
//   - a private note does reach /hooks/redmine (the plugin posts for it) and
//     still never reaches the client: the hook's content is never used.
//
// Not parallel: it binds the fixed port, and only one test may.
func TestWebhookPluginFastPath(t *testing.T) {
	v := testenv.Env(t, "WEBHOOK_E2E_PORT", "WEBHOOK_E2E_PROJECT")
	port, project := v[0], v[1]
	d := newDeployment(t)
	requirePortFree(t, port, "WEBHOOK_E2E_PORT, where the stack's webhook project posts")
	addr := "127.0.0.1:" + port
	in := d.writeConfig("webhook", map[string]string{
		"listen":                addr,
		"public_url":            "http://" + addr,
		"redmine.poll_interval": "5m",
		"log_level":             "debug", // every call of /hooks/redmine logs a line, even an ignored one
	})
	in.baseURL = "http://" + addr
	setCategoryProject(t, in.path, "autre", project)
	d.migrate(in)
	srv := d.serve(in)
	rm := newStaff(t, d.st)

	// The poll at start (RunOnStart) is over before anything is measured; no
	// other poll may run until the end (the next one is 5 minutes away).
	var polls float64
	waitUntil(t, 60*time.Second, "serve's first poll (run on start)", func() (bool, string) {
		polls = scrapeMetrics(t, srv.in.adminURL).sum("passerelle_poll_duration_seconds_count", "")
		return polls >= 1, fmt.Sprintf("%v polls", polls)
	})

	tenant := newTenant(t)
	req := tenant.create(srv.in.baseURL, "Interphone muet", "L'interphone du hall B ne sonne plus chez moi.")
	issue := tenant.waitIssue(srv.in.baseURL, req.ID, 60*time.Second)
	if got := issueProject(t, rm, issue); got != project {
		t.Fatalf("issue #%d is in project %q, want %q (the category rule was not applied)", issue, got, project)
	}
	t.Logf("request %s is issue #%d in project %s; serve listens on %s", req.Reference, issue, project, addr)

	// Passerelle's own writes so far (the POST that created the issue, any
	// update of its deadline field) carry X-Skip-Webhooks: nothing posted.
	time.Sleep(2 * time.Second)
	hooks := func() hookCount { return countHooks(t, srv) }
	if h := hooks(); h.total() != 0 || h.logLines != 0 {
		t.Fatalf("Passerelle's own writes caused webhook calls: %s", h)
	}

	// Public staff notes: each visible to the client in under 2 s.
	var figures []time.Duration
	for i := 1; i <= 3; i++ {
		note := fmt.Sprintf("Le technicien passe demain entre 9 h et 11 h. (%s note %d)", d.prefix, i)
		start := time.Now()
		rm.addNote(issue, note, false)
		seen := eventually(10*time.Second, func() (bool, string) {
			return tenant.get(srv.in.baseURL, req.ID).countBodies(note) == 1, ""
		})
		took := time.Since(start)
		if !seen {
			t.Fatalf("staff note %d not visible to the client 10 s after it was saved; calls of /hooks/redmine: %s\n"+
				"Is the redmine_webhook plugin installed (make stack) and the Webhook of project %s pointing at "+
				"http://%s/hooks/redmine?token=<the stack's secret>?\n%s",
				i, hooks(), project, addr, threadSummary(tenant.get(srv.in.baseURL, req.ID)))
		}
		figures = append(figures, took)
		t.Logf("staff note %d visible to the client %s after the staff's save (bound %s, poll interval 5m)",
			i, took.Round(time.Millisecond), fastPathBound)
		if took >= fastPathBound {
			t.Errorf("staff note %d took %s to reach the client, want under %s", i, took.Round(time.Millisecond), fastPathBound)
		}
		waitUntil(t, 5*time.Second, fmt.Sprintf("%d accepted call(s) of /hooks/redmine", i), func() (bool, string) {
			h := hooks()
			return h.accepted == float64(i) && h.total() == float64(i) && h.logLines == i, h.String()
		})
	}
	t.Logf("fast path: %s", durationStats(figures))

	// The client's follow-up, mirrored by Passerelle as a note (with
	// X-Skip-Webhooks): zero webhook calls.
	before := hooks()
	followBody := fmt.Sprintf("Merci, je serai là. (%s réponse)", d.prefix)
	msgID := tenant.followUp(srv.in.baseURL, req.ID, followBody)
	waitUntil(t, syncBound, "the follow-up mirrored as a note in Redmine", func() (bool, string) {
		n := len(rm.issue(issue).notesContaining(followBody))
		return n == 1, fmt.Sprintf("%d notes", n)
	})
	time.Sleep(3 * time.Second) // the plugin posts within milliseconds of a save
	if after := hooks(); after != before {
		t.Errorf("the follow-up %s (Passerelle's write, X-Skip-Webhooks) caused webhook calls: before %s, after %s",
			msgID, before, after)
	}

	// A private note: the plugin posts it too; the client never sees it.
	private := fmt.Sprintf("Interne : relancer le syndic, facture 312 €. (%s note privée)", d.prefix)
	rm.addNote(issue, private, true)
	waitUntil(t, 5*time.Second, "the private note's webhook call", func() (bool, string) {
		h := hooks()
		return h.accepted == 4 && h.logLines == 4, h.String()
	})
	time.Sleep(2 * time.Second) // the re-fetch it nudged has run

	// Counts.
	if p := scrapeMetrics(t, srv.in.adminURL).sum("passerelle_poll_duration_seconds_count", ""); p != polls {
		t.Errorf("%v poll(s) ran during the test: the figures above may not be the webhook's", p-polls)
	}
	if n := len(tenant.list(srv.in.baseURL)); n != 1 {
		t.Errorf("the tenant has %d requests, want 1", n)
	}
	if n := len(rm.issuesOfReference(req.Reference)); n != 1 {
		t.Errorf("%d issues carry %s, want 1", n, req.Reference)
	}
	if n := len(rm.issue(issue).notesContaining(followBody)); n != 1 {
		t.Errorf("the follow-up is %d notes in Redmine, want 1", n)
	}
	r := tenant.get(srv.in.baseURL, req.ID)
	if n := len(r.staffMessages()); n != 3 {
		t.Errorf("the client sees %d staff messages, want 3\n%s", n, threadSummary(r))
	}
	for i := 1; i <= 3; i++ {
		if n := r.countBodies(fmt.Sprintf("(%s note %d)", d.prefix, i)); n != 1 {
			t.Errorf("staff note %d shown %d times, want once\n%s", i, n, threadSummary(r))
		}
	}
	if n := r.countBodies(followBody); n != 1 {
		t.Errorf("the follow-up shown %d times, want once (no echo)\n%s", n, threadSummary(r))
	}
	if n := r.countBodies("note privée") + r.countBodies("312 €"); n != 0 {
		t.Errorf("the private note reached the client (%d times)\n%s", n, threadSummary(r))
	}
	h := hooks()
	if h.accepted != 4 || h.total() != 4 || h.logLines != 4 {
		t.Errorf("calls of /hooks/redmine: %s, want 4 accepted (3 public notes, 1 private), nothing else", h)
	}
	t.Logf("counts: 1 request, 1 issue, follow-up 1 note, client sees 3 staff notes + 1 follow-up, "+
		"0 private; /hooks/redmine: %s (Passerelle's writes: 0)", h)
}

// requirePortFree fails the test when something already listens on a
// fixed port the stack points at (why says what points there).
func requirePortFree(t *testing.T, port, why string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("port %s (%s) is not free: %v", port, why, err)
	}
	l.Close()
}

// setCategoryProject points one category's rule at another Redmine project
// in a written configuration file.
func setCategoryProject(t *testing.T, path, category, project string) {
	t.Helper()
	doc := readYAML(t, path)
	root := doc.Content[0]
	var cats *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "categories" {
			cats = root.Content[i+1]
		}
	}
	if cats == nil || cats.Kind != yaml.SequenceNode {
		t.Fatalf("%s: no categories list", path)
	}
	value := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	for _, c := range cats.Content {
		if id := value(c, "id"); id == nil || id.Value != category {
			continue
		}
		p := value(value(c, "redmine"), "project")
		if p == nil {
			t.Fatalf("%s: category %s has no redmine.project", path, category)
		}
		*p = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: project}
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s: no category %s", path, category)
}

// issueProject returns the identifier of an issue's project, as staff see it.
func issueProject(t *testing.T, rm *staff, issueID int) string {
	t.Helper()
	var out struct {
		Issue struct {
			Project struct {
				ID int `json:"id"`
			} `json:"project"`
		} `json:"issue"`
	}
	status, raw, err := rm.call(http.MethodGet, "/issues/"+strconv.Itoa(issueID)+".json", nil, nil, &out)
	if err != nil || status != http.StatusOK {
		t.Fatalf("staff: GET issue %d: HTTP %d %v %.300s", issueID, status, err, raw)
	}
	var p struct {
		Project struct {
			Identifier string `json:"identifier"`
		} `json:"project"`
	}
	status, raw, err = rm.call(http.MethodGet, "/projects/"+strconv.Itoa(out.Issue.Project.ID)+".json", nil, nil, &p)
	if err != nil || status != http.StatusOK {
		t.Fatalf("staff: GET project %d: HTTP %d %v %.300s", out.Issue.Project.ID, status, err, raw)
	}
	return p.Project.Identifier
}

// metrics is one scrape of /metrics: "name{labels}" → value.
type metrics map[string]float64

// scrapeMetrics reads serve's /metrics (Prometheus text format).
func scrapeMetrics(t *testing.T, base string) metrics {
	t.Helper()
	resp, err := apiHTTP.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET %s/metrics: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: HTTP %d", base, resp.StatusCode)
	}
	out := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s/metrics: %v", base, err)
	}
	return out
}

// sum adds the series of a metric whose labels contain every given
// `key="value"` pair (comma-separated).
func (m metrics) sum(name, labels string) float64 {
	var total float64
	for series, v := range m {
		n, rest, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range strings.Split(labels, ",") {
			if l != "" && !strings.Contains(rest, l) {
				ok = false
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// hookCount is how many times /hooks/redmine was called, two ways: the
// metric (passerelle_webhook_calls_total{hook="redmine"}, by status; an
// accepted call for an issue Passerelle does not mirror is not counted
// there) and serve's log lines for that hook (one per call at log_level
// debug).
type hookCount struct {
	accepted float64 // status 202
	refused  float64 // any other status
	logLines int
}

func (h hookCount) total() float64 { return h.accepted + h.refused }

func (h hookCount) String() string {
	return fmt.Sprintf("metric: %v accepted, %v refused; log: %d lines", h.accepted, h.refused, h.logLines)
}

// countHooks counts the calls of /hooks/redmine one replica has received.
func countHooks(t *testing.T, r *replica) hookCount {
	t.Helper()
	m := scrapeMetrics(t, r.in.adminURL)
	all := m.sum("passerelle_webhook_calls_total", `hook="redmine"`)
	accepted := m.sum("passerelle_webhook_calls_total", `hook="redmine",status="202"`)
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return hookCount{accepted: accepted, refused: all - accepted, logLines: bytes.Count(data, []byte(`"hook":"redmine"`))}
}

// durationStats writes min, median and max of a few figures.
func durationStats(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%d staff notes, min %s, median %s, max %s (%s)", len(s), s[0].Round(time.Millisecond),
		s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond), strings.Join(parts, ", "))
}
