package bridge

import (
	"testing"
	"time"
)

// When a poll re-reads the overlap (poller_wide.go): the cursor is the
// previous poll's Redmine clock, wide the previous re-read's.
func TestWideDue(t *testing.T) {
	wide := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	const overlap = 2 * time.Minute
	cases := []struct {
		name    string
		cursor  time.Time
		overlap time.Duration
		want    bool
	}{
		{"just re-read", wide, overlap, false},
		{"a second short of an overlap", wide.Add(overlap - time.Second), overlap, false},
		{"an overlap after the re-read", wide.Add(overlap), overlap, true},
		{"an hour after (the daemon was stopped)", wide.Add(time.Hour), overlap, true},
		{"an overlap as wide as the tight window: every poll reads it, no re-read", wide.Add(time.Hour), tightWindow, false},
		{"an overlap narrower than the tight window", wide.Add(time.Hour), time.Second, false},
		{"a cursor before the re-read (never moved back, but read as not due)", wide.Add(-time.Hour), overlap, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := wideDue(c.cursor, wide, c.overlap); got != c.want {
				t.Errorf("wideDue(cursor %s after the re-read, overlap %s) = %v, want %v", c.cursor.Sub(wide), c.overlap, got, c.want)
			}
		})
	}
}

// The tight window is a few seconds, never wider than the overlap.
func TestTightWidth(t *testing.T) {
	cases := []struct {
		name    string
		overlap time.Duration
		want    time.Duration
	}{
		{"the default overlap", 2 * time.Minute, tightWindow},
		{"an overlap of the tight window", tightWindow, tightWindow},
		{"a narrower overlap", time.Second, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tightWidth(c.overlap); got != c.want {
				t.Errorf("tightWidth(%s) = %s, want %s", c.overlap, got, c.want)
			}
		})
	}
}
