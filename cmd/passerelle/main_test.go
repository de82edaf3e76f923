package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"passerelle/internal/testenv"
)

// These tests drive the real binary, built once, against the real stack.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "passerelle-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "passerelle")
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building passerelle: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the binary and returns its exit code and combined output.
func runBin(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out := runBin(t, nil, c.name, "--help")
			if code != 0 || !strings.Contains(out, "Usage: passerelle "+c.name) {
				t.Errorf("exit %d, output:\n%s", code, out)
			}
		})
	}
	if code, out := runBin(t, nil, "frobnicate"); code != 2 || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d\n%s", code, out)
	}
}

func TestCheckOfflineNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	example, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(example), "  poll_interval: 10s", "  poll_interval: souvent", 1)
	if err := os.WriteFile(bad, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(doc[:strings.Index(doc, "poll_interval: souvent")], "\n")
	env := []string{"PASSERELLE_REDMINE_API_KEY=k", "PASSERELLE_SMTP_PASSWORD=p", "PASSERELLE_REDMINE_WEBHOOK_SECRET=test-redmine-webhook-secret-0123456789", "PASSERELLE_INBOUND_WEBHOOK_SECRET=whsec_dGVzdC1pbmJvdW5kLWtleS0wMTIzNDU2Nzg5YWJjZGU="}
	code, out := runBin(t, env, "check", "--config", bad)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("%s:%d: ", bad, line)) || !strings.Contains(out, "duration") {
		t.Errorf("exit %d, want 1 and %s:%d named:\n%s", code, bad, line, out)
	}
	if code, out := runBin(t, env, "check", "--config", "../../config/example.yaml"); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("example.yaml: exit %d\n%s", code, out)
	}

	// A mail template override that breaks a mail is refused by check, as
	// serve would refuse it; a good one passes.
	tplDir := filepath.Join(dir, "templates")
	if err := os.Mkdir(tplDir, 0o700); err != nil {
		t.Fatal(err)
	}
	withTemplates := filepath.Join(dir, "templates.yaml")
	doc = strings.Replace(string(example), "notifications:\n", "notifications:\n  templates_dir: "+tplDir+"\n", 1)
	if doc == string(example) {
		t.Fatal("config/example.yaml has no notifications section to add templates_dir to")
	}
	if err := os.WriteFile(withTemplates, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ content, want string }{
		{`{{define "invitation.txt"}}{{.Nope}}{{end}}`, "staff alerts and invitations"},
		{`{{define "event.txt"}}{{.Nope}}{{end}}`, "clients' mails"},
		{`{{define "invitation.subject"}}Bienvenue{{end}}`, ""},
	} {
		if err := os.WriteFile(filepath.Join(tplDir, "agence.txt.tmpl"), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := runBin(t, env, "check", "--config", withTemplates)
		if tc.want == "" && code != 0 || tc.want != "" && (code != 1 || !strings.Contains(out, tc.want) || !strings.Contains(out, "notifications.templates_dir")) {
			t.Errorf("override %s: exit %d, want it named (%q):\n%s", tc.content, code, tc.want, out)
		}
	}
}

// stackEnv returns the environment the binary needs for the stack's config.
func stackEnv(t *testing.T) (cfgPath string, env []string) {
	t.Helper()
	vals := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_SYNC_API_KEY", "REDMINE_ADMIN_API_KEY")
	return vals[0], []string{"PASSERELLE_REDMINE_API_KEY=" + vals[1], "PASSERELLE_REDMINE_ADMIN_API_KEY=" + vals[2]}
}

func TestCheckLivePassesOnTheStack(t *testing.T) {
	cfg, env := stackEnv(t)
	code, out := runBin(t, env, "check", "--live", "--config", cfg)
	if code != 0 || !strings.Contains(out, "OK against") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestCheckLiveNamesTheCulprit(t *testing.T) {
	cfg, env := stackEnv(t)
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	group := testenv.Get(t, "REDMINE_GROUP_COMPTABILITE_ID")
	cases := []struct {
		name, from, to, want string
	}{
		{"missing tracker", "tracker: Demande,", "tracker: Demandes,", `tracker "Demandes" does not exist`},
		{"missing group", "assignee: {group: " + group + ",", "assignee: {group: 999999,", "group 999999"},
		{"missing project", "project: gestion-locative, tracker: Doléance, priority", "project: gestion-perdue, tracker: Doléance, priority", `project "gestion-perdue" cannot be read`},
		{"missing status", "client_closed_status: Closed", "client_closed_status: Closed\n  reopen_status: Rouverte", `no status "Rouverte"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(string(data), c.from, c.to, 1)
			if doc == string(data) {
				t.Fatalf("the stack config lacks %q", c.from)
			}
			if c.name == "missing status" {
				doc = strings.Replace(doc, "  reopen_status: In Progress\n", "", 1)
			}
			path := filepath.Join(t.TempDir(), "cfg.yaml")
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runBin(t, env, "check", "--live", "--config", path)
			if code != 1 || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, want 1 naming %q:\n%s", code, c.want, out)
			}
		})
	}
}

// serve refuses an outdated schema; after migrate it serves health
// endpoints, /metrics on the admin listener only (404 on the customer-facing
// one), and stops cleanly on SIGTERM.
func TestServeMigrateAndShutdown(t *testing.T) {
	cfgPath, env := stackEnv(t)
	empty := testenv.NewEmptyDatabase(t)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	port, adminPort := freePort(t), freePort(t)
	doc := strings.Replace(string(data), "listen: 127.0.0.1:8080", "listen: 127.0.0.1:"+port, 1)
	doc = strings.Replace(doc, "admin_listen: 127.0.0.1:9090", "admin_listen: 127.0.0.1:"+adminPort, 1)
	if !strings.Contains(doc, "admin_listen: 127.0.0.1:"+adminPort) {
		t.Fatalf("the stack config has no admin_listen: 127.0.0.1:9090 line (run make stack)")
	}
	path := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "PASSERELLE_DATABASE_URL="+empty)
	code, out := runBin(t, env, "serve", "--config", path)
	if code != 1 || !strings.Contains(out, "refusing to start") || !strings.Contains(out, "passerelle migrate") {
		t.Fatalf("serve on an empty database: exit %d\n%s", code, out)
	}
	if code, out := runBin(t, env, "migrate", "--config", path); code != 0 || !strings.Contains(out, "applied passerelle") {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	if code, out := runBin(t, env, "migrate", "--config", path); code != 0 || !strings.Contains(out, "already up to date") {
		t.Fatalf("second migrate: exit %d\n%s", code, out)
	}
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stderr, cmd.Stdout = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became ready:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	admin := "http://127.0.0.1:" + adminPort
	for _, c := range []struct {
		name, url string
		status    int
	}{
		{"health on the customer listener", base + "/healthz", 200},
		{"metrics on the admin listener", admin + "/metrics", 200},
		{"health on the admin listener", admin + "/healthz", 200},
		{"no metrics on the customer listener", base + "/metrics", 404},
		{"no API on the admin listener", admin + "/api/v1/me", 404},
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: GET %s: HTTP %d, want %d", c.name, c.url, resp.StatusCode, c.status)
		}
		if c.status == 200 && strings.HasSuffix(c.url, "/metrics") && !bytes.Contains(body, []byte("passerelle_poll_duration_seconds")) {
			t.Errorf("/metrics lacks the sync metrics")
		}
		if c.status == 404 && bytes.Contains(body, []byte("passerelle_")) {
			t.Errorf("%s: metrics leaked: %.200s", c.name, body)
		}
	}
	resp, err := http.Get(base + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("/api/v1/me without a session: HTTP %d, want 401", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM:\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM:\n%s", logs.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("log line is not JSON: %s", line)
		}
		if strings.Contains(line, testenv.Get(t, "REDMINE_SYNC_API_KEY")) || strings.Contains(line, "passerelle:passerelle@") {
			t.Errorf("a secret is in the logs: %s", line)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", logs.String())
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
