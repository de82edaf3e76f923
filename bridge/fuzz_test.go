package bridge

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/redmine"
)

// Fuzz targets of the bridge's parsers of hostile input (make fuzz runs each
// for FUZZTIME; go test runs their seeds and testdata/fuzz/<name>/ as
// regression cases). None needs the stack.

const fuzzSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// FuzzIssueIDFromHook: the Redmine hook's payload parser never panics and
// only ever returns a positive issue id.
func FuzzIssueIDFromHook(f *testing.F) {
	for _, s := range []string{
		`{"payload":{"action":"updated","issue":{"id":42,"subject":"x"},"journal":{"private_notes":true},"url":"http://r/issues/42"}}`,
		`{"issue":{"id":7}}`, `{"data":{"issue":{"id":8}}}`, `{"type":"issue.created","data":{"id":9}}`,
		`{"payload":null}`, `{"issue":{"id":1e400}}`, `[` + strings.Repeat("[", 100), `{"issue":{"id":"12"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := issueIDFromHook(body)
		if err == nil && id <= 0 {
			t.Fatalf("issue id %d accepted", id)
		}
		if err != nil && id != 0 {
			t.Fatalf("id %d returned with error %v", id, err)
		}
	})
}

// FuzzParseInbound: the inbound body parser never panics; what it accepts
// is a well-formed delivery (a known type, a plausible identity, no control
// character anywhere, every attachment decoded); what it refuses gets a 4xx
// JSON error with a code and a message.
func FuzzParseInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"request","identity":{"email":"a@example.test"},"request":{"category":"autre","subject":"Fuite","body":"Bonjour"}}`,
		`{"type":"message","identity":{"id":"0d9c1f4e-5a7b-4c1e-9d2a-3b4c5d6e7f80"},"reference":"D-2026-000001","body":"Merci","attachments":[{"filename":"a.pdf","content_base64":"JVBERi0xLjQK"}]}`,
		`{"type":"message","identity":{"email":"a\u0000@example.test"},"reference":"D-2026-000001","body":"x"}`,
		`{"type":"message","identity":{"email":"a@example.test"},"reference":"D-2026-` + "\xff" + `","body":"x"}`,
		`{"type":"request","x":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}`,
		`{"type":"request","identity":{"email":"a@b"},"request":{"body":"\ud800"}} {}`,
		`{"body":"\"[{\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, refusal := parseInbound(body)
		if refusal != nil {
			status, resp := refusal.answer()
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if status < 400 || status > 499 || json.Unmarshal(resp, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("refusal %d %s: want a 4xx JSON error with a code and a message", status, resp)
			}
			return
		}
		if in.Type != "request" && in.Type != "message" {
			t.Fatalf("type %q accepted", in.Type)
		}
		if !isUUID(in.Identity.ID) && !plausibleEmail(in.Identity.Email) {
			t.Fatalf("identity %+v accepted", in.Identity)
		}
		if in.Type == "message" && !plausibleReference(in.Reference) {
			t.Fatalf("reference %q accepted", in.Reference)
		}
		if len(in.files) != len(in.Attachments) {
			t.Fatalf("%d files for %d attachments", len(in.files), len(in.Attachments))
		}
		b, _ := json.Marshal(in)
		if strings.Contains(string(b), `\u0000`) {
			t.Fatalf("a NUL was accepted: %s", b)
		}
		if jsonDepth(body, maxInboundDepth) > maxInboundDepth {
			t.Fatalf("nesting over %d accepted", maxInboundDepth)
		}
	})
}

// FuzzStandardWebhookHeaders: checking Standard Webhooks headers never
// panics, only well-formed signatures are kept, a delivery signed with the
// secret verifies (whole or streamed in pieces) and one byte changed does not.
func FuzzStandardWebhookHeaders(f *testing.F) {
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`), uint8(3))
	f.Add("msg_x", "9223372036854775807", "v1,AAAA v2,abc v1", []byte{}, uint8(0))
	f.Add("", "-9223372036854775808", "v1,,,, ,", []byte("x"), uint8(1))
	f.Add("msg_é", "1614265330.5", strings.Repeat("v1,"+strings.Repeat("A", 43)+"= ", 40), []byte("{}"), uint8(9))
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte, cut uint8) {
		for _, s := range parseStandardSignatures(sigs) {
			if len(s) != 32 {
				t.Fatalf("a %d-byte signature kept", len(s))
			}
		}
		now := time.Unix(1614265330, 0)
		_ = VerifyStandardWebhook(fuzzSecret, id, ts, sigs, body, now, 5*time.Minute)
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || id == "" || ts == "" || n > 1<<40 || n < -1<<40 {
			// time.Unix cannot stand for a clock that far off.
			return
		}
		at := time.Unix(n, 0)
		sig := SignStandardWebhook(fuzzSecret, id, ts, body)
		if err := VerifyStandardWebhook(fuzzSecret, id, ts, sig+" "+sigs, body, at, time.Minute); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		check, err := newStandardWebhookCheck(fuzzSecret, id, ts, sig, at, time.Minute)
		if err != nil {
			t.Fatalf("own headers refused: %v", err)
		}
		k := int(cut) % (len(body) + 1)
		_, _ = check.Write(body[:k])
		_, _ = check.Write(body[k:])
		if err := check.Verify(); err != nil {
			t.Fatalf("streamed in two pieces at %d: %v", k, err)
		}
		if len(body) > 0 {
			changed := append([]byte(nil), body...)
			changed[k%len(body)] ^= 1
			if VerifyStandardWebhook(fuzzSecret, id, ts, sig, changed, at, time.Minute) == nil {
				t.Fatal("a changed body verified")
			}
		}
	})
}

// FuzzRedmineHookAuth: the Redmine hook's header check never panics, takes
// only the secret (as token or HMAC signature) and never a prefix of it.
func FuzzRedmineHookAuth(f *testing.F) {
	const secret = "s3cret-0123456789abcdef0123456789"
	f.Add("sha256="+hmacHex(secret, []byte(`{"issue":{"id":1}}`)), "", "", []byte(`{"issue":{"id":1}}`))
	f.Add("", secret, "", []byte(`{}`))
	f.Add("", "", "token="+secret+"&token=x", []byte(`{}`))
	f.Add("sha256=zz", secret, "", []byte(nil))
	f.Fuzz(func(t *testing.T, sigHeader, tokenHeader, query string, body []byte) {
		r := httptest.NewRequest("POST", "/hooks/redmine", nil)
		r.URL.RawQuery = query
		r.Header["X-Redmine-Signature-256"] = []string{sigHeader}
		if sigHeader == "" {
			delete(r.Header, "X-Redmine-Signature-256")
		}
		if tokenHeader != "" {
			r.Header["X-Passerelle-Token"] = []string{tokenHeader}
		}
		ok := redmineHookAuthentic(r, body, secret)
		if !ok {
			return
		}
		token := tokenHeader
		if token == "" {
			token = r.URL.Query().Get("token")
		}
		if sigHeader != "" {
			if sigHeader != "sha256="+hmacHex(secret, body) && !strings.EqualFold(sigHeader, "sha256="+hmacHex(secret, body)) {
				t.Fatalf("signature %q accepted", sigHeader)
			}
		} else if token != secret {
			t.Fatalf("token %q accepted", token)
		}
	})
}

// FuzzPlanChanges: the journal → message converter never panics and never
// passes on what staff did not publish: nothing from a private journal or
// from the sync user's own writes, no file without a public note in the same
// journal, no file the issue does not list; changes in journal order.
func FuzzPlanChanges(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"journals":[{"id":10,"user":{"id":3,"name":"Marie L"},"notes":null,"private_notes":false,"details":[{"property":"attachment","name":"90","new_value":"private.html"}]},{"id":11,"user":{"id":3},"notes":"marge","private_notes":true}],"attachments":[{"id":90,"filename":"private.html"}]}`,
		`{"id":1,"journals":[{"id":4,"user":{"id":3,"name":"Marie"},"notes":"Le devis","details":[{"property":"attachment","name":"90","new_value":"devis.pdf"},{"property":"attr","name":"status_id","old_value":"1","new_value":"4"}]}],"attachments":[{"id":90,"filename":"devis.pdf"}]}`,
		`{"id":1,"journals":[{"id":9,"user":{"id":7},"notes":"client text","details":[{"property":"attr","name":"status_id","new_value":"5"}]},{"id":8,"user":{"id":3},"notes":" \n"}]}`,
		`{"journals":[{"id":2,"user":{"id":3},"details":[{"property":"attachment","name":"-1","new_value":"x"},{"property":"attr","name":"status_id","new_value":"99999999999999999999"}]}]}`,
	} {
		f.Add([]byte(s), 7)
	}
	statuses := map[int]string{1: "New", 2: "In Progress", 4: "Feedback", 5: "Closed"}
	statusName := func(id int) (string, bool) { s, ok := statuses[id]; return s, ok }
	f.Fuzz(func(t *testing.T, issueJSON []byte, syncUser int) {
		var issue redmine.Issue
		if json.Unmarshal(issueJSON, &issue) != nil {
			return
		}
		journals := map[int]redmine.Journal{}
		for _, j := range issue.Journals {
			journals[j.ID] = j
		}
		listed := map[int]bool{}
		for _, a := range issue.Attachments {
			listed[a.ID] = true
		}
		last := 0
		for i, c := range PlanChanges(testConfig(), issue, syncUser, statusName) {
			j, ok := journals[c.JournalID]
			if !ok {
				t.Fatalf("change of journal %d, which the issue does not have", c.JournalID)
			}
			if i > 0 && c.JournalID < last {
				t.Fatalf("journal %d after %d", c.JournalID, last)
			}
			last = c.JournalID
			if j.PrivateNotes || j.User.ID == syncUser {
				t.Fatalf("journal %d (private %v, user %d) passed on", j.ID, j.PrivateNotes, j.User.ID)
			}
			if strings.TrimSpace(c.Note) == "" && len(c.Attachments) > 0 {
				t.Fatalf("journal %d: %d files passed on without a public note", j.ID, len(c.Attachments))
			}
			for _, a := range c.Attachments {
				if !listed[a.ID] {
					t.Fatalf("journal %d: file %d the issue does not list", j.ID, a.ID)
				}
			}
			if c.Note == "" && c.Status == "" {
				t.Fatalf("journal %d: an empty change", j.ID)
			}
		}
	})
}
