package sla

import (
	"testing"
	"time"

	"passerelle/config"
)

var paris = mustLoc("Europe/Paris")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at parses "2006-01-02 15:04" (or with seconds) in Europe/Paris.
func at(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, paris); err == nil {
			return t
		}
	}
	panic("bad test time " + s)
}

func mustCalendar(t *testing.T, c config.Calendar) *Calendar {
	t.Helper()
	k, err := NewCalendar(c)
	if err != nil {
		t.Fatalf("NewCalendar: %v", err)
	}
	return k
}

func days(n int) Duration            { return Duration{Days: n, Clock: config.ClockBusiness} }
func hours(h time.Duration) Duration { return Duration{Time: h, Clock: config.ClockBusiness} }
func calDays(n int) Duration         { return Duration{Days: n, Clock: config.ClockCalendar} }

// allWeek is a calendar open day and night, every day, without holidays: the
// business clock then shows the summer-time changes.
func allWeek() config.Calendar {
	d := []string{"00:00-24:00"}
	off := false
	return config.Calendar{TimeZone: "Europe/Paris", FrenchHolidays: &off,
		Hours: &config.WeekHours{Monday: d, Tuesday: d, Wednesday: d, Thursday: d, Friday: d, Saturday: d, Sunday: d}}
}

func TestAdd(t *testing.T) {
	def := config.Calendar{}
	lunch := config.Calendar{Hours: &config.WeekHours{
		Monday: []string{"09:00-12:30", "13:30-18:00"}, Tuesday: []string{"13:30-18:00"},
		Wednesday: []string{"09:00-12:30", "13:30-18:00"}, Thursday: []string{"09:00-12:30", "13:30-18:00"},
		Friday: []string{"09:00-12:30", "13:30-18:00"}, Saturday: []string{"09:00-12:00"}}}
	closed := config.Calendar{ClosedDays: []string{"2026-05-15", "2026-08-10..2026-08-21"}, OpenDays: []string{"2026-05-25"}}
	cases := []struct {
		name  string
		cal   config.Calendar
		start string
		d     Duration
		want  string
	}{
		// Nights and weekends.
		{"Friday 17:59 plus 1 working day", def, "2026-11-27 17:59", days(1), "2026-11-30 17:59"},
		{"Friday 17:59 plus 1 working hour", def, "2026-11-27 17:59", hours(time.Hour), "2026-11-30 09:59"},
		{"Friday 18:00 plus 1 working day", def, "2026-11-27 18:00", days(1), "2026-11-30 18:00"},
		{"Friday 23:00 plus 2 working days", def, "2026-11-27 23:00", days(2), "2026-12-01 18:00"},
		{"Saturday plus 1 working day", def, "2026-11-28 10:00", days(1), "2026-11-30 18:00"},
		{"Sunday plus 1 working day", def, "2026-11-29 10:00", days(1), "2026-11-30 18:00"},
		{"Sunday plus 4 working hours", def, "2026-11-29 10:00", hours(4 * time.Hour), "2026-11-30 13:00"},
		{"Monday before opening plus 1 working day", def, "2026-11-30 07:30", days(1), "2026-11-30 18:00"},
		{"Monday 10:00 plus 2 working days", def, "2026-11-30 10:00", days(2), "2026-12-02 10:00"},
		{"Monday 10:00 plus 4 working hours", def, "2026-11-30 10:00", hours(4 * time.Hour), "2026-11-30 14:00"},
		{"Monday 10:00 plus 9 working hours", def, "2026-11-30 10:00", hours(9 * time.Hour), "2026-12-01 10:00"},
		{"Friday 09:00 plus 9 working hours ends at closing", def, "2026-11-27 09:00", hours(9 * time.Hour), "2026-11-27 18:00"},
		{"Friday 16:00 plus 1 day and 4 hours", def, "2026-11-27 16:00", Duration{Days: 1, Time: 4 * time.Hour}, "2026-12-01 11:00"},
		{"seconds are kept", def, "2026-11-27 17:59:42", days(1), "2026-11-30 17:59:42"},
		{"10 working days span two weekends", def, "2026-11-30 10:00", days(10), "2026-12-14 10:00"},
		// French public holidays: one working day from the working day before.
		{"Nouvel an", def, "2026-12-31 10:00", days(1), "2027-01-04 10:00"},
		{"Lundi de Pâques", def, "2026-04-03 10:00", days(1), "2026-04-07 10:00"},
		{"1er mai", def, "2026-04-30 10:00", days(1), "2026-05-04 10:00"},
		{"8 mai", def, "2026-05-07 10:00", days(1), "2026-05-11 10:00"},
		{"Ascension", def, "2026-05-13 10:00", days(1), "2026-05-15 10:00"},
		{"Lundi de Pentecôte", def, "2026-05-22 10:00", days(1), "2026-05-26 10:00"},
		{"14 juillet", def, "2026-07-13 10:00", days(1), "2026-07-15 10:00"},
		{"15 août (a Friday in 2025)", def, "2025-08-14 10:00", days(1), "2025-08-18 10:00"},
		{"Toussaint (a Monday in 2027)", def, "2027-10-29 10:00", days(1), "2027-11-02 10:00"},
		{"11 novembre", def, "2026-11-10 10:00", days(1), "2026-11-12 10:00"},
		{"Noël", def, "2026-12-24 10:00", days(1), "2026-12-28 10:00"},
		{"request filed on a holiday", def, "2026-11-11 10:00", days(1), "2026-11-12 18:00"},
		{"working hours across a holiday", def, "2026-11-10 16:00", hours(4 * time.Hour), "2026-11-12 11:00"},
		// Extra closed days and open days.
		{"bridge day after Ascension", closed, "2026-05-13 10:00", days(1), "2026-05-18 10:00"},
		{"summer closure range", closed, "2026-08-07 10:00", days(1), "2026-08-24 10:00"},
		{"Whit Monday worked", closed, "2026-05-22 10:00", days(1), "2026-05-25 10:00"},
		// Several ranges a day, and days of different hours.
		{"over the lunch break", lunch, "2026-11-30 12:00", hours(time.Hour), "2026-11-30 14:00"},
		{"filed during the lunch break", lunch, "2026-11-30 13:00", days(1), "2026-12-01 13:30"},
		{"next day opens later", lunch, "2026-11-30 10:00", days(1), "2026-12-01 13:30"},
		{"next day closes earlier", lunch, "2026-11-27 16:00", days(1), "2026-11-28 12:00"},
		{"same wall time in the afternoon", lunch, "2026-11-30 15:00", days(1), "2026-12-01 15:00"},
		// Summer time: 29 March and 25 October 2026.
		{"spring change, business day", def, "2026-03-27 10:00", days(1), "2026-03-30 10:00"},
		{"autumn change, business day", def, "2026-10-23 10:00", days(1), "2026-10-26 10:00"},
		{"spring change, open all week, 1 day", allWeek(), "2026-03-28 12:00", days(1), "2026-03-29 12:00"},
		{"spring change, open all week, 5 hours", allWeek(), "2026-03-28 22:00", hours(5 * time.Hour), "2026-03-29 04:00"},
		{"autumn change, open all week, 1 day", allWeek(), "2026-10-24 12:00", days(1), "2026-10-25 12:00"},
		{"spring change, calendar day", def, "2026-03-28 12:00", calDays(1), "2026-03-29 12:00"},
		{"spring change, 24 calendar hours", def, "2026-03-28 12:00", Duration{Time: 24 * time.Hour, Clock: config.ClockCalendar}, "2026-03-29 13:00"},
		{"autumn change, 24 calendar hours", def, "2026-10-24 12:00", Duration{Time: 24 * time.Hour, Clock: config.ClockCalendar}, "2026-10-25 11:00"},
		{"autumn change, a calendar week", def, "2026-10-20 18:00", calDays(7), "2026-10-27 18:00"},
		// Calendar clock ignores opening hours.
		{"Friday 17:59 plus 1 calendar day", def, "2026-11-27 17:59", calDays(1), "2026-11-28 17:59"},
		{"Sunday plus 48 calendar hours", def, "2026-11-29 10:00", Duration{Time: 48 * time.Hour, Clock: config.ClockCalendar}, "2026-12-01 10:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := mustCalendar(t, tc.cal)
			got := k.Add(at(tc.start), tc.d)
			if want := at(tc.want); !got.Equal(want) {
				t.Errorf("Add(%s, %v) = %s, want %s", tc.start, tc.d, got, want)
			}
			if got.Location().String() != "Europe/Paris" {
				t.Errorf("result in %s, want Europe/Paris", got.Location())
			}
		})
	}
}

// In the autumn, 02:30 happens twice: the all-week calendar counts both.
func TestAddAcrossRepeatedHour(t *testing.T) {
	k := mustCalendar(t, allWeek())
	start := at("2026-10-24 22:00") // 20:00 UTC
	got := k.Add(start, hours(5*time.Hour))
	if want := time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got %s, want %s (02:00 winter time)", got, want)
	}
}

func TestIsOpen(t *testing.T) {
	off := false
	cases := []struct {
		name string
		cal  config.Calendar
		at   string
		want bool
	}{
		{"weekday morning", config.Calendar{}, "2026-11-24 10:00", true},
		{"opening instant", config.Calendar{}, "2026-11-24 09:00", true},
		{"closing instant", config.Calendar{}, "2026-11-24 18:00", false},
		{"one minute before closing", config.Calendar{}, "2026-11-27 17:59", true},
		{"before opening", config.Calendar{}, "2026-11-24 08:59", false},
		{"night", config.Calendar{}, "2026-11-24 23:00", false},
		{"Saturday", config.Calendar{}, "2026-11-28 10:00", false},
		{"Sunday", config.Calendar{}, "2026-11-29 10:00", false},
		{"Nouvel an", config.Calendar{}, "2026-01-01 10:00", false},
		{"Lundi de Pâques", config.Calendar{}, "2026-04-06 10:00", false},
		{"1er mai", config.Calendar{}, "2026-05-01 10:00", false},
		{"8 mai", config.Calendar{}, "2026-05-08 10:00", false},
		{"Ascension", config.Calendar{}, "2026-05-14 10:00", false},
		{"Lundi de Pentecôte", config.Calendar{}, "2026-05-25 10:00", false},
		{"14 juillet", config.Calendar{}, "2026-07-14 10:00", false},
		{"15 août 2025", config.Calendar{}, "2025-08-15 10:00", false},
		{"Toussaint 2027", config.Calendar{}, "2027-11-01 10:00", false},
		{"11 novembre", config.Calendar{}, "2026-11-11 10:00", false},
		{"Noël", config.Calendar{}, "2026-12-25 10:00", false},
		{"Christmas Eve is worked", config.Calendar{}, "2026-12-24 10:00", true},
		{"holidays off", config.Calendar{FrenchHolidays: &off}, "2026-11-11 10:00", true},
		{"closed day", config.Calendar{ClosedDays: []string{"2026-11-24"}}, "2026-11-24 10:00", false},
		{"last day of a closed range", config.Calendar{ClosedDays: []string{"2026-11-23..2026-11-24"}}, "2026-11-24 10:00", false},
		{"day after a closed range", config.Calendar{ClosedDays: []string{"2026-11-23..2026-11-24"}}, "2026-11-25 10:00", true},
		{"open day on a holiday", config.Calendar{OpenDays: []string{"2026-05-25"}}, "2026-05-25 10:00", true},
		{"lunch break", config.Calendar{Hours: &config.WeekHours{Tuesday: []string{"09:00-12:30", "13:30-18:00"}}}, "2026-11-24 13:00", false},
		{"afternoon range", config.Calendar{Hours: &config.WeekHours{Tuesday: []string{"09:00-12:30", "13:30-18:00"}}}, "2026-11-24 13:30", true},
		{"UTC input", config.Calendar{}, "2026-11-24 09:30", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := mustCalendar(t, tc.cal)
			if got := k.IsOpen(at(tc.at).UTC()); got != tc.want {
				t.Errorf("IsOpen(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestBusinessBetween(t *testing.T) {
	cases := []struct {
		name string
		cal  config.Calendar
		a, b string
		want time.Duration
	}{
		{"same morning", config.Calendar{}, "2026-11-24 09:30", "2026-11-24 11:00", 90 * time.Minute},
		{"across a night", config.Calendar{}, "2026-11-24 17:00", "2026-11-25 10:00", 2 * time.Hour},
		{"across a weekend", config.Calendar{}, "2026-11-27 17:59", "2026-11-30 17:59", 9 * time.Hour},
		{"a whole week", config.Calendar{}, "2026-11-23 00:00", "2026-11-30 00:00", 45 * time.Hour},
		{"week of 11 November", config.Calendar{}, "2026-11-09 00:00", "2026-11-16 00:00", 36 * time.Hour},
		{"within a closed stretch", config.Calendar{}, "2026-11-28 10:00", "2026-11-29 10:00", 0},
		{"spring change, business", config.Calendar{}, "2026-03-27 10:00", "2026-03-30 10:00", 9 * time.Hour},
		{"spring change, open all week", allWeek(), "2026-03-28 12:00", "2026-03-29 12:00", 23 * time.Hour},
		{"autumn change, open all week", allWeek(), "2026-10-24 12:00", "2026-10-25 12:00", 25 * time.Hour},
		{"reversed", config.Calendar{}, "2026-11-24 11:00", "2026-11-24 09:30", -90 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := mustCalendar(t, tc.cal)
			if got := k.BusinessBetween(at(tc.a), at(tc.b)); got != tc.want {
				t.Errorf("BusinessBetween = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFormatDue(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	cases := []struct {
		name string
		t    time.Time
		want string
	}{
		{"whole hour", at("2026-11-24 18:00"), "mardi 24 novembre à 18 h"},
		{"half past", at("2026-11-24 18:30"), "mardi 24 novembre à 18 h 30"},
		{"morning, minutes padded", at("2026-06-01 09:05"), "lundi 1er juin à 9 h 05"},
		{"seconds dropped", at("2026-11-30 17:59:42"), "lundi 30 novembre à 17 h 59"},
		{"UTC shown in Paris, summer", time.Date(2026, 8, 17, 7, 0, 0, 0, time.UTC), "lundi 17 août à 9 h"},
		{"UTC shown in Paris, winter", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), "mardi 1er décembre à 9 h"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.FormatDue(tc.t); got != tc.want {
				t.Errorf("FormatDue = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewCalendarErrors(t *testing.T) {
	cases := []struct {
		name string
		cal  config.Calendar
	}{
		{"bad zone", config.Calendar{TimeZone: "Europe/Pariss"}},
		{"bad hours", config.Calendar{Hours: &config.WeekHours{Monday: []string{"09:00-25:00"}}}},
		{"overlap", config.Calendar{Hours: &config.WeekHours{Monday: []string{"09:00-13:00", "12:00-18:00"}}}},
		{"never open", config.Calendar{Hours: &config.WeekHours{}}},
		{"bad closed day", config.Calendar{ClosedDays: []string{"2026-02-30"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewCalendar(tc.cal); err == nil {
				t.Error("NewCalendar succeeded, want an error")
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	cases := map[string]Duration{
		"1 jour ouvré":                days(1),
		"2 jours ouvrés":              days(2),
		"4 h ouvrées":                 hours(4 * time.Hour),
		"1 jour ouvré et 4 h ouvrées": {Days: 1, Time: 4 * time.Hour},
		"7 jours":                     calDays(7),
		"48 h":                        {Time: 48 * time.Hour, Clock: config.ClockCalendar},
		"1 h 30 ouvrées":              hours(90 * time.Minute),
		"45 min":                      {Time: 45 * time.Minute, Clock: config.ClockCalendar},
	}
	for want, d := range cases {
		if got := d.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", d, got, want)
		}
	}
}

// The holiday cache is filled lazily: the calendar must stand concurrent use
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	k := mustCalendar(t, config.Calendar{})
	done := make(chan bool)
	for i := range 8 {
		go func() {
			start := time.Date(2026+i, 11, 10, 10, 0, 0, 0, paris)
			k.Add(start, days(3))
			done <- k.IsOpen(time.Date(2026+i, 11, 11, 10, 0, 0, 0, paris))
		}()
	}
	for range 8 {
		if <-done {
			t.Error("11 November open")
		}
	}
}
