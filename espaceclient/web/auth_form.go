package web

import (
	"sort"
	"strings"

	"passerelle/kratos"
)

// authForm is a Kratos flow's form as templates/auth_flow.html renders it:
// the browser posts it to Kratos (Action, Method) with every hidden input
// (the CSRF token first of all).
type authForm struct {
	Action, Method string
	Hidden         []authInput
	Fields         []authInput
	// Buttons are the submit inputs, the main one (name "method") first so
	// that Enter in a field submits it, not "renvoyer le code".
	Buttons []authInput
}

// authInput is one input or button of a flow's form.
type authInput struct {
	ID, Name, Type, Value, Label, Hint, Error string
	Autocomplete, InputMode                   string
	Required, Disabled                        bool
	// Secondary is a button other than the main one (resend the code).
	Secondary bool
}

// DescribedBy is the input's aria-describedby: its hint and its error.
func (in authInput) DescribedBy() string {
	var ids []string
	if in.Hint != "" {
		ids = append(ids, in.ID+"-hint")
	}
	if in.Error != "" {
		ids = append(ids, in.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// fieldStyle is how Passerelle shows a well-known input of Kratos' flows,
// whatever Kratos says of it: French label, HTML type and autocomplete.
type fieldStyle struct {
	label, hint, typ, autocomplete, inputMode string
}

// fieldStyles by flow kind ("" for any) and input name.
var fieldStyles = map[string]map[string]fieldStyle{
	"": {
		"identifier": {label: "auth.field.identifier", typ: "email", autocomplete: "username"},
		"email":      {label: "auth.field.email", typ: "email", autocomplete: "email"},
		"code":       {label: "auth.field.code", hint: "auth.field.code.hint", typ: "text", autocomplete: "one-time-code", inputMode: "numeric"},
		"password":   {label: "auth.field.password", typ: "password", autocomplete: "current-password"},
	},
	kratos.FlowSettings: {
		"password": {label: "auth.field.new_password", hint: "auth.field.new_password.hint", typ: "password", autocomplete: "new-password"},
	},
}

func styleOf(kind, name string) (fieldStyle, bool) {
	if s, ok := fieldStyles[kind][name]; ok {
		return s, true
	}
	s, ok := fieldStyles[""][name]
	return s, ok
}

// fieldID is the HTML id of input name (Kratos' names hold dots:
// traits.email).
func fieldID(name string) string {
	return "f-" + strings.NewReplacer(".", "-", " ", "-", "[", "-", "]", "-").Replace(name)
}

// buildForm turns flow into its form and the problems to list in the error
// summary: the flow's error messages (no field) and each input's, linked to
// it. Every text is translated by its Kratos id (catalogue kratos.<id>) and
// is escaped by the template like any other text.
func buildForm(cat Catalogue, fl kratos.Flow) (authForm, []fieldError) {
	f := authForm{Action: fl.Action, Method: fl.Method}
	if f.Method == "" {
		f.Method = "POST"
	}
	var errs []fieldError
	for _, m := range fl.Messages {
		if m.Type == "error" {
			errs = append(errs, fieldError{Message: kratosText(cat, m)})
		}
	}
	for _, n := range fl.Nodes {
		if n.Type != "input" {
			continue
		}
		in := authInput{ID: fieldID(n.Name), Name: n.Name, Type: n.InputType, Value: n.Value,
			Required: n.Required, Disabled: n.Disabled, Autocomplete: n.Autocomplete, Label: kratosText(cat, n.Label)}
		var nodeErrs, hints []string
		for _, m := range n.Messages {
			if m.Type == "error" {
				nodeErrs = append(nodeErrs, kratosText(cat, m))
			} else {
				hints = append(hints, kratosText(cat, m))
			}
		}
		switch in.Type {
		case "hidden":
			f.Hidden = append(f.Hidden, in)
			continue
		case "submit", "button":
			in.Type = "submit"
			in.Secondary = n.Name != "method"
			f.Buttons = append(f.Buttons, in)
			for _, e := range nodeErrs {
				errs = append(errs, fieldError{Message: e})
			}
			continue
		}
		if s, ok := styleOf(fl.Kind, n.Name); ok {
			in.Label, in.Type, in.Autocomplete, in.InputMode = cat.T(s.label), s.typ, s.autocomplete, s.inputMode
			if s.hint != "" {
				hints = append([]string{cat.T(s.hint)}, hints...)
			}
		}
		if in.Label == "" {
			in.Label = n.Name
		}
		in.Hint = strings.Join(hints, " ")
		if len(nodeErrs) > 0 {
			in.Error = strings.Join(nodeErrs, " ")
			errs = append(errs, fieldError{Field: in.ID, Message: in.Error})
		}
		f.Fields = append(f.Fields, in)
	}
	sort.SliceStable(f.Buttons, func(i, j int) bool { return !f.Buttons[i].Secondary && f.Buttons[j].Secondary })
	return f, errs
}

// flowInfos are the flow's information and success messages ("un code vous
// a été envoyé", "modifications enregistrées") and its text nodes.
func flowInfos(cat Catalogue, fl kratos.Flow) []string {
	var out []string
	for _, m := range fl.Messages {
		if m.Type != "error" {
			out = append(out, kratosText(cat, m))
		}
	}
	for _, n := range fl.Nodes {
		if n.Type == "text" {
			out = append(out, kratosText(cat, n.Label))
		}
	}
	return out
}
