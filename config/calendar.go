package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	// The zone database is embedded so that a deadline never depends on the
	// host having /usr/share/zoneinfo (distroless images do not).
	_ "time/tzdata"
)

// DefaultTimeZone is the agency's time zone when the configuration gives none.
const DefaultTimeZone = "Europe/Paris"

// DefaultOpeningHours are the opening hours of Monday to Friday when the
// configuration has no calendar.hours: one range, no lunch break, so that a
// business day is 9 working hours.
const DefaultOpeningHours = "09:00-18:00"

// Calendar is the agency's business calendar: the working hours that
// business-clock deadlines are counted in (see package deadlines/sla).
type Calendar struct {
	// TimeZone is an IANA zone name (default Europe/Paris). Opening hours and
	// the deadlines shown to clients are in this zone.
	TimeZone string `yaml:"time_zone"`
	// Hours are the opening hours of each weekday. Absent: Monday to Friday
	// 09:00-18:00. Present: the whole week, a day left out is closed.
	Hours *WeekHours `yaml:"hours"`
	// FrenchHolidays closes the eleven French public holidays (default true).
	FrenchHolidays *bool `yaml:"french_holidays"`
	// ClosedDays are extra closed days: "2026-05-15", or an inclusive range
	// "2026-08-10..2026-08-21" (bridge days, summer closure).
	ClosedDays []string `yaml:"closed_days"`
	// OpenDays are days worked despite a public holiday or a closed day, with
	// their weekday's hours (e.g. Whit Monday as "journée de solidarité").
	OpenDays []string `yaml:"open_days"`
}

// WeekHours lists the opening hours of each weekday as "HH:MM-HH:MM" ranges,
// several per day for a lunch break; "24:00" ends a day. A day without ranges
// is closed.
type WeekHours struct {
	Monday    []string `yaml:"monday"`
	Tuesday   []string `yaml:"tuesday"`
	Wednesday []string `yaml:"wednesday"`
	Thursday  []string `yaml:"thursday"`
	Friday    []string `yaml:"friday"`
	Saturday  []string `yaml:"saturday"`
	Sunday    []string `yaml:"sunday"`
}

// Day returns the ranges written for a weekday.
func (w WeekHours) Day(d time.Weekday) []string {
	return [...][]string{w.Sunday, w.Monday, w.Tuesday, w.Wednesday, w.Thursday, w.Friday, w.Saturday}[d]
}

// weekdayKeys are the YAML keys of WeekHours, indexed by time.Weekday.
var weekdayKeys = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// HolidaysClosed tells whether the French public holidays are closed days.
func (c Calendar) HolidaysClosed() bool {
	return c.FrenchHolidays == nil || *c.FrenchHolidays
}

// Location loads the calendar's time zone.
func (c Calendar) Location() (*time.Location, error) {
	name := c.TimeZone
	if name == "" {
		name = DefaultTimeZone
	}
	// "Local" would make deadlines depend on the host's settings.
	if name == "Local" {
		return nil, fmt.Errorf("%q is not a time zone: expected an IANA name such as Europe/Paris", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a time zone: expected an IANA name such as Europe/Paris: %w", name, err)
	}
	return loc, nil
}

func (c *Calendar) applyDefaults() {
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.Hours == nil {
		d := []string{DefaultOpeningHours}
		c.Hours = &WeekHours{Monday: d, Tuesday: d, Wednesday: d, Thursday: d, Friday: d}
	}
	if c.FrenchHolidays == nil {
		on := true
		c.FrenchHolidays = &on
	}
}

func (c Calendar) validate(v *validator, path string) {
	if _, err := c.Location(); err != nil {
		v.errf(path+".time_zone", "%q is not a time zone: expected an IANA name such as Europe/Paris", c.TimeZone)
	}
	hours := c.Hours
	if hours == nil {
		hours = &WeekHours{}
	}
	open := [7]bool{}
	anyOpen, badHours := false, false
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		p := path + ".hours." + weekdayKeys[wd]
		var ranges []DayRange
		idx := map[DayRange]int{}
		for i, s := range hours.Day(wd) {
			r, err := ParseDayRange(s)
			if err != nil {
				v.errf(fmt.Sprintf("%s[%d]", p, i), "%v", err)
				badHours = true
				continue
			}
			ranges = append(ranges, r)
			idx[r] = i
		}
		sort.Slice(ranges, func(i, j int) bool { return ranges[i].From < ranges[j].From })
		for i := 1; i < len(ranges); i++ {
			if ranges[i].From < ranges[i-1].To {
				v.errf(fmt.Sprintf("%s[%d]", p, idx[ranges[i]]), "%q overlaps %q: expected separate ranges such as 09:00-12:30 and 13:30-18:00", ranges[i], ranges[i-1])
			}
		}
		open[wd] = len(ranges) > 0
		anyOpen = anyOpen || open[wd]
	}
	if c.Hours != nil && !anyOpen && !badHours {
		v.errf(path+".hours", "no opening hours on any day: business-time deadlines could never fall due; expected ranges such as monday: [\"09:00-18:00\"]")
	}
	closed := map[string]int{}
	for i, s := range c.ClosedDays {
		r, err := ParseDateRange(s)
		if err != nil {
			v.errf(fmt.Sprintf("%s.closed_days[%d]", path, i), "%v", err)
			continue
		}
		for d := r.First; !d.After(r.Last); d = d.AddDate(0, 0, 1) {
			closed[d.Format(time.DateOnly)] = i
		}
	}
	for i, s := range c.OpenDays {
		p := fmt.Sprintf("%s.open_days[%d]", path, i)
		r, err := ParseDateRange(s)
		if err != nil {
			v.errf(p, "%v", err)
			continue
		}
		for d := r.First; !d.After(r.Last); d = d.AddDate(0, 0, 1) {
			day := d.Format(time.DateOnly)
			if j, ok := closed[day]; ok {
				v.errf(p, "%s is also in %s.closed_days[%d]: a day is either open or closed", day, path, j)
				break
			}
			if anyOpen && !badHours && !open[d.Weekday()] {
				v.errf(p, "%s is a %s, which has no opening hours: an open day takes its weekday's hours from %s.hours", day, weekdayKeys[d.Weekday()], path)
				break
			}
		}
	}
}

// DayRange is a range of opening hours within a day, in minutes since
// midnight, From included and To excluded; To is at most 24*60.
type DayRange struct {
	From, To int
}

// String writes the range back as "HH:MM-HH:MM".
func (r DayRange) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", r.From/60, r.From%60, r.To/60, r.To%60)
}

var dayRangeRe = regexp.MustCompile(`^\s*([^-\s]+)\s*-\s*([^-\s]+)\s*$`)

// ParseDayRange parses opening hours written "09:00-12:30"; "24:00" may end
// a range.
func ParseDayRange(s string) (DayRange, error) {
	m := dayRangeRe.FindStringSubmatch(s)
	if m == nil {
		return DayRange{}, fmt.Errorf("%q is not a range of hours: expected HH:MM-HH:MM such as 09:00-18:00", s)
	}
	from, err := parseClock(m[1], false)
	if err != nil {
		return DayRange{}, err
	}
	to, err := parseClock(m[2], true)
	if err != nil {
		return DayRange{}, err
	}
	if to <= from {
		return DayRange{}, fmt.Errorf("%q ends before it starts: expected HH:MM-HH:MM with the earlier time first", s)
	}
	return DayRange{From: from, To: to}, nil
}

var clockRe = regexp.MustCompile(`^(\d{1,2}):(\d{2})$`)

// parseClock parses "HH:MM" into minutes since midnight.
func parseClock(s string, end bool) (int, error) {
	m := clockRe.FindStringSubmatch(s)
	if m != nil {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		if h < 24 && mi < 60 {
			return h*60 + mi, nil
		}
		if end && h == 24 && mi == 0 {
			return 24 * 60, nil
		}
	}
	return 0, fmt.Errorf("%q is not a time: expected HH:MM", s)
}

// DateRange is an inclusive range of calendar days, each at midnight UTC;
// First equals Last for a single day.
type DateRange struct {
	First, Last time.Time
}

// maxClosedRange bounds one closed_days range: longer is surely a typo.
const maxClosedRange = 366

// ParseDateRange parses "2026-05-15" or the inclusive range
// "2026-08-10..2026-08-21".
func ParseDateRange(s string) (DateRange, error) {
	s = strings.TrimSpace(s)
	a, b, isRange := strings.Cut(s, "..")
	first, err := parseDate(strings.TrimSpace(a))
	if err != nil {
		return DateRange{}, err
	}
	if !isRange {
		return DateRange{First: first, Last: first}, nil
	}
	last, err := parseDate(strings.TrimSpace(b))
	if err != nil {
		return DateRange{}, err
	}
	if last.Before(first) {
		return DateRange{}, fmt.Errorf("%q ends before it starts: expected FIRST..LAST such as 2026-08-10..2026-08-21", s)
	}
	if last.Sub(first) >= maxClosedRange*24*time.Hour {
		return DateRange{}, fmt.Errorf("%q spans more than a year: expected a shorter range", s)
	}
	return DateRange{First: first, Last: last}, nil
}

func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date: expected YYYY-MM-DD such as 2026-05-15, or a range FIRST..LAST", s)
	}
	return t, nil
}
