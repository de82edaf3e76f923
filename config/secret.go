package config

import (
	"fmt"
	"os"
	"strings"
)

// Secret holds a credential. It prints as "<secret>" in every format verb and
// in YAML or JSON, so a Config can be logged or dumped without leaking it.
type Secret string

const maskedSecret = "<secret>"

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return maskedSecret
}

// GoString masks the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// Format masks the secret for every fmt verb (%s, %v, %q, %x...).
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// MarshalYAML masks the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON masks the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Reveal returns the secret itself, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// loadSecret returns the value of the environment variable env when it is set,
// else the trimmed content of file when one is named, else "".
func loadSecret(env, file string) (Secret, error) {
	if v, ok := os.LookupEnv(env); ok && v != "" {
		return Secret(strings.TrimSpace(v)), nil
	}
	if file == "" {
		return "", nil
	}
	if err := checkSecretFile(file); err != nil {
		return "", err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", file)
	}
	return Secret(v), nil
}
