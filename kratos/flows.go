package kratos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	ory "github.com/ory/kratos-client-go"
)

// csrfCookiePrefix starts the name of Kratos' CSRF cookie(s) (csrf_token_
// followed by a hash of the base URL).
const csrfCookiePrefix = "csrf_token_"

// Flows reads Kratos' self-service browser flows (login, recovery,
// verification, settings), their errors and the logout URL, on Kratos'
// public API, for the customer space's pages. Flows come back as the pure
// types of flow.go (see ConvertFlow).
//
// Only Kratos' own cookies are forwarded: ory_kratos_session and the CSRF
// cookie(s) csrf_token_*; every other cookie of the browser stays here.
type Flows struct {
	api        *ory.APIClient
	browserURL string
}

// NewFlows returns a reader of flows on Kratos' public URL (as this server
// reaches it). hc may be nil (a client with DefaultTimeout). Browsers are
// sent to the same URL unless WithBrowserURL says otherwise.
func NewFlows(publicURL string, hc *http.Client) *Flows {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Flows{api: newClient(publicURL, hc), browserURL: strings.TrimRight(publicURL, "/")}
}

// WithBrowserURL sets the address browsers reach Kratos' public API at
// (config kratos.browser_url), when it differs from the server-side one;
// "" keeps the public URL. It returns f.
func (f *Flows) WithBrowserURL(u string) *Flows {
	if u != "" {
		f.browserURL = strings.TrimRight(u, "/")
	}
	return f
}

// BrowserURL is where a browser starts a flow of kind, to come back to
// returnTo (an absolute URL, "" for Kratos' default).
func (f *Flows) BrowserURL(kind, returnTo string) string {
	u := f.browserURL + "/self-service/" + url.PathEscape(kind) + "/browser"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	return u
}

// Flow fetches flow id of kind with the browser's Kratos cookies. It fails
// with ErrFlowGone (expired, unknown, or refused: 400, 403, 404, 410; the
// page starts a new flow), ErrNoSession (a settings flow without a valid
// session: 401) or ErrUnavailable (no answer, a timeout, a 5xx or a 429).
func (f *Flows) Flow(ctx context.Context, kind, id string, r *http.Request) (Flow, error) {
	if id == "" {
		return Flow{}, ErrFlowGone
	}
	cookie := flowCookies(r)
	var (
		ui    *ory.UiContainer
		state any
		resp  *http.Response
		err   error
	)
	switch kind {
	case FlowLogin:
		var fl *ory.LoginFlow
		fl, resp, err = f.api.FrontendAPI.GetLoginFlow(ctx).Id(id).Cookie(cookie).Execute()
		if fl != nil {
			ui, state = &fl.Ui, fl.State
		}
	case FlowRecovery:
		var fl *ory.RecoveryFlow
		fl, resp, err = f.api.FrontendAPI.GetRecoveryFlow(ctx).Id(id).Cookie(cookie).Execute()
		if fl != nil {
			ui, state = &fl.Ui, fl.State
		}
	case FlowVerification:
		var fl *ory.VerificationFlow
		fl, resp, err = f.api.FrontendAPI.GetVerificationFlow(ctx).Id(id).Cookie(cookie).Execute()
		if fl != nil {
			ui, state = &fl.Ui, fl.State
		}
	case FlowSettings:
		var fl *ory.SettingsFlow
		fl, resp, err = f.api.FrontendAPI.GetSettingsFlow(ctx).Id(id).Cookie(cookie).Execute()
		if fl != nil {
			ui, state = &fl.Ui, fl.State
		}
	default:
		return Flow{}, fmt.Errorf("kratos: unknown flow kind %q", kind)
	}
	closeBody(resp)
	if err != nil {
		return Flow{}, flowFailure("fetching "+kind+" flow", resp, err)
	}
	if ui == nil {
		return Flow{}, fail(ErrUnavailable, fmt.Errorf("fetching %s flow: empty answer", kind))
	}
	return ConvertFlow(kind, id, state, *ui), nil
}

// FlowError fetches the self-service error id (GET /self-service/errors).
// ErrFlowGone when it is unknown or expired, ErrUnavailable when Kratos
// cannot answer.
func (f *Flows) FlowError(ctx context.Context, id string) (FlowError, error) {
	if id == "" {
		return FlowError{}, ErrFlowGone
	}
	fe, resp, err := f.api.FrontendAPI.GetFlowError(ctx).Id(id).Execute()
	closeBody(resp)
	if err != nil {
		return FlowError{}, flowFailure("fetching self-service error", resp, err)
	}
	return ConvertFlowError(fe), nil
}

// LogoutURL returns the URL that ends the browser's session (Kratos clears
// its cookie, then sends the browser to
// selfservice.flows.logout.after.default_browser_return_url). ErrNoSession
// when the request has no valid session, ErrUnavailable when Kratos cannot
// answer.
func (f *Flows) LogoutURL(ctx context.Context, r *http.Request) (string, error) {
	cookie, _ := sessionCredentials(r)
	if cookie == "" {
		return "", ErrNoSession
	}
	lf, resp, err := f.api.FrontendAPI.CreateBrowserLogoutFlow(ctx).Cookie(cookie).Execute()
	closeBody(resp)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return "", fail(ErrNoSession, kratosCause("creating logout flow", resp, err))
		}
		return "", fail(ErrUnavailable, kratosCause("creating logout flow", resp, err))
	}
	if lf == nil || lf.LogoutUrl == "" {
		return "", fail(ErrUnavailable, errors.New("creating logout flow: no logout_url"))
	}
	return lf.LogoutUrl, nil
}

// flowFailure maps a failed flow or error fetch to the package's typed
// errors (see Flow).
func flowFailure(what string, resp *http.Response, err error) error {
	cause := kratosCause(what, resp, err)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch {
	case status == http.StatusUnauthorized:
		return fail(ErrNoSession, cause)
	case status == http.StatusBadRequest, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusGone:
		return fail(ErrFlowGone, cause)
	}
	// No answer, a 5xx, a 429, or an answer that could not be read.
	return fail(ErrUnavailable, cause)
}

// flowCookies returns the Cookie header value forwarded to Kratos: its
// session cookie and its CSRF cookie(s), never the browser's other cookies.
func flowCookies(r *http.Request) string {
	var parts []string
	for _, c := range r.Cookies() {
		if c.Name == SessionCookie || strings.HasPrefix(c.Name, csrfCookiePrefix) {
			parts = append(parts, (&http.Cookie{Name: c.Name, Value: c.Value}).String())
		}
	}
	return strings.Join(parts, "; ")
}

func closeBody(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
}

// ConvertFlow turns a flow's ui container as kratos-client-go decodes it
// into the pure Flow pages render: every node with its attributes, label
// (meta.label, else the input's own label) and messages, and the flow's
// messages. It is pure: no I/O, no clock.
func ConvertFlow(kind, id string, state any, ui ory.UiContainer) Flow {
	f := Flow{ID: id, Kind: kind, Action: ui.Action, Method: ui.Method, State: valueString(state),
		Messages: convertTexts(ui.Messages)}
	for _, n := range ui.Nodes {
		f.Nodes = append(f.Nodes, convertNode(n))
	}
	return f
}

func convertNode(n ory.UiNode) Node {
	node := Node{Group: n.Group, Type: n.Type, Messages: convertTexts(n.Messages)}
	a := n.Attributes
	switch {
	case a.UiNodeInputAttributes != nil:
		in := a.UiNodeInputAttributes
		node.Name, node.InputType, node.Value = in.Name, in.Type, valueString(in.Value)
		node.Required = in.Required != nil && *in.Required
		node.Disabled = in.Disabled
		if in.Autocomplete != nil {
			node.Autocomplete = *in.Autocomplete
		}
		if in.Label != nil {
			node.Label = convertText(*in.Label)
		}
	case a.UiNodeTextAttributes != nil:
		node.Name, node.Label = a.UiNodeTextAttributes.Id, convertText(a.UiNodeTextAttributes.Text)
	case a.UiNodeAnchorAttributes != nil:
		an := a.UiNodeAnchorAttributes
		node.Name, node.Value, node.Label = an.Id, an.Href, convertText(an.Title)
	case a.UiNodeImageAttributes != nil:
		node.Name, node.Value = a.UiNodeImageAttributes.Id, a.UiNodeImageAttributes.Src
	case a.UiNodeScriptAttributes != nil:
		// Scripts (WebAuthn) are never rendered: only their id is kept.
		node.Name = a.UiNodeScriptAttributes.Id
	}
	if n.Meta.Label != nil {
		node.Label = convertText(*n.Meta.Label)
	}
	return node
}

func convertTexts(ts []ory.UiText) []Text {
	if len(ts) == 0 {
		return nil
	}
	out := make([]Text, 0, len(ts))
	for _, t := range ts {
		out = append(out, convertText(t))
	}
	return out
}

func convertText(t ory.UiText) Text { return Text{ID: t.Id, Text: t.Text, Type: t.Type} }

// valueString writes an input's value as the form sends it (JSON decodes
// numbers as float64 and booleans as bool).
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// ConvertFlowError turns Kratos' self-service error into FlowError. Pure.
func ConvertFlowError(fe *ory.FlowError) FlowError {
	if fe == nil {
		return FlowError{}
	}
	out := FlowError{ID: fe.Id}
	e := fe.Error
	if c, ok := e["code"].(float64); ok {
		out.Code = int(c)
	}
	out.Status, _ = e["status"].(string)
	out.Reason, _ = e["reason"].(string)
	out.Message, _ = e["message"].(string)
	return out
}
