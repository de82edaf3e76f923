package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"passerelle/internal/hookguard"
)

// Authentication of POST /hooks/redmine, from the headers before the body is
// read (the HMAC signature is then computed while the body streams in).

// redmineHookCheck authenticates a Redmine webhook from its headers before
// its body is read: Redmine 7's X-Redmine-Signature-256 (sha256=<hex
// HMAC-SHA256 of the body>) gives a hookguard.BodyCheck to feed the body into; else the
// plugin's shared secret, in the X-Passerelle-Token header or the URL's
// ?token=, compared in constant time. ok is false when the delivery is
// refused without reading it.
func redmineHookCheck(r *http.Request, secret string) (check hookguard.BodyCheck, ok bool) {
	if sig := r.Header.Get("X-Redmine-Signature-256"); sig != "" {
		hexSig, found := strings.CutPrefix(sig, "sha256=")
		if !found {
			return nil, false
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil || len(got) != sha256.Size {
			return nil, false
		}
		return &hookguard.MACCheck{MAC: hmac.New(sha256.New, []byte(secret)), Want: [][]byte{got}}, true
	}
	token := r.Header.Get("X-Passerelle-Token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(secret)) != 1 {
		return nil, false
	}
	return hookguard.AcceptAll{}, true
}

// redmineHookAuthentic checks the shared secret or the HMAC signature of a
// whole body.
func redmineHookAuthentic(r *http.Request, body []byte, secret string) bool {
	c, ok := redmineHookCheck(r, secret)
	if !ok {
		return false
	}
	_, _ = c.Write(body)
	return c.Verify() == nil
}
