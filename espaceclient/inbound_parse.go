package espaceclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validation of an authenticated inbound delivery before anything else sees
// it: no database query and no Kratos call is made for a body that is not
// well-formed, so a sender's mistake is answered 400/422 (never 5xx, which
// the sender would retry for ever). Refusals here are not recorded: they
// depend only on the body.

// maxInboundDepth is the deepest JSON nesting an inbound body may have; the
// expected document is 4 levels deep (attachments[i].filename).
const maxInboundDepth = 16

// maxWebhookIDLength bounds webhook-id (Standard Webhooks ids are short,
// such as msg_2KWPBgLlAfxdpx2AI54pPJ85f4W).
const maxWebhookIDLength = 200

// inboundRefusal is a 4xx answer of the inbound hook.
type inboundRefusal struct {
	status               int
	code, field, message string
}

func (r *inboundRefusal) answer() (int, []byte) { return errJSON(r.status, r.code, r.field, r.message) }

func refuse(status int, code, field, format string, args ...any) *inboundRefusal {
	return &inboundRefusal{status: status, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

// validWebhookID tells whether a webhook-id is printable ASCII of a sensible
// length (it is stored as the delivery's key).
func validWebhookID(id string) bool {
	if id == "" || len(id) > maxWebhookIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// jsonDepth returns the deepest nesting of objects and arrays in b, stopping
// as soon as it passes limit. Strings are skipped (brackets in them do not
// count). b need not be valid JSON.
func jsonDepth(b []byte, limit int) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// parseInbound decodes and checks an inbound body. It refuses invalid UTF-8
// (encoding/json would replace it silently), nesting deeper than
// maxInboundDepth, unknown fields, trailing data, a NUL or other control
// character in any field (line breaks and tabs are allowed in texts), and
// malformed identity e-mail, identity id, reference and type.
func parseInbound(body []byte) (InboundMessage, *inboundRefusal) {
	var in InboundMessage
	if !utf8.Valid(body) {
		return in, refuse(http.StatusBadRequest, "invalid_utf8", "",
			"Le corps n'est pas du texte UTF-8 valide : encodez la livraison en UTF-8.")
	}
	if d := jsonDepth(body, maxInboundDepth); d > maxInboundDepth {
		return in, refuse(http.StatusBadRequest, "too_deep", "",
			"Le JSON est imbriqué sur plus de %d niveaux : envoyez le document attendu (type, identity, request ou reference et body, attachments).", maxInboundDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, refuse(http.StatusBadRequest, "malformed", "", "Le corps n'est pas le JSON attendu : %s.", err.Error())
	}
	if dec.More() {
		return in, refuse(http.StatusBadRequest, "malformed", "", "Le corps contient des données après le document JSON : envoyez un seul objet.")
	}
	if r := checkStrings(reflect.ValueOf(in), ""); r != nil {
		return in, r
	}
	if in.Type != "request" && in.Type != "message" {
		return in, refuse(http.StatusUnprocessableEntity, "invalid_value", "type", `Le champ type doit valoir "request" ou "message".`)
	}
	switch {
	case in.Identity.ID != "":
		if !validUUID(in.Identity.ID) {
			return in, refuse(http.StatusUnprocessableEntity, "invalid_value", "identity.id",
				"identity.id doit être l'identifiant Kratos du client (un UUID).")
		}
	case in.Identity.Email != "":
		if !plausibleEmail(in.Identity.Email) {
			return in, refuse(http.StatusUnprocessableEntity, "invalid_value", "identity.email",
				"identity.email doit être une adresse e-mail (nom@domaine), sans espace ni caractère de contrôle, de 320 caractères au plus.")
		}
	default:
		return in, refuse(http.StatusUnprocessableEntity, "required", "identity", "identity.id ou identity.email est requis.")
	}
	if in.Type == "message" && !plausibleReference(in.Reference) {
		return in, refuse(http.StatusUnprocessableEntity, "invalid_value", "reference",
			"reference doit être la référence d'une demande (comme D-2026-000123) : lettres, chiffres et tirets, 64 caractères au plus.")
	}
	for i, a := range in.Attachments {
		data, err := base64.StdEncoding.DecodeString(a.ContentBase64)
		if err != nil {
			return in, refuse(http.StatusBadRequest, "malformed", fmt.Sprintf("attachments[%d].content_base64", i),
				"attachments[%d].content_base64 n'est pas du base64 valide (alphabet standard, avec le remplissage =).", i)
		}
		in.files = append(in.files, Upload{Filename: a.Filename, Data: data})
	}
	return in, nil
}

// checkStrings walks every string of v (structs, slices) and refuses a NUL
// or another control character; line breaks and tabs are allowed. path names
// the field in the JSON document.
func checkStrings(v reflect.Value, path string) *inboundRefusal {
	switch v.Kind() {
	case reflect.String:
		for _, r := range v.String() {
			if r == '\n' || r == '\r' || r == '\t' {
				continue
			}
			if unicode.IsControl(r) || r == utf8.RuneError {
				return refuse(http.StatusUnprocessableEntity, "invalid_text", path,
					"%s contient un caractère de contrôle ou illisible (U+%04X) : envoyez du texte UTF-8 sans caractère de contrôle.", path, r)
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" || !t.Field(i).IsExported() {
				continue
			}
			if r := checkStrings(v.Field(i), joinPath(path, name)); r != nil {
				return r
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if r := checkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); r != nil {
				return r
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return checkStrings(v.Elem(), path)
		}
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// plausibleEmail is a cheap shape check of an address (one @, something on
// both sides, no space or control character, 320 bytes at most); Kratos
// decides whether it names a client.
func plausibleEmail(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) > 320 {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// plausibleReference is the shape of a dossier reference (D-2026-000123,
// prefixes being admin-chosen): ASCII letters, digits and dashes, 64 at most.
func plausibleReference(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
