package ui

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

// MemoryMinutesVar turns on TestPageMemory and sets how long it runs; the
// measurement takes minutes, so it is not part of the default suite.
const MemoryMinutesVar = "SHOAL_UI_MEMORY_MINUTES"

// pageMetrics collects garbage in the page, then reads Chromium's
// Performance metrics, by name (JSHeapUsedSize in bytes, Nodes,
// JSEventListeners, ...).
func pageMetrics(b *browser) map[string]float64 {
	b.t.Helper()
	out := map[string]float64{}
	b.run(30*time.Second, "page metrics", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, performance.Enable, performance.EnableParams{}); err != nil {
			return err
		}
		r, err := cdp.Call(ctx, tg, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			return err
		}
		for _, m := range r.Metrics {
			out[m.Name] = m.Value
		}
		return nil
	}))
	return out
}

// TestPageMemory measures the services view's memory while the cluster is
// busy (a KV write every 20 ms, a check flapping every 200 ms, so the view
// re-renders several times a second) for $SHOAL_UI_MEMORY_MINUTES minutes:
// the JS heap after a garbage collection, DOM nodes and event listeners,
// each minute. It fails when the heap grows without bound (more than
// doubles, plus 4 MB of slack), the DOM keeps nodes of old renders or
// listeners pile up.
//
//	SHOAL_UI_MEMORY_MINUTES=10 go test ./test/ui -run TestPageMemory -v -timeout 20m
func TestPageMemory(t *testing.T) {
	s := os.Getenv(MemoryMinutesVar)
	if s == "" {
		t.Skipf("a measurement of minutes: set %s=10 to run it", MemoryMinutesVar)
	}
	minutes, err := strconv.Atoi(s)
	if err != nil || minutes < 1 {
		t.Fatalf("%s=%q: want a whole number of minutes", MemoryMinutesVar, s)
	}
	n := startAgent(t)
	c := n.API(t)
	b := newBrowser(t, n.HTTPAddr())
	stopBusy := startBusy(t, c)
	defer stopBusy()
	b.goTo("#/services")
	b.waitJS(10*time.Second, "flappy listed", `!!document.querySelector('tr[data-service="flappy"]')`)
	time.Sleep(10 * time.Second) // warm up: first renders, compiled code
	start := pageMetrics(b)
	const mb = 1 << 20
	t.Logf("start: JS heap %.1f MB used of %.1f MB, %v DOM nodes, %v listeners",
		start["JSHeapUsedSize"]/mb, start["JSHeapTotalSize"]/mb, start["Nodes"], start["JSEventListeners"])
	var last map[string]float64
	for m := 1; m <= minutes; m++ {
		time.Sleep(time.Minute)
		last = pageMetrics(b)
		t.Logf("after %2d min: JS heap %.1f MB used of %.1f MB, %v DOM nodes, %v listeners, %v documents",
			m, last["JSHeapUsedSize"]/mb, last["JSHeapTotalSize"]/mb, last["Nodes"], last["JSEventListeners"], last["Documents"])
	}
	b.screenshot("memory-end")
	b.checkPage()
	if used := last["JSHeapUsedSize"]; used > 2*start["JSHeapUsedSize"]+4*mb {
		t.Errorf("JS heap grew from %.1f MB to %.1f MB in %d minutes", start["JSHeapUsedSize"]/mb, used/mb, minutes)
	}
	if nodes := last["Nodes"]; nodes > 2*start["Nodes"]+500 {
		t.Errorf("DOM nodes grew from %v to %v: old renders are kept", start["Nodes"], nodes)
	}
	if ls := last["JSEventListeners"]; ls > 2*start["JSEventListeners"]+50 {
		t.Errorf("event listeners grew from %v to %v: something adds one per update", start["JSEventListeners"], ls)
	}
}
