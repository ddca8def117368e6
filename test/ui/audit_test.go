package ui

import (
	"context"
	_ "embed"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/hashicorp/consul/api"
)

// axeSource is axe-core (testdata/axe.min.js, MPL-2.0, from the npm
// registry), injected into the page by the test only: the served UI does
// not contain it.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeRun runs the audit and lists the serious and critical violations,
// after the number of rules that passed (so that an audit that checked
// nothing shows).
const axeRun = `axe.run(document).then((r) => [String(r.passes.length)].concat(r.violations
	.filter((v) => v.impact === 'serious' || v.impact === 'critical')
	.map((v) => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '))))`

// settled is true once the view has rendered its data.
const settled = `!!document.querySelector('main h1') && !document.querySelector('main').textContent.includes('Loading…')`

func setColorScheme(b *browser, scheme string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
	if err != nil {
		b.t.Fatalf("emulate %s: %v", scheme, err)
	}
}

// testViews visits every view in the light and the dark scheme, writes a
// screenshot of each and runs the axe-core audit on it.
func testViews(t *testing.T, b *browser, c *api.Client) {
	// Something to show in each view: a session holding a lock.
	id, _, err := c.Session().Create(&api.SessionEntry{Name: "ui-lock", TTL: "60s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := c.KV().Acquire(&api.KVPair{Key: "ui-test/lock", Session: id}, nil); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	views := []string{"#/services", "#/services/web", "#/nodes", "#/nodes/s1", "#/kv/", "#/kv/ui-test/",
		"#/kv/ui-test/lock", "#/kv/?new", "#/sessions", "#/deployments", "#/deploy", "#/placement", "#/overlay",
		"#/settings", "#/no-such-view"}
	if !eval[bool](b, `typeof axe !== 'undefined'`) {
		eval[bool](b, axeSource+"\n;true")
	}
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(b, scheme)
		for _, v := range views {
			b.goTo(v)
			b.waitJS(5*time.Second, v+" rendered", settled)
			b.screenshot("view-" + scheme + "-" + strings.TrimPrefix(v, "#/"))
			res := eval[[]string](b, axeRun)
			if passed, _ := strconv.Atoi(res[0]); passed < 10 {
				t.Errorf("axe, %s scheme, %s: only %s rules passed: did it run?", scheme, v, res[0])
			}
			if bad := res[1:]; len(bad) > 0 {
				t.Errorf("axe, %s scheme, %s:\n  %s", scheme, v, strings.Join(bad, "\n  "))
			}
		}
	}
	setColorScheme(b, "")

	// The views show what they are about.
	b.goTo("#/nodes")
	b.waitJS(5*time.Second, "node s1 alive", `document.querySelector('tr[data-node="s1"]')?.textContent.includes('alive')`)
	b.goTo("#/sessions")
	b.waitJS(5*time.Second, "session listed", `!!document.querySelector('tr[data-session="`+id+`"]')`)
	b.clickText("Destroy")
	b.clickText("Yes, destroy")
	b.waitJS(5*time.Second, "session gone from the page", `!document.querySelector('tr[data-session="`+id+`"]')`)
	if s, _, err := c.Session().Info(id, nil); err != nil || s != nil {
		t.Fatalf("session still there after destroy: %v %v", s, err)
	}
	// The back button returns to the previous view.
	b.goTo("#/overlay")
	b.run(5*time.Second, "back", chromedp.NavigateBack())
	b.waitJS(5*time.Second, "back to sessions", `location.hash === '#/sessions' && document.querySelector('main h1').textContent === 'Sessions'`)
}

// testIdle counts the API requests of the services view while nothing
// changes. Blocking queries wait up to 5 minutes, so an idle page sends
// next to none; a page that polled would send many.
func testIdle(t *testing.T, b *browser, c *api.Client) {
	window := 15 * time.Second
	if s := os.Getenv("SHOAL_UI_IDLE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SHOAL_UI_IDLE_SECONDS: %v", err)
		}
		window = time.Duration(n) * time.Second
	}
	b.goTo("#/services")
	b.waitJS(5*time.Second, "rendered", settled)
	time.Sleep(time.Second) // the first answers and the instance counts
	b.resetRequests()
	time.Sleep(window)
	reqs := b.requestsSeen()
	perMin := float64(len(reqs)) / window.Minutes()
	t.Logf("idle services view: %d API requests in %v (%.1f per minute): %q", len(reqs), window, perMin, reqs)
	if perMin > 6 {
		t.Errorf("an idle page sent %.1f requests per minute; blocking queries should make it about 1", perMin)
	}

	// Busy: KV writes every 20 ms and a check elsewhere flapping every
	// 200 ms while the page sits idle. KV writes wake none of the view's
	// queries; each flap wakes the critical- and warning-checks queries
	// (the checks table's index moves), each of which reads at most twice
	// a second (api.js MIN_GAP).
	const busy = 10 * time.Second
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		reg := &api.AgentServiceRegistration{ID: "flappy", Name: "flappy",
			Check: &api.AgentServiceCheck{CheckID: "flappy-ttl", TTL: "10m"}}
		if err := c.Agent().ServiceRegister(reg); err != nil {
			t.Error(err)
			return
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_, _ = c.KV().Put(&api.KVPair{Key: "busy/k", Value: []byte(strconv.Itoa(i))}, nil)
			if i%10 == 0 {
				status := api.HealthPassing
				if i%20 == 0 {
					status = api.HealthCritical
				}
				_ = c.Agent().UpdateTTL("flappy-ttl", "", status)
			}
		}
	}()
	time.Sleep(2 * time.Second) // the registration settles
	b.resetRequests()
	time.Sleep(busy)
	reqs = b.requestsSeen()
	close(stop)
	<-done
	byPath := map[string]int{}
	for _, r := range reqs {
		p := r
		if i := strings.IndexAny(p, "?"); i >= 0 {
			p = p[:i]
		}
		byPath[p]++
	}
	t.Logf("services view on a busy cluster: %d API requests in %v (%.0f per minute): %v", len(reqs), busy,
		float64(len(reqs))/busy.Minutes(), byPath)
	if max := int(busy.Seconds())*2*3 + 3; len(reqs) > max {
		t.Errorf("%d requests in %v, more than 2 a second per watch", len(reqs), busy)
	}
}
