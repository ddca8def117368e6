// Package ui tests Shoal's web UI in a real browser: Debian's chromium,
// driven with chromedp, against real agents started in the test process
// (internal/testcluster). Screenshots of every view are written to
// $SHOAL_UI_ARTIFACTS when set (else to a temporary directory removed after
// the test), and of the page at the moment a subtest fails.
package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/shoalproject/shoal/internal/testenv"
)

// ArtifactsVar names the directory that keeps the screenshots.
const ArtifactsVar = "SHOAL_UI_ARTIFACTS"

// findChromium returns the path of a Chromium binary.
func findChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Skip(t, "no chromium on PATH (Debian: apt-get install -y chromium; scripts/test.sh installs it)")
	return ""
}

// browser is one headless Chromium tab on the UI of an agent.
type browser struct {
	t         testing.TB
	ctx       context.Context
	base      string // http://host:port
	artifacts string

	mu         sync.Mutex
	exceptions []string
	dialogs    []string
	requests   []string // /v1/ URLs requested since the last resetRequests
	// pending maps the requests in flight to their URLs, and failed keeps
	// the last loads that failed or were answered 4xx/5xx, for pageState.
	pending map[network.RequestID]string
	failed  []string
}

// installProbe records CSP violations in window.__csp before any page
// script runs.
const installProbe = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`

// newBrowser starts Chromium and opens the UI of the agent at addr.
func newBrowser(t testing.TB, addr string) *browser {
	t.Helper()
	b := startBrowser(t, addr)
	b.run(30*time.Second, "open the UI in chromium",
		chromedp.Navigate(b.base+"/ui/#/services"),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
	// The boot check's page has an h1 too: a UI that did not start is a
	// failure here, not later.
	if !eval[bool](b, `document.documentElement.hasAttribute('data-started')`) {
		t.Fatalf("open the UI in chromium: the UI did not start; %s", b.pageState())
	}
	return b
}

// startBrowser starts Chromium with a blank page, ready to open the UI of
// the agent at addr.
func startBrowser(t testing.TB, addr string) *browser {
	t.Helper()
	path := findChromium(t)
	// Chromium keeps its singleton socket in a directory of its own under
	// TMPDIR (org.chromium.Chromium.*), which it leaves behind when it is
	// stopped: give it one that the test removes, after the browser has
	// stopped (cleanups run last-registered first).
	tmp := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Env("TMPDIR="+tmp),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: "http://" + addr}
	b.artifacts = os.Getenv(ArtifactsVar)
	if b.artifacts == "" {
		b.artifacts = t.TempDir()
	} else if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The first call starts the browser, which lives as long as its
	// context: no deadline on it; the page load gets one.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: installProbe})
		return err
	})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// blockURLs makes the browser fail every load matching one of the
// patterns (URLPattern syntax), as a dropped connection would; no pattern
// lifts the block.
func (b *browser) blockURLs(patterns ...string) {
	b.t.Helper()
	params := network.SetBlockedURLsParams{}
	for _, p := range patterns {
		params.URLPatterns = append(params.URLPatterns, &network.BlockPattern{URLPattern: p, Block: true})
	}
	b.run(10*time.Second, fmt.Sprintf("block %q", patterns), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, params)
		return err
	}))
}

// pageState says what the page was doing, for a failure message: its load
// state, what the view rendered, the API requests, script errors and
// failed loads seen; or that the page did not answer at all.
func (b *browser) pageState() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({readyState: document.readyState,
		href: location.href, main: (document.getElementById('main')?.innerHTML || '').slice(0, 300)})`))
	if err != nil {
		state = fmt.Sprintf("the page did not answer within 5s (%v)", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("page: %s; API requests: %q; script exceptions: %q; failed loads: %q", state, b.requests, b.exceptions, b.failed)
}

// record keeps the events the checks look at: uncaught exceptions,
// dialogs (dismissed at once) and API requests; and, for pageState, the
// loads that failed.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.exceptions = append(b.exceptions, msg)
	case *page.EventJavascriptDialogOpening:
		b.dialogs = append(b.dialogs, e.Message)
		go func() {
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	case *network.EventRequestWillBeSent:
		if strings.Contains(e.Request.URL, "/v1/") {
			b.requests = append(b.requests, e.Request.Method+" "+e.Request.URL)
		}
		if b.pending == nil {
			b.pending = map[network.RequestID]string{}
		}
		b.pending[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 {
			b.fail(fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL))
		}
	case *network.EventLoadingFinished:
		delete(b.pending, e.RequestID)
	case *network.EventLoadingFailed:
		why := e.ErrorText
		if e.BlockedReason != "" {
			why += " (blocked: " + e.BlockedReason.String() + ")"
		}
		if e.Canceled {
			why += " (canceled)"
		}
		b.fail(b.pending[e.RequestID] + ": " + why)
		delete(b.pending, e.RequestID)
	}
}

// resetFailed forgets the failed loads seen so far.
func (b *browser) resetFailed() {
	b.mu.Lock()
	b.failed = nil
	b.mu.Unlock()
}

// fail keeps a failed load, the last 20 only. b.mu must be held.
func (b *browser) fail(what string) {
	if len(b.failed) == 20 {
		b.failed = b.failed[1:]
	}
	b.failed = append(b.failed, what)
}

// run runs actions with a deadline, failing the test on error with what
// the page was doing.
func (b *browser) run(timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v; %s", what, err, b.pageState())
	}
}

// goTo switches the UI to a view by its #/ URL, as a click on a link does.
func (b *browser) goTo(hash string) {
	b.t.Helper()
	b.run(10*time.Second, "go to "+hash,
		discard(chromedp.Evaluate[string](fmt.Sprintf("location.hash = %q", hash))),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// waitJS waits until the JavaScript expression is truthy.
func (b *browser) waitJS(timeout time.Duration, what, expr string) {
	b.t.Helper()
	b.run(timeout+time.Second, what, discard(chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(timeout))))
}

// discard makes an action that drops the value of a.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// eval evaluates expr and returns its value (awaiting a promise).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.80s: %v", expr, err)
	}
	return v
}

// click clicks the first element matching the CSS selector.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.run(10*time.Second, "click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// clickText clicks the first button or link whose text is exactly text.
func (b *browser) clickText(text string) {
	b.t.Helper()
	expr := fmt.Sprintf(`(() => { const el = [...document.querySelectorAll('main button, main a')].find((e) => e.textContent.trim() === %q);
		if (!el) return false; el.click(); return true; })()`, text)
	b.waitJS(5*time.Second, "click "+text, expr)
}

// typeInto focuses the field and types text as a user would (input events).
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.run(10*time.Second, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// setValue replaces a field's value and fires its input event.
func (b *browser) setValue(sel, value string) {
	b.t.Helper()
	v, _ := json.Marshal(value)
	eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %s;
		el.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel, v))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// screenshot writes a full-page PNG named after the view.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.artifacts, unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// checkPage fails the test on script exceptions, dialogs (an alert is how
// injected script would show) and CSP violations seen so far.
func (b *browser) checkPage() {
	b.t.Helper()
	csp := eval[[]string](b, `window.__csp || []`)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.exceptions) > 0 {
		b.t.Errorf("uncaught script exceptions: %q", b.exceptions)
	}
	if len(b.dialogs) > 0 {
		b.t.Errorf("dialogs opened: %q", b.dialogs)
	}
	if len(csp) > 0 {
		b.t.Errorf("Content-Security-Policy violations: %q", csp)
	}
	b.exceptions, b.dialogs = nil, nil
}

// subtest runs fn as a subtest that screenshots the page when it fails
// and checks the page for exceptions and CSP violations when it passes.
func (b *browser) subtest(t *testing.T, name string, fn func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		parent := b.t
		b.t = t
		defer func() { b.t = parent }()
		defer func() {
			if t.Failed() {
				b.screenshot("FAILED-" + t.Name())
			}
		}()
		fn(t)
		b.checkPage()
	})
}

func (b *browser) resetRequests() {
	b.mu.Lock()
	b.requests = nil
	b.mu.Unlock()
}

func (b *browser) requestsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}
