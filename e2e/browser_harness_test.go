package e2e

// The browser harness: Debian's Chromium (/usr/bin/chromium, installed by
// `make stack`) driven headless through the DevTools protocol with chromedp,
// on a phone-sized viewport, and axe-core (tools/browser/node_modules,
// installed by `make stack` with npm ci) for the accessibility checks.
//
// A test gets a browser with newBrowser(t) and drives it as a person does:
// navigate, fill, click, setFiles, then reads what is shown (text,
// waitVisible), takes screenshots for the docs and runs axe on each page.
// Cookies are the browser's own: a Kratos session cookie set on 127.0.0.1
// is sent to every port of 127.0.0.1, as for a real user.
//
// Every helper fails the test (t.Fatalf, with the page's URL) when the
// browser does not do what was asked within actionTimeout; use b.in(t) to
// drive the same browser from a subtest.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"passerelle/internal/testenv"
)

const (
	// chromiumPath is Debian's Chromium (package chromium).
	chromiumPath = "/usr/bin/chromium"
	// axeScript is axe-core's browser build, relative to the repository
	// root (tools/browser/package-lock.json pins its version).
	axeScript = "tools/browser/node_modules/axe-core/axe.min.js"
	// phoneWidth and phoneHeight are the emulated viewport, in CSS pixels:
	// a small phone, the customer space's narrowest target.
	phoneWidth, phoneHeight = 360, 740
	// actionTimeout bounds each helper's browser call.
	actionTimeout = 20 * time.Second
)

// browser is one headless Chromium with its own profile (cookies, storage),
// showing one tab. Its helpers fail t; in(t) binds another test to it.
type browser struct {
	t   testing.TB
	ctx context.Context // the tab's chromedp context (the browser runs as long as it)
	out *lockedBuffer   // Chromium's stdout and stderr, shown when the test failed

	nav *navState // shared with the copies in() makes
}

// navState is what the browser remembers of its last navigation.
type navState struct {
	mu     sync.Mutex
	status int // HTTP status of the document of the last navigate, status or submit
}

// newBrowser starts Chromium headless on a 360×740 mobile viewport with a
// fresh profile and closes it when the test ends. It skips the test when
// Chromium or axe-core is not installed (`make stack` installs both), and
// fails it instead under CI=true, as a missing service does (testenv).
func newBrowser(t testing.TB) *browser {
	t.Helper()
	requireInstalled(t, chromiumPath, "Debian package chromium")
	requireInstalled(t, filepath.Join(testenv.RepoRoot(), axeScript), "npm ci --prefix tools/browser")

	out := &lockedBuffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the suite runs as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// A UTF-8 locale whatever the environment: CI runs with no LANG at
		// all (env -i), where Chromium cannot open a file whose path holds
		// "é" for an <input type=file> and silently drops it (seen: the
		// self-test's "fuite évier.png" missing from the post). People's
		// browsers run in UTF-8 locales.
		chromedp.Env("LANG=C.UTF-8", "LC_ALL=C.UTF-8"),
		// No connection of Chromium's own (updates, field trials, safe
		// browsing, sync): this machine's network refuses them, and a test
		// must only ever talk to 127.0.0.1.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		// A small /dev/shm (containers) crashes tabs; the profile's
		// password store must not look for a desktop keyring.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("window-size", fmt.Sprintf("%d,%d", phoneWidth, phoneHeight)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(out),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx, out: out, nav: &navState{}}
	// Registered after t.TempDir: runs first, so Chromium has exited before
	// its profile directory is removed.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the process to exit
		if t.Failed() && out.Len() > 0 {
			t.Logf("chromium output (end):\n%s", out.Tail(4000))
		}
	})
	// The first Run starts the browser; it must not carry a timeout (that
	// would stop the browser when it expires), so the start is bounded by
	// a watchdog instead.
	started := make(chan error, 1)
	go func() {
		started <- chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight,
			chromedp.EmulateMobile, chromedp.EmulatePortrait))
	}()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v\nchromium output:\n%s", chromiumPath, err, out.Tail(4000))
		}
	case <-time.After(60 * time.Second):
		cancelTab()
		t.Fatalf("starting %s: no DevTools connection after 60s\nchromium output:\n%s", chromiumPath, out.Tail(4000))
	}
	return b
}

// requireInstalled skips the test when path is missing (fails it when
// CI=true): the browser tests need what `make stack` installs.
func requireInstalled(t testing.TB, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s is missing (%s): run `make stack` first (%v)", path, what, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// in returns the same browser (same tab, same cookies) failing t instead:
// for driving it from a subtest.
func (b *browser) in(t testing.TB) *browser {
	return &browser{t: t, ctx: b.ctx, out: b.out, nav: b.nav}
}

// run runs one action with actionTimeout; what names it in the failure.
func (b *browser) run(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, action); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// fatalf fails the test with the page's URL.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatalf("%s (page %s)", fmt.Sprintf(format, args...), b.location())
}

// location is the tab's current URL, or why it cannot be read.
func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("unknown: %v", err)
	}
	return loc
}

// navigate loads url in the tab (following redirects) and waits for the
// page's load event; the final document's HTTP status is lastNavStatus.
func (b *browser) navigate(url string) {
	b.t.Helper()
	b.status(url)
}

// status navigates to url as navigate does and returns the HTTP status of
// the document finally shown (after redirects): 404 for another client's
// request, say.
func (b *browser) status(url string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.fatalf("navigate %s: %v", url, err)
	}
	if resp == nil {
		b.fatalf("navigate %s: no HTTP response for the document", url)
	}
	b.setStatus(int(resp.Status))
	return int(resp.Status)
}

// submit clicks selector (a submit button, a link) and waits for the page
// that click loads; it returns that document's HTTP status (after
// redirects, so 200 for a POST answered 303 → 200). For a click that loads
// no page (blocked by the page's own validation), use click and waitVisible.
func (b *browser) submit(selector string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		b.fatalf("submit %s: %v", selector, err)
	}
	if resp == nil {
		b.fatalf("submit %s: no HTTP response for the document", selector)
	}
	b.setStatus(int(resp.Status))
	return int(resp.Status)
}

func (b *browser) setStatus(code int) {
	b.nav.mu.Lock()
	b.nav.status = code
	b.nav.mu.Unlock()
}

// lastNavStatus is the HTTP status of the document of the last navigate,
// status or submit (0 before any).
func (b *browser) lastNavStatus() int {
	b.nav.mu.Lock()
	defer b.nav.mu.Unlock()
	return b.nav.status
}

// fill replaces the value of the text input or textarea matched by the CSS
// selector by typing value into it (key events, as a person does: the
// page's input listeners run). For a <select>, use choose.
func (b *browser) fill(selector, value string) {
	b.t.Helper()
	b.run("fill "+selector, chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(selector)),
		// (chromedp.SetValue refuses the empty string: it reads it back as a mismatch.)
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).value = ''`, jsString(selector))),
		chromedp.SendKeys(chromedp.CSS(selector), value),
	))
}

// choose selects the option whose value is value in the <select> matched
// by the CSS selector, and fires its input and change events; it fails when
// no option has that value.
func (b *browser) choose(selector, value string) {
	b.t.Helper()
	b.run("choose "+selector, chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(selector)),
		chromedp.SetValue(chromedp.CSS(selector), value), // fires input and change
	))
}

// click clicks the element matched by the CSS selector once it is visible.
// It does not wait for a page it loads: follow it with waitVisible, or use
// submit.
func (b *browser) click(selector string) {
	b.t.Helper()
	b.run("click "+selector, chromedp.Click(chromedp.CSS(selector)))
}

// setFiles sets the files of the <input type="file"> matched by the CSS
// selector (absolute paths, as a person picking them would).
func (b *browser) setFiles(selector string, paths ...string) {
	b.t.Helper()
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			b.t.Fatalf("setFiles %s: %v", selector, err)
		}
		abs[i] = a
	}
	b.run("setFiles "+selector, chromedp.SetUploadFiles(chromedp.CSS(selector), abs))
}

// text is the visible text of the element matched by the CSS selector
// (its innerText: what a person reads), once it is visible.
func (b *browser) text(selector string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
	if err != nil {
		b.fatalf("text %s: %v", selector, err)
	}
	return s
}

// value returns the current value of a form field.
func (b *browser) value(selector string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(selector)))
	if err != nil {
		b.fatalf("value %s: %v", selector, err)
	}
	return s
}

// eval evaluates a JavaScript expression in the page and returns its value
// as text (fmt.Sprint of the decoded JSON value).
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		b.fatalf("eval %q: %v", expr, err)
	}
	return fmt.Sprint(v)
}

// waitVisible waits until the element matched by the CSS selector is
// shown.
func (b *browser) waitVisible(selector string) {
	b.t.Helper()
	b.run("waitVisible "+selector, chromedp.WaitVisible(chromedp.CSS(selector)))
}

// screenshotDir is where screenshot writes: docs/screenshots at the
// repository root.
func screenshotDir() string {
	return filepath.Join(testenv.RepoRoot(), "docs", "screenshots")
}

// screenshot writes the whole page (beyond the viewport's height) as
// docs/screenshots/<name>.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := b.screenshotPNG()
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
}

// screenshotPNG is the whole page as a PNG.
func (b *browser) screenshotPNG() []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("screenshot: %v", err)
	}
	return png
}

// ---- accessibility (axe-core) -------------------------------------------------

// axeViolation is one axe-core rule the page breaks, with the elements
// that break it.
type axeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"` // minor, moderate, serious or critical
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []axeNode `json:"nodes"`
}

// axeNode is one element that breaks a rule.
type axeNode struct {
	Target  []string `json:"target"` // CSS selectors (a shadow DOM path is joined with " >>> ")
	HTML    string   `json:"html"`
	Summary string   `json:"failureSummary"`
}

// blocking tells whether the violation fails a page: serious or critical.
func (v axeViolation) blocking() bool { return v.Impact == "serious" || v.Impact == "critical" }

// String is the violation on one line per element.
func (v axeViolation) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&sb, "\n    %s  %s", strings.Join(n.Target, ", "), n.HTML)
	}
	return sb.String()
}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeRun runs axe-core's whole rule set on the document and reads the
// violations back as plain values.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({
		target: n.target.map(s => Array.isArray(s) ? s.join(' >>> ') : String(s)),
		html: n.html, failureSummary: n.failureSummary || '',
	})),
})))`

// axeViolations injects axe-core into the current page, runs it and returns
// every violation, whatever its impact.
func (b *browser) axeViolations() ([]axeViolation, error) {
	axeOnce.Do(func() {
		var data []byte
		data, axeErr = os.ReadFile(filepath.Join(testenv.RepoRoot(), axeScript))
		axeSource = string(data)
	})
	if axeErr != nil {
		return nil, fmt.Errorf("reading axe-core: %w", axeErr)
	}
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
		return nil, fmt.Errorf("injecting axe-core: %w", err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("running axe-core: %w", err)
	}
	return vs, nil
}

// axe runs axe-core on the page shown and fails t, listing them, when it
// finds serious or critical violations; minor and moderate ones are logged.
// pageName names the page in the messages.
func (b *browser) axe(t testing.TB, pageName string) {
	t.Helper()
	vs, err := b.axeViolations()
	if err != nil {
		t.Fatalf("axe on %s (%s): %v", pageName, b.location(), err)
		return
	}
	var blocking, other []string
	for _, v := range vs {
		if v.blocking() {
			blocking = append(blocking, v.String())
		} else {
			other = append(other, v.String())
		}
	}
	if len(other) > 0 {
		t.Logf("axe on %s: %d minor or moderate violation(s):\n  %s", pageName, len(other), strings.Join(other, "\n  "))
	}
	if len(blocking) > 0 {
		t.Fatalf("axe on %s (%s): %d serious or critical violation(s):\n  %s", pageName, b.location(),
			len(blocking), strings.Join(blocking, "\n  "))
	}
}

// ---- helpers -----------------------------------------------------------------

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	data, _ := json.Marshal(s) // a string always marshals
	return string(data)
}

// lockedBuffer is an io.Writer safe for Chromium's output goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Len is the number of bytes written.
func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// Tail is the last n bytes written, without Chromium's D-Bus complaints
// (a test machine has no desktop bus; they say nothing about the test).
func (l *lockedBuffer) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var kept []string
	for line := range strings.Lines(l.buf.String()) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			kept = append(kept, line)
		}
	}
	s := strings.Join(kept, "")
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// browserPort is where kratos.yml's ui_urls and the stack's return URLs point
// (the customer space's pages): a browser test's serve must listen there, so
// two such tests never run at once.
const browserPort = "8080"

// serveForBrowser migrates and starts one serve on 127.0.0.1:browserPort,
// public_url included, for a test that drives the pages in Chromium.
func (d *deployment) serveForBrowser(name string) *replica {
	d.t.Helper()
	requirePortFree(d.t, browserPort, "where kratos.yml's ui_urls send the browser")
	addr := "127.0.0.1:" + browserPort
	in := d.writeConfig(name, map[string]string{"listen": addr, "public_url": "http://" + addr})
	in.baseURL = "http://" + addr
	d.migrate(in)
	return d.serve(in)
}
