package e2e

import (
	"context"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"passerelle/internal/testenv"
)

// Stopping and starting the stack's own components, for the tests that
// prove what survives an outage. Such a test must not call t.Parallel():
// Go runs every non-parallel top-level test before it releases the parallel
// ones, so an outage never overlaps another test's work.

// stackMu serializes the stack scripts within this test binary.
var stackMu sync.Mutex

// stopComponent stops one component of the stack (kratos, smtp, redmine) with
// scripts/stack-down.sh, and registers a cleanup that starts the whole stack
// again (`make stack` is idempotent), so a failing test never leaves it down.
func stopComponent(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() { startStack(t) })
	runStackScript(t, "bash", "scripts/stack-down.sh", name)
}

// startStack starts whatever component of the stack is not running.
func startStack(t *testing.T) {
	t.Helper()
	runStackScript(t, "bash", "scripts/stack.sh")
}

// runStackScript runs one of the stack's scripts from the repository root
// (at most 5 minutes) and fails the test if it fails.
func runStackScript(t *testing.T, name string, args ...string) {
	t.Helper()
	stackMu.Lock()
	defer stackMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = testenv.RepoRoot()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s: done in %s", name, strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
}

// patchConfig replaces the value at a dotted key path of an instance's
// configuration file by a YAML fragment (a list or a mapping, which the
// scalar overrides of writeConfig cannot express).
func (d *deployment) patchConfig(in instance, path, fragment string) {
	d.t.Helper()
	doc := readYAML(d.t, in.path)
	var frag yaml.Node
	if err := yaml.Unmarshal([]byte(fragment), &frag); err != nil || len(frag.Content) != 1 {
		d.t.Fatalf("fragment for %s: %v\n%s", path, err, fragment)
	}
	yamlSet(doc, path, "placeholder")
	n := doc.Content[0]
	keys := strings.Split(path, ".")
	for i, k := range keys {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value != k {
				continue
			}
			if i == len(keys)-1 {
				n.Content[j+1] = frag.Content[0]
			} else {
				n = n.Content[j+1]
			}
			break
		}
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(in.path, data, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// caughtMail is one message the stack's SMTP catcher stored.
type caughtMail struct {
	file      string
	subject   string
	to        string
	messageID string
}

// mailsAbout reads the catcher's Maildir and returns the alert mails of one
// request reference, by alert kind (X-Passerelle-Alert: warning, escalation).
func mailsAbout(t *testing.T, ref string) map[string][]caughtMail {
	t.Helper()
	maildir := testenv.Get(t, "MAILDIR")
	out := map[string][]caughtMail{}
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(maildir, sub))
		for _, e := range entries {
			f, err := os.Open(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				continue
			}
			m, err := mail.ReadMessage(f)
			// Staff alerts only (clients' mails carry X-Passerelle-Event instead).
			if err == nil && m.Header.Get("X-Passerelle-Reference") == ref && m.Header.Get("X-Passerelle-Alert") != "" {
				subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
				kind := m.Header.Get("X-Passerelle-Alert")
				out[kind] = append(out[kind], caughtMail{file: e.Name(), subject: subj, to: m.Header.Get("To"), messageID: m.Header.Get("Message-Id")})
			}
			f.Close()
		}
	}
	return out
}

// describeMails lays out mailsAbout's result for a failure message.
func describeMails(byKind map[string][]caughtMail) string {
	var parts []string
	for kind, list := range byKind {
		for _, m := range list {
			parts = append(parts, fmt.Sprintf("%s: %q to %s (%s)", kind, m.subject, m.to, m.messageID))
		}
	}
	if len(parts) == 0 {
		return "no mail"
	}
	return strings.Join(parts, "; ")
}
