package agent

import (
	"strings"
	"testing"

	"github.com/shoalproject/shoal/catalog"
)

// TestFilterOperators evaluates Consul's operators on the nested fields of
// a /v1/health/service entry.
func TestFilterOperators(t *testing.T) {
	web := healthServiceJSON{
		Node:    &catalog.Node{Node: "n1", Meta: map[string]string{"rack": "r1"}},
		Service: &agentServiceJSON{Service: "web", Tags: []string{"blue", "v2"}, Meta: map[string]string{"env": "prod"}, Port: 8080},
		Checks:  []*catalog.HealthCheck{{Status: "passing"}, {Status: "critical", ServiceTags: []string{"blue"}}},
	}
	db := healthServiceJSON{
		Node:    &catalog.Node{Node: "n2", Meta: map[string]string{}},
		Service: &agentServiceJSON{Service: "db", Tags: []string{}, Meta: map[string]string{}, Port: 5432},
		Checks:  []*catalog.HealthCheck{{Status: "passing"}},
	}
	cases := []struct {
		filter string
		want   []string // services kept
	}{
		{`Service.Service == web`, []string{"web"}},
		{`Service.Service != "web"`, []string{"db"}},
		{`Service.Port == 5432`, []string{"db"}},
		{`Service.Meta.env == prod`, []string{"web"}},
		{`Service.Meta.env != prod`, []string{"db"}}, // a missing key is != anything
		{`Service.Meta["env"] == "prod"`, []string{"web"}},
		{`blue in Service.Tags`, []string{"web"}},
		{`blue not in Service.Tags`, []string{"db"}},
		{`Service.Tags contains v2`, []string{"web"}},
		{`Service.Tags not contains v2`, []string{"db"}},
		{`Service.Meta contains env`, []string{"web"}},
		{`Service.Service matches "^w.b$"`, []string{"web"}},
		{`Service.Service not matches "^w"`, []string{"db"}},
		{`Service.Tags is empty`, []string{"db"}},
		{`Service.Meta is not empty`, []string{"web"}},
		{`Node.Meta is empty`, []string{"db"}},
		{`Node.Meta.rack == r1`, []string{"web"}},
		{`Checks.Status == critical`, []string{"web"}}, // any element
		{`Checks.Status != passing`, []string{"web"}},  // any element differs
		{`blue in Checks.ServiceTags`, []string{"web"}},
		{`Service.Port == 8080 and Node.Node == n1`, []string{"web"}},
		{`Service.Port == 1 or Node.Node == n2`, []string{"db"}},
		{`not (Service.Service == web)`, []string{"db"}},
		{`not not (Service.Service == web)`, []string{"web"}},
		{`((((Service.Port == 8080 and (Node.Node == n1)))))`, []string{"web"}},
		{`"((" in Service.Tags or Service.Meta.env == prod`, []string{"web"}},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := compileFilter(tc.filter, healthServiceJSON{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range []healthServiceJSON{web, db} {
				if f.match(e) {
					got = append(got, e.Service.Service)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFilterRefused: unknown selectors, bad values and oversized or
// deeply nested expressions are refused before anything is evaluated.
func TestFilterRefused(t *testing.T) {
	cases := []struct{ name, filter, msg string }{
		{"unknown field", `Service.Nope == x`, `Selector "Service.Nope" is not valid`},
		{"typo at top", `Nodee.Node == x`, `is not valid`},
		{"into a string", `Node.Node.x == y`, `is not valid`},
		{"value of the wrong type", `Service.Port == abc`, `Failed to coerce`},
		{"syntax", `Service.Service ==`, ``},
		{"too long", strings.Repeat(`Service.Port == 1 or `, 1000) + `Service.Port == 2`, "more than the limit"},
		{"too deep parens", strings.Repeat("(", 40) + `Service.Port == 1` + strings.Repeat(")", 40), "levels deep"},
		{"too deep nots", strings.Repeat("not ", 40) + `Service.Port == 1`, "levels deep"},
		{"much inside parentheses", strings.Repeat("(", 6) + `Service.Port == 1 or Service.Port == 2` + strings.Repeat(")", 6), "cost"},
		{"big group", "((" + strings.Repeat(`Service.Port == 1 or `, 250) + `Service.Port == 2))`, "cost"},
		{"nots inside parens", strings.Repeat("not (", 20) + `Service.Port == 1` + strings.Repeat(")", 20), "levels deep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compileFilter(tc.filter, healthServiceJSON{})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

// TestFilterDepth: and/or at one level do not add up; quoted text and
// "not" as part of an operator do not count.
func TestFilterDepth(t *testing.T) {
	cases := []struct {
		filter string
		want   int
	}{
		{`a == b`, 0},
		{`not a == b and not c == d and not e == f`, 1},
		{`(a == b) and ((c == d))`, 2},
		{`not (not (a == b))`, 4},
		{`"((((" in a and b not in c and d is not empty and e not matches "x"`, 0},
		{strings.Repeat(`not a == b or `, 100) + `a == b`, 1},
	}
	for _, tc := range cases {
		if got := filterDepth(tc.filter); got != tc.want {
			t.Errorf("filterDepth(%q) = %d, want %d", tc.filter, got, tc.want)
		}
	}
}
