package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Helpers of the scenarios of quiet_test.go, replicas_test.go and
// leader_test.go: files sent as a browser does, issues read with their
// attachments, time-bounded visibility, the River leader of a deployment.

// ---- files ---------------------------------------------------------------------

// photoPNG returns a small real PNG picture (a gradient, w×h pixels).
func photoPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, gradient(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// photoJPEG returns a small real JPEG picture (a gradient, w×h pixels).
func photoJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, gradient(w, h), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gradient(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(255 * x / w), G: uint8(255 * y / h), B: 128, A: 255})
		}
	}
	return img
}

// clientFile is a file a client attaches.
type clientFile struct {
	name string
	data []byte
}

// createWithFiles files a request as the browser form does
// (multipart/form-data: the fields, and each file in a part named
// "attachments") and expects 201.
func (c *customer) createWithFiles(base string, fields map[string]string, files []clientFile) apiRequest {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile("attachments", f.name)
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/requests", &body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Session-Token", c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := apiHTTP.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s/api/v1/requests (multipart): %v", base, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST %s/api/v1/requests (multipart, %d files): HTTP %d, want 201: %.500s", base, len(files), resp.StatusCode, buf.Bytes())
	}
	var r apiRequest
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil || r.ID == "" {
		c.t.Fatalf("created request unreadable (%v): %.500s", err, buf.Bytes())
	}
	return r
}

// download fetches one attachment of the client's thread (its API url).
func (c *customer) download(base, path string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Session-Token", c.token)
	resp, err := apiHTTP.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// ---- Redmine, as staff -----------------------------------------------------------

// rmAttachment is one file of an issue as Redmine lists it.
type rmAttachment struct {
	ID          int    `json:"id"`
	Filename    string `json:"filename"`
	Filesize    int64  `json:"filesize"`
	ContentType string `json:"content_type"`
}

// issueAttachments reads the files attached to an issue.
func (s *staff) issueAttachments(issueID int) []rmAttachment {
	s.t.Helper()
	var out struct {
		Issue struct {
			Attachments []rmAttachment `json:"attachments"`
		} `json:"issue"`
	}
	status, raw, err := s.call(http.MethodGet, "/issues/"+strconv.Itoa(issueID)+".json", url.Values{"include": {"attachments"}}, nil, &out)
	if err != nil || status != http.StatusOK {
		s.t.Fatalf("staff: GET issue %d with attachments: HTTP %d %v %.300s", issueID, status, err, raw)
	}
	return out.Issue.Attachments
}

// ---- time bounds --------------------------------------------------------------------

// visibleBound is how long a staff change made in Redmine may take to show
// to the client on a quiet system: one poll interval and 2 s (issue 9,
// scenario 1).
const visibleBound = pollInterval + 2*time.Second

// waitSince is waitUntil with the bound counted from since (the moment of
// the write being waited for) rather than from the call; it returns how
// long after since the condition held.
func waitSince(t *testing.T, since time.Time, bound time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	left := time.Until(since.Add(bound))
	if left < 0 {
		left = 0
	}
	waitUntil(t, left, fmt.Sprintf("%s (within %s of the write)", what, bound), cond)
	return time.Since(since).Round(10 * time.Millisecond)
}

// ---- the River leader -------------------------------------------------------------

// riverLeader returns the River client id of the deployment's elected
// leader (table river_leader), or "" when there is none right now. Read
// only to find which process to stop, never to assert.
func (d *deployment) riverLeader() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var id string
	err = conn.QueryRow(ctx, `SELECT leader_id FROM river_leader WHERE expires_at > now() LIMIT 1`).Scan(&id)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	return id, err
}

// riverClientStart reads the start time River writes into its default
// client id: HOST_2006_01_02T15_04_05_000000 (UTC), taken when the client
// is created, between the process start and its first /readyz 200.
//
// River fact (river@v0.51.1, client.go defaultClientIDWithHost): the
// default client id is the host name (dots as underscores), "_", then
// time.Now().UTC() formatted "2006_01_02T15_04_05.000000" with the dot
// replaced by an underscore. Passerelle sets no id of its own.
func riverClientStart(id string) (time.Time, error) {
	const layout = "2006_01_02T15_04_05.000000"
	n := len("2006_01_02T15_04_05_000000")
	if len(id) < n+1 {
		return time.Time{}, fmt.Errorf("river client id %q: too short", id)
	}
	stamp := id[len(id)-n:]
	stamp = stamp[:19] + "." + stamp[20:]
	return time.ParseInLocation(layout, stamp, time.UTC)
}

// timedReplica is a replica with the window in which its River client was
// created (from just before its start to its first /readyz 200).
type timedReplica struct {
	*replica
	from, to time.Time
}

// serveTimed starts replicas one after another, recording each one's start
// window, so the River leader's client id names exactly one of them.
func (d *deployment) serveTimed(ins ...instance) []timedReplica {
	d.t.Helper()
	var out []timedReplica
	for _, in := range ins {
		from := time.Now()
		r := d.serve(in)
		out = append(out, timedReplica{replica: r, from: from, to: time.Now()})
		time.Sleep(50 * time.Millisecond) // windows never touch
	}
	return out
}

// leaderOf waits (at most bound) until the deployment has a River leader and
// returns the replica it is, by the client id's time stamp.
func (d *deployment) leaderOf(replicas []timedReplica, bound time.Duration) (int, string) {
	d.t.Helper()
	var (
		idx  = -1
		id   string
		last string
	)
	ok := eventually(bound, func() (bool, string) {
		var err error
		id, err = d.riverLeader()
		if err != nil || id == "" {
			last = fmt.Sprintf("no leader (%v)", err)
			return false, last
		}
		at, err := riverClientStart(id)
		if err != nil {
			last = err.Error()
			return false, last
		}
		for i, r := range replicas {
			if !at.Before(r.from) && !at.After(r.to) {
				idx = i
				return true, ""
			}
		}
		var windows []string
		for _, r := range replicas {
			windows = append(windows, fmt.Sprintf("%s %s–%s", r.in.name, r.from.UTC().Format("15:04:05.000000"), r.to.UTC().Format("15:04:05.000000")))
		}
		last = fmt.Sprintf("leader %s started at %s, in no replica's window (%s)", id, at.Format("15:04:05.000000"), strings.Join(windows, ", "))
		return false, last
	})
	if !ok {
		d.t.Fatalf("no River leader among the replicas within %s: %s", bound, last)
	}
	return idx, id
}

// watcherInterval is how often the deadline watcher runs (a River periodic
// job on the leader, every minute, at once on a new leader: RunOnStart).
const watcherInterval = time.Minute

// alertsOnce tells whether the alert mails of one request are one
// escalation and at most one warning. A one-minute deadline with the
// watcher running every minute may see no run between its warning (75 %)
// and its due time: the watcher then skips the warning (by design, logged
// "deadline first seen past its due time: warning skipped").
func alertsOnce(m map[string][]caughtMail) bool {
	kinds := 0
	for range m {
		kinds++
	}
	return len(m["escalation"]) == 1 && len(m["warning"]) <= 1 && kinds == 1+len(m["warning"])
}
