package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Weak, reused and world-readable secrets are configuration problems, named
// with the file and line of the key that names the secret.
func TestSecretProblems(t *testing.T) {
	strongHook := strings.Repeat("ab", 32)
	strongInbound := "whsec_" + base64.StdEncoding.EncodeToString([]byte("inbound-key-for-secret-tests-012"))
	// The secrets come from files; base gains a webhooks section at its end.
	type secretFile struct {
		value string
		mode  os.FileMode
	}
	cases := []struct {
		name             string
		hook, inbound    secretFile
		apiKey, smtpPass string
		line             int
		want             string // "" = valid
	}{
		{name: "strong and distinct", hook: secretFile{strongHook, 0o600}, inbound: secretFile{strongInbound, 0o600}},
		{name: "group-readable is allowed", hook: secretFile{strongHook, 0o640}, inbound: secretFile{strongInbound, 0o640}},
		{name: "short Redmine webhook secret", hook: secretFile{"hook-secret", 0o600}, inbound: secretFile{strongInbound, 0o600},
			line: 37, want: "webhooks.redmine_secret_file: the Redmine webhook secret has 11 characters: expected at least 32"},
		{name: "short whsec key", hook: secretFile{strongHook, 0o600}, inbound: secretFile{"whsec_" + base64.StdEncoding.EncodeToString([]byte("short-key")), 0o600},
			line: 38, want: "the inbound webhook secret is 9 bytes: expected at least 24"},
		{name: "whsec that is not base64", hook: secretFile{strongHook, 0o600}, inbound: secretFile{"whsec_not base64!", 0o600},
			line: 38, want: "not valid whsec_ base64"},
		{name: "short raw inbound secret", hook: secretFile{strongHook, 0o600}, inbound: secretFile{"raw-secret", 0o600},
			line: 38, want: "the inbound webhook secret has 10 characters: expected at least 32"},
		{name: "one secret for both hooks", hook: secretFile{strongHook, 0o600}, inbound: secretFile{strongHook, 0o600},
			line: 38, want: "webhooks.inbound_secret_file: the same secret as webhooks.redmine_secret_file: expected a distinct secret for each purpose"},
		{name: "whsec key equal to the Redmine token", hook: secretFile{"inbound-key-for-secret-tests-012", 0o600}, inbound: secretFile{strongInbound, 0o600},
			line: 38, want: "the same secret as webhooks.redmine_secret_file"},
		{name: "API key reused as webhook secret", hook: secretFile{strongHook, 0o600}, inbound: secretFile{strongInbound, 0o600}, apiKey: strongHook,
			line: 37, want: "webhooks.redmine_secret_file: the same secret as redmine.api_key_file"},
		{name: "database password reused as SMTP password", hook: secretFile{strongHook, 0o600}, inbound: secretFile{strongInbound, 0o600}, smtpPass: "dbpass",
			line: 39, want: "smtp.password_file: the same secret as database.url"},
		{name: "world-readable secret file", hook: secretFile{strongHook, 0o644}, inbound: secretFile{strongInbound, 0o600},
			line: 37, want: "is readable by every user of the machine (mode 0644): expected chmod 600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name string, f secretFile) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(f.value+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, f.mode); err != nil {
					t.Fatal(err)
				}
				return p
			}
			doc := base + "webhooks:\n  redmine_secret_file: " + write("hook", c.hook) + "\n  inbound_secret_file: " + write("inbound", c.inbound) + "\n"
			if c.smtpPass != "" {
				// The SMTP section goes at the end (line 39); its password comes
				// from the environment, so the problem names the section.
				doc += "smtp:\n  addr: 127.0.0.1:25\n  from: a@b.c\n"
			}
			t.Setenv("PASSERELLE_REDMINE_WEBHOOK_SECRET", "")
			t.Setenv("PASSERELLE_INBOUND_WEBHOOK_SECRET", "")
			t.Setenv("PASSERELLE_SMTP_PASSWORD", c.smtpPass)
			key := c.apiKey
			if key == "" {
				key = "sync-key-value"
			}
			t.Setenv("PASSERELLE_REDMINE_API_KEY", key)
			_, err := Parse("test.yaml", []byte(doc))
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no problem, want %q", c.want)
			}
			ps := err.(Problems)
			for _, p := range ps {
				if strings.Contains(p.Error(), c.want) {
					if p.Line != c.line || !strings.HasPrefix(p.Error(), "test.yaml:") {
						t.Errorf("at line %d, want %d: %s", p.Line, c.line, p)
					}
					for _, s := range []string{c.hook.value, c.inbound.value, "dbpass"} {
						if len(s) > 8 && strings.Contains(p.Error(), s) {
							t.Errorf("the problem prints a secret: %s", p)
						}
					}
					return
				}
			}
			t.Errorf("no problem mentions %q; got:\n%v", c.want, ps)
		})
	}
}
