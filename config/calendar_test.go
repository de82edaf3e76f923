package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	blockBegin = "# --- calendar and deadlines: BEGIN (issue 5) ---\n"
	blockEnd   = "# --- calendar and deadlines: END ---\n"
)

// withBlock returns example.yaml with the calendar-and-deadlines block
// replaced by block, and the line the block starts on.
func withBlock(t *testing.T, block string) (string, int) {
	t.Helper()
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	a, b := strings.Index(s, blockBegin), strings.Index(s, blockEnd)
	if a < 0 || b < a {
		t.Fatal("example.yaml lost its calendar-and-deadlines markers")
	}
	a += len(blockBegin)
	return s[:a] + block + s[b:], strings.Count(s[:a], "\n") + 1
}

func setSecrets(t *testing.T) {
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "k")
	t.Setenv("PASSERELLE_SMTP_PASSWORD", "p")
	t.Setenv("PASSERELLE_REDMINE_WEBHOOK_SECRET", "test-redmine-webhook-secret-0123456789")
	t.Setenv("PASSERELLE_INBOUND_WEBHOOK_SECRET", "whsec_dGVzdC1pbmJvdW5kLWtleS0wMTIzNDU2Nzg5YWJjZGU=")
}

// parseDoc parses a whole document as Load does, plus the checks of the
// policies against the categories (validateDeadlineRefs) when validate.go
// does not run them itself yet.
func parseDoc(t *testing.T, doc string) (*Config, Problems) {
	t.Helper()
	setSecrets(t)
	cfg, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatalf("Parse: %v", err)
		}
		return nil, ps
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	v := &validator{file: "test.yaml", lines: map[string]int{}}
	v.indexLines(root.Content[0], "")
	cfg.validateDeadlineRefs(v)
	if len(v.problems) > 0 {
		return nil, v.result()
	}
	return cfg, nil
}

// problemCase is a block that must fail: the problem at the block line
// holding mark (its first occurrence), under path, with a message containing
// msg.
type problemCase struct {
	name, block, mark, path, msg string
}

func runProblemCases(t *testing.T, cases []problemCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, start := withBlock(t, tc.block)
			_, ps := parseDoc(t, doc)
			if len(ps) == 0 {
				t.Fatal("accepted, want a problem")
			}
			line := 0
			for i, l := range strings.Split(tc.block, "\n") {
				if strings.Contains(l, tc.mark) {
					line = start + i
					break
				}
			}
			if line == 0 {
				t.Fatalf("mark %q not in the block", tc.mark)
			}
			for _, p := range ps {
				if p.Line == line && p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					if len(ps) > 1 {
						t.Logf("also: %v", ps)
					}
					return
				}
			}
			t.Errorf("got:\n%v\nwant line %d, path %s, message with %q", ps, line, tc.path, tc.msg)
		})
	}
}

func TestCalendarProblems(t *testing.T) {
	runProblemCases(t, []problemCase{
		{"unknown time zone", "calendar:\n  time_zone: Europe/Pariss\n",
			"Europe/Pariss", "calendar.time_zone", `"Europe/Pariss" is not a time zone: expected an IANA name such as Europe/Paris`},
		{"hour 25", "calendar:\n  hours:\n    monday: [\"09:00-25:00\"]\n",
			"monday", "calendar.hours.monday[0]", `"25:00" is not a time: expected HH:MM`},
		{"minutes 60", "calendar:\n  hours:\n    friday:\n      - \"09:00-12:30\"\n      - \"13:60-18:00\"\n",
			"13:60", "calendar.hours.friday[1]", `"13:60" is not a time: expected HH:MM`},
		{"French notation", "calendar:\n  hours:\n    tuesday: [9h-18h]\n",
			"tuesday", "calendar.hours.tuesday[0]", `"9h" is not a time: expected HH:MM`},
		{"not a range", "calendar:\n  hours:\n    tuesday: [\"09:00\"]\n",
			"tuesday", "calendar.hours.tuesday[0]", `"09:00" is not a range of hours: expected HH:MM-HH:MM`},
		{"range backwards", "calendar:\n  hours:\n    monday: [\"18:00-09:00\"]\n",
			"monday", "calendar.hours.monday[0]", "ends before it starts"},
		{"24:00 only ends a range", "calendar:\n  hours:\n    monday: [\"24:00-24:00\"]\n",
			"monday", "calendar.hours.monday[0]", `"24:00" is not a time`},
		{"overlapping ranges", "calendar:\n  hours:\n    monday: [\"09:00-13:00\", \"12:00-18:00\"]\n",
			"monday", "calendar.hours.monday[1]", `"12:00-18:00" overlaps "09:00-13:00"`},
		{"never open", "calendar:\n  hours: {}\n",
			"hours", "calendar.hours", "no opening hours on any day"},
		{"misspelt weekday", "calendar:\n  hours:\n    mondy: [\"09:00-18:00\"]\n",
			"mondy", "calendar.hours.mondy", `unknown key "mondy"; expected one of: monday, tuesday`},
		{"hours as a string", "calendar:\n  hours:\n    monday: 09:00-18:00\n",
			"monday", "", "as a list"},
		{"holidays not a bool", "calendar:\n  french_holidays: oui\n",
			"oui", "", "as true or false"},
		{"impossible date", "calendar:\n  closed_days:\n    - 2026-02-30\n",
			"2026-02-30", "calendar.closed_days[0]", `"2026-02-30" is not a date: expected YYYY-MM-DD`},
		{"French date", "calendar:\n  closed_days: [15/05/2026]\n",
			"15/05", "calendar.closed_days[0]", `"15/05/2026" is not a date`},
		{"range backwards", "calendar:\n  closed_days:\n    - 2026-08-21..2026-08-10\n",
			"2026-08-21", "calendar.closed_days[0]", "ends before it starts"},
		{"range too long", "calendar:\n  closed_days:\n    - 2026-01-01..2027-06-01\n",
			"2026-01-01", "calendar.closed_days[0]", "more than a year"},
		{"open day on a Sunday", "calendar:\n  open_days:\n    - 2026-11-29\n",
			"2026-11-29", "calendar.open_days[0]", "2026-11-29 is a sunday, which has no opening hours"},
		{"open and closed", "calendar:\n  closed_days: [2026-05-25]\n  open_days: [2026-05-25]\n",
			"open_days", "calendar.open_days[0]", "also in calendar.closed_days[0]"},
	})
}

func TestCalendarDefaults(t *testing.T) {
	doc, _ := withBlock(t, "")
	cfg, ps := parseDoc(t, doc)
	if ps != nil {
		t.Fatal(ps)
	}
	c := cfg.Calendar
	if c.TimeZone != "Europe/Paris" || !c.HolidaysClosed() || len(c.ClosedDays) != 0 {
		t.Errorf("calendar = %+v", c)
	}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		want := []string{"09:00-18:00"}
		if wd == time.Saturday || wd == time.Sunday {
			want = nil
		}
		if got := c.Hours.Day(wd); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", wd, got, want)
		}
	}
}

func TestExampleCalendar(t *testing.T) {
	setSecrets(t)
	cfg, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Calendar.Hours.Day(time.Wednesday); !reflect.DeepEqual(got, []string{"09:00-18:00"}) {
		t.Errorf("wednesday = %v", got)
	}
	if cfg.Calendar.Hours.Day(time.Saturday) != nil {
		t.Error("saturday should be closed")
	}
	if !reflect.DeepEqual(cfg.Calendar.ClosedDays, []string{"2026-05-15"}) {
		t.Errorf("closed_days = %v", cfg.Calendar.ClosedDays)
	}
	loc, err := cfg.Calendar.Location()
	if err != nil || loc.String() != "Europe/Paris" {
		t.Errorf("Location = %v, %v", loc, err)
	}
}

func TestParseDayRange(t *testing.T) {
	cases := map[string]DayRange{
		"09:00-18:00":   {540, 1080},
		"9:00-12:30":    {540, 750},
		"13:30 - 18:00": {810, 1080},
		"00:00-24:00":   {0, 1440},
	}
	for s, want := range cases {
		got, err := ParseDayRange(s)
		if err != nil || got != want {
			t.Errorf("ParseDayRange(%q) = %v, %v; want %v", s, got, err, want)
		}
		if err == nil && got.String() != strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "9:00-12", "09:00-12") {
			t.Errorf("String() = %q", got.String())
		}
	}
}
