package kratos

import (
	"context"
	"errors"
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/kratos/kratostest"
)

// The identity directory against the stack's real Kratos admin API.
func TestIdentityDirectory(t *testing.T) {
	ctx := context.Background()
	dir := NewDirectory(kratostest.AdminURL(t), nil)
	owner := kratostest.NewIdentity(t, kratostest.Options{First: "Jeanne", Last: "Bailleur", Verified: true,
		MetadataPublic: map[string]any{"role": "owner", "lots": []string{"L1"}, "mandates": []string{"M-9"}}})

	for _, tc := range []struct {
		name   string
		lookup func() (Identity, error)
	}{
		{"by id", func() (Identity, error) { return dir.ByID(ctx, owner.ID) }},
		{"by e-mail", func() (Identity, error) { return dir.ByEmail(ctx, owner.Email) }},
		{"by e-mail in capitals", func() (Identity, error) { return dir.ByEmail(ctx, " "+strings.ToUpper(owner.Email)+" ") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.lookup()
			if err != nil {
				t.Fatal(err)
			}
			if id.ID != owner.ID || id.Email != owner.Email || id.Name != "Jeanne Bailleur" || id.Role != config.RoleOwner ||
				len(id.Lots) != 1 || id.Lots[0] != "L1" || len(id.Mandates) != 1 || id.Mandates[0] != "M-9" {
				t.Fatalf("got %+v", id)
			}
		})
	}

	t.Run("unknown", func(t *testing.T) {
		if _, err := dir.ByID(ctx, "5d3c1b2a-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("by id: %v", err)
		}
		if _, err := dir.ByID(ctx, "not-a-uuid"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
		if _, err := dir.ByEmail(ctx, kratostest.UniqueEmail()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("by e-mail: %v", err)
		}
	})
	t.Run("inactive", func(t *testing.T) {
		off := kratostest.NewIdentity(t, kratostest.Options{Inactive: true, MetadataPublic: map[string]any{"role": "tenant"}})
		if _, err := dir.ByEmail(ctx, off.Email); !errors.Is(err, ErrIdentityInactive) {
			t.Fatalf("got %v", err)
		}
	})
	// Issue 10 item 5: an e-mail only the traits hold (unverified, not the
	// agency's metadata_public.email) names nobody; the Kratos id still does.
	t.Run("unverified e-mail", func(t *testing.T) {
		self := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant"}})
		if _, err := dir.ByEmail(ctx, self.Email); !errors.Is(err, ErrEmailUnverified) {
			t.Fatalf("by e-mail: %v, want ErrEmailUnverified", err)
		}
		if id, err := dir.ByID(ctx, self.ID); err != nil || id.ID != self.ID {
			t.Fatalf("by id: %+v %v", id, err)
		}
	})
	t.Run("no role", func(t *testing.T) {
		none := kratostest.NewIdentity(t, kratostest.Options{})
		_, err := dir.ByID(ctx, none.ID)
		if !errors.Is(err, ErrNoRole) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("admin API down", func(t *testing.T) {
		down := NewDirectory("http://127.0.0.1:1", nil)
		if _, err := down.ByID(ctx, owner.ID); err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}
