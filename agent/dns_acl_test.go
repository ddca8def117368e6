package agent

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/dns"
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

// TestDNSVirtualAndQueryUnderDefaultToken: with ACLs on, <service>.virtual
// and <query>.query names still resolve (the ACL reader passes the
// abilities through) for a token that may read them, and not otherwise.
func TestDNSVirtualAndQueryUnderDefaultToken(t *testing.T) {
	f := newFakeCatalog()
	f.set(2) // web on na, nb
	inner := newTestReader(t, f, 0)
	vip := netip.MustParseAddr("10.42.0.250")
	inner.vips = func(service string) (netip.Addr, bool) { return vip, service == "web" }
	inner.execQuery = func(ctx context.Context, dc, name string, stale bool) ([]catalog.Instance, string, time.Duration, bool, error) {
		if name != "q-web" {
			return nil, "", 0, false, nil
		}
		insts, err := inner.ServiceNodes(ctx, dc, "web")
		return insts, "web", 0, true, err
	}
	cases := []struct {
		name      string
		rules     string
		wantVIP   bool
		wantNodes int
	}{
		{"service, nodes and query", "service \"web\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\nquery \"q-web\" { policy = \"read\" }", true, 2},
		{"query but one node", "service \"web\" { policy = \"read\" }\nnode \"nb\" { policy = \"read\" }\nquery \"q-web\" { policy = \"read\" }", true, 1},
		{"no query rule", "service \"web\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }", true, 0},
		{"nothing", "", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := acl.ParseRules(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			z := acl.NewAuthorizer("", acl.DefaultDeny, rules)
			var r dns.Reader = &aclDNSReader{inner: inner, authorizer: func(context.Context) (*acl.Authorizer, error) { return z, nil }}
			v, ok := r.(dns.VirtualIPs)
			if !ok {
				t.Fatal("the ACL reader hides the virtual IPs")
			}
			if got, found := v.VIP("web"); found != tc.wantVIP || (found && got != vip) {
				t.Errorf("VIP(web) = %v %v, want found=%v", got, found, tc.wantVIP)
			}
			qe, ok := r.(dns.QueryExecutor)
			if !ok {
				t.Fatal("the ACL reader hides prepared queries")
			}
			insts, _, _, _, err := qe.ExecuteQuery(context.Background(), "dc1", "q-web")
			if err != nil || len(insts) != tc.wantNodes {
				t.Errorf("query q-web: %d instances, %v; want %d", len(insts), err, tc.wantNodes)
			}
		})
	}
}
