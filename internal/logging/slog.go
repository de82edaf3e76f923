// Package logging holds what the product's one logger (logrus, JSON,
// snake_case fields) needs to take in the output of libraries that log
// through log/slog, such as River.
package logging

import (
	"context"
	"log/slog"
	"strings"

	"github.com/sirupsen/logrus"
)

// SlogHandler is a slog.Handler writing into a logrus logger, so a library's
// lines come out in the product's format and obey its log_level. Levels map
// as debug → debug, info → info, warn → warning, error → error; attributes
// become fields (groups joined with "_"), and the given component is a field
// of every line.
type SlogHandler struct {
	log    *logrus.Logger
	fields logrus.Fields
	group  string
}

// NewSlogHandler returns a handler writing into log, each line tagged with
// component (for example "river").
func NewSlogHandler(log *logrus.Logger, component string) *SlogHandler {
	return &SlogHandler{log: log, fields: logrus.Fields{"component": component}}
}

// Enabled reports whether the logrus logger would write a line of that level.
func (h *SlogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.IsLevelEnabled(logrusLevel(l))
}

// Handle writes one record.
func (h *SlogHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make(logrus.Fields, len(h.fields)+r.NumAttrs())
	for k, v := range h.fields {
		fields[k] = v
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(fields, h.group, a)
		return true
	})
	e := h.log.WithFields(fields)
	if !r.Time.IsZero() {
		e = e.WithTime(r.Time)
	}
	e.Log(logrusLevel(r.Level), r.Message)
	return nil
}

// WithAttrs returns a handler adding attrs to every line.
func (h *SlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	next := &SlogHandler{log: h.log, fields: make(logrus.Fields, len(h.fields)+len(attrs)), group: h.group}
	for k, v := range h.fields {
		next.fields[k] = v
	}
	for _, a := range attrs {
		addAttr(next.fields, h.group, a)
	}
	return next
}

// WithGroup returns a handler prefixing the next attributes' keys with name.
func (h *SlogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &SlogHandler{log: h.log, fields: h.fields, group: joinKey(h.group, name)}
}

func addAttr(fields logrus.Fields, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := joinKey(group, a.Key)
		for _, sub := range a.Value.Group() {
			addAttr(fields, g, sub)
		}
		return
	}
	key := joinKey(group, a.Key)
	if key == "msg" || key == "level" || key == "time" {
		key = "attr_" + key // never overwrite logrus' own fields
	}
	fields[key] = a.Value.Any()
}

func joinKey(group, key string) string {
	key = strings.ReplaceAll(key, ".", "_")
	if group == "" {
		return key
	}
	return group + "_" + key
}

func logrusLevel(l slog.Level) logrus.Level {
	switch {
	case l >= slog.LevelError:
		return logrus.ErrorLevel
	case l >= slog.LevelWarn:
		return logrus.WarnLevel
	case l >= slog.LevelInfo:
		return logrus.InfoLevel
	default:
		return logrus.DebugLevel
	}
}
