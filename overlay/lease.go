// Package overlay gives every node a subnet of the cluster CIDR and joins
// the nodes' subnets into one routed network over VXLAN, Flannel-style:
// each node leases a /24 through the state store (compare-and-set, so two
// nodes never share one), runs one VXLAN device and a bridge for its
// subnet, and keeps, for every live peer, a route to the peer's subnet
// through the VXLAN device plus the neighbour and FDB entries for the
// peer's VTEP.
//
// Pure parts (subnet choice, desired entries) are separate from the
// netlink programming (dataplane.go), so they are tested without a kernel;
// the Manager, which leases and reconciles, programs the data plane through
// the DataPlane interface and reaches the KV store through Store, so it is
// tested against fakes of both (manager_test.go).
package overlay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Lease is a node's claim on a subnet, stored at keys.Lease(node).
type Lease struct {
	Node   string
	NodeID string
	// Subnet is the node's /24 (by default) of the cluster CIDR.
	Subnet netip.Prefix
	// VTEP is the node's underlay address (its advertise address).
	VTEP netip.Addr
	// MAC is the VXLAN device's MAC address, derived from the subnet.
	MAC string
}

// ErrExhausted means every subnet of the cluster CIDR is leased.
var ErrExhausted = errors.New("overlay: no free subnet in the cluster CIDR")

// Subnets lists the subnets of size bits in cidr, in address order,
// skipping the first (its .0 network would clash with the CIDR's own
// address in routes of some tools; it holds the services' virtual IPs
// instead, see VIPRange).
func Subnets(cidr netip.Prefix, bits int) ([]netip.Prefix, error) {
	cidr = cidr.Masked()
	if !cidr.Addr().Is4() || bits <= cidr.Bits() || bits > 30 {
		return nil, fmt.Errorf("overlay: cannot split %s into /%d subnets", cidr, bits)
	}
	n := 1 << (bits - cidr.Bits())
	base := binary.BigEndian.Uint32(cidr.Addr().AsSlice())
	var out []netip.Prefix
	for i := 1; i < n; i++ {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+uint32(i)<<(32-bits))
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(b), bits))
	}
	return out, nil
}

// ChooseSubnet picks the subnet a node should try to lease: its previous
// one when it still holds it, else the first free one, scanning from a
// position derived from the node's ID so that nodes joining together
// rarely collide. taken lists subnets leased by others.
func ChooseSubnet(all []netip.Prefix, taken map[netip.Prefix]bool, nodeID string, previous netip.Prefix) (netip.Prefix, error) {
	if previous.IsValid() && slices.Contains(all, previous) && !taken[previous] {
		return previous, nil
	}
	if len(all) == 0 {
		return netip.Prefix{}, ErrExhausted
	}
	start := int(fnv32(nodeID) % uint32(len(all)))
	for i := range all {
		p := all[(start+i)%len(all)]
		if !taken[p] {
			return p, nil
		}
	}
	return netip.Prefix{}, ErrExhausted
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// VTEPMAC derives a stable, locally administered MAC for the VXLAN device
// of the node leasing subnet, so a restart keeps its peers' FDB valid.
func VTEPMAC(subnet netip.Prefix) string {
	a := subnet.Addr().As4()
	return net.HardwareAddr{0x0e, 0x5a, a[0], a[1], a[2], a[3]}.String()
}

// GatewayAddr is the bridge's address in subnet (.1): the containers'
// default gateway and DNS server.
func GatewayAddr(subnet netip.Prefix) netip.Addr { return subnet.Addr().Next() }

// TunnelAddr is the VXLAN device's address in subnet (.0/32): the next hop
// peers route the subnet through.
func TunnelAddr(subnet netip.Prefix) netip.Addr { return subnet.Addr() }

// VIPRange is the subnet of cidr that holds service virtual IPs: the first
// one of size bits, which no node leases (see Subnets). VIPs are never
// routed, only translated by each node's NAT rules, so the clash that keeps
// nodes off it does not matter to them.
func VIPRange(cidr netip.Prefix, bits int) (netip.Prefix, error) {
	cidr = cidr.Masked()
	if !cidr.Addr().Is4() || bits <= cidr.Bits() || bits > 30 {
		return netip.Prefix{}, fmt.Errorf("overlay: %s has no room for a /%d of virtual IPs", cidr, bits)
	}
	return netip.PrefixFrom(cidr.Addr(), bits), nil
}
