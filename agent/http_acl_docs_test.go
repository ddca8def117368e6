package agent

import (
	"strings"
	"testing"
)

// TestRouteACL: the docs' ACL text is read from the routes' own decisions.
func TestRouteACL(t *testing.T) {
	cases := []struct {
		pattern, method, want string
	}{
		{"/v1/kv/{key...}", "GET", "`key` read"},
		{"/v1/kv/{key...}", "PUT", "`key` write"},
		{"/v1/snapshot", "PUT", "`acl` write"},
		{"/v1/operator/keyring", "GET", "`keyring` read"},
		{"/v1/shoal/services/{name}/rebalance", "PUT", "`deploy` write"},
		{"/v1/catalog/services", "GET", "results filtered to what the token may read (`service` read)"},
		{"/v1/catalog/node/{node...}", "GET", "`node` read; results filtered to what the token may read (`service` read)"},
		{"/v1/status/leader", "GET", "none: "},
		{"/v1/acl/tokens", "GET", "checked by the servers"},
		{"/v1/no/such/route", "GET", ""},
	}
	for _, tc := range cases {
		got := RouteACL(tc.pattern, tc.method)
		if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("RouteACL(%s %s) = %q, want %q", tc.method, tc.pattern, got, tc.want)
		}
	}
}
