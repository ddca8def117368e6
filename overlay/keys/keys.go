// Package keys names the overlay's KV keys: each node's lease and the
// exclusive claim on each subnet. It is standard-library only, so that the
// server's leader, which releases the lease of a node that left, reads
// these names without importing the overlay's netlink data plane.
package keys

import (
	"fmt"
	"net/netip"
)

// KV keys of the overlay.
const (
	// LeasePrefix holds one lease per node, keyed by node name.
	LeasePrefix = "shoal/overlay/leases/"
	// SubnetPrefix holds one key per leased subnet whose value is the node
	// name; it is created with CAS index 0, which makes a subnet's lease
	// exclusive.
	SubnetPrefix = "shoal/overlay/subnets/"
	// VIPPrefix holds one virtual IP per service, keyed by service name
	// (value: the address). It is written after the claim below.
	VIPPrefix = "shoal/overlay/vips/"
	// VIPClaimPrefix holds one key per allocated virtual IP whose value is
	// the service name, created with CAS index 0 so that two services
	// never share one.
	VIPClaimPrefix = "shoal/overlay/vip-claims/"
)

// VIP is where a service's virtual IP is stored.
func VIP(service string) string { return VIPPrefix + service }

// VIPClaim is the exclusive claim on a virtual IP.
func VIPClaim(ip netip.Addr) string { return VIPClaimPrefix + ip.String() }

// Lease is where a node's lease is stored.
func Lease(node string) string { return LeasePrefix + node }

// Subnet is the exclusive claim on a subnet ("10.42.3.0-24").
func Subnet(p netip.Prefix) string {
	return SubnetPrefix + p.Addr().String() + "-" + fmt.Sprint(p.Bits())
}
