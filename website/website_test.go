package website

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

var update = flag.Bool("update", false, "rewrite examples/api.json from a real agent")

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func build(t *testing.T) map[string][]byte {
	t.Helper()
	start := time.Now()
	files, err := Build(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %d files in %s", len(files), time.Since(start))
	return files
}

// TestSiteUpToDate fails when the site embedded in the agent
// (website/dist/site) differs from what the sources build to.
func TestSiteUpToDate(t *testing.T) {
	files := build(t)
	dir := filepath.Join(moduleRoot(t), "website", "dist", "site")
	committed := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		committed[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for name, b := range files {
		if !bytes.Equal(committed[name], b) {
			stale = append(stale, name)
		}
	}
	for name := range committed {
		if _, ok := files[name]; !ok {
			stale = append(stale, name+" (no longer built)")
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("website/dist/site is stale; run `go generate ./website/dist`. Differs: %s", strings.Join(stale, ", "))
	}
}

// TestReferenceCoversTables checks that every route, CLI command, agent
// flag, config key and spec key has its entry in the reference pages.
func TestReferenceCoversTables(t *testing.T) {
	files := build(t)
	ids := func(page string) map[string]bool {
		out := map[string]bool{}
		for _, m := range regexp.MustCompile(`id="([^"]+)"`).FindAllStringSubmatch(string(files[page]), -1) {
			out[m[1]] = true
		}
		return out
	}
	var routes, commands, flags, keys, specKeys []string
	for _, rt := range agent.Routes() {
		routes = append(routes, RouteAnchor(rt.Pattern))
	}
	for name := range CLICommands() {
		commands = append(commands, CommandAnchor(name))
	}
	for _, f := range AgentFlags() {
		flags = append(flags, FlagAnchor(f.Name))
	}
	for _, k := range ConfigKeys() {
		keys = append(keys, ConfigAnchor(k))
	}
	for _, k := range SpecKeys() {
		specKeys = append(specKeys, SpecAnchor(k))
	}
	t.Run("every route and method says what ACL it needs", func(t *testing.T) {
		for _, rt := range agent.Routes() {
			for _, m := range rt.Methods {
				if rt.ACL[m] == "" {
					t.Errorf("%s %s has no ACL text", m, rt.Pattern)
				}
			}
		}
	})
	cases := []struct {
		name, page string
		anchors    []string
		min        int
	}{
		{"routes", "reference/api.html", routes, 50},
		{"commands", "reference/cli.html", commands, 30},
		{"agent flags", "reference/config.html", flags, 20},
		{"config keys", "reference/config.html", keys, 30},
		{"spec keys", "reference/spec.html", specKeys, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.anchors) < tc.min {
				t.Fatalf("only %d %s found in the code's table", len(tc.anchors), tc.name)
			}
			have := ids(tc.page)
			for _, a := range tc.anchors {
				if !have[a] {
					t.Errorf("%s has no #%s", tc.page, a)
				}
			}
			t.Logf("%d %s, all documented in %s", len(tc.anchors), tc.name, tc.page)
		})
	}
	t.Run("every route has a captured example or probe", func(t *testing.T) {
		ex, err := LoadExamples(filepath.Join(moduleRoot(t), examplesPath))
		if err != nil {
			t.Fatal(err)
		}
		withExample := map[string]bool{}
		for _, e := range ex.Examples {
			withExample[e.Method+" "+e.Route] = true
		}
		n := 0
		for _, rt := range agent.Routes() {
			if _, probed := ex.Routes[rt.Pattern]; hasGet(rt) && !probed {
				t.Errorf("GET %s was never probed: run `go test ./website -run TestAPIExamples -update`", rt.Pattern)
			}
			all := true
			for _, m := range rt.Methods {
				k := m + " " + rt.Pattern
				_, exempt := noExample[k]
				switch {
				case withExample[k] && exempt:
					t.Errorf("%s has an example and is in noExample: drop it from noExample", k)
				case !withExample[k] && !exempt:
					all = false
					t.Errorf("%s has no curl example: add a step to exampleSteps (website/examples.go) and run `go test ./website -run TestAPIExamples -update`", k)
				}
			}
			if all {
				n++
			}
		}
		t.Logf("%d of %d routes have a curl example with a real response for every method (or are in noExample)", n, len(agent.Routes()))
	})
}

// TestAPIExamples runs every example request of the API reference against
// a real single-server agent and checks that the status, and the JSON
// shape or the text, are the ones the reference shows. With -update it
// rewrites examples/api.json from the responses instead.
func TestAPIExamples(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.NodeName = "docs"
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
		// ACLs on (default deny) so the /v1/acl examples succeed: the
		// first step bootstraps them; gossip encryption on for the keyring.
		cfg.ACL.Enabled = true
		cfg.Encrypt = captureKey
	}})
	n := c.WaitForLeader(15 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := Capture(ctx, "http://"+n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(moduleRoot(t), examplesPath)
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d examples and %d probed routes to %s", len(got.Examples), len(got.Routes), path)
		return
	}
	want, err := LoadExamples(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Examples) != len(got.Examples) {
		t.Fatalf("%d examples captured, %d in %s: run with -update", len(want.Examples), len(got.Examples), examplesPath)
	}
	for i, w := range want.Examples {
		g := got.Examples[i]
		t.Run(w.Method+" "+w.Route, func(t *testing.T) {
			if g.Method != w.Method || g.Route != w.Route || g.Status != w.Status || g.Shape != w.Shape {
				t.Fatalf("%s %s: got %d %s, the reference shows %d %s", g.Method, g.Path, g.Status, g.Shape, w.Status, w.Shape)
			}
			// Text bodies of successes must match; error texts may name
			// the host's drivers and such, so only their status is checked.
			if w.Shape == "" && w.Status < 300 && g.Response != w.Response {
				t.Fatalf("%s %s: got %q, the reference shows %q", g.Method, g.Path, g.Response, w.Response)
			}
		})
	}
	for route, w := range want.Routes {
		if g := got.Routes[route]; g != w {
			t.Errorf("GET %s: probed %+v, the reference says %+v", route, g, w)
		}
	}
	t.Logf("%d curl examples run against a real agent", len(got.Examples))
}
