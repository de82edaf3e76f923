package espaceclient

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets of the inbound webhook's parsers of hostile input (make fuzz
// runs each for FUZZTIME; go test runs their seeds and testdata/fuzz/<name>/
// as regression cases). None needs the stack.

const fuzzSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

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
		if !validUUID(in.Identity.ID) && !plausibleEmail(in.Identity.Email) {
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
