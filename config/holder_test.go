package config

import (
	"errors"
	"strings"
	"testing"
)

// A configuration is applied only when every subscriber builds from it;
// a refusal keeps the current one, and what was built from it.
func TestHolderAppliesOnlyWhatEverySubscriberBuilds(t *testing.T) {
	first, good, bad := &Config{File: "first"}, &Config{File: "good"}, &Config{File: "bad"}
	h := NewHolder(first)
	var inForce []string
	build := func(name string) Subscriber {
		return func(next *Config) (func(), error) {
			if next == bad && name == "mailer" {
				return nil, errors.New("mailer: smtp.from is not an address")
			}
			return func() { inForce = append(inForce, name+"@"+next.File) }, nil
		}
	}
	h.Subscribe(build("rules"))
	h.Subscribe(build("mailer"))

	if err := h.Apply(good); err != nil {
		t.Fatal(err)
	}
	if h.Get() != good || strings.Join(inForce, ",") != "rules@good,mailer@good" {
		t.Fatalf("after a good apply: %s, %v", h.Get().File, inForce)
	}
	err := h.Apply(bad)
	if err == nil || !strings.Contains(err.Error(), "smtp.from is not an address") {
		t.Fatalf("bad apply: %v, want the mailer's refusal", err)
	}
	if h.Get() != good || len(inForce) != 2 {
		t.Errorf("after a refused apply: %s, %v; want good kept and nothing committed", h.Get().File, inForce)
	}
}
