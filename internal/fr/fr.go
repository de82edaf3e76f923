// Package fr holds every French formatting of times and durations the
// product writes (pages, e-mails, notes in Redmine, `explain`, reports), so
// that they all say the same thing the same way, and a template FuncMap that
// exposes them. Callers convert to the agency's zone first (or pass it).
package fr

import (
	"fmt"
	"html/template"
	"time"
)

var weekdays = [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}

var weekdayAbbrs = [...]string{"dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."}

var months = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// Weekday is the day's name: "lundi".
func Weekday(d time.Weekday) string { return weekdays[d] }

// Month is the month's name: "novembre".
func Month(m time.Month) string { return months[m-1] }

// Date writes a day as "24/11/2026".
func Date(t time.Time) string { return t.Format("02/01/2006") }

// Clock writes a time of day as "09:05".
func Clock(t time.Time) string { return t.Format("15:04") }

// DateTime writes "24/11/2026 09:05".
func DateTime(t time.Time) string { return t.Format("02/01/2006 15:04") }

// ShortDateTime writes "lun. 23/11/2026 10:12", "—" for the zero time.
func ShortDateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return weekdayAbbrs[t.Weekday()] + " " + DateTime(t)
}

// LongDateTime writes an instant for clients: "mardi 24 novembre à 18 h",
// "lundi 1er juin à 9 h 30". Seconds are dropped.
func LongDateTime(t time.Time) string {
	day := fmt.Sprint(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	s := fmt.Sprintf("%s %s %s à %d h", weekdays[t.Weekday()], day, months[t.Month()-1], t.Hour())
	if t.Minute() != 0 {
		s += fmt.Sprintf(" %02d", t.Minute())
	}
	return s
}

// HoursMinutes writes a duration of under a day or more in hours and
// minutes, rounded to the minute: "45 min", "3 h", "2 h 05", "27 h 30".
func HoursMinutes(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m == 0:
		return fmt.Sprintf("%d h", h)
	default:
		return fmt.Sprintf("%d h %02d", h, m)
	}
}

// DaysHoursMinutes writes a possibly negative duration with days:
// "45 min", "7 h 48", "2 j 15 h 00", "-1 h 05".
func DaysHoursMinutes(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var s string
	switch {
	case days > 0:
		s = fmt.Sprintf("%d j %d h %02d", days, h, m)
	case h > 0:
		s = fmt.Sprintf("%d h %02d", h, m)
	default:
		s = fmt.Sprintf("%d min", m)
	}
	if neg {
		s = "-" + s
	}
	return s
}

// FuncMap exposes the helpers to templates: {{frDate .At}}, {{frLong .Due}}…
func FuncMap() template.FuncMap {
	return template.FuncMap{
		"frDate":     Date,
		"frClock":    Clock,
		"frDateTime": DateTime,
		"frShort":    ShortDateTime,
		"frLong":     LongDateTime,
		"frHM":       HoursMinutes,
		"frDHM":      DaysHoursMinutes,
	}
}
