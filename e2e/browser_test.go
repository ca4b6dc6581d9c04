package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Viewport widths every page is looked at in: a laptop and a phone.
var viewports = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 900}, {"phone", 390, 844}}

// browser is a headless Chromium driving the dashboard of one system.
type browser struct {
	t     *testing.T
	ctx   context.Context
	sys   *system
	shots string // the folder screenshots go to
	axe   string // axe-core's source, run in every page checked
}

// findChromium returns the browser to drive: $CHROMIUM, or the first of
// the usual names on PATH.
func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts Chromium for the test. Without one the test fails in
// CI (CI=true), where .ci/run installs it, and is skipped elsewhere.
func newBrowser(t *testing.T, sys *system) *browser {
	t.Helper()
	exe := findChromium()
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium found (set CHROMIUM, or apt-get install chromium); the dashboard's browser test must run in CI")
		}
		t.Skip("skipping the dashboard's browser test: no Chromium found (apt-get install chromium, or set CHROMIUM)")
	}
	axe, err := os.ReadFile(filepath.Join("testdata", "third_party", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	shots := os.Getenv("DASHBOARD_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("..", ".test-output", "dashboard")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// Only loopback is reachable: no proxy, no lookups of Google's hosts.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, sys: sys, shots: shots, axe: string(axe)}
	b.do(chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
	t.Logf("screenshots go to %s", shots)
	return b
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open loads a page: a path of the api, or a whole URL.
func (b *browser) open(target string) {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.sys.apiURL + target
	}
	b.do(chromedp.Navigate(target))
}

// follow clicks what the selector finds and waits for the page it loads.
func (b *browser) follow(sel string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(sel, chromedp.NodeVisible))); err != nil {
		b.t.Fatalf("browser: click %s: %v", sel, err)
	}
}

// byText finds an element of the given tag by its visible text, as a
// reader following the documentation would.
func byText(tag, text string) string {
	return fmt.Sprintf(`//%s[normalize-space()=%q]`, tag, text)
}

// inputLabelled finds the input a label with this visible text is for.
func inputLabelled(label string) string {
	return fmt.Sprintf(`//input[@id=//label[normalize-space()=%q]/@for]`, label)
}

func (b *browser) path() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.sys.apiURL)
}

// text is what the page shows, as the reader sees it.
func (b *browser) text() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// wantText fails unless the page shows every text.
func (b *browser) wantText(texts ...string) {
	b.t.Helper()
	shown := b.text()
	for _, s := range texts {
		if !strings.Contains(shown, s) {
			b.t.Errorf("page %s does not show %q; it shows:\n%s", b.path(), s, shown)
		}
	}
}

// reloadUntil reloads the page until at least n elements match the CSS
// selector.
func (b *browser) reloadUntil(css string, n int) {
	b.t.Helper()
	b.sys.waitFor(b.t, fmt.Sprintf("the page %s to show %d of %s", b.path(), n, css), func() (bool, string) {
		b.do(chromedp.Reload())
		got := b.count(css)
		return got >= n, fmt.Sprintf("%d found; the page shows: %s", got, lastLines(b.text(), 12))
	})
}

// count is how many elements match a CSS selector.
func (b *browser) count(css string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, css)))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// eachView shows the page in the light and the dark scheme at each
// viewport's width, calling fn in each, and puts the desktop light view
// back afterwards.
func (b *browser) eachView(fn func(scheme, viewport string)) {
	b.t.Helper()
	scheme := func(features ...*emulation.MediaFeature) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
			return err
		})
	}
	for _, name := range []string{"light", "dark"} {
		b.do(scheme(&emulation.MediaFeature{Name: "prefers-color-scheme", Value: name}))
		for _, vp := range viewports {
			b.do(chromedp.EmulateViewport(vp.width, vp.height))
			fn(name, vp.name)
		}
	}
	b.do(chromedp.EmulateViewport(viewports[0].width, viewports[0].height), scheme())
}

// check looks at the page as every reader does: axe-core finds no serious
// or critical accessibility violation in the light and the dark scheme, and
// a screenshot of each viewport (and the dark scheme) goes to the folder.
func (b *browser) check(name string) {
	b.t.Helper()
	b.eachView(func(scheme, vp string) {
		b.axeCheck(name + " (" + vp + ", " + scheme + ")")
		if scheme == "dark" && vp == "phone" {
			return
		}
		shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		file := filepath.Join(b.shots, fmt.Sprintf("%s-%s-%s.png", name, vp, scheme))
		if err := os.WriteFile(file, shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
	})
}

// loadAxe loads axe-core into the page.
func (b *browser) loadAxe(where string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](b.axe+";true")); err != nil {
		b.t.Fatalf("load axe-core into %s: %v", where, err)
	}
}

// axeCheck runs axe-core in the page and fails on each violation of impact
// serious or critical.
func (b *browser) axeCheck(where string) {
	b.t.Helper()
	b.loadAxe(where)
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
			id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("run axe-core in %s: %v", where, err)
	}
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		b.t.Fatalf("axe-core results of %s: %v", where, err)
	}
	for _, v := range violations {
		b.t.Errorf("%s: accessibility violation %s (%s): %s\n  %s", where, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// contrastCheck runs axe-core's color-contrast rule alone on the elements
// the CSS selector finds, in the light and the dark scheme at both widths,
// and fails unless axe finds every one readable: a violation, or a node it
// could not decide (an "incomplete" result, which the page-wide check does
// not report), fails as well as finding none.
func (b *browser) contrastCheck(where, css string) {
	b.t.Helper()
	b.eachView(func(scheme, vp string) {
		at := fmt.Sprintf("%s (%s, %s)", where, vp, scheme)
		b.loadAxe(at)
		raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`axe.run({include: [[%q]]}, {runOnly: ['color-contrast'],
			resultTypes: ['violations', 'incomplete', 'passes']}).then(r => JSON.stringify({
			passes: r.passes.reduce((n, v) => n + v.nodes.length, 0),
			failures: r.violations.concat(r.incomplete).flatMap(v => v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary))}))`, css),
			chromedp.EvalAwaitPromise))
		if err != nil {
			b.t.Fatalf("run axe-core in %s: %v", at, err)
		}
		var res struct {
			Passes   int
			Failures []string
		}
		if err := json.Unmarshal([]byte(raw), &res); err != nil {
			b.t.Fatalf("axe-core results of %s: %v", at, err)
		}
		if len(res.Failures) > 0 || res.Passes == 0 {
			b.t.Errorf("%s: colour contrast of %s: %d readable, not readable or undecided:\n  %s", at, css, res.Passes, strings.Join(res.Failures, "\n  "))
		}
	})
}

var blankLines = regexp.MustCompile(`\n\s*\n`)

func lastLines(s string, n int) string {
	lines := strings.Split(blankLines.ReplaceAllString(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
