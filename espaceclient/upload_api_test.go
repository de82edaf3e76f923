package espaceclient

import (
	"net/http"
	"strings"
	"testing"
)

// A file's stored name (the one shown, downloaded and sent to Redmine, which
// uploads the stored attachment's name) ends in its sniffed type's extension.
func TestUploadNameEndsInSniffedType(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	res := tenant.postMultipart("/api/v1/requests", repairFields("A12"),
		[]Upload{{"poly.html", jpegBytes(t)}, {"scan.jpg", pdfBytes()}, {"IMG_1.JPEG", jpegBytes(t)}})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	created := res.json(t)
	for path, want := range map[string]string{
		"messages.0.attachments.0.filename": "poly.html.jpg", "messages.0.attachments.0.content_type": TypeJPEG,
		"messages.0.attachments.1.filename": "scan.jpg.pdf", "messages.0.attachments.1.content_type": TypePDF,
		"messages.0.attachments.2.filename": "IMG_1.JPEG",
	} {
		if got := str(t, created, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if names := e.outbox.created[0].Msg.Attachments; len(names) != 3 || names[0].Filename != "poly.html.jpg" {
		t.Fatalf("queued for Redmine: %+v", names)
	}
	dl := tenant.get(str(t, created, "messages.0.attachments.0.url"))
	if cd := dl.header.Get("Content-Disposition"); dl.status != http.StatusOK || !strings.Contains(cd, `filename="poly.html.jpg"`) {
		t.Fatalf("download: %d, Content-Disposition %q", dl.status, cd)
	}
}

// A PDF with active content is refused with a 422 saying why, on a new
// request and on a follow-up; nothing is stored.
func TestActivePDFRefusedThroughAPI(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	active := pdfWith("/OpenAction 4 0 R", "4 0 obj << /S /JavaScript /J#53 (app.alert(1)) >> endobj\n")
	res := tenant.postMultipart("/api/v1/requests", repairFields("A12"), []Upload{{"photo.jpg", jpegBytes(t)}, {"devis.pdf", active}})
	if res.status != http.StatusUnprocessableEntity || res.errCode(t) != "pdf_active_content" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if m := str(t, res.json(t), "error.message"); !strings.HasPrefix(m, "Le PDF « devis.pdf » contient du contenu actif (/OpenAction") {
		t.Fatalf("message %q", m)
	}
	e.expectRows(0, 0, 0)

	ok := tenant.postJSON("/api/v1/requests", map[string]string{"category": "autre", "subject": "s", "body": "b"}).json(t)
	hidden := pdfWith("", objStm(t, "<< /AA << /O << /S /Launch /F (calc.exe) >> >> >>", ""))
	res = tenant.postMultipart("/api/v1/requests/"+str(t, ok, "id")+"/messages", map[string]string{"body": "le RIB"},
		[]Upload{{"rib.pdf", hidden}})
	if res.status != http.StatusUnprocessableEntity || res.errCode(t) != "pdf_active_content" {
		t.Fatalf("follow-up: %d %s", res.status, res.body)
	}
	e.expectRows(1, 1, 0)
	res = tenant.postMultipart("/api/v1/requests/"+str(t, ok, "id")+"/messages", map[string]string{"body": "le RIB"},
		[]Upload{{"rib.pdf", pdfBytes()}})
	if res.status != http.StatusCreated {
		t.Fatalf("plain PDF: %d %s", res.status, res.body)
	}
	e.expectRows(1, 2, 1)
}
