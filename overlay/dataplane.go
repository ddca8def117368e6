package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// DataplaneConfig names and sizes the devices of a node's data plane.
type DataplaneConfig struct {
	// VXLAN is the VXLAN device's name. Default "shoal-vx".
	VXLAN string
	// Bridge is the bridge for the node's subnet. Default "shoal0".
	Bridge string
	// VNI is the VXLAN network identifier. Default 1.
	VNI int
	// Port is the VXLAN UDP port. Default 4789.
	Port int
	// MTU of both devices; 0 means the underlay's MTU less the 50 bytes of
	// VXLAN encapsulation.
	MTU int
	// CIDR is the whole overlay (all nodes' subnets).
	CIDR netip.Prefix
}

func (c DataplaneConfig) withDefaults() DataplaneConfig {
	if c.VXLAN == "" {
		c.VXLAN = "shoal-vx"
	}
	if c.Bridge == "" {
		c.Bridge = "shoal0"
	}
	if c.VNI == 0 {
		c.VNI = 1
	}
	if c.Port == 0 {
		c.Port = 4789
	}
	return c
}

// ErrUnsupported means the kernel or the process's privileges do not
// allow the overlay; the agent then runs without it.
var ErrUnsupported = errors.New("overlay: unsupported here")

// Dataplane programs one node's devices, routes, neighbours, FDB and
// firewall rules with netlink and iptables, in the current network
// namespace. Methods are idempotent; they are not safe for concurrent use.
type Dataplane struct {
	cfg  DataplaneConfig
	self Lease

	prevForward string // ip_forward before Setup, restored by Teardown
	mtu         int    // the devices' MTU, once Setup ran
}

var _ DataPlane = (*Dataplane)(nil)

// MTU is the overlay devices' MTU (0 before Setup).
func (d *Dataplane) MTU() int { return d.mtu }

// NewDataplane prepares the kernel data plane of the node holding self.
func NewDataplane(cfg DataplaneConfig, self Lease) *Dataplane {
	return &Dataplane{cfg: cfg.withDefaults(), self: self}
}

// underlay returns the link holding the VTEP address.
func (d *Dataplane) underlay() (netlink.Link, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("overlay: list addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip == d.self.VTEP {
			return netlink.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("overlay: no interface holds the VTEP address %s", d.self.VTEP)
}

// checkPrivileges fails with ErrUnsupported unless the process is root,
// which the devices, routes and firewall rules need.
func checkPrivileges() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: the overlay needs root (CAP_NET_ADMIN); this process runs as uid %d", ErrUnsupported, os.Geteuid())
	}
	return nil
}

// Setup creates (or adopts) the VXLAN device and the bridge, addresses
// them, enables forwarding and installs the firewall rules.
func (d *Dataplane) Setup() error {
	if err := checkPrivileges(); err != nil {
		return err
	}
	under, err := d.underlay()
	if err != nil {
		return err
	}
	mtu := d.cfg.MTU
	if mtu == 0 {
		mtu = under.Attrs().MTU - 50
	}
	d.mtu = mtu
	mac, _ := net.ParseMAC(d.self.MAC)
	vx := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: d.cfg.VXLAN, MTU: mtu, HardwareAddr: mac},
		VxlanId:      d.cfg.VNI,
		VtepDevIndex: under.Attrs().Index,
		SrcAddr:      d.self.VTEP.AsSlice(),
		Port:         d.cfg.Port,
		Learning:     false,
	}
	if err := d.ensureLink(vx); err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOTSUP) {
			return fmt.Errorf("%w: the kernel has no VXLAN support: %v", ErrUnsupported, err)
		}
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: d.cfg.Bridge, MTU: mtu}}
	if err := d.ensureLink(br); err != nil {
		return err
	}
	if err := ensureAddr(d.cfg.VXLAN, netip.PrefixFrom(TunnelAddr(d.self.Subnet), 32)); err != nil {
		return err
	}
	if err := ensureAddr(d.cfg.Bridge, netip.PrefixFrom(GatewayAddr(d.self.Subnet), d.self.Subnet.Bits())); err != nil {
		return err
	}
	// An earlier run that could not tear down (kill -9, a second signal)
	// may have left another subnet's address and rules: this run owns the
	// devices now, so only its own stay.
	if err := pruneAddrs(d.cfg.Bridge, netip.PrefixFrom(GatewayAddr(d.self.Subnet), d.self.Subnet.Bits())); err != nil {
		return err
	}
	if err := pruneAddrs(d.cfg.VXLAN, netip.PrefixFrom(TunnelAddr(d.self.Subnet), 32)); err != nil {
		return err
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err == nil && strings.TrimSpace(string(b)) != "1" {
		d.prevForward = strings.TrimSpace(string(b))
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("overlay: enable ip_forward: %w", err)
		}
	}
	return d.ensureRules()
}

// Present reports whether the VXLAN device and the bridge exist.
func (d *Dataplane) Present() bool {
	for _, name := range []string{d.cfg.VXLAN, d.cfg.Bridge} {
		if _, err := netlink.LinkByName(name); err != nil {
			return false
		}
	}
	return true
}

// ensureLink creates a link, or adopts an existing one of the same kind
// (a restart), updating its MTU; it brings it up.
func (d *Dataplane) ensureLink(want netlink.Link) error {
	name := want.Attrs().Name
	cur, err := netlink.LinkByName(name)
	if err == nil && cur.Type() != want.Type() {
		return fmt.Errorf("overlay: %s exists and is a %s, not a %s", name, cur.Type(), want.Type())
	}
	if err == nil {
		if vx, ok := cur.(*netlink.Vxlan); ok {
			w := want.(*netlink.Vxlan)
			if vx.VxlanId != w.VxlanId || vx.Port != w.Port || !net.IP(w.SrcAddr).Equal(vx.SrcAddr) {
				// A different VNI, port or address: recreate it.
				if err := netlink.LinkDel(cur); err != nil {
					return fmt.Errorf("overlay: replace %s: %w", name, err)
				}
				cur = nil
			}
		}
	}
	if cur == nil {
		if err := netlink.LinkAdd(want); err != nil {
			return fmt.Errorf("overlay: create %s: %w", name, err)
		}
		if cur, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("overlay: %s: %w", name, err)
		}
	}
	if mtu := want.Attrs().MTU; mtu > 0 && cur.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(cur, mtu); err != nil {
			return fmt.Errorf("overlay: mtu of %s: %w", name, err)
		}
	}
	if err := netlink.LinkSetUp(cur); err != nil {
		return fmt.Errorf("overlay: up %s: %w", name, err)
	}
	return nil
}

func ensureAddr(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return fmt.Errorf("overlay: %s: %w", link, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("overlay: address %s on %s: %w", p, link, err)
	}
	return nil
}

// Current reads the per-peer entries on the VXLAN device.
func (d *Dataplane) Current() (Entries, error) {
	var e Entries
	vx, err := netlink.LinkByName(d.cfg.VXLAN)
	if err != nil {
		return e, fmt.Errorf("overlay: %s: %w", d.cfg.VXLAN, err)
	}
	routes, err := netlink.RouteList(vx, netlink.FAMILY_V4)
	if err != nil {
		return e, fmt.Errorf("overlay: routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Gw == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		ones, _ := r.Dst.Mask.Size()
		via, _ := netip.AddrFromSlice(r.Gw.To4())
		e.Routes = append(e.Routes, Route{Dst: netip.PrefixFrom(dst, ones), Via: via})
	}
	neighs, err := netlink.NeighList(vx.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return e, fmt.Errorf("overlay: neighbours: %w", err)
	}
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT == 0 || n.HardwareAddr == nil {
			continue
		}
		ip, _ := netip.AddrFromSlice(n.IP.To4())
		e.Neighs = append(e.Neighs, Neigh{IP: ip, MAC: n.HardwareAddr.String()})
	}
	fdbs, err := netlink.NeighList(vx.Attrs().Index, syscall.AF_BRIDGE)
	if err != nil {
		return e, fmt.Errorf("overlay: fdb: %w", err)
	}
	for _, n := range fdbs {
		if n.IP == nil || n.HardwareAddr == nil || n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		ip, _ := netip.AddrFromSlice(n.IP.To4())
		e.FDBs = append(e.FDBs, FDB{MAC: n.HardwareAddr.String(), VTEP: ip})
	}
	return e, nil
}

// Sync brings the per-peer entries to want: it adds what is missing and
// removes what is stale (for example a peer that left).
func (d *Dataplane) Sync(want Entries) error {
	have, err := d.Current()
	if err != nil {
		return err
	}
	add, remove := Diff(have, want)
	vx, err := netlink.LinkByName(d.cfg.VXLAN)
	if err != nil {
		return err
	}
	idx := vx.Attrs().Index
	var errs []error
	for _, r := range remove.Routes {
		errs = append(errs, netlink.RouteDel(route(idx, r)))
	}
	for _, n := range remove.Neighs {
		errs = append(errs, netlink.NeighDel(neigh(idx, n)))
	}
	for _, f := range remove.FDBs {
		errs = append(errs, netlink.NeighDel(fdb(idx, f)))
	}
	// Order matters for a new peer: FDB and neighbour before the route.
	for _, f := range add.FDBs {
		errs = append(errs, netlink.NeighSet(fdb(idx, f)))
	}
	for _, n := range add.Neighs {
		errs = append(errs, netlink.NeighSet(neigh(idx, n)))
	}
	for _, r := range add.Routes {
		errs = append(errs, netlink.RouteReplace(route(idx, r)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("overlay: sync: %w", err)
	}
	return d.ensureRules()
}

func route(link int, r Route) *netlink.Route {
	return &netlink.Route{LinkIndex: link, Dst: &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)},
		Gw: r.Via.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}
}

func neigh(link int, n Neigh) *netlink.Neigh {
	mac, _ := net.ParseMAC(n.MAC)
	return &netlink.Neigh{LinkIndex: link, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: n.IP.AsSlice(), HardwareAddr: mac}
}

func fdb(link int, f FDB) *netlink.Neigh {
	mac, _ := net.ParseMAC(f.MAC)
	return &netlink.Neigh{LinkIndex: link, Family: syscall.AF_BRIDGE, State: netlink.NUD_PERMANENT,
		Flags: netlink.NTF_SELF, IP: f.VTEP.AsSlice(), HardwareAddr: mac}
}

// rules are the firewall rules the overlay needs: forward traffic within
// the overlay (dockerd sets the FORWARD policy to DROP), and do not
// masquerade traffic between overlay addresses; masquerade the node's
// subnet going elsewhere.
func (d *Dataplane) rules() [][]string {
	cidr, sub := d.cfg.CIDR.String(), d.self.Subnet.String()
	comment := []string{"-m", "comment", "--comment", ruleComment}
	return [][]string{
		append([]string{"-t", "filter", "FORWARD", "-s", cidr, "-j", "ACCEPT"}, comment...),
		append([]string{"-t", "filter", "FORWARD", "-d", cidr, "-j", "ACCEPT"}, comment...),
		append([]string{"-t", "nat", "POSTROUTING", "-s", cidr, "-d", cidr, "-j", "RETURN"}, comment...),
		append([]string{"-t", "nat", "POSTROUTING", "-s", sub, "!", "-d", cidr, "-j", "MASQUERADE"}, comment...),
	}
}

// pruneAddrs removes the IPv4 addresses of link other than keep.
func pruneAddrs(link string, keep netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return fmt.Errorf("overlay: %s: %w", link, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("overlay: addresses of %s: %w", link, err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		ones, _ := a.Mask.Size()
		if netip.PrefixFrom(ip, ones) == keep {
			continue
		}
		if err := netlink.AddrDel(l, &a); err != nil {
			return fmt.Errorf("overlay: remove stale address %s from %s: %w", a.IPNet, link, err)
		}
	}
	return nil
}

// ruleComment tags every rule the overlay installs.
const ruleComment = "shoal overlay"

// pruneRules deletes the rules tagged ruleComment in the chains the overlay
// uses that are not among d.rules() (another subnet's, from an earlier
// run that did not tear down).
func (d *Dataplane) pruneRules() {
	want := map[string]bool{}
	for _, r := range d.rules() {
		want[r[0]+" "+r[1]+" "+strings.Join(r[3:], " ")+" chain="+r[2]] = true
	}
	for _, tc := range [][2]string{{"filter", "FORWARD"}, {"nat", "POSTROUTING"}} {
		out, err := exec.Command("iptables", "-t", tc[0], "-S", tc[1]).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, `"`+ruleComment+`"`) {
				continue
			}
			args := splitRule(line)
			if len(args) < 2 || args[0] != "-A" {
				continue
			}
			spec := normalizeSpec(args[2:])
			if want["-t "+tc[0]+" "+strings.Join(spec, " ")+" chain="+tc[1]] {
				continue
			}
			del := append([]string{"-t", tc[0], "-D", tc[1]}, args[2:]...)
			_ = exec.Command("iptables", del...).Run()
		}
	}
}

// normalizeSpec orders a rule as iptables -S prints it into the order
// d.rules() writes it (match first, then the comment, then the target),
// so the two compare.
func normalizeSpec(a []string) []string {
	var match, comment, target []string
	for i := 0; i < len(a); i++ {
		switch {
		case a[i] == "-m" && i+3 < len(a) && a[i+1] == "comment":
			comment = a[i : i+4]
			i += 3
		case a[i] == "-j" && i+1 < len(a):
			target = a[i : i+2]
			i++
		default:
			match = append(match, a[i])
		}
	}
	return append(append(match, target...), comment...)
}

// splitRule splits a line of iptables -S into words, honouring double
// quotes.
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range line {
		switch {
		case r == '"':
			inQ, have = !inQ, true
		case r == ' ' && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// ensureRules inserts each rule at the top of its chain unless present,
// after removing stale ones.
func (d *Dataplane) ensureRules() error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return fmt.Errorf("overlay: iptables not found: %w", err)
	}
	d.pruneRules()
	for _, r := range d.rules() {
		table, chain, spec := r[:2], r[2], r[3:]
		check := append(append(append([]string{}, table...), "-C", chain), spec...)
		if exec.Command("iptables", check...).Run() == nil {
			continue
		}
		ins := append(append(append([]string{}, table...), "-I", chain, "1"), spec...)
		if out, err := exec.Command("iptables", ins...).CombinedOutput(); err != nil {
			return fmt.Errorf("overlay: iptables %s: %v: %s", strings.Join(ins, " "), err, out)
		}
	}
	return nil
}

// Teardown removes the devices (and with them routes, neighbours and FDB
// entries), the firewall rules, and restores ip_forward. Idempotent.
func (d *Dataplane) Teardown() error {
	var errs []error
	for _, name := range []string{d.cfg.VXLAN, d.cfg.Bridge} {
		if l, err := netlink.LinkByName(name); err == nil {
			errs = append(errs, netlink.LinkDel(l))
		}
	}
	for _, r := range d.rules() {
		table, chain, spec := r[:2], r[2], r[3:]
		del := append(append(append([]string{}, table...), "-D", chain), spec...)
		for exec.Command("iptables", del...).Run() == nil {
		}
	}
	if d.prevForward != "" {
		errs = append(errs, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(d.prevForward), 0o644))
	}
	return errors.Join(errs...)
}
