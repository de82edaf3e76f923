package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestSlogLinesComeOutInTheProductsFormat(t *testing.T) {
	cases := []struct {
		name      string
		logLevel  logrus.Level
		write     func(*slog.Logger)
		wantLines int
		wantLevel string
		wantField map[string]any
	}{
		{"warning kept at info", logrus.InfoLevel, func(l *slog.Logger) { l.Warn("leader lost", "client_id", "a1") },
			1, "warning", map[string]any{"component": "river", "client_id": "a1", "msg": "leader lost"}},
		{"debug dropped at info", logrus.InfoLevel, func(l *slog.Logger) { l.Debug("fetch", "n", 3) }, 0, "", nil},
		{"debug kept at debug", logrus.DebugLevel, func(l *slog.Logger) { l.Debug("fetch", "n", 3) },
			1, "debug", map[string]any{"n": float64(3)}},
		{"info dropped at warn", logrus.WarnLevel, func(l *slog.Logger) { l.Info("started") }, 0, "", nil},
		{"error with group and attrs", logrus.InfoLevel, func(l *slog.Logger) {
			l.With("queue", "default").WithGroup("job").Error("failed", "id", 7, "msg", "boom")
		}, 1, "error", map[string]any{"queue": "default", "job_id": float64(7), "job_msg": "boom"}},
		{"an attribute named like logrus' own fields", logrus.InfoLevel, func(l *slog.Logger) { l.Info("real", "msg", "shadow", "level", "x") },
			1, "info", map[string]any{"msg": "real", "attr_msg": "shadow", "attr_level": "x"}},
		{"group inside a record", logrus.InfoLevel, func(l *slog.Logger) {
			l.Info("elected", slog.Group("leader", "id", "x"))
		}, 1, "info", map[string]any{"leader_id": "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := logrus.New()
			log.SetOutput(&buf)
			log.SetFormatter(&logrus.JSONFormatter{})
			log.SetLevel(tc.logLevel)
			tc.write(slog.New(NewSlogHandler(log, "river")))
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if buf.Len() == 0 {
				lines = nil
			}
			if len(lines) != tc.wantLines {
				t.Fatalf("%d lines, want %d: %q", len(lines), tc.wantLines, buf.String())
			}
			if tc.wantLines == 0 {
				return
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatal(err)
			}
			if got["level"] != tc.wantLevel {
				t.Errorf("level %v, want %s", got["level"], tc.wantLevel)
			}
			for k, v := range tc.wantField {
				if got[k] != v {
					t.Errorf("field %s = %v, want %v (line %s)", k, got[k], v, lines[0])
				}
			}
		})
	}
}
