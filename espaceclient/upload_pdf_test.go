package espaceclient

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// pdfWith builds a small PDF whose catalog carries extra (dictionary
// entries) and whose body holds more (further objects).
func pdfWith(extra, more string) []byte {
	return []byte("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R " + extra + " >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" + more + "trailer << /Root 1 0 R >>\n%%EOF\n")
}

// objStm is an object stream (PDF 1.5) holding dict, compressed with
// /FlateDecode unless filter says otherwise.
func objStm(t testing.TB, dict, filter string) string {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write([]byte("3 0 " + dict))
	_ = zw.Close()
	if filter == "" {
		filter = "/FlateDecode"
	}
	return fmt.Sprintf("5 0 obj << /Type /ObjStm /N 1 /First 4 /Filter %s /Length %d >>\nstream\n%s\nendstream\nendobj\n",
		filter, z.Len(), z.Bytes())
}

func TestPDFActiveName(t *testing.T) {
	var bomb bytes.Buffer
	zw := zlib.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte{' '}, maxPDFInflated+1024))
	_ = zw.Close()
	bombObj := fmt.Sprintf("5 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n", bomb.Len(), bomb.Bytes())
	image := "6 0 obj << /Type /XObject /Subtype /Image /Length 12 >>\nstream\n\x00\xff/AA /JS \x01\x02\nendstream\nendobj\n"
	tests := []struct {
		name    string
		pdf     []byte
		want    string
		wantErr bool
	}{
		{"plain", pdfBytes(), "", false},
		{"open action", pdfWith("/OpenAction 4 0 R", "4 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n"), "OpenAction", false},
		{"additional actions", pdfWith("/AA << /O 4 0 R >>", ""), "AA", false},
		{"javascript name tree", pdfWith("/Names << /JavaScript 4 0 R >>", ""), "JavaScript", false},
		{"escaped /J#53", pdfWith("/J#53 (app.alert(1))", ""), "JS", false},
		{"escaped /Java#53cript", pdfWith("/Names << /Java#53cript 4 0 R >>", ""), "JavaScript", false},
		{"escaped in lower-case hex", pdfWith("/Open#41ction 4 0 R /#61#61 1", ""), "OpenAction", false},
		{"names are case-sensitive: /Java#73cript is another name", pdfWith("/Names << /Java#73cript 4 0 R >>", ""), "", false},
		{"launch", pdfWith("", "4 0 obj << /S /Launch /F (calc.exe) >> endobj\n"), "Launch", false},
		{"embedded file", pdfWith("", "4 0 obj << /Type /EmbeddedFile /Length 0 >>\nstream\n\nendstream\nendobj\n"), "EmbeddedFile", false},
		{"rich media", pdfWith("", "4 0 obj << /Subtype /RichMedia >> endobj\n"), "RichMedia", false},
		{"xfa form", pdfWith("/AcroForm << /XFA 4 0 R >>", ""), "XFA", false},
		{"open action inside a compressed object stream", pdfWith("", objStm(t, "<< /OpenAction << /S /JavaScript >> >>", "")), "OpenAction", false},
		{"harmless object stream", pdfWith("", objStm(t, "<< /Type /Font /Subtype /Type1 >>", "")), "", false},
		{"names in a title are text", pdfWith("", "3 0 obj << /Title (Guide \\(/JavaScript\\) et /JS (imbriqué)) >> endobj\n"), "", false},
		{"hex string", pdfWith("", "3 0 obj << /Title <2F4A53> >> endobj\n"), "", false},
		{"comment", pdfWith("", "% /OpenAction in a comment\n"), "", false},
		{"longer names are other names", pdfWith("/JSON 1 /AAA 2 /XFAx 3", ""), "", false},
		{"image bytes are not read", pdfWith("", image), "", false},
		{"object stream with another filter", pdfWith("", objStm(t, "<< >>", "/LZWDecode")), "", true},
		{"object stream that is not zlib", pdfWith("", "5 0 obj << /Type /ObjStm /Filter /FlateDecode /Length 4 >>\nstream\nabcd\nendstream\nendobj\n"), "", true},
		{"compression bomb", pdfWith("", bombObj), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pdfActiveName(tt.pdf)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCheckUploadsRefusesActivePDF(t *testing.T) {
	lim := testConfig().Uploads
	_, err := checkUploads([]Upload{{"RIB.pdf", pdfWith("/OpenAction 4 0 R", "4 0 obj << /S /JavaScript /JS (x) >> endobj\n")}}, lim)
	if err == nil || err.Status != http.StatusUnprocessableEntity || err.Code != "pdf_active_content" || err.Field != "attachments" ||
		!strings.HasPrefix(err.Message, "Le PDF « RIB.pdf » contient du contenu actif (/OpenAction") {
		t.Fatalf("got %+v", err)
	}
	_, err = checkUploads([]Upload{{"RIB.pdf", pdfWith("", objStm(t, "<< >>", "/LZWDecode"))}}, lim)
	if err == nil || err.Status != http.StatusUnprocessableEntity || err.Code != "pdf_unverifiable" {
		t.Fatalf("got %+v", err)
	}
}
