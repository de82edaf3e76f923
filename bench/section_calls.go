package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// callCount is the Redmine calls of one kind of mirrored item.
type callCount struct {
	item    string
	items   int
	byClass map[string]int
	// polls are the poller's list calls in the same window (idle cost, not
	// the item's).
	polls int
}

// perItem is the calls per item, the poller's left out.
func (c callCount) perItem() float64 {
	total := 0
	for _, v := range c.byClass {
		total += v
	}
	return float64(total) / float64(c.items)
}

// split separates the poller's list calls from an item's calls: a call
// about an issue counts only when the issue is one of the items' (ids),
// others (searches, uploads) all count.
func split(item string, ids map[int]bool, calls []call) callCount {
	c := callCount{item: item, items: len(ids), byClass: map[string]int{}}
	for _, k := range calls {
		switch {
		case k.class == classList || k.class == classListMore:
			c.polls++
		case k.issueID != 0 && !ids[k.issueID]:
		default:
			c.byClass[k.class]++
		}
	}
	return c
}

// describe lists the calls per item by class.
func (c callCount) describe() string {
	var keys []string
	for k := range c.byClass {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(c.byClass[k])/float64(c.items)))
	}
	return strings.Join(parts, "; ")
}

// waitQuiet waits until the proxy saw no call but the poller's for quiet,
// at most bound, and returns the calls since mark.
func (e *env) waitQuiet(mark int, quiet, bound time.Duration) []call {
	began := time.Now()
	deadline := began.Add(bound)
	for time.Now().Before(deadline) {
		calls := e.proxy.since(mark)
		last := began
		for _, c := range calls {
			if c.class != classList && c.class != classListMore && c.end.After(last) {
				last = c.end
			}
		}
		if time.Since(last) > quiet {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return e.proxy.since(mark)
}

// sectionCalls counts the daemon's Redmine calls per mirrored item: the
// burst's requests (no files), requests with files, follow-ups.
func (e *env) sectionCalls(ctx context.Context, r *report, dep *deployment) error {
	// Quiet for more than a poll interval: the poller's echo of each write is in.
	const quiet = 12 * time.Second
	calls := e.waitQuiet(r.full.pass.mark, quiet, 5*time.Minute)
	burstIDs := map[int]bool{}
	for _, c := range calls {
		if c.class == classCreate && c.status == 201 && strings.HasPrefix(c.reference, dep.prefix+"-") {
			burstIDs[c.issueID] = true
		}
	}
	r.calls = append(r.calls, split("request without files (the burst)", burstIDs, calls))
	const k, files = 5, 2
	c := e.customers[1]
	mark := e.proxy.mark()
	var reqs []apiRequest
	ids := map[int]bool{}
	for i := 0; i < k; i++ {
		req, err := c.createWithFiles(ctx, dep.d.baseURL, fmt.Sprintf("avec fichiers %d", i), files)
		if err != nil {
			return err
		}
		id, err := c.waitMirrored(ctx, dep.d.baseURL, req.ID, 2*time.Minute)
		if err != nil {
			return err
		}
		reqs = append(reqs, req)
		ids[id] = true
	}
	r.calls = append(r.calls, split(fmt.Sprintf("request with %d files", files), ids, e.waitQuiet(mark, quiet, 2*time.Minute)))
	mark = e.proxy.mark()
	for i, req := range reqs {
		if err := c.api(ctx, dep.d.baseURL, "POST", "/api/v1/requests/"+req.ID+"/messages",
			map[string]string{"body": fmt.Sprintf("Relance %d", i)}, nil, 201); err != nil {
			return err
		}
	}
	r.calls = append(r.calls, split("follow-up message (no file)", ids, e.waitQuiet(mark, quiet, 2*time.Minute)))
	return nil
}
