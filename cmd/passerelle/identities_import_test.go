package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

// identitiesEnv is stackEnv with a throwaway, migrated database.
func identitiesEnv(t *testing.T) (cfg string, env []string) {
	t.Helper()
	cfg, env = stackEnv(t)
	return cfg, append(env, "PASSERELLE_DATABASE_URL="+testenv.NewDatabase(t))
}

func findClient(t *testing.T, email string) (kratos.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return kratos.NewDirectory(kratostest.AdminURL(t), nil).FindClient(ctx, email)
}

// passerelle identities import: good rows created and invited, bad rows
// refused with their line and why, never stopping the good ones; a second
// run reports every good row "already there"; a changed row is updated;
// --dry-run changes nothing.
func TestIdentitiesImportCommand(t *testing.T) {
	cfg, env := identitiesEnv(t)
	a, b, c := kratostest.UniqueEmail(), kratostest.UniqueEmail(), kratostest.UniqueEmail()
	for _, e := range []string{a, b, c} {
		t.Cleanup(func() { kratostest.DeleteByEmail(t, e) })
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("export.csv", "email,name,role,lots,mandates\n"+
		a+",Camille Martin,tenant,A12;B3,\n"+
		"pas-une-adresse,Bob Leroy,tenant,A1,\n"+
		b+",Paul Durand,owner,A12,M-7|M-8\n"+
		c+",Xavier Roux,gardien,A2,\n")

	code, out := runBin(t, env, "identities", "import", "--config", cfg, "--csv", file, "--dry-run")
	if code != 1 || !strings.Contains(out, "ligne 2 : "+a+" : créé et invité : serait créé et invité") ||
		!strings.Contains(out, "simulation (rien n'a été modifié)") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if _, err := findClient(t, a); err == nil {
		t.Fatal("the dry run created an identity")
	}

	code, out = runBin(t, env, "identities", "import", "--config", cfg, "--csv", file)
	for _, want := range []string{
		"ligne 2 : " + a + " : créé et invité",
		"ligne 3 : pas-une-adresse : refusé : adresse e-mail « pas-une-adresse » invalide",
		"ligne 4 : " + b + " : créé et invité",
		"ligne 5 : " + c + " : refusé : rôle « gardien » inconnu",
		"4 ligne(s) : 2 créée(s), 0 déjà là, 0 mise(s) à jour, 2 refusée(s), 0 en échec",
		"import [####################] 4/4 lignes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first run lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("first run: exit %d, want 1 (rows refused)", code)
	}
	got, err := findClient(t, b)
	if err != nil || got.Role != config.RoleOwner || strings.Join(got.Mandates, ",") != "M-7,M-8" || strings.Join(got.Lots, ",") != "A12" || got.Name() != "Paul Durand" {
		t.Fatalf("imported owner: %+v %v", got, err)
	}

	code, out = runBin(t, env, "identities", "import", "--config", cfg, "--csv", file)
	if !strings.Contains(out, "ligne 2 : "+a+" : déjà là (inchangé)") || !strings.Contains(out, "ligne 4 : "+b+" : déjà là (inchangé)") ||
		!strings.Contains(out, "0 créée(s), 2 déjà là, 0 mise(s) à jour, 2 refusée(s)") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}

	changed := write("changed.csv", "email;prénom;nom;rôle;lots;mandats\n"+b+";Paul;Durand-Leroy;owner;A12|C4;M-7\n")
	code, out = runBin(t, env, "identities", "import", "--config", cfg, "--csv", changed, "--dry-run")
	if code != 0 || !strings.Contains(out, "serait mis à jour : nom « Paul Durand » → « Paul Durand-Leroy », lots A12 → A12|C4, mandats M-7|M-8 → M-7") {
		t.Fatalf("dry run of a change: exit %d\n%s", code, out)
	}
	if got, _ := findClient(t, b); got.Last != "Durand" {
		t.Fatalf("the dry run changed %+v", got)
	}
	code, out = runBin(t, env, "identities", "import", "--config", cfg, "--csv", changed)
	if code != 0 || !strings.Contains(out, "ligne 2 : "+b+" : mis à jour : nom") {
		t.Fatalf("update: exit %d\n%s", code, out)
	}
	if got, _ := findClient(t, b); got.Last != "Durand-Leroy" || strings.Join(got.Lots, ",") != "A12,C4" || strings.Join(got.Mandates, ",") != "M-7" {
		t.Fatalf("after the update: %+v", got)
	}
	if code, out = runBin(t, env, "identities", "import", "--config", cfg, "--csv", changed); !strings.Contains(out, "déjà là (inchangé)") {
		t.Fatalf("after the update, again: exit %d\n%s", code, out)
	}

	code, out = runBin(t, env, "identities", "list", "--config", cfg, "--role", "owner", "--lot", "C4")
	if code != 0 || !strings.Contains(out, b) || strings.Contains(out, a) || !strings.Contains(out, "invitée") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
}

// invite (refusing a duplicate), invite --from and deactivate --at in the
// past, then run-scheduled: the invitation is created and the deactivation
// revokes the session; scheduled shows them done; a second run does nothing.
func TestIdentitiesScheduleCommands(t *testing.T) {
	cfg, env := identitiesEnv(t)
	invited := kratostest.UniqueEmail()
	later := kratostest.UniqueEmail()
	for _, e := range []string{invited, later} {
		t.Cleanup(func() { kratostest.DeleteByEmail(t, e) })
	}
	code, out := runBin(t, env, "identities", "invite", "--config", cfg, "--email", invited, "--name", "Léa Petit",
		"--role", "tenant", "--lot", "A1", "--lot", "A2")
	if code != 0 || !strings.Contains(out, "identité créée, invitation envoyée") || strings.Contains(out, "flow=") {
		t.Fatalf("invite: exit %d\n%s", code, out)
	}
	code, out = runBin(t, env, "identities", "invite", "--config", cfg, "--email", invited, "--name", "Léa Petit", "--role", "tenant", "--lot", "A1")
	if code == 0 || !strings.Contains(out, "reinvite --email "+invited) {
		t.Fatalf("duplicate invite: exit %d\n%s", code, out)
	}
	code, out = runBin(t, env, "identities", "reinvite", "--config", cfg, "--email", invited, "--print-link")
	if code != 0 || !strings.Contains(out, "lien : http") {
		t.Fatalf("reinvite --print-link: exit %d\n%s", code, out)
	}
	if code, out := runBin(t, env, "identities", "invite", "--config", cfg, "--email", later, "--name", "X", "--role", "owner"); code != 2 ||
		!strings.Contains(out, "au moins un mandat") {
		t.Fatalf("owner without mandate: exit %d\n%s", code, out)
	}

	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"A1"}}})
	tok := kratostest.Login(t, who.Email, who.Password)
	yesterday := time.Now().In(mustParis(t)).AddDate(0, 0, -1).Format("2006-01-02")
	if code, out := runBin(t, env, "identities", "deactivate", "--config", cfg, "--at", yesterday, who.Email); code != 0 || !strings.Contains(out, "désactivation de") {
		t.Fatalf("deactivate --at: exit %d\n%s", code, out)
	}
	if code, out := runBin(t, env, "identities", "invite", "--config", cfg, "--email", later, "--name", "Paul Durand",
		"--role", "owner", "--mandate", "M-1", "--from", yesterday+" 08:00"); code != 0 || !strings.Contains(out, "invitation de "+later+" prévue le") {
		t.Fatalf("invite --from: exit %d\n%s", code, out)
	}
	if st := whoami(t, tok); st != http.StatusOK {
		t.Fatalf("before the run: whoami %d", st)
	}
	code, out = runBin(t, env, "identities", "run-scheduled", "--config", cfg)
	if code != 0 || !strings.Contains(out, "2 action(s) faite(s), 0 en échec") {
		t.Fatalf("run-scheduled: exit %d\n%s", code, out)
	}
	if st := whoami(t, tok); st != http.StatusUnauthorized {
		t.Fatalf("after the scheduled deactivation: whoami %d, want 401", st)
	}
	if got, err := findClient(t, later); err != nil || got.Role != config.RoleOwner {
		t.Fatalf("scheduled invitation: %+v %v", got, err)
	}
	if code, out = runBin(t, env, "identities", "run-scheduled", "--config", cfg); code != 0 || !strings.Contains(out, "0 action(s) faite(s)") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	code, out = runBin(t, env, "identities", "deactivate", "--config", cfg, "--at", "2099-01-01", later)
	if code != 0 || !strings.Contains(out, "(action n° 3)") {
		t.Fatalf("deactivate --at 2099: exit %d\n%s", code, out)
	}
	if code, out := runBin(t, env, "identities", "cancel", "--config", cfg, "3"); code != 0 || !strings.Contains(out, "action n° 3 annulée (deactivate de "+later) {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	if code, out := runBin(t, env, "identities", "cancel", "--config", cfg, "3"); code != 1 || !strings.Contains(out, "aucune action prévue en attente n° 3") {
		t.Fatalf("cancel again: exit %d\n%s", code, out)
	}
	code, out = runBin(t, env, "identities", "scheduled", "--config", cfg)
	if code != 0 || strings.Count(out, "fait le") != 3 || !strings.Contains(out, "annulée") || !strings.Contains(out, "désactivée ; sessions supprimées") ||
		!strings.Contains(out, "identité créée et invitation envoyée") {
		t.Fatalf("scheduled: exit %d\n%s", code, out)
	}
}

func mustParis(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
