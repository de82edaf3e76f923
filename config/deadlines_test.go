package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// policies wraps policy lines (indented as list items) into a deadlines block.
func policies(lines ...string) string {
	return "deadlines:\n  policies:\n" + strings.Join(lines, "\n") + "\n"
}

func TestDeadlineProblems(t *testing.T) {
	runProblemCases(t, []problemCase{
		{"warn_at without %", "deadlines:\n  warn_at: 80\n",
			"warn_at", "deadlines.warn_at", `"80" is not a share: expected a percentage such as 75%`},
		{"warn_at at 100%", "deadlines:\n  warn_at: 100%\n",
			"warn_at", "deadlines.warn_at", "expected more than 0% and less than 100%"},
		{"unknown role", policies("    - role: owners", "      first_answer: {within: 1d}"),
			"owners", "deadlines.policies[0].role", `"owners" is not a role: expected tenant or owner`},
		{"unknown urgency", policies("    - urgency: urgente", "      action: {within: 1d}"),
			"urgente", "deadlines.policies[0].urgency", `"urgente" is not an urgency: expected urgent, high or normal`},
		{"no target", policies("    - role: tenant", "    - role: owner", "      first_answer: {within: 1d}"),
			"role: tenant", "deadlines.policies[0]", "the policy sets no deadline"},
		{"48h on the business clock", policies("    - role: tenant", "      first_answer: {within: 48h, clock: business}"),
			"48h", "deadlines.policies[0].first_answer.within", `"48h" counts working hours in business clock, which makes several working days: write 2d for 2 working days, or set clock: calendar`},
		{"30h on the default clock", policies("    - role: tenant", "      first_answer: {within: 30h}"),
			"30h", "deadlines.policies[0].first_answer.within", "write days and hours such as 1d4h"},
		{"words", policies("    - role: tenant", "      first_answer: {within: 2 days}"),
			"2 days", "deadlines.policies[0].first_answer.within", `"2 days" is not a duration: expected days, hours or minutes such as 2d, 4h, 1d4h or 90m`},
		{"Go duration", policies("    - role: tenant", "      resolution: {within: 1h30m0s, clock: calendar}"),
			"1h30m0s", "deadlines.policies[0].resolution.within", "is not a duration"},
		{"zero", policies("    - role: tenant", "      first_answer: {within: 0h}"),
			"0h", "deadlines.policies[0].first_answer.within", `"0h" is zero: expected a positive duration, or none`},
		{"over a year", policies("    - role: tenant", "      resolution: {within: 400d, clock: calendar}"),
			"400d", "deadlines.policies[0].resolution.within", "more than a year"},
		{"clock only", policies("    - role: tenant", "      first_answer: {clock: calendar}"),
			"first_answer", "deadlines.policies[0].first_answer.within", "required: expected a duration such as 2d"},
		{"unknown clock", policies("    - role: tenant", "      first_answer: {within: 2d, clock: ouvré}"),
			"ouvré", "deadlines.policies[0].first_answer.clock", `"ouvré" is not a clock: expected business (working hours only) or calendar (all the time)`},
		{"short form", policies("    - role: tenant", "      first_answer: 2d"),
			"2d", "", `"2d" is not a deadline target: expected a mapping such as {within: 2d, clock: business}`},
		{"misspelt target", policies("    - role: tenant", "      first_reply: {within: 2d}"),
			"first_reply", "deadlines.policies[0].first_reply", `unknown key "first_reply"; expected one of: category, role, urgency, first_answer, action, resolution`},
		{"misspelt within", policies("    - role: tenant", "      first_answer: {whithin: 2d}"),
			"whithin", "deadlines.policies[0].first_answer.whithin", `unknown key "whithin"; expected one of: within, clock`},
		{"duplicate policy", policies("    - role: tenant", "      first_answer: {within: 2d}", "    - {role: tenant, action: {within: 3d}}"),
			"{role: tenant", "deadlines.policies[1]", "same category, role and urgency as deadlines.policies[0]: merge the two policies"},
		{"category id syntax", policies("    - category: Travaux", "      action: {within: 3d}"),
			"Travaux", "deadlines.policies[0].category", `"Travaux" is not a category id`},
		{"unknown category", policies("    - category: travux", "      action: {within: 3d}"),
			"travux", "deadlines.policies[0].category", `"travux" is not the id of a category: expected one of travaux, comptabilite, loyer-charges, bail, voisinage, changement-rib, changement-adresse, autre`},
		{"role the category does not take", policies("    - category: voisinage", "      role: owner", "      action: {within: 7d}"),
			"role: owner", "deadlines.policies[0].role", "categories[4] (voisinage) is not open to the role owner: this policy can never apply"},
		{"urgency the category does not ask", policies("    - category: comptabilite", "      urgency: urgent", "      action: {within: 1d}"),
			"urgency: urgent", "deadlines.policies[0].urgency", "categories[1] (comptabilite) does not ask for an urgency"},
	})
}

// Policies written inside a category.
func TestCategoryDeadlineProblems(t *testing.T) {
	cases := []struct {
		name, top, inside, mark, path, msg string
	}{
		{"category key inside a category", "", "      - category: autre\n        first_answer: {within: 1d}\n",
			"category: autre", "categories[7].deadlines[0].category", "not allowed in a category's deadlines: the category is implied"},
		{"bad target inside a category", "", "      - first_answer: {within: 3j}\n",
			"3j", "categories[7].deadlines[0].first_answer.within", `"3j" is not a duration`},
		{"same policy at the top and inside", policies("    - category: autre", "      role: owner", "      first_answer: {within: 1d}"),
			"      - role: owner\n        first_answer: {within: 2d}\n",
			"role: owner\n        first_answer: {within: 2d}", "categories[7].deadlines[0]", "same category, role and urgency as deadlines.policies[0]: keep only one of them"},
		{"urgency in a category without urgency", "", "      - urgency: high\n        action: {within: 3d}\n",
			"urgency: high", "categories[7].deadlines[0].urgency", "categories[7] (autre) does not ask for an urgency"},
		{"duplicate inside a category", "", "      - role: owner\n        first_answer: {within: 1d}\n      - {role: owner, action: {within: 1d}}\n",
			"{role: owner", "categories[7].deadlines[1]", "same category, role and urgency as categories[7].deadlines[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := withBlock(t, tc.top)
			anchor := "  - id: autre\n"
			i := strings.Index(doc, anchor)
			if i < 0 {
				t.Fatal("example.yaml has no category autre")
			}
			i += len(anchor)
			doc = doc[:i] + "    deadlines:\n" + tc.inside + doc[i:]
			// The line the mark starts on, within the category.
			line := strings.Count(doc[:i+strings.Index(doc[i:], tc.mark)], "\n") + 1
			_, ps := parseDoc(t, doc)
			for _, p := range ps {
				if p.Line == line && p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("got:\n%v\nwant line %d, path %s, message with %q", ps, line, tc.path, tc.msg)
		})
	}
}

func TestDeadlineDefaults(t *testing.T) {
	doc, _ := withBlock(t, "")
	cfg, ps := parseDoc(t, doc)
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.Deadlines.WarnAt != "75%" || cfg.Deadlines.Policies != nil {
		t.Errorf("deadlines = %+v", cfg.Deadlines)
	}
	got := cfg.DeadlinePolicies()
	if !reflect.DeepEqual(got, DefaultDeadlinePolicies()) {
		t.Errorf("DeadlinePolicies = %+v", got)
	}
	// An empty list is no deadline at all, not the defaults.
	doc, _ = withBlock(t, "deadlines:\n  policies: []\n")
	cfg, ps = parseDoc(t, doc)
	if ps != nil {
		t.Fatal(ps)
	}
	if n := len(cfg.DeadlinePolicies()); n != 0 {
		t.Errorf("policies: [] gives %d policies", n)
	}
}

// example.yaml spells out the defaults, so that admins see and edit them.
func TestExampleDeadlinesAreTheDefaults(t *testing.T) {
	setSecrets(t)
	cfg, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Deadlines.WarnAt != DefaultWarnAt {
		t.Errorf("warn_at = %q", cfg.Deadlines.WarnAt)
	}
	got := cfg.DeadlinePolicies()
	want := DefaultDeadlinePolicies()
	if len(got) != len(want) {
		t.Fatalf("%d policies, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Source != "deadlines.policies["+string(rune('0'+i))+"]" {
			t.Errorf("[%d] source = %q", i, g.Source)
		}
		g.Source, w.Source = "", ""
		if !reflect.DeepEqual(g, w) {
			t.Errorf("[%d] = %+v, want %+v", i, g, w)
		}
	}
	// The example stays valid against the categories, too.
	data, _ := os.ReadFile("example.yaml")
	if _, ps := parseDoc(t, string(data)); ps != nil {
		t.Error(ps)
	}
}

func TestParseSpan(t *testing.T) {
	cases := map[string]Span{
		"2d":    {Days: 2},
		"16h":   {Time: 16 * time.Hour},
		"1d4h":  {Days: 1, Time: 4 * time.Hour},
		"90m":   {Time: 90 * time.Minute},
		"1h30m": {Time: 90 * time.Minute},
		" 3d ":  {Days: 3},
	}
	for s, want := range cases {
		if got, err := ParseSpan(s); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "2", "4h2d", "1.5d", "-1d", "2j", "48 h", "0d0h"} {
		if _, err := ParseSpan(s); err == nil {
			t.Errorf("ParseSpan(%q) accepted", s)
		}
	}
}

func TestParseShare(t *testing.T) {
	for s, want := range map[string]float64{"75%": 0.75, "50 %": 0.5, "62.5%": 0.625} {
		if got, err := ParseShare(s); err != nil || got != want {
			t.Errorf("ParseShare(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"75", "0%", "100%", "-5%", "abc%", "0.75"} {
		if _, err := ParseShare(s); err == nil {
			t.Errorf("ParseShare(%q) accepted", s)
		}
	}
}

func TestPolicyMatching(t *testing.T) {
	p := DeadlinePolicy{Category: "travaux", Urgency: "urgent"}
	if !p.Matches("travaux", RoleOwner, "urgent") || p.Matches("travaux", RoleOwner, "high") || p.Matches("bail", RoleOwner, "urgent") {
		t.Error("Matches")
	}
	order := []DeadlinePolicy{
		{Category: "a", Role: RoleTenant, Urgency: "urgent"}, {Category: "a", Urgency: "urgent"}, {Category: "a", Role: RoleTenant},
		{Category: "a"}, {Role: RoleTenant, Urgency: "urgent"}, {Urgency: "urgent"}, {Role: RoleTenant}, {},
	}
	for i := 1; i < len(order); i++ {
		if order[i-1].Specificity() <= order[i].Specificity() {
			t.Errorf("%+v should be more specific than %+v", order[i-1], order[i])
		}
	}
}
