package yamlpath

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSetThenGet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("# the agency's\nredmine:\n  url: http://a\nlisten: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path, value string }{
		{"existing nested key", "redmine.url", "http://b"},
		{"new key in an existing map", "redmine.poll_interval", "5m"},
		{"new nested map", "limits.writes_burst", "1000"},
		{"top-level key", "listen", "127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			Set(doc, tc.path, tc.value)
			if got, ok := Get(doc, tc.path); !ok || got != tc.value {
				t.Errorf("Get(%q) = %q, %v; want %q", tc.path, got, ok, tc.value)
			}
		})
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Limits struct {
			WritesBurst int `yaml:"writes_burst"`
		} `yaml:"limits"`
	}
	if err := yaml.Unmarshal(out, &back); err != nil || back.Limits.WritesBurst != 1000 {
		t.Errorf("an integer is written as one: %v %+v\n%s", err, back, out)
	}
	if _, ok := Get(doc, "redmine.url.deeper"); ok {
		t.Error("Get below a scalar found something")
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Read of a missing file: no error")
	}
}
