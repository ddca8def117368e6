package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/hashicorp/consul/api"
)

// setWindowState minimises or restores the window of b's page; a
// minimised window's page is hidden (document.hidden), as a background
// tab's is.
func (b *browser) setWindowState(state cdpbrowser.WindowState) {
	b.t.Helper()
	b.run(10*time.Second, "set the window "+string(state), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		w, err := cdp.Call(ctx, tg, cdpbrowser.GetWindowForTarget, cdpbrowser.GetWindowForTargetParams{})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, tg, cdpbrowser.SetWindowBounds,
			cdpbrowser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &cdpbrowser.Bounds{WindowState: state}})
		return err
	}))
}

// canceledWatches counts the blocking queries (wait=) whose load was
// canceled.
func (b *browser) canceledWatches() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, f := range b.failed {
		if strings.Contains(f, "wait=") && strings.HasSuffix(f, "(canceled)") {
			n++
		}
	}
	return n
}

// TestHiddenPagesHoldNoBlockingQuery: browsers open at most six HTTP/1.1
// connections to one host, and the services view holds three blocking
// queries. A page that is hidden (a minimised window, a background tab)
// or left for another page (and perhaps kept in the back/forward cache)
// must let go of them, or two such pages hold every connection to the
// agent and the next tab cannot even load the UI. Once the page is
// visible again its queries resume from where they were, so a change made
// meanwhile shows at once.
func TestHiddenPagesHoldNoBlockingQuery(t *testing.T) {
	n := startAgent(t)
	c := n.API(t)
	b := newBrowser(t, n.HTTPAddr())

	// watches counts the blocking queries the pages have sent.
	watches := func() int {
		n := 0
		for _, r := range b.requestsSeen() {
			if strings.Contains(r, "wait=") {
				n++
			}
		}
		return n
	}
	b.subtest(t, "left", func(t *testing.T) {
		// Leave the UI for another page and open it again, three times,
		// each time once the open page has sent its three blocking
		// queries.
		for i := 1; i <= 3; i++ {
			eventually(t, "the view's blocking queries sent", 5*time.Second, func() error {
				if got := watches(); got < 3*i {
					return fmt.Errorf("%d sent by the %d pages opened", got, i)
				}
				return nil
			})
			b.run(20*time.Second, fmt.Sprintf("leave the UI and open it again (%d)", i),
				chromedp.Navigate("about:blank"),
				chromedp.Navigate(b.base+"/ui/#/services"),
				chromedp.WaitVisible(chromedp.CSS(`html[data-started] main .summary`)))
		}
	})
	b.subtest(t, "hidden", func(t *testing.T) {
		b.waitJS(5*time.Second, "the services view listed", `document.querySelector('main .summary') !== null`)
		b.resetFailed() // only this page's cancellations count
		b.setWindowState(cdpbrowser.WindowStateMinimized)
		b.waitJS(5*time.Second, "the page hidden", `document.visibilityState === 'hidden'`)
		eventually(t, "the hidden page's blocking queries canceled", 5*time.Second, func() error {
			if got := b.canceledWatches(); got < 3 {
				return fmt.Errorf("%d of the view's 3 blocking queries canceled", got)
			}
			return nil
		})
		if _, err := c.Catalog().Register(&api.CatalogRegistration{Node: "n1", Address: "10.0.0.1",
			Service: &api.AgentService{ID: "while-hidden", Service: "while-hidden", Port: 1}}, nil); err != nil {
			t.Fatal(err)
		}
		// Two more pages, each with its three blocking queries: had the
		// hidden page kept its three, the second could not load.
		// They are closed after, so that their six leave room for the
		// first page's again.
		var closeTabs []context.CancelFunc
		defer func() {
			for _, c := range closeTabs {
				c()
			}
		}()
		for i := 2; i <= 3; i++ {
			ctx, cancel := chromedp.NewContext(b.ctx)
			closeTabs = append(closeTabs, cancel)
			// The first action on a new page ties the page's life to its
			// context: not to the timeout of the next one.
			if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
				t.Fatalf("open page %d: %v", i, err)
			}
			tctx, tcancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Do(tctx, chromedp.Navigate(b.base+"/ui/#/services"),
				chromedp.WaitVisible(chromedp.CSS(`html[data-started] main .summary`)))
			tcancel()
			if err != nil {
				t.Fatalf("open the UI in page %d, with the first page hidden: %v", i, err)
			}
		}
		for _, c := range closeTabs {
			c() // closes the page
		}
		closeTabs = nil
		b.setWindowState(cdpbrowser.WindowStateNormal)
		b.waitJS(5*time.Second, "the page visible again", `document.visibilityState === 'visible'`)
		start := time.Now()
		b.waitJS(2*time.Second, "the service registered while hidden shown",
			`!!document.querySelector('tr[data-service="while-hidden"]')`)
		t.Logf("the service registered while the page was hidden showed %v after it was visible again", time.Since(start).Round(time.Millisecond))
	})
}
