package overlay

import (
	"net/netip"
	"testing"
)

func TestSubnets(t *testing.T) {
	all, err := Subnets(netip.MustParsePrefix("10.42.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 255 || all[0].String() != "10.42.1.0/24" || all[254].String() != "10.42.255.0/24" {
		t.Fatalf("got %d subnets: first %v last %v", len(all), all[0], all[len(all)-1])
	}
	for _, tc := range []struct {
		cidr string
		bits int
	}{{"10.42.0.0/16", 16}, {"10.42.0.0/16", 31}, {"fd00::/64", 80}} {
		if _, err := Subnets(netip.MustParsePrefix(tc.cidr), tc.bits); err == nil {
			t.Errorf("Subnets(%s, %d) accepted", tc.cidr, tc.bits)
		}
	}
}

func TestChooseSubnet(t *testing.T) {
	all, _ := Subnets(netip.MustParsePrefix("10.42.0.0/22"), 24) // 10.42.1-3.0/24
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	cases := []struct {
		name     string
		taken    []string
		previous string
		want     string // "" means ErrExhausted
	}{
		{"keeps its previous subnet", nil, "10.42.2.0/24", "10.42.2.0/24"},
		{"previous taken by another: picks a free one", []string{"10.42.2.0/24", "10.42.1.0/24"}, "10.42.2.0/24", "10.42.3.0/24"},
		{"only one free", []string{"10.42.1.0/24", "10.42.3.0/24"}, "", "10.42.2.0/24"},
		{"exhausted", []string{"10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			taken := map[netip.Prefix]bool{}
			for _, s := range tc.taken {
				taken[p(s)] = true
			}
			var prev netip.Prefix
			if tc.previous != "" {
				prev = p(tc.previous)
			}
			got, err := ChooseSubnet(all, taken, "node-id", prev)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("want ErrExhausted, got %v", got)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
	// Deterministic for a node: the same ID picks the same subnet.
	a, _ := ChooseSubnet(all, nil, "n-1", netip.Prefix{})
	b, _ := ChooseSubnet(all, nil, "n-1", netip.Prefix{})
	if a != b {
		t.Fatalf("not deterministic: %v vs %v", a, b)
	}
}

func TestDesiredAndDiff(t *testing.T) {
	lease := func(node, subnet, vtep string) Lease {
		s := netip.MustParsePrefix(subnet)
		return Lease{Node: node, Subnet: s, VTEP: netip.MustParseAddr(vtep), MAC: VTEPMAC(s)}
	}
	self := lease("h1", "10.42.1.0/24", "10.77.0.11")
	leases := []Lease{self, lease("h3", "10.42.3.0/24", "10.77.0.13"), lease("h2", "10.42.2.0/24", "10.77.0.12"),
		lease("dup", "10.42.1.0/24", "10.77.0.99")}
	alive := map[string]bool{"h1": true, "h2": true, "h3": true, "dup": true}
	got := Desired(self, leases, func(n string) bool { return alive[n] })
	if len(got.Routes) != 2 || got.Routes[0].Dst.String() != "10.42.2.0/24" || got.Routes[0].Via.String() != "10.42.2.0" ||
		got.Routes[1].Dst.String() != "10.42.3.0/24" {
		t.Fatalf("routes %+v (a lease overlapping our own subnet must be ignored)", got.Routes)
	}
	if got.FDBs[0].MAC != VTEPMAC(netip.MustParsePrefix("10.42.2.0/24")) || got.FDBs[0].VTEP.String() != "10.77.0.12" {
		t.Fatalf("fdb %+v", got.FDBs)
	}
	if got.Neighs[1].IP.String() != "10.42.3.0" {
		t.Fatalf("neighs %+v", got.Neighs)
	}

	// h3 fails: its entries go; it returns: they come back.
	alive["h3"] = false
	without := Desired(self, leases, func(n string) bool { return alive[n] })
	add, remove := Diff(got, without)
	if len(add.Routes)+len(add.Neighs)+len(add.FDBs) != 0 || len(remove.Routes) != 1 || len(remove.Neighs) != 1 ||
		len(remove.FDBs) != 1 || remove.Routes[0].Dst.String() != "10.42.3.0/24" {
		t.Fatalf("diff after h3 failed: add %+v remove %+v", add, remove)
	}
	add, remove = Diff(without, got)
	if len(add.Routes) != 1 || len(remove.Routes)+len(remove.FDBs)+len(remove.Neighs) != 0 {
		t.Fatalf("diff after h3 returned: add %+v remove %+v", add, remove)
	}
}

func TestVTEPMACStable(t *testing.T) {
	s := netip.MustParsePrefix("10.42.7.0/24")
	if VTEPMAC(s) != "0e:5a:0a:2a:07:00" || GatewayAddr(s).String() != "10.42.7.1" || TunnelAddr(s).String() != "10.42.7.0" {
		t.Fatalf("%s %s %s", VTEPMAC(s), GatewayAddr(s), TunnelAddr(s))
	}
}
