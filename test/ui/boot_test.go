package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
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
// agent restarts would fail it) or one throws while it is evaluated — the
// page says that the UI did not start and why, and offers a reload,
// rather than "Loading…" for ever; once the cause is gone, that reload
// brings the UI up. Without js/boot.js every case stays on "Loading…".
func TestUIDidNotStart(t *testing.T) {
	n := startAgent(t)
	b := startBrowser(t, n.HTTPAddr())
	loadFailed := "/ui/js/app.js, or a module it imports, could not be loaded; the agent may have restarted while the page loaded"
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
