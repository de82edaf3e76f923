package config

import "testing"

// The shipped example must stay valid: it is what admins copy.
func TestExampleIsValid(t *testing.T) {
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "k")
	t.Setenv("PASSERELLE_SMTP_PASSWORD", "p")
	t.Setenv("PASSERELLE_REDMINE_WEBHOOK_SECRET", "test-redmine-webhook-secret-0123456789")
	t.Setenv("PASSERELLE_INBOUND_WEBHOOK_SECRET", "whsec_dGVzdC1pbmJvdW5kLWtleS0wMTIzNDU2Nzg5YWJjZGU=")
	cfg, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if len(cfg.Categories) != 8 {
		t.Fatalf("categories = %d, want 8", len(cfg.Categories))
	}
}
