package kratos

import "errors"

// ErrFlowGone is a self-service flow that expired, was already used, or does
// not exist: the page starts a new one.
var ErrFlowGone = errors.New("kratos: self-service flow expired or unknown")

// Flow kinds of Kratos' self-service browser flows.
const (
	FlowLogin        = "login"
	FlowRecovery     = "recovery"
	FlowVerification = "verification"
	FlowSettings     = "settings"
)

// Flow is a self-service browser flow as a page renders it: the form Kratos
// wants (action, method, nodes) and its messages. Converted from
// kratos-client-go's types by a pure function, so pages never see them.
type Flow struct {
	ID   string
	Kind string
	// Action and Method are the form's: the browser posts to Kratos itself.
	Action string
	Method string
	// State is the flow's step (recovery/verification: choose_method,
	// sent_email, passed_challenge; settings: show_form, success).
	State    string
	Messages []Text
	Nodes    []Node
}

// Node is one element of a flow's form.
type Node struct {
	// Group is default, password, code, link, profile…
	Group string
	// Type is the node's type: input, text, a, img, script.
	Type string
	// Name, InputType, Value, Required, Disabled and Autocomplete are an
	// input's attributes (InputType: text, email, password, hidden, submit…).
	Name         string
	InputType    string
	Value        string
	Required     bool
	Disabled     bool
	Autocomplete string
	// Label is the input's label (a submit button's text).
	Label    Text
	Messages []Text
}

// Text is a message of Kratos (ui text): ID is its stable number (for
// example 4000006 "The provided credentials are invalid"), Type is info,
// error or success; pages translate by ID and fall back to Text.
type Text struct {
	ID   int64
	Text string
	Type string
}

// FlowError is a self-service error (GET /self-service/errors?id=).
type FlowError struct {
	ID      string
	Code    int
	Status  string
	Reason  string
	Message string
}
