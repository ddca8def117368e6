package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/tlstest"
)

// TestVisiblePagesOverHTTPS: over HTTP/1.1 a browser opens at most six
// connections to the agent, and each visible services view holds three
// blocking queries, so a third visible page cannot load. Over HTTPS the
// agent speaks HTTP/2 and every request shares one connection: four
// visible pages open, each over h2. (Without the agent's h2 offer the
// third page does not open.)
func TestVisiblePagesOverHTTPS(t *testing.T) {
	pki := tlstest.New(t)
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.CAFile, cfg.CertFile, cfg.KeyFile = pki.CA.Cert, pki.Server.Cert, pki.Server.Key
		cfg.Ports.HTTPS = testcluster.ExtraPort(t, cfg)
	}})
	n := c.WaitForLeader(20 * time.Second)
	base := fmt.Sprintf("https://127.0.0.1:%d", n.Cfg.Ports.HTTPS)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(findChromium(t)),
		chromedp.Env("TMPDIR="+t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true),
		// The agent's certificate is signed by the test's own CA.
		chromedp.Flag("ignore-certificate-errors", true), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	for i := 1; i <= 4; i++ {
		ctx := bctx
		if i > 1 {
			var cancel context.CancelFunc
			ctx, cancel = chromedp.NewContext(bctx)
			t.Cleanup(cancel)
		}
		// The first action on a page ties its life to ctx, not to the
		// timeout below.
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(tctx, chromedp.Navigate(base+"/ui/#/services"),
			chromedp.WaitVisible(chromedp.CSS(`html[data-started] main .summary`)))
		cancel()
		if err != nil {
			t.Fatalf("open the UI over HTTPS in visible page %d: %v", i, err)
		}
		proto, err := chromedp.Run(ctx, chromedp.Evaluate[string](`performance.getEntriesByType('navigation')[0].nextHopProtocol`))
		if err != nil || proto != "h2" {
			t.Fatalf("page %d loaded over %q (%v), want h2", i, proto, err)
		}
		// Its three blocking queries are sent before the next page opens.
		time.Sleep(500 * time.Millisecond)
	}
}
