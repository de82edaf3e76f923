package kratos

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	ory "github.com/ory/kratos-client-go"
)

// uiOf decodes a ui container as Kratos v1.3.1 sends it, with the client's
// own types (as FrontendAPI does).
func uiOf(t *testing.T, raw string) ory.UiContainer {
	t.Helper()
	var ui ory.UiContainer
	if err := json.Unmarshal([]byte(raw), &ui); err != nil {
		t.Fatalf("decoding ui: %v", err)
	}
	return ui
}

func TestConvertFlow(t *testing.T) {
	csrf := `{"type":"input","group":"default","attributes":{"name":"csrf_token","type":"hidden","value":"tok+/=","required":true,"disabled":false,"node_type":"input"},"messages":[],"meta":{}}`
	tests := []struct {
		name  string
		kind  string
		state any
		ui    string
		want  Flow
	}{
		{
			name: "login: hidden csrf_token, identifier, password, submit named method",
			kind: FlowLogin, state: "choose_method",
			ui: `{"action":"http://k/self-service/login?flow=f1","method":"POST","nodes":[` + csrf + `,
			 {"type":"input","group":"default","attributes":{"name":"identifier","type":"text","value":"","required":true,"disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070002,"text":"Adresse e-mail","type":"info","context":{"title":"Adresse e-mail"}}}},
			 {"type":"input","group":"password","attributes":{"name":"password","type":"password","required":true,"autocomplete":"current-password","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070001,"text":"Password","type":"info"}}},
			 {"type":"input","group":"password","attributes":{"name":"method","type":"submit","value":"password","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1010022,"text":"Sign in with password","type":"info"}}}]}`,
			want: Flow{ID: "f1", Kind: FlowLogin, Action: "http://k/self-service/login?flow=f1", Method: "POST", State: "choose_method",
				Nodes: []Node{
					{Group: "default", Type: "input", Name: "csrf_token", InputType: "hidden", Value: "tok+/=", Required: true},
					{Group: "default", Type: "input", Name: "identifier", InputType: "text", Required: true, Label: Text{ID: 1070002, Text: "Adresse e-mail", Type: "info"}},
					{Group: "password", Type: "input", Name: "password", InputType: "password", Required: true, Autocomplete: "current-password", Label: Text{ID: 1070001, Text: "Password", Type: "info"}},
					{Group: "password", Type: "input", Name: "method", InputType: "submit", Value: "password", Label: Text{ID: 1010022, Text: "Sign in with password", Type: "info"}},
				}},
		},
		{
			name: "login refused: message on the flow and on a node",
			kind: FlowLogin, state: "choose_method",
			ui: `{"action":"a","method":"POST","messages":[{"id":4000006,"text":"The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.","type":"error"}],"nodes":[
			 {"type":"input","group":"default","attributes":{"name":"identifier","type":"text","value":"marie@example.test","required":true,"disabled":false,"node_type":"input"},"messages":[{"id":4000002,"text":"Property identifier is missing.","type":"error","context":{"property":"identifier"}}],"meta":{}}]}`,
			want: Flow{ID: "f2", Kind: FlowLogin, Action: "a", Method: "POST", State: "choose_method",
				Messages: []Text{{ID: 4000006, Text: "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.", Type: "error"}},
				Nodes: []Node{{Group: "default", Type: "input", Name: "identifier", InputType: "text", Value: "marie@example.test", Required: true,
					Messages: []Text{{ID: 4000002, Text: "Property identifier is missing.", Type: "error"}}}}},
		},
		{
			name: "recovery sent_email: a code input, a hidden method, a resend button",
			kind: FlowRecovery, state: "sent_email",
			ui: `{"action":"r","method":"POST","messages":[{"id":1060003,"text":"An email containing a recovery code has been sent","type":"info"}],"nodes":[
			 {"type":"input","group":"code","attributes":{"name":"code","type":"text","required":true,"pattern":"[0-9]+","maxlength":6,"disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070010,"text":"Recovery code","type":"info"}}},
			 {"type":"input","group":"code","attributes":{"name":"method","type":"hidden","value":"code","disabled":false,"node_type":"input"},"messages":[],"meta":{}},
			 {"type":"input","group":"code","attributes":{"name":"email","type":"submit","value":"marie@example.test","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070008,"text":"Resend code","type":"info"}}}]}`,
			want: Flow{ID: "f3", Kind: FlowRecovery, Action: "r", Method: "POST", State: "sent_email",
				Messages: []Text{{ID: 1060003, Text: "An email containing a recovery code has been sent", Type: "info"}},
				Nodes: []Node{
					{Group: "code", Type: "input", Name: "code", InputType: "text", Required: true, Label: Text{ID: 1070010, Text: "Recovery code", Type: "info"}},
					{Group: "code", Type: "input", Name: "method", InputType: "hidden", Value: "code"},
					{Group: "code", Type: "input", Name: "email", InputType: "submit", Value: "marie@example.test", Label: Text{ID: 1070008, Text: "Resend code", Type: "info"}},
				}},
		},
		{
			name: "input label without meta label, a text node, an anchor, a numeric value",
			kind: FlowSettings, state: map[string]any{"odd": true},
			ui: `{"action":"s","method":"POST","nodes":[
			 {"type":"input","group":"password","attributes":{"name":"n","type":"number","value":12,"label":{"id":1070002,"text":"Nombre","type":"info"},"disabled":true,"node_type":"input"},"messages":[],"meta":{}},
			 {"type":"text","group":"lookup_secret","attributes":{"id":"lookup","text":{"id":1050015,"text":"a, b","type":"info"},"node_type":"text"},"messages":[],"meta":{}},
			 {"type":"a","group":"default","attributes":{"id":"back","href":"http://x/","title":{"id":1,"text":"Back","type":"info"},"node_type":"a"},"messages":[],"meta":{}}]}`,
			want: Flow{ID: "f4", Kind: FlowSettings, Action: "s", Method: "POST", State: "map[odd:true]",
				Nodes: []Node{
					{Group: "password", Type: "input", Name: "n", InputType: "number", Value: "12", Disabled: true, Label: Text{ID: 1070002, Text: "Nombre", Type: "info"}},
					{Group: "lookup_secret", Type: "text", Name: "lookup", Label: Text{ID: 1050015, Text: "a, b", Type: "info"}},
					{Group: "default", Type: "a", Name: "back", Value: "http://x/", Label: Text{ID: 1, Text: "Back", Type: "info"}},
				}},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := []string{"f1", "f2", "f3", "f4"}[i]
			got := ConvertFlow(tt.kind, id, tt.state, uiOf(t, tt.ui))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConvertFlowError(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want FlowError
	}{
		{"stub 500", `{"id":"e1","error":{"code":500,"status":"Internal Server Error","reason":"This is a stub error.","message":"An internal server error occurred"}}`,
			FlowError{ID: "e1", Code: 500, Status: "Internal Server Error", Reason: "This is a stub error.", Message: "An internal server error occurred"}},
		{"no error body", `{"id":"e2"}`, FlowError{ID: "e2"}},
		{"odd types ignored", `{"id":"e3","error":{"code":"x","message":3}}`, FlowError{ID: "e3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fe ory.FlowError
			if err := json.Unmarshal([]byte(tt.raw), &fe); err != nil {
				t.Fatal(err)
			}
			if got := ConvertFlowError(&fe); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := ConvertFlowError(nil); got != (FlowError{}) {
		t.Fatalf("nil: got %+v", got)
	}
}

func TestFlowCookiesForwardsOnlyKratosCookies(t *testing.T) {
	tests := []struct {
		name, cookie, want string
	}{
		{"none", "", ""},
		{"others dropped", "_ga=GA1; theme=dark", ""},
		{"session and csrf kept, in order", "_ga=GA1; csrf_token_806060ca5bf=abc+/=; other=secret; ory_kratos_session=MTY5",
			"csrf_token_806060ca5bf=abc+/=; ory_kratos_session=MTY5"},
		{"look-alike names dropped", "csrf_token=x; ory_kratos_session_old=y; my_csrf_token_z=w", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/connexion", nil)
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			if got := flowCookies(r); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFlowFailure(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name   string
		status int // 0: no answer
		want   error
	}{
		{"no answer", 0, ErrUnavailable},
		{"400 malformed id", http.StatusBadRequest, ErrFlowGone},
		{"401 settings without a session", http.StatusUnauthorized, ErrNoSession},
		{"403 csrf mismatch", http.StatusForbidden, ErrFlowGone},
		{"404 unknown", http.StatusNotFound, ErrFlowGone},
		{"410 expired", http.StatusGone, ErrFlowGone},
		{"429 rate limited", http.StatusTooManyRequests, ErrUnavailable},
		{"500", http.StatusInternalServerError, ErrUnavailable},
		{"503", http.StatusServiceUnavailable, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if tt.status != 0 {
				resp = &http.Response{StatusCode: tt.status, Status: http.StatusText(tt.status)}
			}
			err := flowFailure("fetching", resp, cause)
			if !errors.Is(err, tt.want) || !errors.Is(err, cause) {
				t.Fatalf("got %v, want %v wrapping the cause", err, tt.want)
			}
		})
	}
}

func TestBrowserURL(t *testing.T) {
	f := NewFlows("http://kratos:4433/", nil)
	if got, want := f.BrowserURL(FlowLogin, "http://127.0.0.1:8080/demandes/1?x=1"),
		"http://kratos:4433/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A8080%2Fdemandes%2F1%3Fx%3D1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	f.WithBrowserURL("https://auth.agence.fr/")
	if got, want := f.BrowserURL(FlowRecovery, ""), "https://auth.agence.fr/self-service/recovery/browser"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	f.WithBrowserURL("")
	if got, want := f.BrowserURL(FlowSettings, ""), "https://auth.agence.fr/self-service/settings/browser"; got != want {
		t.Fatalf("empty browser URL must keep the current one: got %q", got)
	}
}
