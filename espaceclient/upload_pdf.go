package espaceclient

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
)

// activePDFNames are the PDF name tokens that make a document act when it is
// opened or clicked: scripts (/JavaScript, /JS), automatic or per-event
// actions (/OpenAction, /AA), launching programs (/Launch), files carried
// inside (/EmbeddedFile, /EmbeddedFiles), Flash and other rich media
// (/RichMedia) and XFA forms (/XFA), which can script. A client's PDF
// carrying one is refused: staff open these files.
var activePDFNames = map[string]bool{
	"JavaScript": true, "JS": true, "OpenAction": true, "AA": true, "Launch": true,
	"EmbeddedFile": true, "EmbeddedFiles": true, "RichMedia": true, "XFA": true,
}

// maxPDFInflated bounds the bytes inflated from a PDF's object streams, so a
// compression bomb costs at most this much work.
const maxPDFInflated = 32 << 20

// errPDFUnverifiable: a PDF whose object streams cannot be read (see
// pdfActiveName).
var errPDFUnverifiable = errors.New("pdf cannot be verified")

// pdfActiveName returns the first active name (see activePDFNames) in a PDF,
// "" when there is none. It reads the file's objects as a PDF reader does:
// names are decoded (#xx escapes, so /J#53 is /JS), string literals, hex
// strings and comments are skipped (a "/JS" printed in a title is text, not
// a name), the data of ordinary streams (images, page contents) is skipped,
// and object streams (/Type /ObjStm, where PDF 1.5+ compresses dictionaries)
// are inflated and read too. An object stream that cannot be inflated (another
// filter, an encrypted file) or that inflates past maxPDFInflated is
// errPDFUnverifiable: a scanner that cannot read a dictionary must not pass it.
func pdfActiveName(data []byte) (string, error) {
	budget := maxPDFInflated
	return scanPDFObjects(data, &budget, true)
}

// scanPDFObjects tokenizes data; streams are followed only at the top level
// (object streams hold no streams).
func scanPDFObjects(data []byte, budget *int, top bool) (string, error) {
	var sinceObj []string // names seen since the last "obj" keyword: the stream's dictionary
	i := 0
	for i < len(data) {
		c := data[i]
		switch {
		case isPDFSpace(c):
			i++
		case c == '%':
			for i < len(data) && data[i] != '\n' && data[i] != '\r' {
				i++
			}
		case c == '(':
			i = skipPDFString(data, i)
		case c == '<' && i+1 < len(data) && data[i+1] == '<', c == '>' && i+1 < len(data) && data[i+1] == '>':
			i += 2
		case c == '<':
			for i < len(data) && data[i] != '>' {
				i++
			}
			i++
		case c == '/':
			name, next := readPDFName(data, i+1)
			i = next
			if activePDFNames[name] {
				return name, nil
			}
			sinceObj = append(sinceObj, name)
		case isPDFDelimiter(c):
			i++
		default:
			j := i
			for j < len(data) && !isPDFSpace(data[j]) && !isPDFDelimiter(data[j]) {
				j++
			}
			word := string(data[i:j])
			i = j
			switch word {
			case "obj":
				sinceObj = sinceObj[:0]
			case "stream":
				if !top {
					continue
				}
				start := i
				if start < len(data) && data[start] == '\r' {
					start++
				}
				if start < len(data) && data[start] == '\n' {
					start++
				}
				end := bytes.Index(data[start:], []byte("endstream"))
				if end < 0 {
					end = len(data) - start
				}
				body := data[start : start+end]
				i = start + end
				if !containsName(sinceObj, "ObjStm") {
					continue
				}
				inflated, err := inflateObjStm(body, sinceObj, budget)
				if err != nil {
					return "", err
				}
				if name, err := scanPDFObjects(inflated, budget, false); name != "" || err != nil {
					return name, err
				}
			}
		}
	}
	return "", nil
}

// inflateObjStm decodes an object stream's data: unfiltered or /FlateDecode
// only, within budget.
func inflateObjStm(body []byte, dict []string, budget *int) ([]byte, error) {
	flate := false
	for _, n := range dict {
		switch n {
		case "FlateDecode", "Fl":
			flate = true
		case "ASCIIHexDecode", "AHx", "ASCII85Decode", "A85", "LZWDecode", "LZW", "RunLengthDecode", "RL",
			"Crypt", "DecodeParms", "DP":
			return nil, errPDFUnverifiable
		}
	}
	if !flate {
		return body, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, errPDFUnverifiable
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, int64(*budget)+1))
	if len(out) > *budget {
		return nil, errPDFUnverifiable
	}
	*budget -= len(out)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, errPDFUnverifiable
	}
	return out, nil
}

func containsName(names []string, want string) bool {
	for _, n := range names {
		if n == want {
			return true
		}
	}
	return false
}

// readPDFName reads a name's characters from i (after the "/") and decodes
// its #xx escapes.
func readPDFName(data []byte, i int) (string, int) {
	var b []byte
	for i < len(data) && !isPDFSpace(data[i]) && !isPDFDelimiter(data[i]) {
		c := data[i]
		if c == '#' && i+2 < len(data) {
			if h, ok := unhex(data[i+1], data[i+2]); ok {
				b = append(b, h)
				i += 3
				continue
			}
		}
		b = append(b, c)
		i++
	}
	return string(b), i
}

func unhex(a, b byte) (byte, bool) {
	x, ok1 := hexVal(a)
	y, ok2 := hexVal(b)
	return x<<4 | y, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// skipPDFString returns the index after the literal string opening at i:
// balanced parentheses, backslash escapes.
func skipPDFString(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFDelimiter(c byte) bool {
	return bytes.IndexByte([]byte("()<>[]{}/%"), c) >= 0
}
