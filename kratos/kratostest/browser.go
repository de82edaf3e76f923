package kratostest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"
)

// The error-returning core of the helpers, without testing.TB, so a program
// (bench/) logs clients in exactly as the tests do.

// CreateIdentity creates an identity through Kratos' admin API (POST
// /admin/identities with body) and returns its id.
func CreateIdentity(ctx context.Context, adminURL string, body map[string]any) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	status, raw, err := doJSON(ctx, httpClient, http.MethodPost, adminURL+"/admin/identities", body, &created)
	if err != nil || status != http.StatusCreated {
		return "", fmt.Errorf("kratostest: creating identity: HTTP %d %v %.300s", status, err, raw)
	}
	return created.ID, nil
}

// BrowserSession logs in through Kratos' browser flow (GET
// /self-service/login/browser as JSON, then POST with the CSRF token and the
// CSRF cookie) and returns the ory_kratos_session cookie a browser would get.
func BrowserSession(ctx context.Context, publicURL, email, password string) (*http.Cookie, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Timeout: 20 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var flow struct {
		ID string `json:"id"`
		UI struct {
			Nodes []struct {
				Attributes struct {
					Name  string `json:"name"`
					Value any    `json:"value"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	if status, raw, err := doJSON(ctx, c, http.MethodGet, publicURL+"/self-service/login/browser", nil, &flow); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("kratostest: creating browser login flow: HTTP %d %v %.300s", status, err, raw)
	}
	csrf := ""
	for _, n := range flow.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			csrf, _ = n.Attributes.Value.(string)
		}
	}
	if status, raw, err := doJSON(ctx, c, http.MethodPost, publicURL+"/self-service/login?flow="+url.QueryEscape(flow.ID),
		map[string]any{"method": "password", "identifier": email, "password": password, "csrf_token": csrf}, nil); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("kratostest: browser login of %s: HTTP %d %v %.300s", email, status, err, raw)
	}
	u, _ := url.Parse(publicURL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == SessionCookie {
			return ck, nil
		}
	}
	return nil, fmt.Errorf("kratostest: browser login of %s set no %s cookie", email, SessionCookie)
}

// doJSON sends a JSON request and decodes a 2xx JSON answer into out.
func doJSON(ctx context.Context, c *http.Client, method, u string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("decoding %s %s: %w", method, u, err)
		}
	}
	return resp.StatusCode, raw, nil
}
