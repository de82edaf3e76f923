package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"passerelle/kratos/kratostest"
)

// Clients log in through kratos/kratostest's error-returning helpers, as
// the tests do.

var plainHTTP = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// doJSON sends a JSON request and decodes a 2xx JSON answer into out.
func doJSON(ctx context.Context, c *http.Client, method, u string, hdr http.Header, body, out any) (int, []byte, error) {
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
	for k, v := range hdr {
		req.Header[k] = v
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
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("decoding %s %s: %w", method, u, err)
		}
	}
	return resp.StatusCode, raw, nil
}

// customer is a tenant with a Kratos identity and a browser session cookie.
type customer struct {
	id, email string
	cookie    *http.Cookie
}

// newTenant creates a verified tenant identity holding one lot and logs it
// in through Kratos' browser flow (the session cookie a browser would get).
func newTenant(ctx context.Context, st *stack) (*customer, error) {
	email := "bench-" + randomHex(6) + "@example.test"
	password := "pw-" + randomHex(12)
	body := map[string]any{
		"schema_id":            "client",
		"traits":               map[string]any{"email": email, "name": map[string]any{"first": "Client", "last": "Bench"}},
		"credentials":          map[string]any{"password": map[string]any{"config": map[string]any{"password": password}}},
		"metadata_public":      map[string]any{"role": "tenant", "lots": []string{"BENCH-" + randomHex(3)}, "mandates": []string{}},
		"verifiable_addresses": []map[string]any{{"value": email, "via": "email", "verified": true, "status": "completed"}},
	}
	id, err := kratostest.CreateIdentity(ctx, st.kratosAdmin, body)
	if err != nil {
		return nil, err
	}
	ck, err := kratostest.BrowserSession(ctx, st.kratosPub, email, password)
	if err != nil {
		return nil, err
	}
	return &customer{id: id, email: email, cookie: ck}, nil
}

// deleteMail removes the mails the stack's SMTP catcher stored for the
// benchmark's tenants (acknowledgments, notifications: thousands a run),
// and only those, from the shared Maildir. It returns how many it removed.
func deleteMail(customers []*customer) int {
	dir := os.Getenv("MAILDIR")
	if dir == "" {
		return 0
	}
	n := 0
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range entries {
			path := filepath.Join(dir, sub, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			head := string(data[:min(len(data), 8192)])
			for _, c := range customers {
				if strings.Contains(head, "To: <"+c.email+">") {
					if os.Remove(path) == nil {
						n++
					}
					break
				}
			}
		}
	}
	return n
}

// deleteIdentity removes a benchmark identity from Kratos.
func deleteIdentity(st *stack, id string) {
	req, _ := http.NewRequest(http.MethodDelete, st.kratosAdmin+"/admin/identities/"+id, nil)
	if resp, err := plainHTTP.Do(req); err == nil {
		resp.Body.Close()
	}
}

// apiRequest is a request as the customer-space API shows it.
type apiRequest struct {
	ID             string `json:"id"`
	Reference      string `json:"reference"`
	RedmineIssueID *int   `json:"redmine_issue_id"`
	Messages       []struct {
		AuthorKind string `json:"author_kind"`
		Body       string `json:"body"`
	} `json:"messages"`
}

func (c *customer) headers() http.Header {
	return http.Header{"Cookie": {c.cookie.Name + "=" + c.cookie.Value}}
}

// api calls the customer-space API with the session cookie.
func (c *customer) api(ctx context.Context, base, method, path string, body, out any, want int) error {
	status, raw, err := doJSON(ctx, plainHTTP, method, base+path, c.headers(), body, out)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: HTTP %d, want %d: %.300s", method, path, status, want, raw)
	}
	return nil
}

// create files a request of category "autre" (JSON).
func (c *customer) create(ctx context.Context, base, subject string) (apiRequest, error) {
	var r apiRequest
	err := c.api(ctx, base, http.MethodPost, "/api/v1/requests",
		map[string]string{"category": "autre", "subject": subject, "body": "Mesure de performance : " + subject}, &r, http.StatusCreated)
	return r, err
}

// createWithFiles files a request with n PNG attachments (multipart).
func (c *customer) createWithFiles(ctx context.Context, base, subject string, n int) (apiRequest, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"category": "autre", "subject": subject, "body": "Mesure avec pièces jointes."} {
		_ = mw.WriteField(k, v)
	}
	for i := 0; i < n; i++ {
		fw, err := mw.CreateFormFile("attachments", "photo-"+strconv.Itoa(i)+".png")
		if err != nil {
			return apiRequest{}, err
		}
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		img.Set(i, i, color.RGBA{R: 200, A: 255})
		if err := png.Encode(fw, img); err != nil {
			return apiRequest{}, err
		}
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/requests", &buf)
	if err != nil {
		return apiRequest{}, err
	}
	req.Header = c.headers()
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := plainHTTP.Do(req)
	if err != nil {
		return apiRequest{}, fmt.Errorf("POST /api/v1/requests (multipart): %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r apiRequest
	if resp.StatusCode != http.StatusCreated {
		return r, fmt.Errorf("POST /api/v1/requests (multipart): HTTP %d: %.300s", resp.StatusCode, raw)
	}
	return r, json.Unmarshal(raw, &r)
}

// get reads one request with its thread.
func (c *customer) get(ctx context.Context, base, id string) (apiRequest, error) {
	var r apiRequest
	err := c.api(ctx, base, http.MethodGet, "/api/v1/requests/"+id, nil, &r, http.StatusOK)
	return r, err
}

// waitMirrored waits until the request shows its Redmine issue number.
func (c *customer) waitMirrored(ctx context.Context, base, id string, bound time.Duration) (int, error) {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		r, err := c.get(ctx, base, id)
		if err != nil {
			return 0, err
		}
		if r.RedmineIssueID != nil {
			return *r.RedmineIssueID, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("request %s not mirrored after %s", id, bound)
}

// redmineAs talks to Redmine's REST API with one user's key, directly (not
// through the proxy): the raw counterpart of every figure.
type redmineAs struct {
	base, key string
}

func (r redmineAs) call(ctx context.Context, method, path string, body, out any) (int, []byte, error) {
	return doJSON(ctx, plainHTTP, method, r.base+path, http.Header{"X-Redmine-Api-Key": {r.key}}, body, out)
}

// createIssue is the raw POST /issues.json a request becomes (same project,
// tracker, assignee, reference and due custom fields, and a description of
// the same size). The assignee matters most: Redmine mails a group's
// members on each creation, which halved its POST rate here (measured:
// 13.8/s without, 6.1/s with the stack's Gestionnaires group, 4 in flight).
func (r redmineAs) createIssue(ctx context.Context, st *stack, ref string) error {
	cfs := []map[string]any{{"id": st.referenceCF, "value": ref}}
	if st.dueCF > 0 {
		cfs = append(cfs, map[string]any{"id": st.dueCF, "value": time.Now().Add(48 * time.Hour).Format("2006-01-02 15:04")})
	}
	issue := map[string]any{
		"project_id": st.projectID, "tracker_id": st.trackerID, "subject": "Mesure brute " + ref,
		"description":   "Mesure de performance brute : " + ref + "\n\n---\nDemande " + ref,
		"custom_fields": cfs,
	}
	if st.assigneeID > 0 {
		issue["assigned_to_id"] = st.assigneeID
	}
	body := map[string]any{"issue": issue}
	status, raw, err := r.call(ctx, http.MethodPost, "/issues.json", body, nil)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("raw POST /issues.json: HTTP %d: %.300s", status, raw)
	}
	return nil
}

// addNote adds a public staff note to an issue (PUT /issues/N.json).
func (r redmineAs) addNote(ctx context.Context, issueID int, notes string) error {
	status, raw, err := r.call(ctx, http.MethodPut, "/issues/"+strconv.Itoa(issueID)+".json", map[string]any{"issue": map[string]any{"notes": notes}}, nil)
	if err != nil {
		return err
	}
	if status != http.StatusNoContent && status != http.StatusOK {
		return fmt.Errorf("PUT /issues/%d.json: HTTP %d: %.300s", issueID, status, raw)
	}
	return nil
}
