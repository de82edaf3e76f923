package kratostest

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// AcceptInvitation does what an invited client does in a browser: it
// submits the mailed code to the recovery flow of the mailed link (a browser
// flow the admin API created, which Kratos exempts from its CSRF check),
// gets a session and the settings flow Kratos sends it to, and chooses
// password there (with that flow's CSRF token and cookie). It returns the
// session cookie.
func AcceptInvitation(t testing.TB, link, code, password string) *http.Cookie {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("flow") == "" {
		t.Fatalf("kratostest: invitation link %q has no flow", link)
	}
	public := PublicURL(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Timeout: 20 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, raw := call(t, http.MethodPost, public+"/self-service/recovery?flow="+url.QueryEscape(u.Query().Get("flow")),
		map[string]any{"method": "code", "code": code}, nil, c)
	if status != http.StatusUnprocessableEntity || !strings.Contains(raw, "browser_location_change_required") {
		t.Fatalf("kratostest: submitting the invitation code: %d %s", status, raw)
	}
	var change struct {
		RedirectBrowserTo string `json:"redirect_browser_to"`
	}
	_ = json.Unmarshal([]byte(raw), &change)
	settings, err := url.Parse(change.RedirectBrowserTo)
	if err != nil || settings.Query().Get("flow") == "" {
		t.Fatalf("kratostest: the recovery sent the browser to %q, not a settings flow", change.RedirectBrowserTo)
	}
	var flow struct {
		UI struct {
			Nodes []struct {
				Attributes struct {
					Name  string `json:"name"`
					Value any    `json:"value"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	flowID := settings.Query().Get("flow")
	if status, raw := call(t, http.MethodGet, public+"/self-service/settings/flows?id="+url.QueryEscape(flowID), nil, &flow, c); status != http.StatusOK {
		t.Fatalf("kratostest: reading the settings flow: %d %s", status, raw)
	}
	csrf := ""
	for _, n := range flow.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			csrf, _ = n.Attributes.Value.(string)
		}
	}
	if status, raw := call(t, http.MethodPost, public+"/self-service/settings?flow="+url.QueryEscape(flowID),
		map[string]any{"method": "password", "password": password, "csrf_token": csrf}, nil, c); status != http.StatusOK {
		t.Fatalf("kratostest: choosing the password: %d %s", status, raw)
	}
	pu, _ := url.Parse(public)
	for _, ck := range jar.Cookies(pu) {
		if ck.Name == SessionCookie {
			return ck
		}
	}
	t.Fatalf("kratostest: the invitation gave no %s cookie", SessionCookie)
	return nil
}

// DeleteByEmail deletes the identity whose login is email, if any (cleanup
// of identities a test had the code under test create).
func DeleteByEmail(t testing.TB, email string) {
	t.Helper()
	var list []struct {
		ID string `json:"id"`
	}
	admin := AdminURL(t)
	if status, _ := call(t, http.MethodGet, admin+"/admin/identities?credentials_identifier="+url.QueryEscape(strings.ToLower(email)), nil, &list, nil); status != http.StatusOK {
		return
	}
	for _, i := range list {
		call(t, http.MethodDelete, admin+"/admin/identities/"+i.ID, nil, nil, nil)
	}
}
