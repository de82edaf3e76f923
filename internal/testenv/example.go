package testenv

import (
	"path/filepath"
	"testing"

	"passerelle/config"
)

// ExampleConfig loads config/example.yaml, its secrets set in the
// environment for the test: the configuration unit tests compute under.
func ExampleConfig(t testing.TB) *config.Config {
	t.Helper()
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "k")
	t.Setenv("PASSERELLE_SMTP_PASSWORD", "p")
	t.Setenv("PASSERELLE_REDMINE_WEBHOOK_SECRET", "test-redmine-webhook-secret-0123456789")
	t.Setenv("PASSERELLE_INBOUND_WEBHOOK_SECRET", "whsec_dGVzdC1pbmJvdW5kLWtleS0wMTIzNDU2Nzg5YWJjZGU=")
	cfg, err := config.Load(filepath.Join(RepoRoot(), "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
