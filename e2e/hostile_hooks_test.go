package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// /hooks/inbound, as an anonymous caller or a careless gateway would use it:
// unsigned, forged, tampered, stale, future, malformed signatures and
// webhook-ids; signed but malformed bodies (invalid UTF-8, too deep, NUL,
// unknown fields, bad identity, another client's reference, a category the
// client may not use); oversized bodies refused before being read; a
// replayed delivery answered with the recorded answer and stored once. Each
// refusal: its status and code, and nothing stored for anyone.
func TestHostileInboundHook(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	tenant, tenantID := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	other, _ := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	othersReq := other.create(e.base, "Demande d'un autre locataire "+tag, "Ne doit recevoir aucun message d'autrui.")

	good := func(subject string) []byte {
		return inboundRequest(tenantID, subject, "Texte relayé par la passerelle.")
	}
	withSig := func(dl inboundDelivery, sig string) inboundDelivery { dl.sig = sig; return dl }
	stale := func(age time.Duration) inboundDelivery {
		body := good("Livraison datée " + tag)
		id, ts := "msg_stale"+randomString(8, "0123456789"), strconv.FormatInt(time.Now().Add(age).Unix(), 10)
		return inboundDelivery{id: id, ts: ts, sig: signInbound(e.inboundSecret, id, ts, body), body: body}
	}
	tampered := func() inboundDelivery {
		dl := e.signed(good("Texte signé " + tag))
		dl.body = good("Texte substitué " + tag)
		return dl
	}
	otherSecret := "whsec_" + "c2VjcmV0LWR1LWZhdXNzYWlyZS0xMjM0NTY3ODkwMTI="
	nested := []byte(`{"type":"request","identity":{"id":"` + tenantID + `"},"request":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`)
	nulBody, _ := json.Marshal(map[string]any{"type": "request", "identity": map[string]string{"id": tenantID},
		"request": map[string]string{"category": "autre", "subject": "NUL " + tag, "body": "avant\x00après"}})
	invalidUTF8 := bytes.Replace(good("Octets invalides "+tag), []byte("Octets"), []byte("Oct\xff\xfeets"), 1)
	surrogate := bytes.Replace(good("Demi-paire "+tag), []byte("Demi-paire"), []byte(`Demi\ud800paire`), 1)
	rib, _ := json.Marshal(map[string]any{"type": "request", "identity": map[string]string{"id": tenantID},
		"request": map[string]string{"category": "changement-rib", "subject": "RIB " + tag, "body": "Nouveau RIB.", "mandate": "M-1"}})
	idor, _ := json.Marshal(map[string]any{"type": "message", "identity": map[string]string{"id": tenantID},
		"reference": othersReq.Reference, "body": "Message glissé dans la demande d'un autre " + tag})

	cases := []struct {
		name string
		dl   inboundDelivery
		want refusal
	}{
		{"unsigned", inboundDelivery{body: good("Sans signature " + tag)}, refusal{401, "bad_signature", ""}},
		{"signature without id and timestamp", func() inboundDelivery { dl := e.signed(good("Sans id " + tag)); dl.id, dl.ts = "", ""; return dl }(), refusal{401, "bad_signature", ""}},
		{"forged with another secret", func() inboundDelivery {
			dl := e.signed(good("Signature forgée " + tag))
			return withSig(dl, signInbound(otherSecret, dl.id, dl.ts, dl.body))
		}(), refusal{401, "bad_signature", ""}},
		{"body tampered after signing", tampered(), refusal{401, "bad_signature", ""}},
		{"stale timestamp, 10 minutes old", stale(-10 * time.Minute), refusal{401, "bad_signature", ""}},
		{"timestamp 10 minutes ahead", stale(10 * time.Minute), refusal{401, "bad_signature", ""}},
		{"timestamp not a number", func() inboundDelivery { dl := e.signed(good("Date illisible " + tag)); dl.ts = "hier"; return dl }(), refusal{401, "bad_signature", ""}},
		{"signature not base64", withSig(e.signed(good("Signature illisible "+tag)), "v1,!!!pas-du-base64!!!"), refusal{401, "bad_signature", ""}},
		{"signature of another version", func() inboundDelivery {
			dl := e.signed(good("Version inconnue " + tag))
			return withSig(dl, strings.Replace(dl.sig, "v1,", "v2,", 1))
		}(), refusal{401, "bad_signature", ""}},
		{"webhook-id with a space", func() inboundDelivery {
			dl := e.signed(good("Identifiant à espace " + tag))
			dl.id = "msg with space"
			return withSig(dl, signInbound(e.inboundSecret, dl.id, dl.ts, dl.body))
		}(), refusal{400, "invalid_webhook_id", ""}},
		{"signed invalid UTF-8", e.signed(invalidUTF8), refusal{400, "invalid_utf8", ""}},
		{"signed JSON nested 40 deep", e.signed(nested), refusal{400, "too_deep", ""}},
		{"signed NUL in the body", e.signed(nulBody), refusal{422, "invalid_text", "request.body"}},
		{"signed lone surrogate in the subject", e.signed(surrogate), refusal{422, "invalid_text", "request.subject"}},
		{"signed unknown field", e.signed([]byte(`{"type":"request","identity":{"id":"` + tenantID + `"},"admin":true}`)), refusal{400, "malformed", ""}},
		{"signed trailing data", e.signed(append(good("Données en trop "+tag), []byte(`{"type":"request"}`)...)), refusal{400, "malformed", ""}},
		{"signed identity id not a UUID", e.signed(inboundRequest("'; DROP TABLE requests; --", "Injection "+tag, "x")), refusal{422, "invalid_value", "identity.id"}},
		{"signed unknown identity", e.signed(inboundRequest("00000000-0000-4000-8000-000000000000", "Inconnu "+tag, "x")), refusal{422, "unknown_identity", "identity"}},
		{"signed category the tenant may not use", e.signed(rib), refusal{403, "category_not_allowed", "category"}},
		{"signed message on another client's reference", e.signed(idor), refusal{404, "not_found", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mine, others := clientState(tenant, e.base), clientState(other, e.base)
			e.postInbound(tc.dl).check(t, tc.name, tc.want)
			unchanged(t, tc.name, tenant, e.base, mine)
			unchanged(t, tc.name, other, e.base, others)
		})
	}

	t.Run("oversized bodies refused before they are read", func(t *testing.T) {
		before := clientState(tenant, e.base)
		const huge = 32 << 20
		sig := e.signed([]byte("peu importe"))
		signedHeaders := func(extra map[string]string) map[string]string {
			h := map[string]string{"Content-Type": "application/json", "webhook-id": sig.id, "webhook-timestamp": sig.ts, "webhook-signature": sig.sig}
			for k, v := range extra {
				h[k] = v
			}
			return h
		}
		for _, c := range []struct {
			name    string
			headers map[string]string
			want    refusal
		}{
			{"unsigned, 32 MiB declared, 64 KiB sent", map[string]string{"Content-Type": "application/json", "Content-Length": strconv.Itoa(huge)}, refusal{401, "bad_signature", ""}},
			{"signed headers, 32 MiB declared, 64 KiB sent", signedHeaders(map[string]string{"Content-Length": strconv.Itoa(huge)}), refusal{413, "too_large", ""}},
			{"signed headers, 32 MiB chunked", signedHeaders(map[string]string{"Transfer-Encoding": "chunked"}), refusal{413, "too_large", ""}},
		} {
			feed := fixedBody(64 << 10)
			if c.headers["Transfer-Encoding"] == "chunked" {
				feed = chunkedBody(huge)
			}
			res := rawExchange(t, e.base, requestHead(e.base, http.MethodPost, "/hooks/inbound", c.headers), feed, 10*time.Second)
			t.Logf("%s: %s after %s, %d body bytes written", c.name, res.resp, res.took.Round(time.Millisecond), res.written)
			res.resp.check(t, c.name, c.want)
			if res.written >= huge {
				t.Errorf("%s: the whole 32 MiB body was sent before the answer: the server read it all", c.name)
			}
		}
		unchanged(t, "oversized deliveries", tenant, e.base, before)
	})

	t.Run("replayed delivery gets the recorded answer, stored once", func(t *testing.T) {
		before := len(tenant.list(e.base))
		subject := "Relayée une seule fois " + tag
		dl := e.signed(good(subject))
		first := e.postInbound(dl)
		if first.status != http.StatusCreated {
			t.Fatalf("the genuine delivery: %s, want 201", first)
		}
		var created struct {
			Request apiRequest `json:"request"`
		}
		if err := json.Unmarshal(first.body, &created); err != nil || created.Request.Reference == "" {
			t.Fatalf("the genuine delivery's answer has no request: %v %s", err, first.body)
		}
		// The same bytes again (a captured delivery replayed within the tolerance).
		again := e.postInbound(dl)
		// The same id, another body, properly signed with a new timestamp.
		dl2 := e.signed(good("Rejouée avec un autre texte " + tag))
		dl2.id = dl.id
		dl2.sig = signInbound(e.inboundSecret, dl2.id, dl2.ts, dl2.body)
		changed := e.postInbound(dl2)
		for name, r := range map[string]hResp{"exact replay": again, "same id, other body": changed} {
			if r.status != first.status || !bytes.Equal(r.body, first.body) {
				t.Errorf("%s: %s\nwant the recorded answer, byte for byte: HTTP %d %s", name, r, first.status, first.body)
			}
		}
		list := tenant.list(e.base)
		n := 0
		for _, r := range list {
			if strings.HasPrefix(r.Subject, "Relayée une seule fois") || strings.HasPrefix(r.Subject, "Rejouée") {
				n++
			}
		}
		if len(list) != before+1 || n != 1 {
			t.Errorf("after one delivery sent three times the tenant has %d request(s) (was %d), %d of them from it; want one more, once", len(list), before, n)
		}
		tenant.waitIssue(e.base, created.Request.ID, 60*time.Second)
		if got := e.rm.issuesOfReference(created.Request.Reference); len(got) != 1 {
			t.Errorf("Redmine has %d issue(s) of %s, want 1", len(got), created.Request.Reference)
		}
	})

	other.waitIssue(e.base, othersReq.ID, 60*time.Second)
	e.settleRedmine(2) // the other tenant's request and the one genuine delivery
}

// /hooks/redmine without its secret or with a wrong one (token, header,
// signature) is 401 before its body is read; with the secret, a malformed or
// oversized body is 400/413. None nudges anything (no 202 on /metrics) nor
// changes the client's thread; the genuine nudge, last, is 202.
func TestHostileRedmineHook(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tenant, _ := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	req := tenant.create(e.base, "Chauffe-eau en panne "+e.d.prefix, "Plus d'eau chaude depuis ce matin.")
	issue := tenant.waitIssue(e.base, req.ID, 60*time.Second)
	nudge := []byte(fmt.Sprintf(`{"payload":{"action":"updated","issue":{"id":%d}}}`, issue))
	wrong := strings.Repeat("0", len(e.redmineSecret))
	oneOff := e.redmineSecret[:len(e.redmineSecret)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(e.redmineSecret, "0")]
	token := func(s string) url.Values { return url.Values{"token": {s}} }

	cases := []struct {
		name    string
		query   url.Values
		headers map[string]string
		body    []byte
		want    refusal
	}{
		{"no token", nil, nil, nudge, refusal{401, "unauthenticated", ""}},
		{"wrong token in the URL", token(wrong), nil, nudge, refusal{401, "unauthenticated", ""}},
		{"token one character off", token(oneOff), nil, nudge, refusal{401, "unauthenticated", ""}},
		{"token as a prefix of the secret", token(e.redmineSecret[:8]), nil, nudge, refusal{401, "unauthenticated", ""}},
		{"wrong X-Passerelle-Token", nil, map[string]string{"X-Passerelle-Token": wrong}, nudge, refusal{401, "unauthenticated", ""}},
		{"signature header without sha256=", nil, map[string]string{"X-Redmine-Signature-256": strings.Repeat("ab", 32)}, nudge, refusal{401, "unauthenticated", ""}},
		{"signature of another secret", nil, map[string]string{"X-Redmine-Signature-256": "sha256=" + strings.Repeat("ab", 32)}, nudge, refusal{401, "unauthenticated", ""}},
		{"good token, malformed JSON", token(e.redmineSecret), nil, []byte(`{"payload":{"issue":{"id":`), refusal{400, "malformed", ""}},
		{"good token, not JSON at all", token(e.redmineSecret), nil, []byte("<xml>issue 1</xml>"), refusal{400, "malformed", ""}},
		{"good token, no issue id", token(e.redmineSecret), nil, []byte(`{"payload":{"action":"updated"}}`), refusal{400, "malformed", ""}},
		{"good token, negative issue id", token(e.redmineSecret), nil, []byte(`{"issue":{"id":-7}}`), refusal{400, "malformed", ""}},
		{"good token, issue id as a string", token(e.redmineSecret), nil, []byte(`{"issue":{"id":"1 OR 1=1"}}`), refusal{400, "malformed", ""}},
	}
	accepted := func() float64 {
		return scrapeMetrics(t, e.srv.in.adminURL).sum("passerelle_webhook_calls_total", `hook="redmine",status="202"`)
	}
	before := clientState(tenant, e.base)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.postRedmineHook(tc.query, tc.headers, tc.body).check(t, tc.name, tc.want)
		})
	}
	t.Run("good token, body over 1 MiB, refused before it is read", func(t *testing.T) {
		head := requestHead(e.base, http.MethodPost, "/hooks/redmine?token="+url.QueryEscape(e.redmineSecret),
			map[string]string{"Content-Type": "application/json", "Content-Length": strconv.Itoa(16 << 20)})
		res := rawExchange(t, e.base, head, fixedBody(64<<10), 10*time.Second)
		res.resp.check(t, "16 MiB declared, 64 KiB sent", refusal{413, "too_large", ""})
	})
	t.Run("no token, 16 MiB declared, refused before it is read", func(t *testing.T) {
		head := requestHead(e.base, http.MethodPost, "/hooks/redmine",
			map[string]string{"Content-Type": "application/json", "Content-Length": strconv.Itoa(16 << 20)})
		res := rawExchange(t, e.base, head, fixedBody(64<<10), 10*time.Second)
		res.resp.check(t, "16 MiB declared, 64 KiB sent", refusal{401, "unauthenticated", ""})
	})
	if n := accepted(); n != 0 {
		t.Errorf("after the hostile calls /metrics counts %v accepted Redmine webhook(s), want 0", n)
	}
	unchanged(t, "the hostile Redmine webhooks", tenant, e.base, before)

	// The genuine nudge is accepted: the refusals above are the controls'.
	if r := e.postRedmineHook(token(e.redmineSecret), nil, nudge); r.status != http.StatusAccepted {
		t.Errorf("the genuine nudge of issue #%d: %s, want 202", issue, r)
	}
	waitUntil(t, 5*time.Second, "the genuine nudge counted on /metrics", func() (bool, string) {
		n := accepted()
		return n == 1, fmt.Sprintf("%v accepted", n)
	})
	e.settleRedmine(1)
}
