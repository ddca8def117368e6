package agent

import (
	"context"
	"testing"

	"github.com/shoalproject/shoal/acl"
)

// TestDNSFilteredByDefaultToken: DNS answers only what the default token
// may read — the service and each instance's node.
func TestDNSFilteredByDefaultToken(t *testing.T) {
	f := newFakeCatalog()
	f.set(3) // web on na, nb, nc
	cases := []struct {
		name  string
		rules string
		want  []string
	}{
		{"service and every node", `service "web" { policy = "read" }
node_prefix "" { policy = "read" }`, []string{"na", "nb", "nc"}},
		{"service and one node", `service "web" { policy = "read" }
node "nb" { policy = "read" }`, []string{"nb"}},
		{"nodes but not the service", `node_prefix "" { policy = "read" }`, nil},
		{"another service", `service "db" { policy = "read" }
node_prefix "" { policy = "read" }`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := acl.ParseRules(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			z := acl.NewAuthorizer("", acl.DefaultDeny, rules)
			r := &aclDNSReader{inner: newTestReader(t, f, 0),
				authorizer: func(context.Context) (*acl.Authorizer, error) { return z, nil }}
			got, err := r.ServiceNodes(context.Background(), "dc1", "web")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, in := range got {
				names = append(names, in.Node.Node)
			}
			if len(names) != len(tc.want) {
				t.Fatalf("instances on %v, want %v", names, tc.want)
			}
			for i := range names {
				if names[i] != tc.want[i] {
					t.Fatalf("instances on %v, want %v", names, tc.want)
				}
			}
		})
	}
}
