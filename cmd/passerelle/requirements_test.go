package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/internal/testenv"
)

// redmineRequirements is deploy/redmine-requirements.json: the one list of
// what Redmine must contain (scripts/redmine-provision.rb creates it; the
// stack's scripts read their ids and names from it).
type redmineRequirements struct {
	Statuses []struct{ Key, Name string } `json:"statuses"`
	Trackers []struct{ Key, Name string } `json:"trackers"`
	Fields   []struct {
		Key       string `json:"key"`
		ConfigKey string `json:"config_key"`
		Name      string `json:"name"`
	} `json:"custom_fields"`
	Roles struct {
		Sync struct{ Name string } `json:"sync"`
	} `json:"roles"`
	Config struct {
		MandateTracker     string `json:"mandate_tracker"`
		ClientClosedStatus string `json:"client_closed_status"`
		ReopenStatus       string `json:"reopen_status"`
	} `json:"config"`
}

func loadRequirements(t *testing.T) redmineRequirements {
	t.Helper()
	data, err := os.ReadFile("../../deploy/redmine-requirements.json")
	if err != nil {
		t.Fatal(err)
	}
	var r redmineRequirements
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("deploy/redmine-requirements.json: %v", err)
	}
	if len(r.Statuses) == 0 || len(r.Trackers) == 0 || len(r.Fields) == 0 || r.Roles.Sync.Name == "" {
		t.Fatalf("deploy/redmine-requirements.json lacks a section: %+v", r)
	}
	return r
}

func (r redmineRequirements) tracker(key string) string {
	for _, x := range r.Trackers {
		if x.Key == key {
			return x.Name
		}
	}
	return ""
}

func (r redmineRequirements) status(key string) string {
	for _, x := range r.Statuses {
		if x.Key == key {
			return x.Name
		}
	}
	return ""
}

// checkConfigAgainstRequirements: a configuration names only trackers and
// statuses of the list, and the ones the list says it uses.
func checkConfigAgainstRequirements(t *testing.T, r redmineRequirements, cfg *config.Config) {
	t.Helper()
	var trackers, statuses []string
	for _, x := range r.Trackers {
		trackers = append(trackers, x.Name)
	}
	for _, x := range r.Statuses {
		statuses = append(statuses, x.Name)
	}
	for _, c := range cfg.Categories {
		if !slices.Contains(trackers, c.Redmine.Tracker) {
			t.Errorf("%s: category %s names tracker %q, not in deploy/redmine-requirements.json (%v)", cfg.File, c.ID, c.Redmine.Tracker, trackers)
		}
	}
	for name := range cfg.Statuses.Map {
		if !slices.Contains(statuses, name) {
			t.Errorf("%s: statuses.map names %q, not in deploy/redmine-requirements.json (%v)", cfg.File, name, statuses)
		}
	}
	for _, c := range []struct{ key, got, want string }{
		{"redmine.mandate_tracker", cfg.Redmine.MandateTracker, r.tracker(r.Config.MandateTracker)},
		{"redmine.client_closed_status", cfg.Redmine.ClientClosedStatus, r.status(r.Config.ClientClosedStatus)},
		{"redmine.reopen_status", cfg.Redmine.ReopenStatus, r.status(r.Config.ReopenStatus)},
	} {
		if c.want == "" || c.got != c.want {
			t.Errorf("%s: %s is %q, deploy/redmine-requirements.json says %q", cfg.File, c.key, c.got, c.want)
		}
	}
}

func TestExampleConfigMatchesRedmineRequirements(t *testing.T) {
	r := loadRequirements(t)
	t.Setenv("PASSERELLE_REDMINE_API_KEY", "k")
	t.Setenv("PASSERELLE_SMTP_PASSWORD", "p")
	t.Setenv("PASSERELLE_REDMINE_WEBHOOK_SECRET", "test-redmine-webhook-secret-0123456789")
	t.Setenv("PASSERELLE_INBOUND_WEBHOOK_SECRET", "whsec_dGVzdC1pbmJvdW5kLWtleS0wMTIzNDU2Nzg5YWJjZGU=")
	cfg, err := config.Load("../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkConfigAgainstRequirements(t, r, cfg)
	// Its comments name each custom field by its Redmine name.
	example, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Fields {
		line := regexp.MustCompile(`(?m)^    ` + f.ConfigKey + `: \d+ +# "([^"]+)"`).FindSubmatch(example)
		if line == nil || string(line[1]) != f.Name {
			t.Errorf("config/example.yaml: redmine.custom_fields.%s should be commented with %q (deploy/redmine-requirements.json), found %q", f.ConfigKey, f.Name, line)
		}
	}
}

func TestStackConfigMatchesRedmineRequirements(t *testing.T) {
	r := loadRequirements(t)
	cfgPath, env := stackEnv(t)
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	checkConfigAgainstRequirements(t, r, cfg)
	// The ids the config uses are those the provisioning learned for the list's fields.
	ids := map[string]int{"reference": cfg.Redmine.CustomFields.Reference, "mandate_number": cfg.Redmine.CustomFields.MandateNumber, "response_due": cfg.Redmine.CustomFields.ResponseDue}
	for _, f := range r.Fields {
		if got, want := ids[f.ConfigKey], testenv.Get(t, "REDMINE_CF_"+f.Key+"_ID"); want != "" && strings.TrimSpace(want) != strconv.Itoa(got) {
			t.Errorf("redmine.custom_fields.%s = %d, .stack/env REDMINE_CF_%s_ID = %s", f.ConfigKey, got, f.Key, want)
		}
	}
}

// No second list: the scripts that used to name trackers, statuses, custom
// fields or the sync role read them from deploy/redmine-requirements.json.
func TestNoSecondListOfRedmineRequirements(t *testing.T) {
	r := loadRequirements(t)
	var names []string
	for _, x := range r.Trackers {
		names = append(names, x.Name)
	}
	for _, x := range r.Fields {
		names = append(names, x.Name)
	}
	names = append(names, r.Roles.Sync.Name)
	files, err := filepath.Glob("../../scripts/stack/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../scripts/stack.sh", "../../scripts/stack-config.sh", "../../scripts/redmine-provision.rb", "../../scripts/demo-seed.py")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			// As a value: quoted, in parentheses or ending a YAML/flow value ("Mandat de gestion …" is prose).
			if regexp.MustCompile(`(^|[\s'"(:])` + regexp.QuoteMeta(n) + `($|['"),\n])`).Match(data) {
				t.Errorf("%s names %q: read it from deploy/redmine-requirements.json instead", strings.TrimPrefix(f, "../../"), n)
			}
		}
	}
}
