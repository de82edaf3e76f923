package espaceclient

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets of upload validation (make fuzz runs each for FUZZTIME; go
// test runs the seeds and testdata/fuzz/<name>/ as regression cases). They
// need no service.

// FuzzSniffContentType: sniffing never panics, answers only an accepted
// type, and judges from the leading bytes alone (what follows the first
// 4 KiB never changes the verdict).
func FuzzSniffContentType(f *testing.F) {
	for _, s := range []string{
		"\xff\xd8\xff\xe0\x00\x10JFIF", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "RIFF\x00\x00\x00\x00WEBPVP8 ",
		"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n/JavaScript", "\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00heic",
		"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1", "\xff\xff\xff\xffftypmif1", "<svg onload=alert(1)>", "",
	} {
		f.Add([]byte(s))
	}
	accepted := map[string]bool{TypeJPEG: true, TypePNG: true, TypeWebP: true, TypePDF: true, TypeHEIC: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, ok := SniffContentType(data)
		if ok != (ct != "") || (ok && !accepted[ct]) {
			t.Fatalf("SniffContentType = %q, %v", ct, ok)
		}
		longer := append(append([]byte(nil), data...), make([]byte, 4097)...)
		if len(data) >= 4096 {
			if ct2, ok2 := SniffContentType(longer); ct2 != ct || ok2 != ok {
				t.Fatalf("bytes after the first 4 KiB changed the verdict: %q → %q", ct, ct2)
			}
		}
	})
}

// FuzzSanitizeFilename: a sanitized name is never empty, at most 255 bytes
// of valid UTF-8, holds no path separator, control or invisible formatting
// character (such as the right-to-left override), does not start with a dot
// or a space, ends in the extension of the sniffed type, and sanitizing it
// again changes nothing.
func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{
		"photo.jpg", "../../etc/passwd", `C:\Users\x\evil.exe`, "facture\u202egpj.exe", "poly.html",
		"...", " .hidden ", "a\x00b\r\nc.pdf", strings.Repeat("é", 200) + ".jpeg", "nom." + strings.Repeat("x", 40),
		"\xff\xfe.png", "fichier.JPG", "a.pdf.",
	} {
		for _, ct := range []string{TypeJPEG, TypePNG, TypePDF, TypeWebP, TypeHEIC, "", "text/html"} {
			f.Add(s, ct)
		}
	}
	f.Fuzz(func(t *testing.T, name, contentType string) {
		got := SanitizeFilename(name, contentType)
		switch {
		case got == "":
			t.Fatal("empty name")
		case len(got) > maxFilenameBytes:
			t.Fatalf("%d bytes: %q", len(got), got)
		case !utf8.ValidString(got):
			t.Fatalf("invalid UTF-8: %q", got)
		case strings.ContainsAny(got, `/\`):
			t.Fatalf("path separator: %q", got)
		case strings.HasPrefix(got, ".") || strings.HasPrefix(got, " "):
			t.Fatalf("leading dot or space: %q", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				t.Fatalf("control or formatting character %U in %q", r, got)
			}
		}
		if extensionOf(contentType) != "" && !hasExtensionOf(got, contentType) {
			t.Fatalf("%q does not end in the extension of %s", got, contentType)
		}
		if again := SanitizeFilename(got, contentType); again != got {
			t.Fatalf("not stable: %q → %q", got, again)
		}
	})
}
