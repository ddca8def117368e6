package agent

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryRouteHasACLDecision walks the router's own table: a route with
// no ACL decision, or an ambiguous one, fails here (and makes the agent
// panic at start), so no endpoint can be added without deciding who may
// call it (the CVE-2020-7955 class: an endpoint that forgot its check).
func TestEveryRouteHasACLDecision(t *testing.T) {
	decisions := routeACLs()
	seen := map[string]bool{}
	for _, rt := range (&Agent{}).apiRoutes() {
		seen[rt.pattern] = true
		d, ok := decisions[rt.pattern]
		if !ok {
			t.Errorf("route %s %v has no ACL decision in routeACLs", rt.pattern, rt.methods)
			continue
		}
		kinds := 0
		if d.none != "" {
			kinds++
		}
		if d.server {
			kinds++
		}
		if d.check != nil || d.filter != nil {
			kinds++
		}
		if kinds != 1 {
			t.Errorf("route %s: want exactly one of none, server, check/filter; got %d", rt.pattern, kinds)
		}
	}
	for p := range decisions {
		if !seen[p] {
			t.Errorf("routeACLs has a decision for %s, which is no route", p)
		}
	}
}

// TestRedactedURLHidesToken: a ?token= secret never reaches the request log.
func TestRedactedURLHidesToken(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/kv/a?recurse&token=s3cret", nil)
	got := redactedURL(r)
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "recurse") {
		t.Fatalf("redactedURL = %q", got)
	}
}
