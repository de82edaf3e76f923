package clientnotify

import (
	"passerelle/config"
)

// Event is what a notification is about.
type Event string

// Events.
const (
	EventReceived    Event = "received"
	EventTransmitted Event = "transmitted"
	EventAnswer      Event = "answer"
	EventStatus      Event = "status"
	EventClosed      Event = "closed"
)

// threadMessage is what the sweep reads of one message.
type threadMessage struct {
	ID           string
	RequestID    string
	AuthorKind   string // client, staff, system
	Kind         string // message, status, ack, closed, reopened
	ClientStatus config.ClientStatus
	// First: the request's first message (the client's own request).
	First bool
}

// eventOf says which event a message is for its request's author, "" for
// none. Pure: table-tested in events_test.go.
//   - the client's first message: the request is received;
//   - the automatic acknowledgment (written once the Redmine issue exists):
//     transmitted;
//   - a staff message (a public note: private notes never become messages):
//     an answer;
//   - a status change: status, or closed when the new status is closed;
//   - what the client did themself (a follow-up, closing, the reopening that
//     writing on a closed request does): nothing to tell them.
func eventOf(m threadMessage) Event {
	switch {
	case m.AuthorKind == "client" && m.Kind == "message" && m.First:
		return EventReceived
	case m.Kind == "ack":
		return EventTransmitted
	case m.AuthorKind == "staff" && m.Kind == "message":
		return EventAnswer
	case m.Kind == "status" && m.ClientStatus == config.StatusClosed:
		return EventClosed
	case m.Kind == "status":
		return EventStatus
	}
	return ""
}

// alwaysImmediate: the acknowledgment of a new request is never held for the
// digest (the seeds' peer product sends it at once).
func alwaysImmediate(e Event) bool { return e == EventReceived }
