package espaceclient

import (
	"bytes"
	"fmt"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"passerelle/config"
)

// Upload is one file a client sends. The content type the client declares is
// ignored: SniffContentType judges the bytes.
type Upload struct {
	Filename string
	Data     []byte
}

// Content types accepted from clients.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeWebP = "image/webp"
	TypeHEIC = "image/heic"
	TypePDF  = "application/pdf"
)

// heicBrands are the ISO-BMFF brands of HEIC (HEVC-coded HEIF) images and
// image sequences. Plain "mif1"/"msf1" is generic HEIF (also used by AVIF): it
// is accepted only when a HEIC brand is listed as compatible.
var heicBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true,
	"hevc": true, "hevx": true, "hevm": true, "hevs": true,
}

// SniffContentType returns the content type of data when it is one of the
// accepted kinds (JPEG, PNG, WebP, HEIC, PDF), judged from the magic numbers
// at the start of the bytes, never from a name or a declared type. It returns
// "" and false for anything else, including an empty file.
func SniffContentType(data []byte) (string, bool) {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return TypeJPEG, true
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return TypePNG, true
	case len(data) >= 12 && bytes.Equal(data[0:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return TypeWebP, true
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return TypePDF, true
	case isHEIC(data):
		return TypeHEIC, true
	}
	return "", false
}

// isHEIC reads the leading ISO-BMFF "ftyp" box: size (4 bytes), "ftyp", major
// brand, minor version, then compatible brands up to the box size.
func isHEIC(data []byte) bool {
	if len(data) < 16 || !bytes.Equal(data[4:8], []byte("ftyp")) {
		return false
	}
	size := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
	if size < 16 || size > len(data) || size > 4096 {
		return false
	}
	major := string(data[8:12])
	if heicBrands[major] {
		return true
	}
	if major != "mif1" && major != "msf1" {
		return false
	}
	for i := 16; i+4 <= size; i += 4 {
		if heicBrands[string(data[i:i+4])] {
			return true
		}
	}
	return false
}

// maxFilenameBytes is the longest stored file name, in bytes (what most file
// systems accept, and what Redmine stores).
const maxFilenameBytes = 255

// SanitizeFilename keeps the client's file name but makes it safe to store,
// show and send back in a Content-Disposition header: only the base name
// (after the last / or \), invalid UTF-8 replaced, control and invisible
// formatting characters (such as the right-to-left override) removed, leading
// dots and surrounding spaces trimmed, at most 255 bytes with the extension
// kept. An empty result becomes "fichier". When contentType is one of the
// accepted types (the type sniffed from the bytes), the name ends in its
// extension: kept when it already does (".jpeg" or ".JPG" for a JPEG),
// appended otherwise ("poly.html" sniffed as JPEG is "poly.html.jpg").
func SanitizeFilename(name, contentType string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, " ")
	if name == "" {
		name = "fichier"
	}
	if ext := extensionOf(contentType); ext != "" && !hasExtensionOf(name, contentType) {
		// The name ends in the type judged from the bytes: "poly.html" sniffed as
		// JPEG becomes "poly.html.jpg", opened as an image everywhere, and staff
		// still see what the client called it.
		name = strings.TrimRight(name, ". ")
		if name == "" {
			name = "fichier"
		}
		name += ext
	}
	if len(name) > maxFilenameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		stem := name[:len(name)-len(ext)]
		stem = truncateBytes(stem, maxFilenameBytes-len(ext))
		name = stem + ext
	}
	return name
}

// truncateBytes cuts s to at most n bytes on a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// typeExtensions are the extensions (lower case) kept as they are for each
// accepted type; the first is the one added to a name that has none of them.
var typeExtensions = map[string][]string{
	TypeJPEG: {".jpg", ".jpeg", ".jpe", ".jfif"},
	TypePNG:  {".png"},
	TypeWebP: {".webp"},
	TypeHEIC: {".heic", ".heif"},
	TypePDF:  {".pdf"},
}

// hasExtensionOf tells whether name already ends in one of contentType's
// extensions (any case).
func hasExtensionOf(name, contentType string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range typeExtensions[contentType] {
		if ext == e {
			return true
		}
	}
	return false
}

// extensionOf is the extension added to a name of that type ("" for a type
// not accepted from clients).
func extensionOf(contentType string) string {
	if exts := typeExtensions[contentType]; len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// checkedFile is an upload that passed validation.
type checkedFile struct {
	Filename    string
	ContentType string
	Data        []byte
}

// checkUploads validates the files of one message against the upload limits:
// how many, how big, and what they are. Nothing is stored before it passes.
func checkUploads(files []Upload, lim config.Uploads) ([]checkedFile, *Error) {
	if lim.MaxFiles > 0 && len(files) > lim.MaxFiles {
		return nil, invalid("too_many_files", "attachments",
			"Vous pouvez joindre au plus %d fichiers à un message (vous en avez joint %d).", lim.MaxFiles, len(files))
	}
	out := make([]checkedFile, 0, len(files))
	for _, f := range files {
		display := SanitizeFilename(f.Filename, "") // "fichier" when the client sent no name
		if lim.MaxFileSize > 0 && int64(len(f.Data)) > int64(lim.MaxFileSize) {
			return nil, tooLarge(display, lim.MaxFileSize)
		}
		if len(f.Data) == 0 {
			return nil, invalid("empty_file", "attachments", "Le fichier « %s » est vide.", display)
		}
		ct, ok := SniffContentType(f.Data)
		if !ok {
			return nil, newError(http.StatusUnsupportedMediaType, "unsupported_file_type", "attachments",
				"Le fichier « %s » n'est pas une image JPEG, PNG, WebP, HEIC ni un PDF.", display)
		}
		if ct == TypePDF {
			if verr := checkPDF(display, f.Data); verr != nil {
				return nil, verr
			}
		}
		out = append(out, checkedFile{Filename: SanitizeFilename(f.Filename, ct), ContentType: ct, Data: f.Data})
	}
	return out, nil
}

// checkPDF refuses a PDF with active content (pdfActiveName) or one whose
// dictionaries cannot be read, with a 422 that says how to make it
// acceptable.
func checkPDF(display string, data []byte) *Error {
	name, err := pdfActiveName(data)
	switch {
	case err != nil:
		return invalid("pdf_unverifiable", "attachments",
			"Le PDF « %s » est protégé ou compressé d'une façon que nous ne pouvons pas vérifier. "+
				"Enregistrez-le à nouveau sans protection (par exemple « Imprimer » puis « Enregistrer au format PDF ») et joignez-le.", display)
	case name != "":
		return invalid("pdf_active_content", "attachments",
			"Le PDF « %s » contient du contenu actif (/%s : script, action automatique, fichier intégré ou formulaire dynamique), "+
				"que nous n'acceptons pas. Enregistrez-le à nouveau sans ce contenu (par exemple « Imprimer » puis "+
				"« Enregistrer au format PDF ») et joignez-le.", display, name)
	}
	return nil
}

func tooLarge(display string, max config.ByteSize) *Error {
	return newError(http.StatusRequestEntityTooLarge, "file_too_large", "attachments",
		"Le fichier « %s » dépasse la taille maximale autorisée (%s).", display, humanSize(int64(max)))
}

// humanSize writes a size the French way: "5 Mo", "512 Ko", "1,5 Mo".
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		v := float64(n) / (1 << 20)
		if v == float64(int64(v)) {
			return fmt.Sprintf("%d Mo", int64(v))
		}
		return strings.Replace(fmt.Sprintf("%.1f Mo", v), ".", ",", 1)
	case n >= 1<<10:
		return fmt.Sprintf("%d Ko", n>>10)
	}
	return fmt.Sprintf("%d octets", n)
}

// contentDisposition builds an RFC 6266 "attachment" header value: an ASCII
// fallback filename (quoted, with anything outside printable ASCII and the
// quote and backslash replaced by "_") and the exact name as the RFC 5987
// extended parameter filename* (UTF-8, percent-encoded).
func contentDisposition(name string) string {
	var ascii strings.Builder
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			ascii.WriteByte('_')
			continue
		}
		ascii.WriteRune(r)
	}
	var enc strings.Builder
	for _, c := range []byte(name) {
		if isAttrChar(c) {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii.String(), enc.String())
}

// isAttrChar is RFC 5987's attr-char.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
