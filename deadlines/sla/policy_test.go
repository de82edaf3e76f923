package sla

import (
	"strings"
	"testing"
	"time"

	"passerelle/config"
)

func categories() []config.Category {
	both := []config.Role{config.RoleTenant, config.RoleOwner}
	return []config.Category{
		{ID: "travaux", Roles: both, Requires: []string{"urgency"}},
		{ID: "comptabilite", Roles: both},
		{ID: "voisinage", Roles: []config.Role{config.RoleTenant}},
	}
}

func target(within string, clock config.Clock) *config.DeadlineTarget {
	return &config.DeadlineTarget{Within: within, Clock: clock}
}

// limits renders a policy as "first_answer=2 jours ouvrés (rule)" lines.
func limits(p Policy) string {
	var out []string
	for _, t := range targets {
		if l, ok := p.Limits[t]; ok {
			out = append(out, string(t)+"="+l.Within.String()+" ("+l.Rule+")")
		}
	}
	return strings.Join(out, "; ")
}

func TestDefaultPolicies(t *testing.T) {
	ps, err := NewPolicies(&config.Config{Categories: categories()})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, category string
		role           config.Role
		urgency, want  string
	}{
		{"owner's question", "comptabilite", config.RoleOwner, "",
			"first_answer=1 jour ouvré (défaut : propriétaires, réponse sous 24 h)"},
		{"tenant's question", "comptabilite", config.RoleTenant, "",
			"first_answer=2 jours ouvrés (défaut : locataires, réponse sous 48 h)"},
		{"tenant's urgent repair", "travaux", config.RoleTenant, "urgent",
			"first_answer=2 jours ouvrés (défaut : locataires, réponse sous 48 h); action=1 jour ouvré (défaut : urgence, action sous 1 jour)"},
		{"owner's normal repair", "travaux", config.RoleOwner, "normal",
			"first_answer=1 jour ouvré (défaut : propriétaires, réponse sous 24 h); action=10 jours ouvrés (défaut : normale, action sous 10 jours)"},
		{"neighbour trouble", "voisinage", config.RoleTenant, "",
			"first_answer=2 jours ouvrés (défaut : locataires, réponse sous 48 h); action=7 jours (défaut : trouble de voisinage, rappel sous 7 jours)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ps.For(tc.category, tc.role, tc.urgency)
			if got := limits(p); got != tc.want {
				t.Errorf("For = %s\nwant %s", got, tc.want)
			}
			if p.WarnShare != 0.75 {
				t.Errorf("WarnShare = %v", p.WarnShare)
			}
		})
	}
	// A default for a category the agency does not have is dropped.
	if _, err := NewPolicies(&config.Config{Categories: categories()[:2]}); err != nil {
		t.Errorf("without voisinage: %v", err)
	}
}

func TestMostSpecificWins(t *testing.T) {
	biz, cal := config.ClockBusiness, config.ClockCalendar
	cats := categories()
	cats[0].Deadlines = &config.CategoryDeadlines{{Role: config.RoleOwner, Resolution: target("30d", cal)}}
	cfg := &config.Config{Categories: cats, Deadlines: config.Deadlines{WarnAt: "80%", Policies: []config.DeadlinePolicy{
		{Role: config.RoleTenant, FirstAnswer: target("2d", biz), Resolution: target("20d", cal)},
		{Urgency: "urgent", FirstAnswer: target("4h", biz), Action: target("1d", biz)},
		{Category: "travaux", FirstAnswer: target("1d", biz)},
		{Category: "travaux", Role: config.RoleTenant, Urgency: "urgent", FirstAnswer: target("2h", biz)},
		{Category: "comptabilite", Resolution: target(config.NoDeadline, "")},
	}}}
	ps, err := NewPolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, category string
		role           config.Role
		urgency, want  string
	}{
		{"role only", "autre", config.RoleTenant, "",
			"first_answer=2 jours ouvrés (deadlines.policies[0]); resolution=20 jours (deadlines.policies[0])"},
		{"urgency beats role", "autre", config.RoleTenant, "urgent",
			"first_answer=4 h ouvrées (deadlines.policies[1]); action=1 jour ouvré (deadlines.policies[1]); resolution=20 jours (deadlines.policies[0])"},
		{"category beats urgency", "travaux", config.RoleOwner, "urgent",
			"first_answer=1 jour ouvré (deadlines.policies[2]); action=1 jour ouvré (deadlines.policies[1]); resolution=30 jours (categories[0].deadlines[0])"},
		{"category, role and urgency beat all", "travaux", config.RoleTenant, "urgent",
			"first_answer=2 h ouvrées (deadlines.policies[3]); action=1 jour ouvré (deadlines.policies[1]); resolution=20 jours (deadlines.policies[0])"},
		{"none removes a target", "comptabilite", config.RoleTenant, "",
			"first_answer=2 jours ouvrés (deadlines.policies[0])"},
		{"nothing matches", "autre", config.RoleOwner, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ps.For(tc.category, tc.role, tc.urgency)
			if got := limits(p); got != tc.want {
				t.Errorf("For = %s\nwant %s", got, tc.want)
			}
			if p.WarnShare != 0.8 {
				t.Errorf("WarnShare = %v", p.WarnShare)
			}
		})
	}
}

func TestNewPoliciesErrors(t *testing.T) {
	cfg := &config.Config{Categories: categories(), Deadlines: config.Deadlines{Policies: []config.DeadlinePolicy{
		{Category: "travux", FirstAnswer: target("1d", "")},
	}}}
	if _, err := NewPolicies(cfg); err == nil || !strings.Contains(err.Error(), `deadlines.policies[0]: "travux"`) {
		t.Errorf("unknown category: %v", err)
	}
	cfg.Deadlines.Policies[0] = config.DeadlinePolicy{FirstAnswer: target("2 days", "")}
	if _, err := NewPolicies(cfg); err == nil {
		t.Error("bad duration accepted")
	}
}

func TestParseDuration(t *testing.T) {
	d, err := ParseDuration("1d4h", "")
	if err != nil || d != (Duration{Days: 1, Time: 4 * time.Hour, Clock: config.ClockBusiness}) {
		t.Errorf("ParseDuration = %#v, %v", d, err)
	}
}
