package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// pageSeries is the chart of section 7.
func (r *report) pageSeries() []series {
	var out []series
	for _, p := range r.seeded.pages {
		out = append(out, series{p.name, p.lat})
	}
	if len(r.seeded.rawList.lat) > 0 {
		out = append(out, series{"Redmine's issue list (staff)", r.seeded.rawList.lat})
	}
	if len(out) > 4 {
		// The palette has four colours: keep the API list, the dashboard
		// and Redmine's list.
		out = []series{out[0], out[2], out[len(out)-1]}
	}
	return out
}

func (r *report) writeSeeded(b *bytes.Buffer) {
	s := r.seeded
	if s.requests == 0 {
		b.WriteString("## 6. Overdue sweep and 7. Pages and API\n\nSkipped in this run (-seed \"\").\n\n")
		return
	}
	var total, totalWall time.Duration
	for _, q := range s.queries {
		total += q.exec
		totalWall += q.wall
	}
	fmt.Fprintf(b, `## 6. Overdue sweep over %d open requests

A deployment's database seeded by bench/seed.go with COPY: %d open requests of %d clients (10 each; one of them a
real Kratos tenant, for section 7), each with its client message and acknowledgment, "mirrored" to issue numbers
Redmine does not have, and an up-to-date deadline computation (the rules version the daemon itself wrote for its
warm-up request), no alert due: the watcher's steady state. Seeding took %s; dropping the throwaway database at
the end removes it. A watcher run (deadlines/watcher.go RunOnce) makes these %d queries when nothing is due; each is
EXPLAINed with ANALYZE and BUFFERS on that database, then run five times from a plain client (median).

| query | EXPLAIN ANALYZE execution | median of 5 runs |
| --- | --- | --- |
`, s.requests, s.requests, s.clients, s.seedTime.Round(time.Millisecond), len(s.queries))
	for _, q := range s.queries {
		fmt.Fprintf(b, "| %s | %.1f ms | %.1f ms |\n", q.name, float64(q.exec)/1e6, float64(q.wall)/1e6)
	}
	fmt.Fprintf(b, "| **the sweep** | **%.1f ms** | **%.1f ms** |\n\n", float64(total)/1e6, float64(totalWall)/1e6)
	fmt.Fprintf(b, "Goal: one indexed query, under 100 ms. Queries: %d (%s); time %s (%s).\n\n",
		len(s.queries), met(len(s.queries) == 1), ms(totalWall), met(totalWall < 100*time.Millisecond))
	for _, q := range s.queries {
		fmt.Fprintf(b, "<details><summary>EXPLAIN (ANALYZE, BUFFERS): %s</summary>\n\n```sql\n%s\n```\n\n```\n%s\n```\n</details>\n\n",
			q.name, strings.Join(strings.Fields(q.sql), " "), q.plan)
	}
	fmt.Fprintf(b, `## 7. Pages and API with %d requests from %d clients

The same database, the daemon restarted on it; one seeded client (10 requests) reads with its Kratos session cookie,
%d clients at once. Raw: Redmine's own list of one user's issues (the alternative of giving clients Redmine
accounts): the staff member's assigned issues, 25 a page (%d issues match).

| | calls | p50 | p95 | requests/s | ratio to Redmine's requests/s | goal ≥ 10×, p95 < 50 ms |
| --- | --- | --- | --- | --- | --- | --- |
`, s.requests, s.clients, s.rawList.concurrency, s.rawListTotal)
	for _, p := range s.pages {
		ratio := p.perSec / s.rawList.perSec
		p95 := percentile(p.lat, 95)
		fmt.Fprintf(b, "| %s | %d | %s | %s | %.0f | %.1f× | %s |\n", p.name, len(p.lat), ms(percentile(p.lat, 50)), ms(p95), p.perSec, ratio,
			met(ratio >= 10 && p95 < 50*time.Millisecond))
	}
	fmt.Fprintf(b, "| %s | %d | %s | %s | %.1f | 1× | |\n\n![pages](%s/pages.png)\n\n", s.rawList.name, len(s.rawList.lat),
		ms(percentile(s.rawList.lat, 50)), ms(percentile(s.rawList.lat, 95)), s.rawList.perSec, chartDir)
}

// writeGrowth is section 9: how each cost grows with the seeded size.
func (r *report) writeGrowth(b *bytes.Buffer) {
	b.WriteString("## 9. Cost growth\n\n")
	r.writeLoad(b)
	if len(r.growth) == 0 {
		b.WriteString("Idle cost against the seeded size: skipped in this run (-seed \"\").\n\n")
		return
	}
	b.WriteString(`**Against the seeded size.** Each size is its own deployment, seeded as in section 6 (10 requests per client), measured as in sections 5–7.
Redmine's side does not grow with Passerelle's database (the seeded issues are not in Redmine): the Redmine calls per
poll cycle depend on how many issues carrying a reference changed within the poll's window (a few seconds; the whole
poll overlap, 2 min, in the cycle that re-reads it), across the whole shared Redmine ("listed").

| requests (clients) | seeding (COPY) | watcher sweep, 4 queries | stale-requests query | GET /api/v1/requests p95 | dashboard p95 | idle: Redmine calls per cycle (listed) | idle: DB transactions per cycle |
| --- | --- | --- | --- | --- | --- | --- | --- |
`)
	for _, s := range r.growth {
		var sweep time.Duration
		for _, q := range s.queries {
			sweep += q.wall
		}
		stale := time.Duration(0)
		if len(s.queries) > 0 {
			stale = s.queries[0].wall
		}
		api, dash := time.Duration(0), time.Duration(0)
		if len(s.pages) >= 3 {
			api, dash = percentile(s.pages[0].lat, 95), percentile(s.pages[2].lat, 95)
		}
		fmt.Fprintf(b, "| %d (%d) | %s | %.1f ms | %.1f ms | %s | %s | %.2f (%d) | %.1f |\n", s.requests, s.clients,
			s.seedTime.Round(time.Millisecond), float64(sweep)/1e6, float64(stale)/1e6, ms(api), ms(dash),
			s.idle.perCycle(), s.idle.listed, float64(s.idle.xacts)/float64(max(s.idle.cycles, 1)))
	}
	b.WriteString("\nRiver's jobs at the end of each idle window (not completed, or completed within the last minute):\n\n")
	for _, s := range r.growth {
		fmt.Fprintf(b, "- %d requests: %s\n", s.requests, s.idle.jobs)
	}
	b.WriteString("\n")
}
