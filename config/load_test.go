package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a small valid configuration; cases below change one line of it.
// Line numbers matter: the expected errors name them.
const base = `listen: 127.0.0.1:8080
public_url: http://127.0.0.1:8080
database:
  url: postgres://u:dbpass@127.0.0.1/p
redmine:
  url: http://127.0.0.1:3000
  poll_interval: 10s
  custom_fields:
    reference: 1
    mandate_number: 2
  client_closed_status: Closed
  reopen_status: In Progress
kratos:
  public_url: http://127.0.0.1:4433
  admin_url: http://127.0.0.1:4434
statuses:
  map:
    New: new
    Closed: closed
categories:
  - id: travaux
    label: Travaux
    roles: [tenant, owner]
    requires: [lot]
    redmine:
      project: gestion-locative
      tracker: Doléance
      assignee: {group: 5}
  - id: changement-rib
    label: RIB
    roles: [owner]
    redmine:
      project: gestion-locative
      tracker: Changement
      parent: mandate
`

func parseErr(t *testing.T, doc string) (Problems, *Config) {
	t.Helper()
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "sync-key-value")
	cfg, err := Parse("test.yaml", []byte(doc))
	if err == nil {
		return nil, cfg
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is not Problems: %v", err)
	}
	return ps, nil
}

func TestBaseIsValid(t *testing.T) {
	ps, cfg := parseErr(t, base)
	if ps != nil {
		t.Fatalf("base config: %v", ps)
	}
	if l := cfg.Limits; l.WritesPerMinute != 20 || l.WritesBurst != 10 || l.ConcurrentUploads != 2 || l.RequestQuota != 50<<20 || l.IdentityQuota != 250<<20 || cfg.AdminListen != "127.0.0.1:9090" {
		t.Errorf("limit defaults: %+v, admin_listen %q", l, cfg.AdminListen)
	}
	if cfg.Redmine.PollOverlap != DefaultPollOverlap || cfg.Uploads.MaxFileSize != 5<<20 || cfg.Redmine.MandateTracker != "Mandat" {
		t.Errorf("defaults not applied: %+v %+v", cfg.Redmine, cfg.Uploads)
	}
}

func TestConfigProblems(t *testing.T) {
	cases := []struct {
		name    string
		from    string // replaced in base
		to      string
		line    int
		message string
	}{
		{"unknown top-level key", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nlisten_adress: x", 2, `unknown key "listen_adress"; expected one of: listen, admin_listen, public_url`},
		{"unknown nested key", "  poll_interval: 10s", "  poll_intervall: 10s", 7, `redmine.poll_intervall: unknown key "poll_intervall"`},
		{"secret written inline", "  poll_interval: 10s", "  api_key: abc", 7, "secrets are never written in the YAML"},
		{"wrong type for a duration", "  poll_interval: 10s", "  poll_interval: often", 7, "as a duration such as 10s"},
		{"wrong type for an id", "    reference: 1", "    reference: Réf", 9, "as a whole number"},
		{"poll interval too short", "  poll_interval: 10s", "  poll_interval: 10ms", 7, "expected at least 1s"},
		{"missing reference field", "    reference: 1\n", "", 8, `redmine.custom_fields.reference: required`},
		{"missing redmine url", "  url: http://127.0.0.1:3000\n", "", 5, "redmine.url: required"},
		{"bad url", "  url: http://127.0.0.1:3000", "  url: 127.0.0.1:3000", 6, `is not an http(s) URL`},
		{"bad kratos browser url", "  admin_url: http://127.0.0.1:4434", "  admin_url: http://127.0.0.1:4434\n  browser_url: connexion.agence.fr", 16, `kratos.browser_url: "connexion.agence.fr" is not an http(s) URL`},
		{"unknown client status", "    New: new", "    New: nouveau", 18, `"nouveau" is not a client status`},
		{"closed status not mapped to closed", "  client_closed_status: Closed", "  client_closed_status: New", 11, `must be mapped to closed`},
		{"unknown role", "    roles: [tenant, owner]", "    roles: [tenant, landlord]", 23, `categories[0].roles[1]: "landlord" is not a role`},
		{"unknown required field", "    requires: [lot]", "    requires: [etage]", 24, `"etage" is not a request field`},
		{"duplicate category id", "  - id: changement-rib", "  - id: travaux", 29, `"travaux" is already the id of categories[0]`},
		{"missing tracker", "      tracker: Doléance\n", "", 25, "categories[0].redmine.tracker: required"},
		{"group and user", "      assignee: {group: 5}", "      assignee: {group: 5, user: 3}", 28, "set group or user, not both"},
		{"mandate parent for tenants", "    roles: [owner]", "    roles: [owner, tenant]", 31, "for owners only"},
		{"bad parent rule", "      parent: mandate", "      parent: project", 35, `"project": expected mandate or nothing`},
		{"bad size", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nuploads:\n  max_file_size: huge", 3, `"huge" is not a size`},
		{"admin listener on the customer address", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nadmin_listen: 127.0.0.1:8080", 2, "admin_listen: \"127.0.0.1:8080\" is also listen"},
		{"bad admin address", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nadmin_listen: metrics", 2, "admin_listen: \"metrics\" is not a host:port address"},
		{"request quota under one file", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nlimits:\n  request_quota: 1MiB", 3, "limits.request_quota: 1MiB is less than uploads.max_file_size (5MiB)"},
		{"identity quota under the request quota", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nlimits:\n  identity_quota: 10MiB", 3, "limits.identity_quota: 10MiB is less than limits.request_quota (50MiB)"},
		{"negative rate", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nlimits:\n  writes_per_minute: -1", 3, "limits.writes_per_minute: -1: expected between 1 and 6000"},
		{"smtp sender not an address", "listen: 127.0.0.1:8080", "listen: 127.0.0.1:8080\nsmtp:\n  addr: 127.0.0.1:1025\n  from: Agence", 4, `smtp.from: "Agence" is not an e-mail address`},
		{"not a mapping", base, "- a\n- b\n", 1, "cannot read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.from) {
				t.Fatalf("base lacks %q", c.from)
			}
			doc := strings.Replace(base, c.from, c.to, 1)
			ps, _ := parseErr(t, doc)
			if ps == nil {
				t.Fatalf("no error")
			}
			for _, p := range ps {
				if strings.Contains(p.Error(), c.message) {
					if p.Line != c.line {
						t.Errorf("line = %d, want %d (%s)", p.Line, c.line, p)
					}
					if !strings.HasPrefix(p.Error(), fmt.Sprintf("test.yaml:%d: ", p.Line)) {
						t.Errorf("error does not start with file:line: %s", p)
					}
					return
				}
			}
			t.Errorf("no problem mentions %q; got:\n%v", c.message, ps)
		})
	}
}

// Several problems are reported at once, in line order.
func TestProblemsAreAllReportedInLineOrder(t *testing.T) {
	doc := strings.Replace(strings.Replace(base, "  poll_interval: 10s", "  poll_interval: 10ms", 1), "    New: new", "    New: nouveau", 1)
	ps, _ := parseErr(t, doc)
	if len(ps) != 2 || ps[0].Line != 7 || ps[1].Line != 18 {
		t.Fatalf("problems = %v", ps)
	}
}

func TestSecretsComeFromFilesOrEnvAndNeverPrint(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "redmine.key")
	if err := os.WriteFile(keyFile, []byte("file-key-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(base, "  poll_interval: 10s", "  poll_interval: 10s\n  api_key_file: "+keyFile, 1)
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "")
	t.Setenv("PASSERELLE_SMTP_PASSWORD", "smtp-pass-456")
	t.Setenv("PASSERELLE_INBOUND_WEBHOOK_SECRET", "whsec_aW5ib3VuZC1rZXktZm9yLXRoZS1wcmludC10ZXN0LTA=")
	t.Setenv("PASSERELLE_REDMINE_WEBHOOK_SECRET", "hook-secret-789-0123456789abcdefghij")
	cfg, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redmine.APIKey.Reveal() != "file-key-123" {
		t.Errorf("api key from file = %q", cfg.Redmine.APIKey.Reveal())
	}
	if cfg.SMTP.Password.Reveal() != "smtp-pass-456" {
		t.Errorf("smtp password from env = %q", cfg.SMTP.Password.Reveal())
	}
	for _, out := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", *cfg), fmt.Sprint(cfg.Redmine)} {
		for _, secret := range []string{"file-key-123", "smtp-pass-456", "aW5ib3VuZC1rZXktZm9y", "hook-secret-789-0123456789abcdefghij", "dbpass"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed in: %s", secret, out)
			}
		}
	}
	// The env variable wins over the file.
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "env-key")
	cfg, err = Parse("test.yaml", []byte(doc))
	if err != nil || cfg.Redmine.APIKey.Reveal() != "env-key" {
		t.Errorf("env override: %v %q", err, cfg.Redmine.APIKey.Reveal())
	}
}

func TestMissingSecretFileIsAProblemWithItsLine(t *testing.T) {
	doc := strings.Replace(base, "  poll_interval: 10s", "  poll_interval: 10s\n  api_key_file: /nonexistent/key", 1)
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "")
	_, err := Parse("test.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "test.yaml:8: redmine.api_key_file") || !strings.Contains(err.Error(), "PASSERELLE_REDMINE_API_KEY") {
		t.Fatalf("err = %v", err)
	}
}
