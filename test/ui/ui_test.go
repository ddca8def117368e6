package ui

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/ui"
)

// startAgent starts one server agent (it elects itself) and waits for it.
func startAgent(t *testing.T) *testcluster.Node {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Servers: 1})
	return c.WaitForLeader(20 * time.Second)
}

// kvValue reads a key through the HTTP API; ok is false when absent.
func kvValue(t *testing.T, c *api.Client, key string) (string, bool) {
	t.Helper()
	p, _, err := c.KV().Get(key, nil)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if p == nil {
		return "", false
	}
	return string(p.Value), true
}

func eventually(t *testing.T, what string, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUI drives the UI of a real agent in Chromium: the KV editor (create,
// edit, delete, CAS conflict, a script-looking value), live health.
func TestUI(t *testing.T) {
	n := startAgent(t)
	c := n.API(t)
	b := newBrowser(t, n.HTTPAddr())

	b.subtest(t, "served with a CSP", func(t *testing.T) {
		for _, path := range []string{"/ui/", "/ui/js/app.js", "/ui/css/app.css"} {
			resp, err := http.Get(b.base + path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != ui.CSP {
				t.Errorf("GET %s: %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
			}
		}
		// The root redirects to the UI.
		resp, err := http.Get(b.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/ui/" || resp.StatusCode != 200 {
			t.Errorf("GET / ended at %s with %d, want /ui/ 200", resp.Request.URL.Path, resp.StatusCode)
		}
	})

	b.subtest(t, "kv create edit delete", func(t *testing.T) {
		b.goTo("#/kv/")
		b.clickText("Create key")
		b.waitJS(5*time.Second, "create form", `location.hash === '#/kv/?new' && !!document.querySelector('#kv-new-key')`)
		b.setValue("#kv-new-key", "ui-test/greeting")
		b.typeInto("#kv-new-value", "hello")
		b.click("#kv-create")
		b.waitJS(5*time.Second, "editor of the new key", `location.hash === '#/kv/ui-test/greeting' && document.querySelector('#kv-value')?.value === 'hello'`)
		if v, ok := kvValue(t, c, "ui-test/greeting"); !ok || v != "hello" {
			t.Fatalf("after create the API has %q (present %v), want hello", v, ok)
		}
		b.screenshot("kv-editor")

		b.typeInto("#kv-value", " world")
		b.click("#kv-save")
		b.waitJS(5*time.Second, "saved", `document.querySelector('main .status')?.textContent.includes('Saved')`)
		if v, _ := kvValue(t, c, "ui-test/greeting"); v != "hello world" {
			t.Fatalf("after save the API has %q, want %q", v, "hello world")
		}

		// The folder lists it, live: a key written through the API appears.
		b.goTo("#/kv/ui-test/")
		b.waitJS(5*time.Second, "key listed", `!!document.querySelector('a[data-key="ui-test/greeting"]')`)
		if _, err := c.KV().Put(&api.KVPair{Key: "ui-test/other", Value: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
		b.waitJS(time.Second, "a key written elsewhere shows within 1 s", `!!document.querySelector('a[data-key="ui-test/other"]')`)
		b.screenshot("kv-folder")

		b.goTo("#/kv/ui-test/greeting")
		b.waitJS(5*time.Second, "editor", `document.querySelector('#kv-value')?.value === 'hello world'`)
		b.clickText("Delete")
		b.clickText("Yes, delete")
		b.waitJS(5*time.Second, "back in the folder", `location.hash === '#/kv/ui-test/'`)
		if _, ok := kvValue(t, c, "ui-test/greeting"); ok {
			t.Fatal("the key is still there after delete")
		}
	})

	b.subtest(t, "kv cas conflict", func(t *testing.T) {
		if _, err := c.KV().Put(&api.KVPair{Key: "ui-test/cas", Value: []byte("v1")}, nil); err != nil {
			t.Fatal(err)
		}
		b.goTo("#/kv/ui-test/cas")
		b.waitJS(5*time.Second, "editor", `document.querySelector('#kv-value')?.value === 'v1'`)
		b.typeInto("#kv-value", " mine")
		// Someone else changes the key meanwhile.
		if _, err := c.KV().Put(&api.KVPair{Key: "ui-test/cas", Value: []byte("theirs")}, nil); err != nil {
			t.Fatal(err)
		}
		b.waitJS(2*time.Second, "changed-elsewhere notice", `document.querySelector('main .status')?.textContent.includes('Changed elsewhere')`)
		b.click("#kv-save")
		b.waitJS(5*time.Second, "conflict shown", `document.querySelector('main .status .conflict')?.textContent.includes('changed by someone else')`)
		b.screenshot("kv-conflict")
		if v, _ := kvValue(t, c, "ui-test/cas"); v != "theirs" {
			t.Fatalf("a conflicting save overwrote the key: %q", v)
		}
		b.clickText("Overwrite with mine")
		b.waitJS(5*time.Second, "saved", `document.querySelector('main .status')?.textContent.includes('Saved')`)
		if v, _ := kvValue(t, c, "ui-test/cas"); v != "v1 mine" {
			t.Fatalf("after overwrite the API has %q, want %q", v, "v1 mine")
		}
	})

	b.subtest(t, "script-looking values are inert", func(t *testing.T) {
		evil := `<script>alert(1)</script><img src=x onerror="alert(2)">`
		for _, key := range []string{"ui-test/xss", "ui-test/<img src=x onerror=alert(3)>"} {
			if _, err := c.KV().Put(&api.KVPair{Key: key, Value: []byte(evil)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.KV().Put(&api.KVPair{Key: "ui-test/xss.json", Value: []byte(`{"a": "` + strings.ReplaceAll(evil, `"`, `\"`) + `"}`)}, nil); err != nil {
			t.Fatal(err)
		}
		reg := &api.AgentServiceRegistration{ID: "xss-1", Name: "xss<img src=x onerror=alert(4)>", Tags: []string{"<b>bold</b>"},
			Meta: map[string]string{"m": "<script>alert(5)</script>"}, Port: 1}
		if err := c.Agent().ServiceRegister(reg); err != nil {
			t.Fatal(err)
		}
		b.goTo("#/kv/ui-test/")
		b.waitJS(5*time.Second, "listed", `!!document.querySelector('a[data-key="ui-test/<img src=x onerror=alert(3)>"]')`)
		b.goTo("#/kv/ui-test/xss")
		b.waitJS(5*time.Second, "value shown as text", fmt.Sprintf(`document.querySelector('#kv-value')?.value === %q`, evil))
		b.goTo("#/kv/ui-test/xss.json")
		b.waitJS(5*time.Second, "formatted JSON shown", `!!document.querySelector('pre.pretty')`)
		b.goTo("#/services")
		b.waitJS(5*time.Second, "service listed", `[...document.querySelectorAll('tr[data-service]')].some((r) => r.dataset.service.startsWith('xss'))`)
		b.goTo("#/services/" + "xss%3Cimg%20src%3Dx%20onerror%3Dalert(4)%3E")
		b.waitJS(5*time.Second, "instance shown", `!!document.querySelector('[data-instance="xss-1"]')`)
		b.screenshot("xss-service")
		if n := eval[int](b, `document.querySelectorAll('main script, main img, main b').length`); n != 0 {
			t.Errorf("%d elements were created from data", n)
		}
		// checkPage (run by subtest) fails on any alert dialog.
	})

	b.subtest(t, "critical check turns the instance red live", func(t *testing.T) {
		for _, id := range []string{"web-1", "web-2"} {
			reg := &api.AgentServiceRegistration{ID: id, Name: "web", Port: 8080, Tags: []string{"v1"},
				Check: &api.AgentServiceCheck{CheckID: id + "-ttl", TTL: "10m", Status: api.HealthPassing}}
			if err := c.Agent().ServiceRegister(reg); err != nil {
				t.Fatal(err)
			}
		}
		b.goTo("#/services")
		b.waitJS(5*time.Second, "web listed", `document.querySelector('tr[data-service="web"]')?.dataset.status === 'passing'`)
		b.screenshot("services")
		b.goTo("#/services/web")
		b.waitJS(5*time.Second, "two passing instances", `document.querySelectorAll('[data-instance][data-status="passing"]').length === 2`)
		start := time.Now()
		if err := c.Agent().UpdateTTL("web-1-ttl", "disk full", api.HealthCritical); err != nil {
			t.Fatal(err)
		}
		b.waitJS(2*time.Second, "web-1 critical within 2 s", `document.querySelector('[data-instance="web-1"]')?.dataset.status === 'critical'`)
		t.Logf("instance turned critical in the page %v after the API call", time.Since(start).Round(time.Millisecond))
		// It stands out: red border, listed first, its output shown.
		color := eval[string](b, `getComputedStyle(document.querySelector('[data-instance="web-1"]')).borderTopColor`)
		other := eval[string](b, `getComputedStyle(document.querySelector('[data-instance="web-2"]')).borderTopColor`)
		if color == other {
			t.Errorf("critical instance border %s is the same as a passing one's", color)
		}
		if first := eval[string](b, `document.querySelector('[data-instance]').dataset.instance`); first != "web-1" {
			t.Errorf("first instance is %s, want the critical web-1", first)
		}
		if !eval[bool](b, `document.querySelector('[data-instance="web-1"]').textContent.includes('disk full')`) {
			t.Error("the check's output is not shown")
		}
		b.screenshot("service-critical")
		b.goTo("#/services")
		b.waitJS(2*time.Second, "list shows web critical", `document.querySelector('tr[data-service="web"]')?.dataset.status === 'critical'`)
	})

	b.subtest(t, "deploy scale remove", func(t *testing.T) { testDeploy(t, b, c) })
	b.subtest(t, "every view audited", func(t *testing.T) { testViews(t, b, c) })
	b.subtest(t, "idle requests", func(t *testing.T) { testIdle(t, b, c) })
}
