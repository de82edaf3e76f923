package fr

import (
	"html/template"
	"strings"
	"testing"
	"time"
)

func TestFrenchFormats(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 18, 0, 0, 0, paris)
	first := time.Date(2026, 6, 1, 9, 30, 12, 0, paris)
	cases := []struct {
		name, got, want string
	}{
		{"long date on the hour", LongDateTime(at), "mardi 24 novembre à 18 h"},
		{"long date, the 1st, with minutes", LongDateTime(first), "lundi 1er juin à 9 h 30"},
		{"short date time", ShortDateTime(at), "mar. 24/11/2026 18:00"},
		{"short date time of nothing", ShortDateTime(time.Time{}), "—"},
		{"date", Date(first), "01/06/2026"},
		{"clock", Clock(first), "09:30"},
		{"minutes only", HoursMinutes(45 * time.Minute), "45 min"},
		{"whole hours", HoursMinutes(3 * time.Hour), "3 h"},
		{"hours and minutes", HoursMinutes(2*time.Hour + 5*time.Minute + 20*time.Second), "2 h 05"},
		{"more than a day in hours", HoursMinutes(27*time.Hour + 30*time.Minute), "27 h 30"},
		{"days", DaysHoursMinutes(63*time.Hour + 0*time.Minute), "2 j 15 h 00"},
		{"negative", DaysHoursMinutes(-65 * time.Minute), "-1 h 05"},
		{"weekday and month", Weekday(time.Sunday) + " " + Month(time.August), "dimanche août"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	var b strings.Builder
	tpl := template.Must(template.New("t").Funcs(FuncMap()).Parse(`{{frLong .}} ({{frDate .}})`))
	if err := tpl.Execute(&b, at); err != nil || b.String() != "mardi 24 novembre à 18 h (24/11/2026)" {
		t.Errorf("template: %q, %v", b.String(), err)
	}
}
