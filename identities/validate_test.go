package identities

import (
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/kratos"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		rec     kratos.ClientRecord
		wantErr string
		email   string
	}{
		{name: "tenant with a lot", rec: kratos.ClientRecord{Email: " Camille.Martin@Example.TEST ", First: "Camille", Last: "Martin", Role: config.RoleTenant, Lots: []string{"A12"}}, email: "camille.martin@example.test"},
		{name: "owner with a mandate", rec: kratos.ClientRecord{Email: "p@example.test", Last: "Durand", Role: config.RoleOwner, Mandates: []string{"M-1"}}, email: "p@example.test"},
		{name: "bad e-mail", rec: kratos.ClientRecord{Email: "pas-une-adresse", Last: "X", Role: config.RoleTenant, Lots: []string{"A"}}, wantErr: "invalide"},
		{name: "display name refused", rec: kratos.ClientRecord{Email: "Bob <b@example.test>", Last: "X", Role: config.RoleTenant, Lots: []string{"A"}}, wantErr: "invalide"},
		{name: "no domain dot", rec: kratos.ClientRecord{Email: "b@localhost", Last: "X", Role: config.RoleTenant, Lots: []string{"A"}}, wantErr: "invalide"},
		{name: "no name", rec: kratos.ClientRecord{Email: "b@example.test", Role: config.RoleTenant, Lots: []string{"A"}}, wantErr: "nom manquant"},
		{name: "unknown role", rec: kratos.ClientRecord{Email: "b@example.test", Last: "X", Role: "gardien"}, wantErr: "« gardien » inconnu"},
		{name: "tenant without lot", rec: kratos.ClientRecord{Email: "b@example.test", Last: "X", Role: config.RoleTenant, Lots: []string{" "}}, wantErr: "au moins un lot"},
		{name: "owner without mandate", rec: kratos.ClientRecord{Email: "b@example.test", Last: "X", Role: config.RoleOwner, Lots: []string{"A"}}, wantErr: "au moins un mandat"},
		{name: "name too long", rec: kratos.ClientRecord{Email: "b@example.test", Last: strings.Repeat("é", 101), Role: config.RoleTenant, Lots: []string{"A"}}, wantErr: "trop long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec
			err := Validate(&rec)
			if tc.wantErr == "" {
				if err != nil || rec.Email != tc.email {
					t.Fatalf("err %v, email %q", err, rec.Email)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseRoleAndNames(t *testing.T) {
	for in, want := range map[string]config.Role{"tenant": config.RoleTenant, "Locataire": config.RoleTenant,
		"OWNER": config.RoleOwner, "bailleur": config.RoleOwner, "Propriétaire": config.RoleOwner, "proprietaire": config.RoleOwner} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseRole("syndic"); err == nil {
		t.Error("syndic accepted")
	}
	for in, want := range map[string][2]string{"Jean-Pierre de La  Fontaine": {"Jean-Pierre", "de La Fontaine"}, "Durand": {"", "Durand"}, " Camille Martin ": {"Camille", "Martin"}} {
		if f, l := SplitName(in); f != want[0] || l != want[1] {
			t.Errorf("SplitName(%q) = %q %q", in, f, l)
		}
	}
	if got := SplitList(" A12 | B3;A12;; ", "|;"); strings.Join(got, ",") != "A12,B3" {
		t.Errorf("SplitList: %q", got)
	}
}

func TestParseWhen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in string
		want     time.Time
		bad      bool
	}{
		{name: "a date is 00:00 in Paris", in: "2026-12-15", want: time.Date(2026, 12, 14, 23, 0, 0, 0, time.UTC)},
		{name: "summer time", in: "2026-07-01 08:30", want: time.Date(2026, 7, 1, 6, 30, 0, 0, time.UTC)},
		{name: "T separator", in: "2026-07-01T08:30", want: time.Date(2026, 7, 1, 6, 30, 0, 0, time.UTC)},
		{name: "French order refused", in: "15/12/2026", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWhen(tc.in, paris)
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), "AAAA-MM-JJ") {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
