package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// A file staff attach together with a PRIVATE note never reaches the client
// nor the lot's owner, and neither does a file attached alone; a file
// attached in the same update as a public note does, served as a download
// with a sniffed type (an HTML file as application/octet-stream). The status
// change made with the private note still reaches the client.
// (Issue 10, items 1 and 8: Redmine 5.0.4 moves the files of a private note
// into a separate public journal without notes, which was forwarded as
// "Document ajouté".)
func TestPrivateNoteAttachmentNeverReachesClient(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	in := d.writeConfig("serve", nil)
	d.migrate(in)
	srv := d.serve(in)
	rm := newStaff(t, d.st)
	base := srv.in.baseURL

	tenant := newTenant(t)
	_, _, ownerToken := kratostest.NewClient(t, "owner", []string{tenant.lot}, nil)
	owner := &customer{t: t, token: ownerToken, lot: tenant.lot}
	fields := newRequestFields("Fuite sous l'évier", "Ça goutte depuis hier soir.")
	fields["lot"] = tenant.lot
	var req apiRequest
	tenant.mustCall(base, http.MethodPost, "/api/v1/requests", fields, &req, http.StatusCreated)
	issue := tenant.waitIssue(base, req.ID, 60*time.Second)
	t.Logf("request %s is issue #%d", req.Reference, issue)

	tag := d.prefix
	pdf := []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
	// 1. Private note + file + status change, one update.
	rm.update(issue, map[string]any{
		"notes":         fmt.Sprintf("NOTE PRIVÉE : devis fournisseur avec notre marge (%s).", tag),
		"private_notes": true,
		"status_id":     d.st.statusFeedbackID,
		"uploads":       []any{rm.upload("devis-interne-marge.pdf", "application/pdf", pdf)},
	})
	// 2. A file attached alone.
	rm.update(issue, map[string]any{"uploads": []any{rm.upload("brouillon-interne.html", "text/html", []byte("<html><script>alert(1)</script></html>"))}})
	// 3. A public note with two files: published.
	public := fmt.Sprintf("Voici le devis du plombier et son mot (%s).", tag)
	rm.update(issue, map[string]any{
		"notes": public,
		"uploads": []any{
			rm.upload("devis-plombier.pdf", "application/pdf", pdf),
			rm.upload("mot.html", "text/html", []byte("<html><script>alert(document.cookie)</script></html>")),
		},
	})

	var thread threadWithFiles
	waitUntil(t, syncBound, "the public note with its files reaches the client", func() (bool, string) {
		thread = getThread(tenant, base, req.ID)
		return len(thread.filesOf(public)) == 2 && thread.Status == "waiting_client", thread.summary()
	})
	// Two more polls, then look at everything.
	time.Sleep(2 * pollInterval)
	thread = getThread(tenant, base, req.ID)
	thread.checkNothingInternal(t, "tenant")
	if got := thread.filesOf(public); len(got) != 2 {
		t.Errorf("the public note carries %d files, want 2\n%s", len(got), thread.summary())
	}
	if thread.Status != "waiting_client" {
		t.Errorf("client status %q, want waiting_client (set with the private note)", thread.Status)
	}
	status, _, err := owner.call(base, http.MethodGet, "/api/v1/requests/"+req.ID, nil, nil)
	switch {
	case err != nil:
		t.Fatal(err)
	case status == http.StatusOK:
		getThread(owner, base, req.ID).checkNothingInternal(t, "owner")
	default:
		t.Logf("the lot's owner cannot read the request at all (HTTP %d)", status)
	}

	// The published files download as attachments, with a sniffed type.
	want := map[string]string{"devis-plombier.pdf": "application/pdf", "mot.html": "application/octet-stream"}
	for _, f := range thread.filesOf(public) {
		r, err := http.NewRequest(http.MethodGet, base+f.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Session-Token", tenant.token)
		resp, err := apiHTTP.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ct, cd, ns := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), resp.Header.Get("X-Content-Type-Options")
		t.Logf("download %s: HTTP %d, %s, %s, nosniff=%q", f.Filename, resp.StatusCode, ct, cd, ns)
		if resp.StatusCode != http.StatusOK || ct != want[f.Filename] || !strings.HasPrefix(cd, "attachment;") || ns != "nosniff" {
			t.Errorf("download %s: HTTP %d, Content-Type %q (want %q), Content-Disposition %q, X-Content-Type-Options %q",
				f.Filename, resp.StatusCode, ct, want[f.Filename], cd, ns)
		}
	}
}

// threadWithFiles is a request's thread with the files of each message.
type threadWithFiles struct {
	Reference string `json:"reference"`
	Status    string `json:"status"`
	Messages  []struct {
		AuthorKind  string    `json:"author_kind"`
		Kind        string    `json:"kind"`
		Body        string    `json:"body"`
		Attachments []apiFile `json:"attachments"`
	} `json:"messages"`
}

type apiFile struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	URL         string `json:"url"`
}

func getThread(c *customer, base, id string) threadWithFiles {
	c.t.Helper()
	var th threadWithFiles
	c.mustCall(base, http.MethodGet, "/api/v1/requests/"+id, nil, &th, http.StatusOK)
	return th
}

// filesOf returns the files of the messages whose body contains text.
func (th threadWithFiles) filesOf(text string) []apiFile {
	var out []apiFile
	for _, m := range th.Messages {
		if strings.Contains(m.Body, text) {
			out = append(out, m.Attachments...)
		}
	}
	return out
}

// checkNothingInternal fails the test when the private note, an internal
// file or a "Document ajouté" message shows in the thread.
func (th threadWithFiles) checkNothingInternal(t *testing.T, who string) {
	t.Helper()
	for _, m := range th.Messages {
		if strings.Contains(m.Body, "PRIVÉE") {
			t.Errorf("%s: the private note reached the thread: %q", who, m.Body)
		}
		if strings.HasPrefix(m.Body, "Document ajouté") {
			t.Errorf("%s: an unpublished file reached the thread: %q", who, m.Body)
		}
		for _, a := range m.Attachments {
			if strings.Contains(a.Filename, "interne") {
				t.Errorf("%s: internal file %q reached the thread in %q", who, a.Filename, m.Body)
			}
		}
	}
}

func (th threadWithFiles) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s status=%s", th.Reference, th.Status)
	for i, m := range th.Messages {
		var names []string
		for _, a := range m.Attachments {
			names = append(names, a.Filename)
		}
		body := strings.ReplaceAll(m.Body, "\n", " ")
		if len([]rune(body)) > 80 {
			body = string([]rune(body)[:80]) + "…"
		}
		fmt.Fprintf(&b, "\n  [%d] %s/%s %q %v", i, m.AuthorKind, m.Kind, body, names)
	}
	return b.String()
}

// upload sends a file to Redmine as staff (POST /uploads.json) and returns
// the reference to put in an update's "uploads".
func (s *staff) upload(filename, contentType string, data []byte) map[string]string {
	s.t.Helper()
	r, err := http.NewRequest(http.MethodPost, s.base+"/uploads.json?filename="+url.QueryEscape(filename), bytes.NewReader(data))
	if err != nil {
		s.t.Fatal(err)
	}
	r.Header.Set("X-Redmine-API-Key", s.key)
	r.Header.Set("Content-Type", "application/octet-stream")
	resp, err := redmineHTTP.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Upload struct {
			Token string `json:"token"`
		} `json:"upload"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil || out.Upload.Token == "" {
		s.t.Fatalf("staff: upload %s: HTTP %d %.300s", filename, resp.StatusCode, raw)
	}
	return map[string]string{"token": out.Upload.Token, "filename": filename, "content_type": contentType}
}
