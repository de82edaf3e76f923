package espaceclient

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"passerelle/internal/hookguard"
)

// Standard Webhooks signatures of POST /hooks/inbound, checked in two steps
// so that nothing is read before the headers pass: the headers (presence,
// timestamp, the shape of the signatures) are checked first, then the body
// is hashed as it streams in (a hookguard.BodyCheck fed by
// hookguard.ReadBody) and compared at the end.

// errBadInboundSecret says the configured inbound secret cannot be used: a
// configuration problem, not the sender's.
var errBadInboundSecret = errors.New("inbound webhook secret is not valid whsec_ base64")

// parseStandardSignatures returns the decoded HMAC-SHA256 values of a
// webhook-signature header: space-separated "v1,<base64>" entries. Entries of
// another version, or whose value is not 32 bytes of base64, are skipped.
func parseStandardSignatures(header string) [][]byte {
	var out [][]byte
	for _, sig := range strings.Fields(header) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && len(got) == sha256.Size {
			out = append(out, got)
		}
		if len(out) == 16 {
			break // more is no legitimate rotation
		}
	}
	return out
}

// standardWebhookKey returns the HMAC key of a Standard Webhooks secret:
// "whsec_<base64>" or raw bytes.
func standardWebhookKey(secret string) ([]byte, error) {
	if s, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errBadInboundSecret
		}
		return key, nil
	}
	return []byte(secret), nil
}

// newStandardWebhookCheck checks the Standard Webhooks headers before the
// body is read: webhook-id, webhook-timestamp and webhook-signature present,
// the timestamp within tolerance of now, at least one well-formed v1
// signature. It returns the hookguard.BodyCheck to feed the body into, or why the
// delivery is refused (errBadInboundSecret for an unusable secret).
func newStandardWebhookCheck(secret, id, timestamp, signatures string, now time.Time, tolerance time.Duration) (hookguard.BodyCheck, error) {
	if id == "" || timestamp == "" || signatures == "" {
		return nil, errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, errors.New("webhook-timestamp is not a Unix time in seconds")
	}
	// Compared in whole seconds, without overflow for any int64.
	if secondsApart(ts, now.Unix()) > uint64(tolerance/time.Second) {
		return nil, fmt.Errorf("webhook-timestamp is %s away from now (tolerance %s)", now.Sub(time.Unix(ts, 0)).Round(time.Second), tolerance)
	}
	want := parseStandardSignatures(signatures)
	if len(want) == 0 {
		return nil, errors.New("no valid v1 signature")
	}
	key, err := standardWebhookKey(secret)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	return &hookguard.MACCheck{MAC: mac, Want: want}, nil
}

// secondsApart is |a-b|, exact for any two int64.
func secondsApart(a, b int64) uint64 {
	if a >= b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}

// VerifyStandardWebhook checks a Standard Webhooks signature: the
// webhook-signature header holds space-separated "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" entries; the secret is "whsec_<base64>" (or raw bytes);
// the timestamp must be within tolerance of now. It returns a reason when the
// delivery must be refused.
func VerifyStandardWebhook(secret, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	c, err := newStandardWebhookCheck(secret, id, timestamp, signatures, now, tolerance)
	if err != nil {
		return err
	}
	_, _ = c.Write(body)
	return c.Verify()
}

// SignStandardWebhook returns the webhook-signature value for a delivery
// (for senders and tests).
func SignStandardWebhook(secret, id, timestamp string, body []byte) string {
	key, err := standardWebhookKey(secret)
	if err != nil {
		key = []byte(secret)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
