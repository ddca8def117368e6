package mesh

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/shoalproject/shoal/sched"
	"github.com/vishvananda/netlink"
)

// Backend is one backend of the mesh with its protocol.
type Backend struct {
	Protocol sched.Protocol
	Addr     netip.AddrPort
}

// Departed returns the backends of prev that no rule of next has, sorted:
// replicas that left the rotation. Pure.
func Departed(prev, next []Rule) []Backend {
	keep := map[Backend]bool{}
	for _, r := range next {
		for _, b := range r.Backends {
			keep[Backend{r.Protocol, b}] = true
		}
	}
	var out []Backend
	for _, r := range prev {
		for _, b := range r.Backends {
			be := Backend{r.Protocol, b}
			if !keep[be] && !slices.Contains(out, be) {
				out = append(out, be)
			}
		}
	}
	slices.SortFunc(out, func(a, b Backend) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(a.Protocol, b.Protocol)
	})
	return out
}

// TCP states of conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h)
// of a connection whose SYN has not been answered.
const (
	tcpSynSent  = 1
	tcpSynSent2 = 9
)

// unanswered matches the conntrack entries of connection attempts to the
// departed backends that the backend never answered: TCP connections still
// in SYN_SENT, and UDP flows. Deleting them makes the client's next SYN (a
// retransmission, one second later) or datagram pass the nat table again
// and go to a backend still in the rotation, instead of following the old
// entry to a replica that is gone. Established TCP connections are left
// alone: a replica that left the rotation (its check failed) may still
// finish the requests it is serving.
type unanswered map[Backend]bool

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (u unanswered) MatchConntrackFlow(f *netlink.ConntrackFlow) bool {
	var proto sched.Protocol
	switch f.Forward.Protocol {
	case 6:
		proto = sched.ProtocolTCP
		tcp, ok := f.ProtoInfo.(*netlink.ProtoInfoTCP)
		if !ok || (tcp.State != tcpSynSent && tcp.State != tcpSynSent2) {
			return false
		}
	case 17:
		proto = sched.ProtocolUDP
	default:
		return false
	}
	// After DNAT the reply comes from the backend: the reply tuple's
	// source is the backend's address and port.
	src, ok := netip.AddrFromSlice(f.Reverse.SrcIP)
	if !ok {
		return false
	}
	return u[Backend{proto, netip.AddrPortFrom(src.Unmap(), f.Reverse.SrcPort)}]
}

// forgetUnanswered deletes the conntrack entries of unanswered attempts to
// backends (see unanswered) and returns how many it deleted.
func forgetUnanswered(backends []Backend) (uint, error) {
	if len(backends) == 0 {
		return 0, nil
	}
	u := unanswered{}
	for _, b := range backends {
		u[b] = true
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.FAMILY_V4, u)
	if err != nil {
		return n, fmt.Errorf("mesh: delete conntrack entries of departed backends: %w", err)
	}
	return n, nil
}
