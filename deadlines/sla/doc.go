// Package sla computes a request's response deadlines on the agency's
// business calendar, from the request's history, so that they can be
// recomputed and explained at any time. It is pure logic: no database, no
// I/O, and the clock is always passed in.
//
// # The calendar
//
// A Calendar (NewCalendar, from config.Calendar) knows the agency's time zone
// (Europe/Paris by default), its opening hours per weekday (Monday to Friday
// 09:00-18:00 by default, several ranges a day allowed), the French public
// holidays (github.com/rickar/cal/v2/fr: 1 January, Easter Monday, 1 and
// 8 May, Ascension, Whit Monday, 14 July, 15 August, 1 and 11 November,
// 25 December), extra closed days and days worked despite a holiday. Every
// instant is converted to the calendar's zone, so nights, weekends and both
// changes of summer time are handled by the zone database, not by
// arithmetic on hours.
//
// Durations (Duration) are counted on one of two clocks:
//   - business: "Nd" is N working days, the same wall time N working days
//     later ("1d" from Friday 17:59 is Monday 17:59; from a Sunday it is
//     Monday at closing time); "Nh" is N hours of opening time;
//   - calendar: "Nd" is N calendar days at the same wall time (23 or 25 hours
//     across a change of summer time); "Nh" is N elapsed hours.
//
// # Deadlines
//
// A Policy (Policies.For, from the configuration) gives up to three targets:
// FirstAnswer, Action and Resolution. Compute replays a request's events
// (Created, ClientMessage, StaffPublicNote, StatusChange) and returns its
// deadlines:
//   - the first answer is a public staff note, never the automatic
//     acknowledgment (a system message, not an event); a client follow-up
//     once answered starts a new first-answer deadline;
//   - a significant action is recorded as a public staff note too; it is
//     due once, from the filing;
//   - the resolution is the closing; a reopening starts a new one;
//   - the clock pauses while the client status is waiting_client, and
//     resumes when the client writes or the status leaves waiting_client;
//   - closing stops everything.
//
// The time a deadline allows is converted once, when it starts, into counted
// time (opening time on the business clock, elapsed time on the calendar
// clock); pauses then only shift the due time. Progress gives the share of
// the allowed time used at an instant: staff are warned at WarnAt (the
// policy's share, 75 % by default) and the deadline is escalated at Due, once
// per Deadline.ID, which is stable across recomputations. Explain lists how
// the time was counted, interval by interval, for "passerelle explain".
//
// Calendar.FormatDue writes a due time for clients: "mardi 24 novembre à
// 18 h".
package sla
