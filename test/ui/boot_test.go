package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestModuleLoadFailure: when one of the UI's modules cannot be loaded
// (here blocked in the browser, as a connection dropped while the agent
// restarts would fail it), the page says that the UI did not start and
// offers a reload, rather than "Loading…" forever; once the module can be
// loaded again, that reload brings the UI up.
func TestModuleLoadFailure(t *testing.T) {
	n := startAgent(t)
	b := startBrowser(t, n.HTTPAddr())

	for _, module := range []string{"js/views/kv.js", "js/app.js"} {
		b.blockURLs("*://*:*/ui/" + module)
		b.run(30*time.Second, "open the UI with "+module+" blocked",
			chromedp.Navigate("about:blank"),
			chromedp.Navigate(b.base+"/ui/#/services"),
			chromedp.WaitVisible(chromedp.CSS(`main [role="alert"]`)))
		text := eval[string](b, `document.getElementById('main').innerText`)
		for _, want := range []string{"The UI did not start", "/ui/js/app.js, or a module it imports, could not be loaded", "Reload"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s blocked: the page says %q, want it to contain %q", module, text, want)
			}
		}
		b.screenshot("did-not-start-" + module)
		b.blockURLs()
		b.clickText("Reload")
		b.run(30*time.Second, "the services view after the reload",
			chromedp.WaitVisible(chromedp.CSS(`html[data-started] main h1`)))
		if h1 := eval[string](b, `document.querySelector('main h1').textContent`); h1 != "Services" {
			t.Errorf("%s unblocked, after the reload: the page's heading is %q, want Services", module, h1)
		}
		b.checkPage()
	}
}
