package kratostest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// UpdateSettings runs Kratos' API settings flow as the holder of
// sessionToken: GET /self-service/settings/api, then POST
// /self-service/settings?flow=ID with body (such as {"method":"password",
// "password":"..."}). It returns the status and body of the POST.
func UpdateSettings(t testing.TB, sessionToken string, body map[string]any) (int, string) {
	t.Helper()
	public := PublicURL(t)
	status, raw := tokenCall(t, http.MethodGet, public+"/self-service/settings/api", sessionToken, nil)
	if status != http.StatusOK {
		t.Fatalf("kratostest: creating settings flow: %d %s", status, raw)
	}
	var flow struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(raw), &flow); err != nil || flow.ID == "" {
		t.Fatalf("kratostest: settings flow: %v %s", err, raw)
	}
	return tokenCall(t, http.MethodPost, public+"/self-service/settings?flow="+url.QueryEscape(flow.ID), sessionToken, body)
}

// Traits returns an identity's traits as the admin API reads them.
func Traits(t testing.TB, identityID string) map[string]any {
	t.Helper()
	var got struct {
		Traits map[string]any `json:"traits"`
	}
	if status, raw := call(t, http.MethodGet, AdminURL(t)+"/admin/identities/"+identityID, nil, &got, nil); status != http.StatusOK {
		t.Fatalf("kratostest: reading identity: %d %s", status, raw)
	}
	return got.Traits
}

// tokenCall sends a JSON request with the X-Session-Token header and returns
// the status and the body (up to 1 MiB).
func tokenCall(t testing.TB, method, u, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Session-Token", token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("kratostest: %s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(raw)
}

// Recover completes an account recovery of the identity with a code, as a
// client who lost the password would: the admin API creates the code
// (POST /admin/recovery/code, what the agency's invitation uses), then the
// code is submitted to the recovery flow. Kratos answers the submission with
// 422 browser_location_change_required (go on to the settings page) once the
// code is accepted; any other answer fails the test.
func Recover(t testing.TB, identityID string) {
	t.Helper()
	var code struct {
		Link string `json:"recovery_link"`
		Code string `json:"recovery_code"`
	}
	if status, raw := call(t, http.MethodPost, AdminURL(t)+"/admin/recovery/code",
		map[string]any{"identity_id": identityID, "flow_type": "api"}, &code, nil); status != http.StatusCreated {
		t.Fatalf("kratostest: creating a recovery code: %d %s", status, raw)
	}
	u, err := url.Parse(code.Link)
	if err != nil || u.Query().Get("flow") == "" {
		t.Fatalf("kratostest: recovery link %q has no flow", code.Link)
	}
	status, raw := call(t, http.MethodPost, PublicURL(t)+"/self-service/recovery?flow="+url.QueryEscape(u.Query().Get("flow")),
		map[string]any{"method": "code", "code": code.Code}, nil, nil)
	if status != http.StatusUnprocessableEntity || !strings.Contains(raw, "browser_location_change_required") {
		t.Fatalf("kratostest: submitting the recovery code: %d %s", status, raw)
	}
}
