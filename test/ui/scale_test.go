package ui

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashicorp/consul/api"
)

// TestServicesView10k registers 10,000 services and measures the first
// render of the services view in Chromium (navigation start to the list
// being visible), then the filter's response and a live change.
func TestServicesView10k(t *testing.T) {
	const total = 10000
	n := startAgent(t)
	c := n.API(t)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < total; i += 16 {
				_, err := c.Catalog().Register(&api.CatalogRegistration{Node: "bulk", Address: "10.0.0.1",
					Service: &api.AgentService{ID: fmt.Sprintf("svc-%05d", i), Service: fmt.Sprintf("svc-%05d", i),
						Tags: []string{"bulk", fmt.Sprintf("shard-%d", i%10)}, Port: 1000 + i%1000}}, nil)
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("registered %d services in %v", total, time.Since(start).Round(time.Millisecond))

	b := newBrowser(t, n.HTTPAddr())
	b.subtest(t, "first render", func(t *testing.T) {
		// A fresh document, so that performance.now() counts from navigation.
		b.run(30*time.Second, "reload", chromedp.Navigate(b.base+"/ui/#/services"))
		b.waitJS(20*time.Second, "list visible", fmt.Sprintf(`document.querySelectorAll('tr[data-service]').length > 0 &&
			document.querySelector('main .summary')?.textContent === '%d services'`, total+1))
		ms := eval[float64](b, `performance.now()`)
		rows := eval[int](b, `document.querySelectorAll('tr[data-service]').length`)
		t.Logf("services view with %d services: list visible %.0f ms after navigation start, %d rows rendered", total+1, ms, rows)
		b.screenshot("services-10k")
		if rows > 200 {
			t.Errorf("%d rows rendered: the list must page", rows)
		}
	})
	b.subtest(t, "filter", func(t *testing.T) {
		ms := eval[float64](b, `(() => { const f = document.querySelector('#svc-filter'); const t0 = performance.now();
			f.value = 'svc-09999'; f.dispatchEvent(new Event('input')); return performance.now() - t0; })()`)
		b.waitJS(time.Second, "one match", `document.querySelectorAll('tr[data-service]').length === 1`)
		t.Logf("filtering %d services took %.1f ms", total+1, ms)
		if !eval[bool](b, `location.hash === '#/services?filter=svc-09999'`) {
			t.Error("the filter is not in the URL")
		}
	})
	b.subtest(t, "live change", func(t *testing.T) {
		start := time.Now()
		if _, err := c.Catalog().Register(&api.CatalogRegistration{Node: "bulk", Address: "10.0.0.1",
			Service: &api.AgentService{ID: "svc-09999-b", Service: "svc-09999b", Port: 1}}, nil); err != nil {
			t.Fatal(err)
		}
		b.waitJS(2*time.Second, "new service shown", `!!document.querySelector('tr[data-service="svc-09999b"]')`)
		t.Logf("a new service showed %v after its registration", time.Since(start).Round(time.Millisecond))
	})
}
