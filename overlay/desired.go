package overlay

import (
	"net/netip"
	"slices"
	"strings"
)

// Route sends a peer's subnet through the VXLAN device via the peer's
// tunnel address (onlink).
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// Neigh resolves a peer's tunnel address to its VXLAN MAC.
type Neigh struct {
	IP  netip.Addr
	MAC string
}

// FDB sends frames for a peer's VXLAN MAC to its VTEP.
type FDB struct {
	MAC  string
	VTEP netip.Addr
}

// Entries is the per-peer state of a node's data plane.
type Entries struct {
	Routes []Route
	Neighs []Neigh
	FDBs   []FDB
}

// Desired computes the entries self needs for the live peers: every lease
// but its own, of a node that is alive. It is pure and its output sorted.
func Desired(self Lease, leases []Lease, alive func(node string) bool) Entries {
	var e Entries
	for _, l := range leases {
		if l.Node == self.Node || !l.Subnet.IsValid() || !l.VTEP.IsValid() || !alive(l.Node) {
			continue
		}
		if l.Subnet.Overlaps(self.Subnet) {
			continue // a conflicting lease never gets a route: ours wins locally
		}
		via := TunnelAddr(l.Subnet)
		e.Routes = append(e.Routes, Route{Dst: l.Subnet, Via: via})
		e.Neighs = append(e.Neighs, Neigh{IP: via, MAC: strings.ToLower(l.MAC)})
		e.FDBs = append(e.FDBs, FDB{MAC: strings.ToLower(l.MAC), VTEP: l.VTEP})
	}
	slices.SortFunc(e.Routes, func(a, b Route) int { return a.Dst.Addr().Compare(b.Dst.Addr()) })
	slices.SortFunc(e.Neighs, func(a, b Neigh) int { return a.IP.Compare(b.IP) })
	slices.SortFunc(e.FDBs, func(a, b FDB) int { return strings.Compare(a.MAC, b.MAC) })
	return e
}

// Diff returns what to add to and remove from have to reach want.
func Diff(have, want Entries) (add, remove Entries) {
	add.Routes, remove.Routes = diff(have.Routes, want.Routes)
	add.Neighs, remove.Neighs = diff(have.Neighs, want.Neighs)
	add.FDBs, remove.FDBs = diff(have.FDBs, want.FDBs)
	return add, remove
}

func diff[T comparable](have, want []T) (add, remove []T) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			remove = append(remove, h)
		}
	}
	return add, remove
}
