package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// call is one HTTP call the daemon made to Redmine, seen by the proxy.
type call struct {
	class      string
	start, end time.Time
	status     int
	// reference is the "Réf. espace client" value of an issue creation.
	reference string
	// issueID is the issue a call is about (/issues/N.json), or the one a
	// creation made.
	issueID int
	// total is a list's total_count (the issues matching its filter).
	total int
	// adopted is a search by reference that found the issue (reference,
	// issueID): the daemon takes over an earlier attempt's issue.
	adopted bool
}

// countingProxy is a reverse proxy in front of Redmine that records every
// call the daemon makes (the daemon's redmine.url points at it).
type countingProxy struct {
	url   string
	cf    int
	srv   *http.Server
	mu    sync.Mutex
	calls []call
	// created is each reference's successful creation; waiters are the
	// awaitCreated calls still waiting for theirs.
	created map[string]call
	waiters map[string][]chan call
}

var issuePath = regexp.MustCompile(`^/issues/(\d+)\.json$`)

// classify names a Redmine call by what it does.
func classify(r *http.Request) string {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/issues.json":
		return "create issue (POST /issues.json)"
	case r.Method == http.MethodPost && p == "/uploads.json":
		return "upload (POST /uploads.json)"
	case r.Method == http.MethodPut && issuePath.MatchString(p):
		return "update issue (PUT /issues/N.json)"
	case r.Method == http.MethodGet && issuePath.MatchString(p):
		return "read issue (GET /issues/N.json)"
	case r.Method == http.MethodGet && p == "/issues.json":
		for k := range r.URL.Query() {
			if strings.HasPrefix(k, "cf_") && r.URL.Query().Get("updated_on") == "" {
				return "search by custom field (GET /issues.json?cf_N=)"
			}
		}
		if o := r.URL.Query().Get("offset"); o != "" && o != "0" {
			return classListMore
		}
		return classList
	}
	return r.Method + " " + p
}

// startProxy listens on a free loopback port and forwards to target.
func startProxy(target string, referenceCF int) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parsing Redmine's URL: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the counting proxy: %w", err)
	}
	p := &countingProxy{url: "http://" + l.Addr().String(), cf: referenceCF,
		created: map[string]call{}, waiters: map[string][]chan call{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := call{class: classify(r), start: time.Now()}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if c.class == classList || c.class == classListMore || c.class == classSearch {
			sw.keep = &bytes.Buffer{}
		}
		if c.class == classCreate {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			c.reference = p.referenceOf(body)
			sw.keep = &bytes.Buffer{}
		}
		if m := issuePath.FindStringSubmatch(r.URL.Path); m != nil {
			c.issueID, _ = strconv.Atoi(m[1])
		}
		rp.ServeHTTP(sw, r)
		c.end, c.status = time.Now(), sw.status
		if sw.keep != nil {
			var out struct {
				Issue struct {
					ID int `json:"id"`
				} `json:"issue"`
				Issues []struct {
					ID int `json:"id"`
				} `json:"issues"`
				TotalCount int `json:"total_count"`
			}
			if json.Unmarshal(sw.keep.Bytes(), &out) == nil {
				c.issueID, c.total = out.Issue.ID, out.TotalCount
				// A search by the reference that finds the issue: the
				// daemon adopts an earlier attempt's (a POST it gave up
				// waiting for, which Redmine still carried out).
				if c.class == classSearch && c.status == http.StatusOK && len(out.Issues) > 0 {
					c.issueID, c.reference, c.adopted = out.Issues[0].ID, r.URL.Query().Get("cf_"+strconv.Itoa(p.cf)), true
				}
			}
		}
		p.mu.Lock()
		p.calls = append(p.calls, c)
		if c.reference != "" && (c.adopted || c.class == classCreate && c.status == http.StatusCreated) {
			if _, dup := p.created[c.reference]; !dup {
				p.created[c.reference] = c
			}
			for _, w := range p.waiters[c.reference] {
				w <- c
			}
			delete(p.waiters, c.reference)
		}
		p.mu.Unlock()
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// referenceOf finds the reference custom field in an issue creation body.
func (p *countingProxy) referenceOf(body []byte) string {
	var in struct {
		Issue struct {
			CustomFields []struct {
				ID    int `json:"id"`
				Value any `json:"value"`
			} `json:"custom_fields"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &in) != nil {
		return ""
	}
	for _, f := range in.Issue.CustomFields {
		if f.ID == p.cf {
			s, _ := f.Value.(string)
			return s
		}
	}
	return ""
}

// mark returns the number of calls so far (to take the calls since).
func (p *countingProxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// since returns the calls recorded after mark m.
func (p *countingProxy) since(m int) []call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]call(nil), p.calls[m:]...)
}

// awaitCreated waits until Redmine answered 201 to the creation of the
// issue carrying reference, or a search by that reference found it (the
// daemon adopting what an attempt it gave up on created: then the call is
// the search, and the issue existed earlier), at once if either happened.
func (p *countingProxy) awaitCreated(ctx context.Context, reference string) (call, error) {
	p.mu.Lock()
	if c, ok := p.created[reference]; ok {
		p.mu.Unlock()
		return c, nil
	}
	w := make(chan call, 1)
	p.waiters[reference] = append(p.waiters[reference], w)
	p.mu.Unlock()
	select {
	case c := <-w:
		return c, nil
	case <-ctx.Done():
		return call{}, fmt.Errorf("waiting for the issue of %s: %w", reference, ctx.Err())
	}
}

// close stops the proxy.
func (p *countingProxy) close() { _ = p.srv.Close() }

type statusWriter struct {
	http.ResponseWriter
	status int
	// keep, when set, receives a copy of the body.
	keep *bytes.Buffer
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.keep != nil {
		w.keep.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// countByClass counts calls by class.
func countByClass(calls []call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.class]++
	}
	return out
}
