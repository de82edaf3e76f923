package espaceclient

import (
	"archive/zip"
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"passerelle/config"
)

// Real file bytes for the tests: JPEG and PNG are encoded by the standard
// library; WebP, HEIC and PDF are minimal but well-formed headers of their
// formats; the zip is a real archive.

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := 0; x < 8; x++ {
		img.Set(x, x, color.RGBA{R: 200, A: 255})
	}
	return img
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is a RIFF container with a WEBP form type and a VP8L chunk.
func webpBytes() []byte {
	chunk := []byte("VP8L\x05\x00\x00\x00\x2f\x00\x00\x00\x00\x00")
	b := []byte("RIFF")
	size := 4 + len(chunk)
	b = append(b, byte(size), byte(size>>8), byte(size>>16), byte(size>>24))
	b = append(b, "WEBP"...)
	return append(b, chunk...)
}

// heicBytes is the ftyp box of an iPhone photo (major brand heic, compatible
// mif1, heic), followed by the start of a meta box.
func heicBytes() []byte {
	ftyp := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
	return append(ftyp, []byte("\x00\x00\x00\x10meta\x00\x00\x00\x00hdlr")...)
}

// heifGenericBytes is HEIF with major brand mif1 and HEIC listed as compatible.
func heifGenericBytes() []byte {
	return []byte("\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1miafheic\x00\x00\x00\x08free")
}

// avifBytes is an AVIF file: HEIF, but not HEIC.
func avifBytes() []byte {
	return []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf\x00\x00\x00\x08free")
}

func pdfBytes() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

func htmlBytes() []byte {
	return []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
}

func zipBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("rib.pdf")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(pdfBytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testConfig is a configuration like config/example.yaml, with the fields
// espaceclient reads.
func testConfig() *config.Config {
	gestion := config.RedmineRule{Project: "gestion-locative", Tracker: "Doléance", Assignee: config.Assignee{Group: 5}}
	compta := config.RedmineRule{Project: "gestion-locative", Tracker: "Demande", Assignee: config.Assignee{Group: 6}}
	mandate := config.RedmineRule{Project: "gestion-locative", Tracker: "Changement de coordonnées",
		Assignee: config.Assignee{Group: 6}, Parent: config.ParentMandate}
	both := []config.Role{config.RoleTenant, config.RoleOwner}
	return &config.Config{
		Uploads: config.Uploads{
			MaxFileSize: config.DefaultMaxFileSize, MaxFiles: config.DefaultMaxFiles,
			MaxBodyLength: config.DefaultMaxBodyLength, MaxSubjectLength: config.DefaultMaxSubjectLen,
		},
		Calendar: config.Calendar{TimeZone: "Europe/Paris"},
		Redmine:  config.Redmine{OnClientMessageAfterClose: "reopen", ClientClosedStatus: "Closed", ReopenStatus: "In Progress"},
		Statuses: config.Statuses{Map: map[string]config.ClientStatus{
			"New": config.StatusNew, "In Progress": config.StatusInProgress, "Feedback": config.StatusWaitingClient,
			"Closed": config.StatusClosed,
		}, Default: config.StatusInProgress},
		Categories: []config.Category{
			{ID: "travaux", Label: "Réparation ou travaux", Description: "Panne, fuite, dégradation…", Roles: both,
				Requires: []string{"lot", "location", "payer", "urgency"}, SharedWithOwners: true, Redmine: gestion},
			{ID: "comptabilite", Label: "Question comptable", Roles: both, Redmine: compta},
			{ID: "loyer-charges", Label: "Loyer et charges", Roles: both, Requires: []string{"lot"}, Redmine: compta},
			{ID: "voisinage", Label: "Trouble de voisinage", Roles: []config.Role{config.RoleTenant},
				Requires: []string{"lot", "location"}, Redmine: gestion},
			{ID: "changement-rib", Label: "Changement de RIB", Roles: []config.Role{config.RoleOwner},
				Requires: []string{"mandate"}, Redmine: mandate},
			{ID: "autre", Label: "Autre demande", Roles: both, Redmine: gestion},
		},
	}
}
