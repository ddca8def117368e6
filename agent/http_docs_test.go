package agent_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestDocsServed checks that a running agent serves the embedded docs
// site at /docs/, pages and assets alike, read-only.
func TestDocsServed(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
	}})
	n := c.WaitForLeader(10 * time.Second)
	base := "http://" + n.HTTPAddr()
	cases := []struct {
		name, method, path string
		code               int
		ctype, body        string
	}{
		{"home", "GET", "/docs/", 200, "text/html", "<title>"},
		{"without slash redirects home", "GET", "/docs", 200, "text/html", "<title>"},
		{"api reference", "GET", "/docs/reference/api.html", 200, "text/html", `id="route-kv-key"`},
		{"style sheet", "GET", "/docs/style.css", 200, "text/css", "body"},
		{"search index", "GET", "/docs/search-index.js", 200, "javascript", "shoalSearchIndex"},
		{"missing page", "GET", "/docs/nope.html", 404, "text/plain", "not found"},
		{"read-only", "POST", "/docs/", 405, "text/plain", "not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) ||
				!strings.Contains(b.String(), tc.body) {
				t.Fatalf("%s %s: %d %s, body %.200q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
			}
		})
	}
}

// TestRoutesListsRouter checks that agent.Routes, which the docs are
// generated from, lists exactly what the router serves: every listed route
// answers (not 404), and a path outside the list is a 404.
func TestRoutesListsRouter(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
	}})
	n := c.WaitForLeader(10 * time.Second)
	base := "http://" + n.HTTPAddr()
	routes := agent.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes listed", len(routes))
	}
	for _, rt := range routes {
		// OPTIONS answers 200 with the route's methods for a registered
		// path (as Consul), 404 for an unknown one.
		path := strings.NewReplacer("{key...}", "k", "{id...}", "x", "{name...}", "x", "{node...}", "x",
			"{service...}", "x", "{state...}", "any", "{addr...}", "x", "{id}", "x", "{name}", "x", "{node}", "x").Replace(rt.Pattern)
		req, _ := http.NewRequest(http.MethodOptions, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := strings.Join(append([]string{http.MethodOptions}, rt.Methods...), ","); resp.StatusCode != http.StatusOK || resp.Header.Get("Allow") != want {
			t.Errorf("OPTIONS %s (%s): %d, Allow %q; want 200 and Allow %s", path, rt.Pattern, resp.StatusCode, resp.Header.Get("Allow"), want)
		}
	}
	resp, err := http.Get(base + "/v1/not-a-route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unlisted path: %d", resp.StatusCode)
	}
}
