package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// breakMain makes the first document.getElementById('main') of every new
// document throw, which app.js's first route() makes while the module is
// evaluated: a module that throws as it loads.
const breakMain = `(() => { const get = Document.prototype.getElementById; let thrown = false;
Document.prototype.getElementById = function (id) {
	if (id === 'main' && !thrown) { thrown = true; throw new Error('injected failure'); }
	return get.call(this, id);
}; })();`

// TestUIDidNotStart: when the UI cannot start — one of its modules cannot
// be loaded (blocked in the browser, as a connection dropped while the
// agent restarts would fail it), still after the page's two reloads of
// its own, or one throws while it is evaluated — the page says that the UI
// did not start and why, and offers a reload, rather than "Loading…" for
// ever; once the cause is gone, that reload brings the UI up. Without
// js/boot.js every case stays on "Loading…".
func TestUIDidNotStart(t *testing.T) {
	n := startAgent(t)
	b := startBrowser(t, n.HTTPAddr())
	loadFailed := "/ui/js/app.js, or a module it imports, could not be loaded (the agent may have restarted, or the network changed, while the page loaded)"
	cases := []struct {
		name   string
		block  string // a URL pattern to block
		inject string // a script to run first in every new document
		want   string
	}{
		{name: "a view's module blocked", block: "*://*:*/ui/js/views/kv.js", want: loadFailed},
		{name: "the entry module blocked", block: "*://*:*/ui/js/app.js", want: loadFailed},
		{name: "a module throws", inject: breakMain, want: "One of its scripts failed: Uncaught Error: injected failure"},
	}
	for _, tc := range cases {
		b.subtest(t, tc.name, func(t *testing.T) {
			if tc.block != "" {
				b.blockURLs(tc.block)
			}
			var script page.ScriptIdentifier
			if tc.inject != "" {
				b.run(10*time.Second, "inject a script", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					res, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
						page.AddScriptToEvaluateOnNewDocumentParams{Source: tc.inject})
					script = res.Identifier
					return err
				}))
			}
			b.resetFailed()
			b.run(30*time.Second, "open the UI",
				chromedp.Navigate("about:blank"),
				chromedp.Navigate(b.base+"/ui/#/services"),
				chromedp.WaitVisible(chromedp.CSS(`main [role="alert"]`)))
			text := eval[string](b, `document.getElementById('main').innerText`)
			for _, want := range []string{"The UI did not start", tc.want, "Reload"} {
				if !strings.Contains(text, want) {
					t.Errorf("the page says %q, want it to contain %q", text, want)
				}
			}
			b.screenshot("did-not-start-" + tc.name)
			if tc.block != "" {
				// The page reloaded itself twice before it gave up.
				b.mu.Lock()
				tries := 0
				for _, f := range b.failed {
					if strings.Contains(f, "(blocked: ") {
						tries++
					}
				}
				b.mu.Unlock()
				if tries != 3 {
					t.Errorf("the blocked module was tried %d times, want 3 (the page's load and its two own reloads)", tries)
				}
			}

			if tc.block != "" {
				b.blockURLs()
			}
			if tc.inject != "" {
				b.run(10*time.Second, "remove the injected script", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, page.RemoveScriptToEvaluateOnNewDocument,
						page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: script})
					return err
				}))
				// The injected failure is an uncaught exception, as it
				// should be; the page is checked for others below.
				b.mu.Lock()
				b.exceptions = nil
				b.mu.Unlock()
			}
			b.clickText("Reload")
			b.run(30*time.Second, "the services view after the reload",
				chromedp.WaitVisible(chromedp.CSS(`html[data-started] main h1`)))
			if h1 := eval[string](b, `document.querySelector('main h1').textContent`); h1 != "Services" {
				t.Errorf("after the reload, the page's heading is %q, want Services", h1)
			}
		})
	}
}

// TestUIStartsAfterAPassingLoadFailure: Chromium fails the requests in
// flight when the host's network interfaces change
// (net::ERR_NETWORK_CHANGED; on a Shoal node, every container started or
// stopped changes them), so a module load can fail once for no lasting
// reason. The page then reloads itself and starts, with no message.
// Here the first load of js/views/kv.js is failed with a connection reset
// (intercepted with the DevTools Fetch domain) and later loads go through.
func TestUIStartsAfterAPassingLoadFailure(t *testing.T) {
	n := startAgent(t)
	b := startBrowser(t, n.HTTPAddr())
	var mu sync.Mutex
	loads := 0
	if err := chromedp.Listen(b.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		mu.Lock()
		loads++
		first := loads == 1
		mu.Unlock()
		go func() { // not on the event loop that delivers the answer
			_ = chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				if first {
					_, err := cdp.Call(ctx, tg, fetch.FailRequest,
						fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
					return err
				}
				_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
				return err
			}))
		}()
	}); err != nil {
		t.Fatal(err)
	}
	b.run(10*time.Second, "intercept kv.js", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/ui/js/views/kv.js"}}})
		return err
	}))
	b.run(30*time.Second, "open the UI, its first load of kv.js failed",
		chromedp.Navigate(b.base+"/ui/#/services"),
		chromedp.WaitVisible(chromedp.CSS(`html[data-started] main h1`)))
	if h1 := eval[string](b, `document.querySelector('main h1').textContent`); h1 != "Services" {
		t.Errorf("the page's heading is %q, want Services", h1)
	}
	mu.Lock()
	got := loads
	mu.Unlock()
	if got != 2 {
		t.Errorf("kv.js was requested %d times, want 2: failed, then loaded by the page's own reload", got)
	}
	b.mu.Lock()
	failed := append([]string(nil), b.failed...)
	b.mu.Unlock()
	if len(failed) == 0 || !strings.Contains(failed[0], "kv.js") {
		t.Errorf("failed loads %q: want the first kv.js among them", failed)
	}
	b.checkPage()
}
