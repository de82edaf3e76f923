package bridge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"passerelle/redmine"
)

// Issue 10 item 1. A file staff attach with a PRIVATE note must stay
// internal: Redmine 5.0.4 splits such an update into a public journal that
// holds only the attachment (and status) details and a private journal with
// the note; the sync user sees the first. A file attached alone stays
// internal too. Only a file attached in the same update as a public note is
// published. The status change of the split journal still reaches the client.
func TestPrivateNoteAttachmentStaysInternal(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")

	upload := func(name string) redmine.UploadRef {
		t.Helper()
		token, err := h.staff.Upload(ctx, name, pdfBytes())
		if err != nil {
			t.Fatal(err)
		}
		return redmine.UploadRef{Token: token, Filename: name, ContentType: "application/pdf"}
	}
	// 1. Private note + file + status change, in one update.
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{
		Notes:        "NOTE PRIVÉE : devis fournisseur avec notre marge, ne pas transmettre.",
		PrivateNotes: true,
		StatusID:     h.statusID("In Progress"),
		Uploads:      []redmine.UploadRef{upload("devis-interne-marge.pdf")},
	}); err != nil {
		t.Fatal(err)
	}
	// 2. A file attached alone, without a note.
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Uploads: []redmine.UploadRef{upload("brouillon-interne.pdf")}}); err != nil {
		t.Fatal(err)
	}
	// 3. A public note with its file: published.
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{
		Notes:   "Voici le devis du plombier.",
		Uploads: []redmine.UploadRef{upload("devis-plombier.pdf")},
	}); err != nil {
		t.Fatal(err)
	}

	// The premise: what the sync user sees of update 1.
	is, err := h.rm.GetIssue(ctx, issueID, "journals", "attachments")
	if err != nil {
		t.Fatal(err)
	}
	split := false
	for _, j := range is.Journals {
		t.Logf("sync user sees journal %d private=%v notes=%q details=%+v", j.ID, j.PrivateNotes, firstLineOf(j.Notes), j.Details)
		if strings.Contains(j.Notes, "PRIVÉE") {
			t.Fatalf("the sync user can read the private note (journal %d): the sync role must not have view_private_notes", j.ID)
		}
		for _, d := range j.Details {
			if d.Property == "attachment" && d.NewValue == "devis-interne-marge.pdf" && !j.PrivateNotes && strings.TrimSpace(j.Notes) == "" {
				split = true
			}
		}
	}
	if !split {
		t.Fatalf("Redmine did not put the private note's file in a public journal without notes: this test no longer reproduces issue 10 item 1")
	}

	h.poll()
	h.poll()
	if err := h.bridge.RefreshIssue(ctx, issueID); err != nil {
		t.Fatal(err)
	}
	got := tenant.get(r.ID)
	published := 0
	for _, m := range got.Messages {
		if strings.Contains(m.Body, "PRIVÉE") {
			t.Errorf("the private note reached the client: %q", m.Body)
		}
		if strings.HasPrefix(m.Body, "Document ajouté") {
			t.Errorf("an unpublished file reached the client: %q", m.Body)
		}
		for _, a := range m.Attachments {
			switch {
			case strings.Contains(a.Filename, "interne"):
				t.Errorf("internal file %q reached the client in message %q", a.Filename, m.Body)
			case a.Filename == "devis-plombier.pdf" && strings.Contains(m.Body, "Voici le devis du plombier."):
				published++
			}
		}
	}
	if published != 1 {
		t.Errorf("the file attached with the public note is shown %d times with it, want 1", published)
	}
	if got.Status != "in_progress" {
		t.Errorf("status %q, want in_progress (the status change of the split journal is public)", got.Status)
	}
	// Nothing of the internal files is stored in the customer space at all.
	rows, err := h.store.Pool().Query(ctx, `SELECT filename FROM attachments WHERE request_id = $1`, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(name, "interne") {
			t.Errorf("internal file %q is stored for the request", name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// Issue 10 item 8. Staff files carry the type Redmine declares, which
// whoever attached them chose. They are served with the type their bytes are
// sniffed as when it is one accepted from clients (JPEG, PNG, WebP, HEIC,
// PDF), as application/octet-stream otherwise, always as an attachment with
// nosniff.
func TestStaffFileServedWithSniffedType(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	files := []struct {
		name, declared string
		data           []byte
		want           string
	}{
		{"evil.html", "text/html", []byte("<html><script>alert(document.domain)</script></html>"), "application/octet-stream"},
		{"img.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "application/octet-stream"},
		{"notes.txt", "text/plain", []byte("Code portail : 1234\n"), "application/octet-stream"},
		{"photo.jpg", "text/html", jpegBytes(5), "image/jpeg"},
		{"plan.png", "image/svg+xml", pngBytes(5), "image/png"},
		{"devis.pdf", "application/pdf", pdfBytes(), "application/pdf"},
	}
	var ups []redmine.UploadRef
	for _, f := range files {
		token, err := h.staff.Upload(ctx, f.name, f.data)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, redmine.UploadRef{Token: token, Filename: f.name, ContentType: f.declared})
	}
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Les documents demandés.", Uploads: ups}); err != nil {
		t.Fatal(err)
	}
	h.poll()
	urls := map[string]string{}
	for _, m := range tenant.get(r.ID).Messages {
		for _, a := range m.Attachments {
			urls[a.Filename] = a.URL
		}
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			u, ok := urls[f.name]
			if !ok {
				t.Fatalf("%s not in the thread (got %v)", f.name, urls)
			}
			req, _ := http.NewRequest("GET", h.srv.URL+u, nil)
			req.Header.Set("X-Session-Token", tenant.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != string(f.data) {
				t.Fatalf("download: HTTP %d, %d bytes", resp.StatusCode, len(body))
			}
			if ct := resp.Header.Get("Content-Type"); ct != f.want {
				t.Errorf("Content-Type %q (Redmine declared %q), want %q", ct, f.declared, f.want)
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
				t.Errorf("Content-Disposition %q, want an attachment", cd)
			}
			if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", v)
			}
		})
	}
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 70 {
		s = s[:70]
	}
	return s
}
