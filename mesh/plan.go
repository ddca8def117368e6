// Package mesh is the routing mesh and the service virtual IPs: every node
// answers on each published port of mode ingress, and on each service's
// VIP, by load-balancing new connections over the service's healthy
// replicas, wherever they run on the overlay. It is kernel NAT only (no
// proxy process, no IPVS): iptables DNAT rules in chains of Shoal's own,
// one per frontend, choosing a backend with the statistic match.
//
// Plan, pure, turns the services (their published ports, VIP and healthy
// instances) into the rules a node needs; IPTables (iptables.go) writes
// them atomically with iptables-restore and removes them. The agent keeps
// the input in step with the catalog through blocking queries.
//
// Terms: a frontend is what clients connect to (a published port on every
// local address, or VIP:port); a backend is a replica's overlay address
// and container port.
package mesh

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	"github.com/shoalproject/shoal/sched"
)

// Service is what the mesh needs of one service.
type Service struct {
	Name string
	// VIP is the service's virtual IP; invalid means none (yet).
	VIP netip.Addr
	// Ports are the spec's ports (canonical).
	Ports []sched.Port
	// Instances are the addresses of its healthy replicas on the overlay.
	Instances []netip.Addr
}

// Frontend is an address clients connect to.
type Frontend struct {
	Service  string
	Protocol sched.Protocol
	// Port is the published port (with an invalid VIP: on every local
	// address of the node) or the VIP's port.
	Port int
	VIP  netip.Addr
}

// Key identifies the frontend, for chain names.
func (f Frontend) Key() string {
	if f.VIP.IsValid() {
		return "vip " + f.VIP.String() + ":" + strconv.Itoa(f.Port) + "/" + string(f.Protocol)
	}
	return "ingress " + strconv.Itoa(f.Port) + "/" + string(f.Protocol)
}

// Rule balances a frontend over its backends; no backends means nothing
// answers (connections are refused by the node).
type Rule struct {
	Frontend
	Backends []netip.AddrPort
}

// Plan returns the rules for services, sorted by frontend key. A published
// port of mode ingress gets a frontend on every node; with a VIP each port
// is also reachable at VIP:container port. Backends are the healthy
// instances at the port's container port, sorted. When two services
// publish the same port, the one whose name sorts first keeps it (the
// other is reported in conflicts).
func Plan(services []Service) (rules []Rule, conflicts []string) {
	taken := map[string]string{}
	sorted := slices.Clone(services)
	slices.SortFunc(sorted, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	for _, s := range sorted {
		inst := slices.Clone(s.Instances)
		slices.SortFunc(inst, func(a, b netip.Addr) int { return a.Compare(b) })
		inst = slices.Compact(inst)
		backends := func(port int) []netip.AddrPort {
			out := make([]netip.AddrPort, 0, len(inst))
			for _, a := range inst {
				out = append(out, netip.AddrPortFrom(a, uint16(port)))
			}
			return out
		}
		for _, p := range s.Ports {
			proto := cmp.Or(p.Protocol, sched.ProtocolTCP)
			if p.Published > 0 && p.Mode == sched.PortIngress {
				f := Frontend{Service: s.Name, Protocol: proto, Port: p.Published}
				if owner, dup := taken[f.Key()]; dup {
					conflicts = append(conflicts, s.Name+": published port "+strconv.Itoa(p.Published)+"/"+string(proto)+" is "+owner+"'s")
				} else {
					taken[f.Key()] = s.Name
					rules = append(rules, Rule{Frontend: f, Backends: backends(p.Container)})
				}
			}
			if s.VIP.IsValid() {
				f := Frontend{Service: s.Name, Protocol: proto, Port: p.Container, VIP: s.VIP}
				if _, dup := taken[f.Key()]; !dup {
					taken[f.Key()] = s.Name
					rules = append(rules, Rule{Frontend: f, Backends: backends(p.Container)})
				}
			}
		}
	}
	slices.SortFunc(rules, func(a, b Rule) int { return cmp.Compare(a.Key(), b.Key()) })
	return rules, conflicts
}
