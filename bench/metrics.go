package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// metrics is one scrape of a daemon's /metrics (Prometheus text format):
// "name{labels}" → value.
type metrics map[string]float64

// scrape reads the daemon's /metrics from its admin listener.
func (d *daemon) scrape(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.adminURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := plainHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s/metrics: %w", d.adminURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: HTTP %d", d.adminURL, resp.StatusCode)
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
		return nil, fmt.Errorf("reading %s/metrics: %w", d.adminURL, err)
	}
	return out, nil
}

// sum adds the series of a metric whose labels contain every given
// `key="value"` pair (comma-separated); ok is false when none matched.
func (m metrics) sum(name, labels string) (total float64, ok bool) {
	for series, v := range m {
		n, rest, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		match := true
		for _, l := range strings.Split(labels, ",") {
			if l != "" && !strings.Contains(rest, l) {
				match = false
			}
		}
		if match {
			total += v
			ok = true
		}
	}
	return total, ok
}
