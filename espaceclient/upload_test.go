package espaceclient

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
	"testing"

	"passerelle/config"
)

func TestSniffContentType(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string // "" = refused
	}{
		{"jpeg", jpegBytes(t), TypeJPEG},
		{"png", pngBytes(t), TypePNG},
		{"webp", webpBytes(), TypeWebP},
		{"heic from an iPhone", heicBytes(), TypeHEIC},
		{"heif mif1 with heic compatible", heifGenericBytes(), TypeHEIC},
		{"pdf", pdfBytes(), TypePDF},
		{"html", htmlBytes(), ""},
		{"zip", zipBytes(t), ""},
		{"empty", nil, ""},
		{"avif is not heic", avifBytes(), ""},
		{"plain text", []byte("hello, this is a text file"), ""},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), ""},
		{"pdf magic not at the start", append([]byte("<html>"), pdfBytes()...), ""},
		{"truncated jpeg magic", []byte{0xFF, 0xD8}, ""},
		{"riff but not webp (wav)", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), ""},
		{"ftyp box too short", []byte("\x00\x00\x00\x08ftypheic"), ""},
		{"mp4", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := SniffContentType(tt.data)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("SniffContentType = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestSanitizeFilename(t *testing.T) {
	long := strings.Repeat("é", 200) + ".jpg" // 404 bytes
	tests := []struct {
		name, in, ct, want string
	}{
		{"plain", "photo.jpg", TypeJPEG, "photo.jpg"},
		{"accents kept", "Fuite salle de bain – étage 2.JPG", TypeJPEG, "Fuite salle de bain – étage 2.JPG"},
		{"unix path", "../../etc/passwd", TypePDF, "passwd.pdf"},
		{"windows path", `C:\Users\Marie\Documents\RIB.pdf`, TypePDF, "RIB.pdf"},
		{"control characters", "ri\x00b\r\n.pdf", TypePDF, "rib.pdf"},
		{"right-to-left override", "facture\u202Egpj.exe", TypePDF, "facturegpj.exe.pdf"},
		{"tab removed, no-break space kept as a space", "a\tb\u00a0c.png", TypePNG, "ab c.png"},
		{"leading dots", "...htaccess", TypePDF, "htaccess.pdf"},
		{"empty", "", TypeJPEG, "fichier.jpg"},
		{"only a path", "dir/", TypePDF, "fichier.pdf"},
		{"dot dot", "..", TypePNG, "fichier.png"},
		{"invalid utf-8", "caf\xe9.png", TypePNG, "caf_.png"},
		{"quotes kept (escaped in headers)", `le "devis".pdf`, TypePDF, `le "devis".pdf`},
		{"html sniffed as jpeg gets .jpg", "poly.html", TypeJPEG, "poly.html.jpg"},
		{"svg sniffed as png gets .png", "logo.svg", TypePNG, "logo.svg.png"},
		{"pdf named .jpg gets .pdf", "scan.jpg", TypePDF, "scan.jpg.pdf"},
		{"no extension", "IMG_2041", TypeHEIC, "IMG_2041.heic"},
		{"trailing dot", "photo.", TypeJPEG, "photo.jpg"},
		{"other spelling of the type kept", "IMG_1.JPEG", TypeJPEG, "IMG_1.JPEG"},
		{"heif kept for heic", "a.heif", TypeHEIC, "a.heif"},
		{"dotted name that is no extension", "Facture 2026.11", TypePDF, "Facture 2026.11.pdf"},
		{"no type: name as is", "poly.html", "", "poly.html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SanitizeFilename(tt.in, tt.ct); got != tt.want {
				t.Fatalf("SanitizeFilename(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	t.Run("too long with the sniffed extension appended", func(t *testing.T) {
		got := SanitizeFilename(strings.Repeat("a", 300)+".html", TypePDF)
		if len(got) > 255 || !strings.HasSuffix(got, ".pdf") {
			t.Fatalf("got %q (%d bytes)", got, len(got))
		}
	})
	t.Run("too long keeps extension and runes", func(t *testing.T) {
		got := SanitizeFilename(long, TypeJPEG)
		if len(got) > 255 || !strings.HasSuffix(got, ".jpg") || !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
			t.Fatalf("got %q (%d bytes)", got, len(got))
		}
	})
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"ascii", "photo.jpg"},
		{"accents", "Réparation évier.pdf"},
		{"quotes and backslash", `le "devis"\v2.pdf`},
		{"semicolon and percent", "a;b%20c.png"},
		{"header injection attempt", "x.pdf\r\nSet-Cookie: a=b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := contentDisposition(tt.in)
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("line break in header: %q", v)
			}
			disp, params, err := mime.ParseMediaType(v)
			if err != nil {
				t.Fatalf("%q does not parse: %v", v, err)
			}
			if disp != "attachment" {
				t.Fatalf("disposition %q", disp)
			}
			// Go's parser decodes filename* (RFC 5987) and prefers it.
			if params["filename"] != tt.in {
				t.Fatalf("filename round trip: %q, want %q (header %q)", params["filename"], tt.in, v)
			}
		})
	}
}

func TestCheckUploads(t *testing.T) {
	lim := testConfig().Uploads
	big := make([]byte, int(lim.MaxFileSize)+1)
	copy(big, jpegBytes(t))
	six := make([]Upload, lim.MaxFiles+1)
	for i := range six {
		six[i] = Upload{Filename: "p.png", Data: pngBytes(t)}
	}
	tests := []struct {
		name       string
		files      []Upload
		status     int
		code, want string
	}{
		{"two photos", []Upload{{"a.jpg", jpegBytes(t)}, {"b.png", pngBytes(t)}}, 0, "", ""},
		{"html named .jpg", []Upload{{"photo.jpg", htmlBytes()}}, http.StatusUnsupportedMediaType, "unsupported_file_type",
			"Le fichier « photo.jpg » n'est pas une image JPEG, PNG, WebP, HEIC ni un PDF."},
		{"zip", []Upload{{"docs.zip", zipBytes(t)}}, http.StatusUnsupportedMediaType, "unsupported_file_type",
			"Le fichier « docs.zip » n'est pas une image JPEG, PNG, WebP, HEIC ni un PDF."},
		{"empty", []Upload{{"vide.pdf", nil}}, http.StatusUnprocessableEntity, "empty_file", "Le fichier « vide.pdf » est vide."},
		{"too big", []Upload{{"grande.jpg", big}}, http.StatusRequestEntityTooLarge, "file_too_large",
			"Le fichier « grande.jpg » dépasse la taille maximale autorisée (5 Mo)."},
		{"too many", six, http.StatusUnprocessableEntity, "too_many_files",
			"Vous pouvez joindre au plus 5 fichiers à un message (vous en avez joint 6)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := checkUploads(tt.files, lim)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if len(out) != len(tt.files) || out[0].ContentType != TypeJPEG || out[1].ContentType != TypePNG {
					t.Fatalf("got %+v", out)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Status != tt.status || err.Code != tt.code || err.Message != tt.want || err.Field != "attachments" {
				t.Fatalf("got %d %s %q (field %q), want %d %s %q", err.Status, err.Code, err.Message, err.Field, tt.status, tt.code, tt.want)
			}
		})
	}
	t.Run("declared type ignored, sniffed type stored", func(t *testing.T) {
		out, err := checkUploads([]Upload{{"scan.jpg", pdfBytes()}}, lim)
		if err != nil || out[0].ContentType != TypePDF || out[0].Filename != "scan.jpg.pdf" || !bytes.Equal(out[0].Data, pdfBytes()) {
			t.Fatalf("got %+v, %v", out, err)
		}
	})
	t.Run("limits from config", func(t *testing.T) {
		small := config.Uploads{MaxFileSize: 2048, MaxFiles: 1}
		if _, err := checkUploads([]Upload{{"a.jpg", append(jpegBytes(t), make([]byte, 2048)...)}}, small); err == nil || err.Message != "Le fichier « a.jpg » dépasse la taille maximale autorisée (2 Ko)." {
			t.Fatalf("got %v", err)
		}
	})
}
