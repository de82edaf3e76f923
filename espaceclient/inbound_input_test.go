package espaceclient

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"passerelle/internal/hookguard/hookguardtest"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

// countingIdentities is the real Kratos directory, counting the calls made
// to it (to prove a malformed delivery reaches no Kratos call).
type countingIdentities struct {
	next  IdentityDirectory
	calls atomic.Int64
}

func (c *countingIdentities) ByID(ctx context.Context, id string) (Identity, error) {
	c.calls.Add(1)
	return c.next.ByID(ctx, id)
}

func (c *countingIdentities) ByEmail(ctx context.Context, email string) (Identity, error) {
	c.calls.Add(1)
	return c.next.ByEmail(ctx, email)
}

// Bad input on POST /hooks/inbound, signed correctly, is answered 4xx with a
// clear JSON error before any Kratos call and any database query (the
// refusal is not even recorded), so a sender does not retry it for ever.
func TestInboundMalformedInputIsRefusedBeforeAnyCall(t *testing.T) {
	g := newInboundRig(t)
	ids := &countingIdentities{next: kratos.NewDirectory(g.e.cfg.Get().Kratos.AdminURL, nil)}
	addr, _ := g.guardedServer(t, ids)
	email := fmt.Sprintf("%q", g.tenant.email)
	msg := func(identity, reference string) string {
		return `{"type":"message","identity":` + identity + `,"reference":` + reference + `,"body":"Bonjour"}`
	}
	deep := strings.Repeat(`[`, 10_001) + strings.Repeat(`]`, 10_001)
	cases := []struct {
		name, body string
		// header overrides the signed headers (the webhook-id).
		id         string
		wantStatus int
		wantCode   string
	}{
		{"NUL in the reference", msg(`{"email":`+email+`}`, `"D-2026-\u0000001"`), "", 422, "invalid_text"},
		{"NUL in the e-mail", msg(`{"email":"a\u0000@example.test"}`, `"D-2026-000001"`), "", 422, "invalid_text"},
		{"invalid UTF-8 in the e-mail", msg(`{"email":"caf`+"\xe9"+`@example.test"}`, `"D-2026-000001"`), "", 400, "invalid_utf8"},
		{"invalid UTF-8 in the reference", msg(`{"email":`+email+`}`, `"D-2026-`+"\xff\xfe"+`"`), "", 400, "invalid_utf8"},
		{"lone surrogate escape in the body", `{"type":"message","identity":{"email":` + email + `},"reference":"D-2026-000001","body":"\ud800"}`, "", 422, "invalid_text"},
		{"control character in the subject", `{"type":"request","identity":{"email":` + email + `},"request":{"category":"autre","subject":"a\u001bb","body":"x"}}`, "", 422, "invalid_text"},
		{"e-mail without @", msg(`{"email":"nobody"}`, `"D-2026-000001"`), "", 422, "invalid_value"},
		{"identity id not a UUID", msg(`{"id":"../admin"}`, `"D-2026-000001"`), "", 422, "invalid_value"},
		{"reference with a quote", msg(`{"email":`+email+`}`, `"D-2026' OR 1=1"`), "", 422, "invalid_value"},
		{"no identity", `{"type":"request","request":{"category":"autre","subject":"s","body":"b"}}`, "", 422, "required"},
		{"unknown type", `{"type":"delete","identity":{"email":` + email + `}}`, "", 422, "invalid_value"},
		{"malformed JSON", `{"type":"request",`, "", 400, "malformed"},
		{"not an object", `"hello"`, "", 400, "malformed"},
		{"unknown field", `{"type":"request","identity":{"email":` + email + `},"admin":true}`, "", 400, "malformed"},
		{"trailing data", `{"type":"message","identity":{"email":` + email + `},"reference":"D-2026-000001","body":"x"} {}`, "", 400, "malformed"},
		{"nested 17 levels", `{"type":"request","x":` + strings.Repeat(`[`, 17) + strings.Repeat(`]`, 17) + `}`, "", 400, "too_deep"},
		{"nested 10,001 levels", deep, "", 400, "too_deep"},
		{"attachment not base64", `{"type":"message","identity":{"email":` + email + `},"reference":"D-2026-000001","body":"x","attachments":[{"filename":"a.pdf","content_base64":"%%%"}]}`, "", 400, "malformed"},
		{"webhook-id with invalid UTF-8", msg(`{"email":`+email+`}`, `"D-2026-000001"`), "msg_\xff\xfe", 400, "invalid_webhook_id"},
		{"webhook-id too long", msg(`{"email":`+email+`}`, `"D-2026-000001"`), "msg_" + strings.Repeat("a", 300), 400, "invalid_webhook_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			calls := ids.calls.Load()
			id := c.id
			if id == "" {
				id = "msg_" + uniqueName("bad")
			}
			body := []byte(c.body)
			res := hookguardtest.Post{Path: "/hooks/inbound", Content: body, Header: g.signedHeaders(id, time.Now(), body)}.Do(t, addr)
			if res.Err != nil {
				t.Fatalf("no answer: %v", res.Err)
			}
			if res.Status != c.wantStatus || !strings.Contains(res.Body, `"code":"`+c.wantCode+`"`) || !strings.Contains(res.Body, `"message":"`) {
				t.Fatalf("HTTP %d %s; want %d with error code %s and a message", res.Status, res.Body, c.wantStatus, c.wantCode)
			}
			if n := ids.calls.Load() - calls; n != 0 {
				t.Errorf("%d Kratos lookups for a malformed delivery; want none", n)
			}
			if after := g.storedTotals(t); after != before {
				t.Errorf("stored or recorded something: %s → %s", before, after)
			}
		})
	}
}

// The inbound webhook acts for the client an e-mail names only when that
// address is vouched for: verified in Kratos (the client completed the
// invitation sent to it) or recorded by the agency in metadata_public.email.
// An address only the client's traits hold is refused (422, recorded, so a
// repeat gets the same answer) and nothing is stored.
func TestInboundIdentifiesClientsOnlyByVouchedAddresses(t *testing.T) {
	g := newInboundRig(t)
	lot := uniqueName("LOT")
	cases := []struct {
		name string
		opts func(email string) kratostest.Options
		// wantStatus and wantCode: the answer; wantStored: the request stored.
		wantStatus int
		wantCode   string
		wantStored int
	}{
		{"unverified e-mail", func(string) kratostest.Options {
			return kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}}}
		}, 422, "unverified_email", 0},
		{"agency-set address in metadata_public", func(email string) kratostest.Options {
			return kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}, "email": strings.ToUpper(email)}}
		}, 201, "", 1},
		{"agency-set address that is another one", func(string) kratostest.Options {
			return kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}, "email": kratostest.UniqueEmail()}}
		}, 422, "unverified_email", 0},
		{"verified e-mail", func(string) kratostest.Options {
			return kratostest.Options{Verified: true, MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}}}
		}, 201, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			email := kratostest.UniqueEmail()
			o := c.opts(email)
			o.Email = email
			kratostest.NewIdentity(t, o)
			id := "msg_" + uniqueName("vouch")
			subject, text := "Sujet "+id, "Message "+id
			body := []byte(fmt.Sprintf(`{"type":"request","identity":{"email":%q},"request":{"category":"autre","subject":%q,"body":%q}}`, email, subject, text))
			code, resp := g.mustSend(t, id, body)
			if code != c.wantStatus || (c.wantCode != "" && !strings.Contains(resp, `"code":"`+c.wantCode+`"`)) {
				t.Fatalf("HTTP %d %s; want %d %s", code, resp, c.wantStatus, c.wantCode)
			}
			if reqs, msgs := g.stored(t, subject, text); reqs != c.wantStored || msgs != c.wantStored {
				t.Errorf("stored %d requests, %d messages; want %d", reqs, msgs, c.wantStored)
			}
			if c.wantStatus >= 400 {
				if code2, resp2 := g.mustSend(t, id, body); code2 != code || resp2 != resp {
					t.Errorf("repeat of the refusal: %d %s; want the recorded %d %s", code2, resp2, code, resp)
				}
			}
		})
	}
}
