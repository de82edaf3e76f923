package kratos

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"

	ory "github.com/ory/kratos-client-go"

	"passerelle/config"
)

func TestSessionCredentials(t *testing.T) {
	tests := []struct {
		name          string
		cookie, token string
		wantCookie    string
		wantToken     string
	}{
		{"nothing", "", "", "", ""},
		{"only the kratos cookie is forwarded", "_ga=GA1.1; ory_kratos_session=MTY5abc-_=; other=secret", "",
			"ory_kratos_session=MTY5abc-_=", ""},
		{"no kratos cookie", "_ga=GA1.1; other=secret", "", "", ""},
		{"token header", "", " ory_st_abc ", "", "ory_st_abc"},
		{"both: only the token is sent", "ory_kratos_session=v", "t", "", "t"},
		{"blank token: the cookie is sent", "ory_kratos_session=v", "  ", "ory_kratos_session=v", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/me", nil)
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			if tt.token != "" {
				r.Header.Set(SessionTokenHeader, tt.token)
			}
			c, tok := sessionCredentials(r)
			if c != tt.wantCookie || tok != tt.wantToken {
				t.Fatalf("got (%q, %q), want (%q, %q)", c, tok, tt.wantCookie, tt.wantToken)
			}
		})
	}
}

func TestIdentityFromKratos(t *testing.T) {
	const uid = "0b8f1f63-2b7e-4a52-9a0e-4b6b8f9b8c11"
	traits := map[string]any{"email": "marie@example.test", "name": map[string]any{"first": "Marie", "last": "Curie"}}
	tests := []struct {
		name     string
		traits   any
		metadata string // JSON, "" = absent
		want     Identity
		wantErr  error
	}{
		{"tenant", traits, `{"role":"tenant","lots":["A12"]}`,
			Identity{ID: uid, Email: "marie@example.test", Name: "Marie Curie", Role: config.RoleTenant, Lots: []string{"A12"}, Mandates: []string{}}, nil},
		{"owner with numbers as lots", traits, `{"role":"owner","lots":[12,"B3","B3",""],"mandates":["M-1"]}`,
			Identity{ID: uid, Email: "marie@example.test", Name: "Marie Curie", Role: config.RoleOwner, Lots: []string{"12", "B3"}, Mandates: []string{"M-1"}}, nil},
		{"no metadata", traits, "", Identity{}, ErrNoRole},
		{"unknown role", traits, `{"role":"admin"}`, Identity{}, ErrNoRole},
		{"role in traits is ignored", map[string]any{"email": "x@example.test", "role": "owner", "lots": []string{"A1"}}, `{}`, Identity{}, ErrNoRole},
		{"malformed lots", traits, `{"role":"tenant","lots":"A12"}`, Identity{}, ErrNoRole},
		{"no name", map[string]any{"email": "x@example.test"}, `{"role":"tenant"}`,
			Identity{ID: uid, Email: "x@example.test", Role: config.RoleTenant, Lots: []string{}, Mandates: []string{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ki := &ory.Identity{Id: uid, Traits: tt.traits}
			if tt.metadata != "" {
				var md any
				if err := json.Unmarshal([]byte(tt.metadata), &md); err != nil {
					t.Fatal(err)
				}
				ki.MetadataPublic = md
			}
			got, err := fromKratos(ki)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
