package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Secret strength rules (docs/SECURITY.md):
//   - the Redmine webhook token is compared as a string and travels in a URL:
//     at least MinWebhookSecretLen characters (the stack's is 64 hex digits);
//   - the inbound Standard Webhooks secret is an HMAC key: "whsec_<base64>"
//     must decode to at least MinInboundKeyBytes bytes (the Standard Webhooks
//     minimum), a raw secret must have at least MinWebhookSecretLen characters.
//
// The Redmine API key, the SMTP password and the database password are chosen
// by other systems: they are only checked for reuse.
const (
	MinWebhookSecretLen = 32
	MinInboundKeyBytes  = 24
)

// checkSecretFile refuses a secret file every user of the machine may read.
// Group-readable (0640) stays allowed, for a group Passerelle belongs to.
func checkSecretFile(file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("reading secret file: %w", err)
	}
	if st.Mode().Perm()&0o004 != 0 {
		return fmt.Errorf("secret file %s is readable by every user of the machine (mode %04o): expected chmod 600, or 640 with a group of Passerelle's", file, st.Mode().Perm())
	}
	return nil
}

// checkSecrets reports weak webhook secrets and a secret used for two
// purposes, at the key that names each secret.
func (c *Config) checkSecrets(v *validator) {
	if s := c.Webhooks.RedmineSecret.Reveal(); s != "" && len(s) < MinWebhookSecretLen {
		v.errf("webhooks.redmine_secret_file", "the Redmine webhook secret has %d characters: expected at least %d random ones, such as the output of `openssl rand -hex 32` (or set PASSERELLE_REDMINE_WEBHOOK_SECRET)", len(s), MinWebhookSecretLen)
	}
	if s := c.Webhooks.InboundSecret.Reveal(); s != "" {
		if b64, ok := strings.CutPrefix(s, "whsec_"); ok {
			key, err := base64.StdEncoding.DecodeString(b64)
			switch {
			case err != nil:
				v.errf("webhooks.inbound_secret_file", "the inbound webhook secret is not valid whsec_ base64: expected whsec_ followed by the base64 of at least %d random bytes, such as \"whsec_$(openssl rand -base64 32)\"", MinInboundKeyBytes)
			case len(key) < MinInboundKeyBytes:
				v.errf("webhooks.inbound_secret_file", "the inbound webhook secret is %d bytes: expected at least %d random bytes after whsec_, such as \"whsec_$(openssl rand -base64 32)\"", len(key), MinInboundKeyBytes)
			}
		} else if len(s) < MinWebhookSecretLen {
			v.errf("webhooks.inbound_secret_file", "the inbound webhook secret has %d characters: expected at least %d, or whsec_ and the base64 of at least %d random bytes", len(s), MinWebhookSecretLen, MinInboundKeyBytes)
		}
	}

	type named struct{ path, value string }
	var dbPassword string
	if u, err := url.Parse(c.Database.URL.Reveal()); err == nil && u.User != nil {
		dbPassword, _ = u.User.Password()
	}
	secrets := []named{
		{"database.url", dbPassword},
		{"redmine.api_key_file", c.Redmine.APIKey.Reveal()},
		{"smtp.password_file", c.SMTP.Password.Reveal()},
		{"webhooks.redmine_secret_file", c.Webhooks.RedmineSecret.Reveal()},
		{"webhooks.inbound_secret_file", c.Webhooks.InboundSecret.Reveal()},
	}
	for i, s := range secrets {
		if s.value == "" {
			continue
		}
		for _, earlier := range secrets[:i] {
			if sameSecret(earlier.value, s.value) {
				v.errf(s.path, "the same secret as %s: expected a distinct secret for each purpose, so that one leaked secret opens one door only", earlier.path)
				break
			}
		}
	}
}

// sameSecret tells whether two secrets are equal, comparing a whsec_ secret
// by its key too.
func sameSecret(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	key := func(s string) string {
		if b64, ok := strings.CutPrefix(s, "whsec_"); ok {
			if k, err := base64.StdEncoding.DecodeString(b64); err == nil {
				return string(k)
			}
		}
		return s
	}
	return key(a) == key(b)
}
