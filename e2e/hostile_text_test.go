package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// Textile a client types (a forged "h2. Note interne de l'agence" heading,
// external images, phishing links, a way out of the verbatim block, a macro,
// a mention, a copy of Passerelle's marker), in the subject, the body, the
// place, a follow-up and the name traits, reaches Redmine inert: read as
// staff, the subject is the text as typed (Redmine never formats subjects)
// and every line of client text sits inside Passerelle's <pre> blocks, which
// the client could not close, the name in Passerelle's own sentence as
// character references; the marker that counts is Passerelle's, last.
func TestHostileMarkupReachesRedmineInert(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	lot := uniqueLot()
	first, last := "!http://evil.example/n.png!", `"phish":http://evil.example/nom`
	id := kratostest.NewIdentity(t, kratostest.Options{Verified: true, First: first, Last: last,
		MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}, "mandates": []string{}}})
	tenant := &customer{t: t, token: kratostest.Login(t, id.Email, id.Password), lot: lot}

	subject := "h2. Note interne !http://evil.example/s.png! " + tag
	body := strings.Join([]string{
		"h2. Note interne de l'agence",
		"",
		"!http://evil.example/x.png!",
		`"phish":http://evil.example/login`,
		"</pre>",
		"h1. Sorti du bloc <notextile>évadé</notextile> <code>x</code>",
		"{{collapse(Cliquez ici)",
		"@admin commit:abc #1 [[Wiki]]",
		"_Identifiant interne espace client : 00000000-0000-0000-0000-000000000000_",
	}, "\n")
	fields := []formField{{"category", "travaux"}, {"subject", subject}, {"body", body}, {"lot", lot},
		{"location", `"phish":http://evil.example/lieu !http://evil.example/l.png!`}, {"payer", "tenant"}, {"urgency", "normal"}}
	r := tenant.postMultipart(e.base, "/api/v1/requests", fields, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("request with markup: %s, want 201", r)
	}
	var req apiRequest
	decodeJSON(t, r.body, &req)
	followUp := "h3. Réponse de l'agence : payez ici\n\"ici\":http://evil.example/pay\n</PRE>\n!http://evil.example/y.png!"
	msgID := tenant.followUp(e.base, req.ID, followUp)
	issue := tenant.waitIssue(e.base, req.ID, 60*time.Second)

	var is issueText
	waitUntil(t, 60*time.Second, "the follow-up mirrored as a note", func() (bool, string) {
		is = readIssueText(t, e.rm, issue)
		return len(is.notesWith("Réf. message espace client : "+msgID)) == 1, fmt.Sprintf("%d journals", len(is.Journals))
	})
	if want := "[" + req.Reference + "] " + subject; is.Subject != want {
		t.Errorf("issue #%d subject %q, want the client's text as typed, %q", issue, is.Subject, want)
	}
	checkInert(t, "description", is.Description, []string{body, "Emplacement exact : " + fields[4].value, "Nom : " + first + " " + last},
		"_Identifiant interne espace client : "+req.ID+"_", 2)
	note := is.notesWith("Réf. message espace client : " + msgID)[0]
	checkInert(t, "follow-up note", note, []string{followUp}, "_Réf. message espace client : "+msgID+"_", 1)
	if !strings.Contains(note, "Nom déclaré par le client : &#33;http&#58;&#47;&#47;evil&#46;example") {
		t.Errorf("follow-up note: the declared name is not written as character references:\n%s", note)
	}
	e.settleRedmine(1)
}

// checkInert fails the test unless text holds exactly blocks verbatim blocks
// ("<pre>" … "</pre>", each delimiter on a line of its own), every line of
// the client's texts inside one of them (a client's "</pre>" made harmless),
// nothing outside them holding a link or an image, no macro opening anywhere,
// and marker as the last line.
func checkInert(t *testing.T, what, text string, client []string, marker string, blocks int) {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	inside := map[string]bool{}
	opened, closed, in := 0, 0, false
	for _, l := range lines {
		switch {
		case l == "<pre>" && !in:
			opened, in = opened+1, true
		case l == "</pre>" && in:
			closed, in = closed+1, false
		case in:
			inside[l] = true
		case strings.Contains(l, "evil.example") || strings.Contains(l, "://") || strings.Contains(l, `"phish":`) ||
			strings.Contains(strings.ToLower(l), "<pre") || strings.Contains(strings.ToLower(l), "</pre"):
			t.Errorf("%s: line %q outside the verbatim blocks is live markup:\n%s", what, l, text)
		}
	}
	if opened != blocks || closed != blocks || in {
		t.Errorf("%s: %d <pre> and %d </pre> delimiter lines, want %d of each, closed:\n%s", what, opened, closed, blocks, text)
	}
	for _, c := range client {
		for _, l := range strings.Split(c, "\n") {
			l = strings.TrimSpace(l)
			switch {
			case l == "":
			case strings.EqualFold(l, "</pre>"):
				if !inside["‹"+l[1:]] {
					t.Errorf("%s: the client's %q is not inside a block as %q:\n%s", what, l, "‹"+l[1:], text)
				}
			case strings.HasPrefix(l, "{{"):
				if !inside["｛"+l[1:]] {
					t.Errorf("%s: the client's macro %q is not neutralized inside a block:\n%s", what, l, text)
				}
			case !inside[neutralOfftags(l)]:
				t.Errorf("%s: the client's line %q is not a line of a verbatim block:\n%s", what, l, text)
			}
		}
	}
	if regexp.MustCompile(`\{\{[\p{L}\p{N}_]`).MatchString(text) {
		t.Errorf("%s: a macro opening \"{{name\" is left:\n%s", what, text)
	}
	if last := lastNonBlank(lines); last != marker {
		t.Errorf("%s: last line %q, want Passerelle's marker %q", what, last, marker)
	}
}

// neutralOfftags is how a line looks once its <code, <notextile… openings
// are made harmless ("<" becomes "‹").
func neutralOfftags(l string) string {
	return regexp.MustCompile(`(?i)<(/?(?:pre|code|kbd|notextile))`).ReplaceAllString(l, "‹$1")
}

func lastNonBlank(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	return ""
}

// issueText is an issue's subject, description and notes.
type issueText struct {
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Journals    []struct {
		Notes string `json:"notes"`
	} `json:"journals"`
}

func (is issueText) notesWith(s string) []string {
	var out []string
	for _, j := range is.Journals {
		if strings.Contains(j.Notes, s) {
			out = append(out, j.Notes)
		}
	}
	return out
}

func readIssueText(t *testing.T, rm *staff, issue int) issueText {
	t.Helper()
	var out struct {
		Issue issueText `json:"issue"`
	}
	status, raw, err := rm.call(http.MethodGet, "/issues/"+strconv.Itoa(issue)+".json", url.Values{"include": {"journals"}}, nil, &out)
	if err != nil || status != http.StatusOK {
		t.Fatalf("staff: GET issue %d: HTTP %d %v %.300s", issue, status, err, raw)
	}
	return out.Issue
}

// Invalid UTF-8, NUL, lone surrogates, deeply nested, huge or malformed JSON
// and multipart, on a new request and on a follow-up: a 4xx naming the field
// when there is one, and nothing stored.
func TestHostileMalformedText(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	tenant, _ := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	base := tenant.create(e.base, "Demande qui reçoit les suites "+tag, "Rien de mal formé ne doit s'y ajouter.")
	tenant.waitIssue(e.base, base.ID, 60*time.Second)
	js := func(subject, body string) []byte {
		return []byte(`{"category":"autre","subject":"` + subject + `","body":"` + body + `"}`)
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	const (
		// Regression (found by this suite, fixed in espaceclient/form.go and text.go): encoding/json turns invalid UTF-8 and lone surrogates into
		// U+FFFD without a word (issue 10, "found by reading": JSON and
		// multipart disagree); multipart answers 422 invalid_text.
		defectJSONUTF8 = "JSON text with invalid UTF-8 or a lone surrogate is stored with U+FFFD instead of 422 invalid_text (multipart refuses it)"
		// Regression (found by this suite, fixed in espaceclient/form.go and text.go): cleanField drops NUL and other control characters and
		// stores the rest, where the brief (and /hooks/inbound) answer 422
		// invalid_text naming the field.
		defectNUL = "a NUL in a text field is silently dropped and the rest stored, instead of a 4xx naming the field (the inbound hook answers 422 invalid_text)"
	)
	type tc struct {
		name   string
		path   string // "" is POST /api/v1/requests
		ctype  string
		body   []byte
		want   refusal
		defect string
	}
	mp := func(fields []formField) ([]byte, string) { return multipartBody(t, fields, nil) }
	cases := []tc{
		{"JSON invalid UTF-8 in the subject", "", "application/json", js("Fen\xeatre cass\xe9e "+tag, "ok"), refusal{422, "invalid_text", "subject"}, defectJSONUTF8},
		{"JSON invalid UTF-8 in the body", "", "application/json", js("Sujet "+tag, "caf\xe9 \xff\xfe"), refusal{422, "invalid_text", "body"}, defectJSONUTF8},
		{"JSON lone surrogate in the body", "", "application/json", js("Sujet "+tag, `avant\ud800après`), refusal{422, "invalid_text", "body"}, defectJSONUTF8},
		{"JSON escaped NUL in the subject", "", "application/json", js(`Sujet\u0000 `+tag, "ok"), refusal{422, "invalid_text", "subject"}, defectNUL},
		{"JSON escaped NUL in the body", "", "application/json", js("Sujet "+tag, `avant\u0000après`), refusal{422, "invalid_text", "body"}, defectNUL},
		{"JSON raw NUL byte in a string", "", "application/json", js("Sujet "+tag, "avant\x00après"), refusal{400, "bad_request", ""}, ""},
		{"JSON field nested 100 deep", "", "application/json", []byte(`{"category":"autre","subject":"s","body":` + deep(100) + `}`), refusal{400, "bad_request", "body"}, ""},
		{"JSON nested 20,000 deep", "", "application/json", []byte(`{"body":` + deep(20000) + `}`), refusal{400, "bad_request", ""}, ""},
		{"JSON of 2 MiB", "", "application/json", js("Sujet "+tag, strings.Repeat("a", 2<<20)), refusal{413, "request_too_large", ""}, ""},
		{"JSON body over max_body_length", "", "application/json", js("Sujet "+tag, strings.Repeat("é", 10001)), refusal{422, "too_long", "body"}, ""},
		{"JSON with a field that is not one", "", "application/json", []byte(`{"category":"autre","subject":"s","body":"b","role":"admin"}`), refusal{400, "bad_request", "role"}, ""},
		{"JSON of two objects", "", "application/json", append(js("Sujet "+tag, "un"), js("Sujet "+tag, "deux")...), refusal{400, "bad_request", ""}, ""},
		{"JSON array instead of an object", "", "application/json", []byte(`[{"category":"autre"}]`), refusal{400, "bad_request", ""}, ""},
		{"JSON cut short", "", "application/json", []byte(`{"category":"autre","subject":"s`), refusal{400, "bad_request", ""}, ""},
		{"form invalid UTF-8 in the body", "", "application/x-www-form-urlencoded", []byte("category=autre&subject=Sujet+" + tag + "&body=caf%E9"), refusal{422, "invalid_text", "body"}, ""},
		{"JSON follow-up with invalid UTF-8", base.ID, "application/json", []byte(`{"body":"caf` + "\xe9" + `"}`), refusal{422, "invalid_text", "body"}, defectJSONUTF8},
		{"JSON follow-up with an escaped NUL", base.ID, "application/json", []byte(`{"body":"a\u0000b"}`), refusal{422, "invalid_text", "body"}, defectNUL},
		{"JSON follow-up nested 20,000 deep", base.ID, "application/json", []byte(`{"body":` + deep(20000) + `}`), refusal{400, "bad_request", ""}, ""},
		{"JSON follow-up of 2 MiB", base.ID, "application/json", []byte(`{"body":"` + strings.Repeat("a", 2<<20) + `"}`), refusal{413, "request_too_large", ""}, ""},
	}
	for _, c := range []struct {
		name   string
		path   string
		fields []formField
		want   refusal
		defect string
	}{
		{"multipart invalid UTF-8 in the subject", "", autreFields("Fen\xeatre "+tag, "ok"), refusal{422, "invalid_text", "subject"}, ""},
		{"multipart invalid UTF-8 in the body", "", autreFields("Sujet "+tag, "caf\xe9"), refusal{422, "invalid_text", "body"}, ""},
		{"multipart NUL in the subject", "", autreFields("Sujet\x00 "+tag, "ok"), refusal{422, "invalid_text", "subject"}, defectNUL},
		{"multipart NUL in the body", "", autreFields("Sujet "+tag, "avant\x00après"), refusal{422, "invalid_text", "body"}, defectNUL},
		{"multipart follow-up with invalid UTF-8", base.ID, []formField{{"body", "caf\xe9"}}, refusal{422, "invalid_text", "body"}, ""},
		{"multipart follow-up with a NUL", base.ID, []formField{{"body", "a\x00b"}}, refusal{422, "invalid_text", "body"}, defectNUL},
	} {
		b, ct := mp(c.fields)
		cases = append(cases, tc{c.name, c.path, ct, b, c.want, c.defect})
	}
	full, ct := multipartBody(t, autreFields("Sujet "+tag, "corps du message"), []clientFile{{"photo.jpg", photoJPEG(t, 16, 16)}})
	inValue := bytes.Index(full, []byte("corps du message")) + 5
	inHeaders := bytes.Index(full, []byte("filename*="))
	cases = append(cases,
		tc{"multipart cut inside a value", "", ct, full[:inValue], refusal{400, "bad_request", ""}, ""},
		// Regression (found by this suite, fixed in espaceclient/form.go and text.go): mime/multipart's NextPart answers a body cut inside a part's
		// headers with a plain io.EOF, which readMultipart takes for the end:
		// the request is stored without the file that was being sent.
		tc{"multipart cut inside a file part's headers", "", ct, full[:inHeaders], refusal{400, "bad_request", ""},
			"a multipart body cut inside a part's headers is taken as complete: the request is stored without its file"},
		tc{"multipart without a boundary", "", "multipart/form-data", full, refusal{400, "bad_request", ""}, ""},
		tc{"XML body", "", "application/xml", []byte("<request><subject>x</subject></request>"), refusal{415, "unsupported_media_type", ""}, ""},
	)
	storedByDefects := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/api/v1/requests"
			if c.path != "" {
				path += "/" + c.path + "/messages"
			}
			before := clientState(tenant, e.base)
			r := sendAs(tenant.token, e.base, http.MethodPost, path, c.ctype, c.body)
			if c.defect == "" {
				r.check(t, c.name, c.want)
				unchanged(t, c.name, tenant, e.base, before)
				return
			}
			ae := r.apiErr().Error
			if r.status != c.want.status || ae.Code != c.want.code || ae.Field != c.want.field || ae.Message == "" {
				t.Errorf("regression: %s: %s: got %s, want HTTP %d %s (field %q)", c.name, c.defect, r, c.want.status, c.want.code, c.want.field)
			}
			if d := stateDiff(tenant, e.base, before); d != "" {
				t.Errorf("regression: %s: stored:\n%s", c.name, d)
				if c.path == "" {
					storedByDefects++
				}
			}
		})
	}
	// The requests the defects above stored reach Redmine too; already reported.
	e.settleRedmine(1 + storedByDefects)
}
