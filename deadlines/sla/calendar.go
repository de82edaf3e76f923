package sla

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2/fr"

	"passerelle/config"
	frfmt "passerelle/internal/fr"
)

// horizonDays bounds every walk through the calendar. A validated calendar
// has an open day every week, so the bound is never reached; it only keeps a
// broken one from looping for ever.
const horizonDays = 3700

// Calendar is the agency's business calendar: opening hours per weekday in
// one time zone, French public holidays, extra closed days and open days. It
// is safe for concurrent use.
type Calendar struct {
	loc      *time.Location
	week     [7][]config.DayRange
	holidays bool
	closed   map[civil]bool
	open     map[civil]bool

	mu     sync.Mutex
	feries map[int]map[civil]string // year → day → holiday name
}

// NewCalendar builds the calendar of a configuration. A zero config.Calendar
// gives the defaults: Europe/Paris, Monday to Friday 09:00-18:00, French
// public holidays closed.
func NewCalendar(c config.Calendar) (*Calendar, error) {
	loc, err := c.Location()
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	k := &Calendar{loc: loc, holidays: c.HolidaysClosed(), closed: map[civil]bool{}, open: map[civil]bool{}, feries: map[int]map[civil]string{}}
	hours := c.Hours
	if hours == nil {
		d := []string{config.DefaultOpeningHours}
		hours = &config.WeekHours{Monday: d, Tuesday: d, Wednesday: d, Thursday: d, Friday: d}
	}
	anyOpen := false
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		for _, s := range hours.Day(wd) {
			r, err := config.ParseDayRange(s)
			if err != nil {
				return nil, fmt.Errorf("calendar: %s: %w", wd, err)
			}
			k.week[wd] = append(k.week[wd], r)
		}
		slices.SortFunc(k.week[wd], func(a, b config.DayRange) int { return a.From - b.From })
		for i := 1; i < len(k.week[wd]); i++ {
			if k.week[wd][i].From < k.week[wd][i-1].To {
				return nil, fmt.Errorf("calendar: %s: %s overlaps %s", wd, k.week[wd][i], k.week[wd][i-1])
			}
		}
		anyOpen = anyOpen || len(k.week[wd]) > 0
	}
	if !anyOpen {
		return nil, fmt.Errorf("calendar: no opening hours on any day")
	}
	for _, list := range []struct {
		days []string
		set  map[civil]bool
	}{{c.ClosedDays, k.closed}, {c.OpenDays, k.open}} {
		for _, s := range list.days {
			r, err := config.ParseDateRange(s)
			if err != nil {
				return nil, fmt.Errorf("calendar: %w", err)
			}
			for d, last := civilOf(r.First), civilOf(r.Last); ; d = d.add(1) {
				list.set[d] = true
				if d == last {
					break
				}
			}
		}
	}
	return k, nil
}

// Location returns the calendar's time zone.
func (k *Calendar) Location() *time.Location { return k.loc }

// IsOpen tells whether the agency is open at t: a working day (not a
// holiday, not a closed day) within one of its opening ranges, the start
// included and the end excluded.
func (k *Calendar) IsOpen(t time.Time) bool {
	spans, _ := k.day(civilOf(t.In(k.loc)))
	for _, s := range spans {
		if !t.Before(s.from) && t.Before(s.to) {
			return true
		}
	}
	return false
}

// Add returns the instant a duration after start.
//
// On the business clock, Days are working days: the same wall time Days
// working days later ("1d" from Friday 17:59 is Monday 17:59). A start
// outside opening hours counts from the closing before it, so "1d" from a
// Sunday, a Friday evening or a Monday at 08:00 is Monday at closing time.
// When the agency is closed at the resulting wall time, the due time is the
// closing before it that day (a shorter day), or that day's first opening (a
// day that opens later). Time is then added in opening hours only, the
// result being the earliest instant with that much opening time behind it
// (Friday 09:00 plus 9h is Friday 18:00, not Monday 09:00).
//
// On the calendar clock, Days are calendar days (the same wall time, 23 or
// 25 hours across a change of summer time) and Time is elapsed time.
//
// The result is in the calendar's zone.
func (k *Calendar) Add(start time.Time, d Duration) time.Time {
	if d.Clock == config.ClockCalendar {
		return start.In(k.loc).AddDate(0, 0, d.Days).Add(d.Time)
	}
	t := start
	if d.Days > 0 {
		t = k.addDays(start, d.Days)
	}
	return k.addOpen(t, d.Time).In(k.loc)
}

// BusinessBetween returns the opening time between a and b (negative when b
// is before a).
func (k *Calendar) BusinessBetween(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -k.BusinessBetween(b, a)
	}
	var sum time.Duration
	for s := range k.spansFrom(a) {
		if !s.from.Before(b) {
			break
		}
		sum += earlier(s.to, b).Sub(s.from)
	}
	return sum
}

// addDays adds n working days to start (see Add): the same wall time n
// working days later. A start outside opening hours counts from the closing
// before it, so that a request filed on a Sunday is due on Monday evening.
// When the agency is closed at that wall time, the due time is the closing
// before it on that day, or its first opening if it opens later.
func (k *Calendar) addDays(start time.Time, n int) time.Time {
	day, wall, ok := k.anchor(start)
	if !ok {
		return start.AddDate(0, 0, horizonDays)
	}
	for i, guard := 0, 0; i < n; guard++ {
		if guard > horizonDays {
			return start.AddDate(0, 0, horizonDays)
		}
		day = day.add(1)
		if spans, _ := k.day(day); len(spans) > 0 {
			i++
		}
	}
	spans, _ := k.day(day)
	c := k.wallTime(day, wall)
	due := spans[0].from
	for _, s := range spans {
		if !c.Before(s.from) && c.Before(s.to) {
			return c
		}
		if !s.to.After(c) {
			due = s.to
		}
	}
	return due
}

// anchor returns the day and wall time business days are counted from:
// start itself when the agency is open then, else the closing before it.
func (k *Calendar) anchor(start time.Time) (civil, time.Duration, bool) {
	l := start.In(k.loc)
	if k.IsOpen(start) {
		wall := time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute +
			time.Duration(l.Second())*time.Second + time.Duration(l.Nanosecond())
		return civilOf(l), wall, true
	}
	c := civilOf(l)
	for i := 0; i < horizonDays; i++ {
		day := c.add(-i)
		wd := day.noon().Weekday()
		spans, _ := k.day(day)
		for j := len(spans) - 1; j >= 0; j-- {
			if !spans[j].to.After(start) {
				return day, time.Duration(k.week[wd][j].To) * time.Minute, true
			}
		}
	}
	return civil{}, 0, false
}

// wallTime is the instant of a wall time on a day (24h is the next midnight).
func (k *Calendar) wallTime(c civil, wall time.Duration) time.Time {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, int(wall), k.loc)
}

// addOpen returns the earliest instant at which d of opening time has passed
// since t; t itself when d is not positive.
func (k *Calendar) addOpen(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	for s := range k.spansFrom(t) {
		if l := s.to.Sub(s.from); d > l {
			d -= l
			continue
		}
		return s.from.Add(d)
	}
	return t.AddDate(0, 0, horizonDays)
}

// span is one opening range on one day, as instants.
type span struct{ from, to time.Time }

// spansFrom yields, in order, the opening spans that end after t, the first
// one clipped to start at t.
func (k *Calendar) spansFrom(t time.Time) iter.Seq[span] {
	return func(yield func(span) bool) {
		c := civilOf(t.In(k.loc))
		for i := 0; i < horizonDays; i++ {
			spans, _ := k.day(c.add(i))
			for _, s := range spans {
				if !s.to.After(t) {
					continue
				}
				if s.from.Before(t) {
					s.from = t
				}
				if !yield(s) {
					return
				}
			}
		}
	}
}

// day returns the opening spans of a day or, when it is closed all day, why
// (in French, for explanations).
func (k *Calendar) day(c civil) ([]span, string) {
	if !k.open[c] {
		if k.closed[c] {
			return nil, "fermeture exceptionnelle"
		}
		if name, ok := k.holiday(c); ok {
			return nil, "jour férié (" + name + ")"
		}
	}
	wd := c.noon().Weekday()
	ranges := k.week[wd]
	if len(ranges) == 0 {
		return nil, frfmt.Weekday(wd)
	}
	spans := make([]span, len(ranges))
	for i, r := range ranges {
		spans[i] = span{k.at(c, r.From), k.at(c, r.To)}
	}
	return spans, ""
}

// at is the instant of a wall time, in minutes since midnight (1440 is the
// next midnight).
func (k *Calendar) at(c civil, minutes int) time.Time {
	return time.Date(c.y, c.m, c.d, 0, minutes, 0, 0, k.loc)
}

// holiday returns the name of the French public holiday on that day.
func (k *Calendar) holiday(c civil) (string, bool) {
	if !k.holidays {
		return "", false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	days, ok := k.feries[c.y]
	if !ok {
		days = map[civil]string{}
		for _, h := range fr.Holidays {
			if _, observed := h.Calc(c.y); !observed.IsZero() {
				days[civilOf(observed)] = h.Name
			}
		}
		k.feries[c.y] = days
	}
	name, ok := days[c]
	return name, ok
}

// closedWhy says why the agency is closed from a to b, for explanations:
// the whole days closed within, or outside opening hours.
func (k *Calendar) closedWhy(a, b time.Time) string {
	var labels []string
	for c := civilOf(a.In(k.loc)); !k.at(c, 0).After(b); c = c.add(1) {
		if k.at(c, 0).Before(a) || k.at(c.add(1), 0).After(b) {
			continue
		}
		if _, why := k.day(c); why != "" && !slices.Contains(labels, why) {
			labels = append(labels, why)
		}
	}
	if len(labels) == 0 {
		return "fermé : hors heures d'ouverture"
	}
	return "fermé : " + strings.Join(labels, ", ")
}

// segments splits [a, b) into opening time (counted) and closed stretches.
func (k *Calendar) segments(a, b time.Time) []Interval {
	var out []Interval
	cur := a
	for s := range k.spansFrom(a) {
		if !s.from.Before(b) {
			break
		}
		if s.from.After(cur) {
			out = append(out, Interval{From: cur, To: s.from, Why: k.closedWhy(cur, s.from)})
		}
		end := earlier(s.to, b)
		if n := len(out); n > 0 && out[n-1].Counted && out[n-1].To.Equal(s.from) {
			out[n-1].To = end
		} else {
			out = append(out, Interval{From: s.from, To: end, Counted: true, Why: whyOpen})
		}
		cur = end
	}
	if cur.Before(b) {
		out = append(out, Interval{From: cur, To: b, Why: k.closedWhy(cur, b)})
	}
	return out
}

// civil is a calendar day, without zone.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

func (c civil) noon() time.Time { return time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC) }

func (c civil) add(n int) civil {
	return civilOf(time.Date(c.y, c.m, c.d+n, 12, 0, 0, 0, time.UTC))
}

// FormatDue writes an instant for clients, in the calendar's zone:
// "mardi 24 novembre à 18 h", "lundi 1er juin à 9 h 30". Seconds are
// dropped.
func (k *Calendar) FormatDue(t time.Time) string { return frfmt.LongDateTime(t.In(k.loc)) }

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
