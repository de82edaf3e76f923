package espaceclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"passerelle/config"
)

// A submission is what a client posts to create a request or a message:
// text fields and files, in one of three forms:
//   - multipart/form-data: the fields, and files in parts named "attachments";
//   - application/json: an object of the fields (strings), no files;
//   - application/x-www-form-urlencoded: the fields, no files.
type submission struct {
	fields map[string]string
	files  []Upload
}

func (s submission) get(name string) string { return s.fields[name] }

// filesField is the multipart field name of attachments.
const filesField = "attachments"

var (
	createFields  = []string{"category", "subject", "body", "location", "urgency", "payer", "lot", "mandate"}
	messageFields = []string{"body"}
)

// bodyCap is the most a request body may weigh: every file at its maximum
// size, plus the text fields and a margin for the multipart framing.
func bodyCap(u config.Uploads) int64 {
	files := int64(u.MaxFiles) * int64(u.MaxFileSize)
	return files + int64(u.MaxBodyLength)*4 + int64(u.MaxSubjectLength)*4 + 1<<20
}

// fieldCap is the most bytes a text field may weigh before it is refused as
// too long (4 bytes a character at most in UTF-8, plus a margin).
func fieldCap(u config.Uploads, name string) int64 {
	switch name {
	case "body":
		return int64(u.MaxBodyLength)*4 + 1024
	case "subject":
		return int64(u.MaxSubjectLength)*4 + 1024
	}
	return 4096
}

var fieldLabels = map[string]string{
	"category": "La catégorie", "subject": "L'objet", "body": "Le message", "location": "L'emplacement",
	"urgency": "L'urgence", "payer": "Le champ « qui paie »", "lot": "Le lot", "mandate": "Le mandat",
}

func tooLongField(u config.Uploads, name string) *Error {
	max := 100
	switch name {
	case "body":
		max = u.MaxBodyLength
	case "subject":
		max = u.MaxSubjectLength
	case "location":
		max = maxLocationLength
	}
	return invalid("too_long", name, "%s ne doit pas dépasser %d caractères.", fieldLabels[name], max)
}

var errBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large",
	Message: "Votre envoi est trop volumineux : réduisez le nombre ou la taille des fichiers joints."}

// readSubmission reads the body of r (capped with http.MaxBytesReader) into
// a submission, keeping only the allowed fields. Files are read part by part,
// each up to the maximum file size: a file over it, or one file too many, is
// refused at once (after the rest of the capped body is drained, so the
// client reads the answer rather than a reset connection).
func readSubmission(w http.ResponseWriter, r *http.Request, u config.Uploads, allowed []string, withFiles bool) (submission, error) {
	sub := submission{fields: map[string]string{}}
	isAllowed := func(name string) bool { return slices.Contains(allowed, name) }
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil && ct != "" {
		return sub, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "",
			"Type de contenu illisible : envoyez du multipart/form-data ou du JSON.")
	}
	switch mt {
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, bodyCap(u))
		err := readMultipart(r.Body, params["boundary"], u, isAllowed, withFiles, &sub)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return sub, errBodyTooLarge
			}
			var e *Error
			if errors.As(err, &e) {
				_, _ = io.Copy(io.Discard, r.Body)
				return sub, e
			}
			return sub, withCause(newError(http.StatusBadRequest, "bad_request", "",
				"Le formulaire envoyé est illisible (multipart/form-data mal formé)."), err)
		}
		return sub, nil
	case "application/json":
		r.Body = http.MaxBytesReader(w, r.Body, int64(u.MaxBodyLength)*4+int64(u.MaxSubjectLength)*4+64<<10)
		return sub, readJSONFields(r.Body, isAllowed, &sub)
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(w, r.Body, int64(u.MaxBodyLength)*12+64<<10)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return sub, errBodyTooLarge
			}
			return sub, withCause(newError(http.StatusBadRequest, "bad_request", "", "Le formulaire envoyé est illisible."), err)
		}
		for name, vals := range r.PostForm {
			if isAllowed(name) && len(vals) > 0 {
				sub.fields[name] = vals[0]
			}
		}
		return sub, nil
	}
	return sub, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "",
		"Envoyez le formulaire en multipart/form-data (avec des fichiers) ou en JSON (sans fichier).")
}

func readMultipart(body io.Reader, boundary string, u config.Uploads, isAllowed func(string) bool, withFiles bool, sub *submission) error {
	if boundary == "" {
		return errors.New("multipart body without a boundary")
	}
	// mime/multipart's NextPart answers a plain io.EOF for a body cut
	// inside a part's headers, as for the closing delimiter: the body is
	// complete only if that delimiter was read.
	end := &delimiterWatch{delim: []byte("--" + boundary + "--")}
	mr := multipart.NewReader(io.TeeReader(body, end), boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			if !end.seen {
				return errors.New("multipart body ends before its closing delimiter")
			}
			return nil
		}
		if err != nil {
			return err
		}
		name := part.FormName()
		switch {
		case name == filesField && withFiles:
			data, err := io.ReadAll(io.LimitReader(part, int64(u.MaxFileSize)+1))
			if err != nil {
				return err
			}
			filename := part.FileName()
			if filename == "" && len(data) == 0 {
				continue // a file input left empty by a browser
			}
			if int64(len(data)) > int64(u.MaxFileSize) {
				return tooLarge(SanitizeFilename(filename, ""), u.MaxFileSize)
			}
			sub.files = append(sub.files, Upload{Filename: filename, Data: data})
			if u.MaxFiles > 0 && len(sub.files) > u.MaxFiles {
				return invalid("too_many_files", filesField,
					"Vous pouvez joindre au plus %d fichiers à un message.", u.MaxFiles)
			}
		case isAllowed(name):
			limit := fieldCap(u, name)
			data, err := io.ReadAll(io.LimitReader(part, limit+1))
			if err != nil {
				return err
			}
			if int64(len(data)) > limit {
				return tooLongField(u, name)
			}
			if _, seen := sub.fields[name]; seen {
				return duplicateField(name)
			}
			sub.fields[name] = string(data)
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return err
			}
		}
		part.Close()
	}
}

// readJSONFields reads a JSON object of text fields. An unknown field is
// refused (400) so a typo does not go unnoticed; numbers are taken as text
// (a lot written 12); null is empty.
func readJSONFields(body io.Reader, isAllowed func(string) bool, sub *submission) error {
	raw, err := decodeObject(body)
	if err != nil {
		return err
	}
	for _, kv := range raw {
		name, v := kv.name, kv.value
		if name == filesField {
			return newError(http.StatusBadRequest, "bad_request", filesField,
				"Les fichiers s'envoient en multipart/form-data, dans des parties nommées « attachments ».")
		}
		if !isAllowed(name) {
			return newError(http.StatusBadRequest, "bad_request", name, "Champ inconnu : « %s ».", truncateRunes(cleanLine(name), 40))
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.Equal(v, []byte("null")):
			sub.fields[name] = ""
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return newError(http.StatusBadRequest, "bad_request", name, "Le champ « %s » doit être un texte.", name)
			}
			// encoding/json replaces invalid UTF-8 and lone surrogate
			// escapes (\ud800) with U+FFFD: refuse them as multipart and
			// the inbound hook do, rather than store a damaged text.
			if !utf8.Valid(v) || strings.ContainsRune(s, utf8.RuneError) && !literalReplacementChar(v) {
				return invalidText(name)
			}
			sub.fields[name] = s
		default:
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil {
				return newError(http.StatusBadRequest, "bad_request", name, "Le champ « %s » doit être un texte.", name)
			}
			sub.fields[name] = strings.TrimSpace(n.String())
		}
	}
	return nil
}

// literalReplacementChar tells whether a JSON string token carries U+FFFD
// itself (the character, or its \ufffd escape), not as a decoder's
// replacement.
func literalReplacementChar(tok []byte) bool {
	return bytes.Contains(tok, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(tok), []byte(`\ufffd`))
}

// invalidText is the 422 of a text field that is not valid UTF-8.
func invalidText(name string) *Error {
	what := fieldLabels[name]
	if what == "" {
		what = "Ce champ"
	}
	return invalid("invalid_text", name, "%s contient des caractères illisibles : le texte doit être encodé en UTF-8.", what)
}

// delimiterWatch is written every byte of a multipart body and notes whether
// the closing delimiter went by (across writes).
type delimiterWatch struct {
	delim []byte
	tail  []byte
	seen  bool
}

func (d *delimiterWatch) Write(p []byte) (int, error) {
	if d.seen {
		return len(p), nil
	}
	buf := append(d.tail, p...)
	if bytes.Contains(buf, d.delim) {
		d.seen = true
		d.tail = nil
		return len(p), nil
	}
	if keep := len(d.delim) - 1; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	d.tail = append(d.tail[:0:0], buf...)
	return len(p), nil
}

// jsonField is one member of a JSON object, in its order.
type jsonField struct {
	name  string
	value json.RawMessage
}

// decodeObject reads one JSON object member by member, refusing a member
// named twice: encoding/json would silently keep the last one, and
// multipart, which keeps none, refuses it too.
func decodeObject(body io.Reader) ([]jsonField, error) {
	dec := json.NewDecoder(body)
	unreadable := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return withCause(newError(http.StatusBadRequest, "bad_request", "", "Le JSON envoyé est illisible : un objet est attendu."), err)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, unreadable(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, unreadable(errors.New("not an object"))
	}
	var out []jsonField
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, unreadable(err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, unreadable(err)
		}
		if seen[name] {
			return nil, duplicateField(name)
		}
		seen[name] = true
		out = append(out, jsonField{name: name, value: v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, unreadable(err)
	}
	if dec.More() {
		return nil, newError(http.StatusBadRequest, "bad_request", "", "Le JSON envoyé contient plus d'un objet.")
	}
	return out, nil
}

// duplicateField is the 400 of a field sent twice.
func duplicateField(name string) *Error {
	return newError(http.StatusBadRequest, "duplicate_field", name,
		"Le champ « %s » est envoyé deux fois : envoyez-le une seule fois.", truncateRunes(cleanLine(name), 40))
}
