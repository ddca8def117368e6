// Package netlab builds emulated hosts for end-to-end tests, following
// ../shared/HOSTS.md: a "lab" network namespace holding a bridge, and one
// namespace per host attached to it by a veth pair, each host with its own
// address. The test process reaches the hosts through a veth of its own on
// the bridge. Cut and Heal take a host's link down and up (a partition);
// Isolate and Rejoin drop traffic between chosen hosts only (iptables).
//
// It needs root and iproute2 (and iptables for Isolate); Available says why not when it cannot run.
package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Lab is a set of emulated hosts on one bridge.
type Lab struct {
	prefix string // short unique prefix of namespace and link names
	ns     string // the bridge's namespace
	Hosts  []*Host
	// GatewayAddr is the test process's own address on the lab network.
	GatewayAddr string

	extraNS []string // containers' namespaces
}

// Host is one emulated host.
type Host struct {
	Name string
	NS   string // network namespace name
	Addr string // IPv4 address on the lab network
	lab  *Lab
}

// Available reports why labs cannot be built here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netlab needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netlab needs iproute2's ip command")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		return errors.New("netlab needs nsenter (util-linux)")
	}
	return nil
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netlab: %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// New builds a lab of n hosts on 10.<net>.0.0/24: the gateway (test
// process) is .1, host i is .10+i. prefix must be short (≤ 6 characters)
// and unique among concurrent labs; net selects the /24.
func New(prefix string, net, n int) (l *Lab, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	l = &Lab{prefix: prefix, ns: prefix + "lab", GatewayAddr: fmt.Sprintf("10.%d.0.1", net)}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	steps := [][]string{
		{"ip", "netns", "add", l.ns},
		{"ip", "-n", l.ns, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", l.ns, "link", "set", "br0", "up"},
		{"ip", "-n", l.ns, "link", "set", "lo", "up"},
		// The test process's own leg on the bridge.
		{"ip", "link", "add", prefix + "gw", "type", "veth", "peer", "name", prefix + "gwb"},
		{"ip", "link", "set", prefix + "gwb", "netns", l.ns},
		{"ip", "-n", l.ns, "link", "set", prefix + "gwb", "master", "br0", "up"},
		{"ip", "addr", "add", l.GatewayAddr + "/24", "dev", prefix + "gw"},
		{"ip", "link", "set", prefix + "gw", "up"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return l, err
		}
	}
	for i := 1; i <= n; i++ {
		h := &Host{Name: fmt.Sprintf("h%d", i), NS: fmt.Sprintf("%sh%d", prefix, i),
			Addr: fmt.Sprintf("10.%d.0.%d", net, 10+i), lab: l}
		eth, br := fmt.Sprintf("%sh%de", prefix, i), h.brLink()
		steps := [][]string{
			{"ip", "netns", "add", h.NS},
			{"ip", "link", "add", eth, "type", "veth", "peer", "name", br},
			{"ip", "link", "set", br, "netns", l.ns},
			{"ip", "-n", l.ns, "link", "set", br, "master", "br0", "up"},
			{"ip", "link", "set", eth, "netns", h.NS},
			{"ip", "-n", h.NS, "link", "set", eth, "name", "eth0"},
			{"ip", "-n", h.NS, "addr", "add", h.Addr + "/24", "dev", "eth0"},
			{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
			{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		}
		l.Hosts = append(l.Hosts, h)
		for _, s := range steps {
			if err := run(s...); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

func (h *Host) brLink() string { return h.NS + "b" }

// Cut takes the host off the network (its bridge port down).
func (h *Host) Cut() error { return run("ip", "-n", h.lab.ns, "link", "set", h.brLink(), "down") }

// Heal puts the host back on the network.
func (h *Host) Heal() error { return run("ip", "-n", h.lab.ns, "link", "set", h.brLink(), "up") }

// Isolate drops, inside the host's namespace, every packet to and from
// the given peers (iptables INPUT -s and OUTPUT -d rules): a partition
// between hosts that leaves the host reachable from the test process and
// from hosts not named. Rejoin removes the rules; Close removes what is
// left (the rules die with the namespace).
func (h *Host) Isolate(peers ...*Host) error {
	for _, p := range peers {
		for _, r := range h.dropRules(p) {
			if err := run(append(h.Wrap(), append([]string{"iptables", "-A"}, r...)...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rejoin removes the rules Isolate added against peers (all rules, if it
// was called more than once); a rule that is not there is no error.
func (h *Host) Rejoin(peers ...*Host) error {
	for _, p := range peers {
		for _, r := range h.dropRules(p) {
			// iptables -D removes one copy of a rule: repeat until none is left.
			for run(append(h.Wrap(), append([]string{"iptables", "-D"}, r...)...)...) == nil {
			}
		}
	}
	return nil
}

// dropRules are the iptables rule specs (without -A/-D) that cut h off p.
func (h *Host) dropRules(p *Host) [][]string {
	return [][]string{
		{"INPUT", "-s", p.Addr, "-j", "DROP"},
		{"OUTPUT", "-d", p.Addr, "-j", "DROP"},
	}
}

// Wrap returns the command prefix that runs a program inside the host's
// network namespace (nsenter, not `ip netns exec`, which remounts /sys).
func (h *Host) Wrap() []string {
	return []string{"nsenter", "--net=/var/run/netns/" + h.NS}
}

// Close deletes the namespaces (and with them every link) it created.
func (l *Lab) Close() {
	for _, ns := range l.extraNS {
		_ = run("ip", "netns", "del", ns)
	}
	for _, h := range l.Hosts {
		_ = run("ip", "netns", "del", h.NS)
	}
	_ = run("ip", "link", "del", l.prefix+"gw")
	_ = run("ip", "netns", "del", l.ns)
}

// Container is a network namespace attached to a bridge of a host, as a
// container would be.
type Container struct {
	NS   string
	Addr string // its IPv4 address
}

// AddContainer creates a namespace with a veth on bridge (in the host's
// namespace), addressed addr/bits, default route via gw. Lab.Close
// deletes it.
func (h *Host) AddContainer(name, bridge, addr string, bits int, gw string) (*Container, error) {
	c := &Container{NS: h.lab.prefix + name, Addr: addr}
	hostEnd, ctrEnd := h.lab.prefix+name+"h", h.lab.prefix+name+"c"
	steps := [][]string{
		{"ip", "netns", "add", c.NS},
		{"ip", "-n", h.NS, "link", "add", hostEnd, "type", "veth", "peer", "name", ctrEnd},
		{"ip", "-n", h.NS, "link", "set", ctrEnd, "netns", c.NS},
		{"ip", "-n", h.NS, "link", "set", hostEnd, "master", bridge, "up"},
		{"ip", "-n", c.NS, "link", "set", ctrEnd, "name", "eth0"},
		{"ip", "-n", c.NS, "addr", "add", fmt.Sprintf("%s/%d", addr, bits), "dev", "eth0"},
		{"ip", "-n", c.NS, "link", "set", "eth0", "up"},
		{"ip", "-n", c.NS, "link", "set", "lo", "up"},
		{"ip", "-n", c.NS, "route", "add", "default", "via", gw},
	}
	h.lab.extraNS = append(h.lab.extraNS, c.NS)
	for _, s := range steps {
		if err := run(s...); err != nil {
			return c, err
		}
	}
	return c, nil
}

// InNS runs fn on an OS thread switched into the named network namespace:
// sockets fn creates belong to that namespace. The thread is discarded
// afterwards rather than switched back.
func InNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		h, err := netns.GetFromName(ns)
		if err != nil {
			errc <- fmt.Errorf("netlab: namespace %s: %w", ns, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("netlab: enter %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
