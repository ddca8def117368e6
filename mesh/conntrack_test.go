package mesh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/testenv"
	"github.com/shoalproject/shoal/sched"
	"github.com/vishvananda/netlink"
)

func TestDeparted(t *testing.T) {
	web := func(port int, proto sched.Protocol, backends ...string) Rule {
		return Rule{Frontend: Frontend{Service: "web", Protocol: proto, Port: port}, Backends: aps(backends...)}
	}
	vip := func(backends ...string) Rule {
		return Rule{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 8080, VIP: netip.MustParseAddr("10.42.0.2")},
			Backends: aps(backends...)}
	}
	be := func(proto sched.Protocol, s string) Backend { return Backend{proto, netip.MustParseAddrPort(s)} }
	tests := []struct {
		name       string
		prev, next []Rule
		want       []Backend
	}{
		{"first apply: nothing departed", nil, []Rule{web(5001, "tcp", "10.42.1.2:8080")}, nil},
		{"unchanged", []Rule{web(5001, "tcp", "10.42.1.2:8080")}, []Rule{web(5001, "tcp", "10.42.1.2:8080")}, nil},
		{"a replica left the ingress port and the VIP: reported once",
			[]Rule{web(5001, "tcp", "10.42.1.2:8080", "10.42.2.2:8080"), vip("10.42.1.2:8080", "10.42.2.2:8080")},
			[]Rule{web(5001, "tcp", "10.42.2.2:8080"), vip("10.42.2.2:8080")},
			[]Backend{be("tcp", "10.42.1.2:8080")}},
		{"a replacement at another address",
			[]Rule{web(5001, "tcp", "10.42.1.2:8080", "10.42.2.2:8080")},
			[]Rule{web(5001, "tcp", "10.42.1.3:8080", "10.42.2.2:8080")},
			[]Backend{be("tcp", "10.42.1.2:8080")}},
		{"the service removed: every backend, sorted",
			[]Rule{web(5001, "tcp", "10.42.2.2:8080", "10.42.1.2:8080"), web(53, "udp", "10.42.1.2:53")},
			nil,
			[]Backend{be("udp", "10.42.1.2:53"), be("tcp", "10.42.1.2:8080"), be("tcp", "10.42.2.2:8080")}},
		{"same address, other protocol stays apart",
			[]Rule{web(53, "udp", "10.42.1.2:53"), web(53, "tcp", "10.42.1.2:53")},
			[]Rule{web(53, "tcp", "10.42.1.2:53")},
			[]Backend{be("udp", "10.42.1.2:53")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Departed(tc.prev, tc.next); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Departed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestInstalled reads back, from `iptables -t nat -S` as iptables 1.8
// prints it, the backends an earlier agent's rules send to: what a
// restarted agent's first Apply compares its rules with.
func TestInstalled(t *testing.T) {
	be := func(proto sched.Protocol, s string) Rule {
		return Rule{Frontend: Frontend{Protocol: proto}, Backends: aps(s)}
	}
	tests := []struct {
		name  string
		rules string
		want  []Rule
	}{
		{"no mesh", "-P PREROUTING ACCEPT\n-N DOCKER\n-A DOCKER -i docker0 -j RETURN\n", nil},
		{"two backends of a published port, one of DNS over UDP", `-P PREROUTING ACCEPT
-N SHOAL-FE-ABCDEF0123456789
-N SHOAL-FE-0123456789ABCDEF
-N SHOAL-MESH
-A SHOAL-FE-ABCDEF0123456789 -j MARK --set-xmark 0x8000/0x8000
-A SHOAL-FE-ABCDEF0123456789 -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.99.0.50:8080
-A SHOAL-FE-ABCDEF0123456789 -p tcp -j DNAT --to-destination 10.99.0.51:8080
-A SHOAL-FE-0123456789ABCDEF -p udp -j DNAT --to-destination 10.42.1.2:53
-A SHOAL-MESH -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 5001 -m comment --comment "web ingress 5001/tcp" -j SHOAL-FE-ABCDEF0123456789
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
`, []Rule{be("tcp", "10.99.0.50:8080"), be("tcp", "10.99.0.51:8080"), be("udp", "10.42.1.2:53")}},
		{"an unreadable destination is skipped", "-A SHOAL-FE-ABCDEF0123456789 -p tcp -j DNAT --to-destination 10.99.0.50\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Installed(tc.rules); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Installed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnansweredMatches(t *testing.T) {
	gone := unanswered{{"tcp", netip.MustParseAddrPort("10.42.1.2:8080")}: true, {"udp", netip.MustParseAddrPort("10.42.1.2:53")}: true}
	flow := func(proto uint8, state int, backend string) *netlink.ConntrackFlow {
		b := netip.MustParseAddrPort(backend)
		f := &netlink.ConntrackFlow{FamilyType: netlink.FAMILY_V4,
			Forward: netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP("10.76.0.1"), SrcPort: 40000,
				DstIP: net.ParseIP("10.76.0.11"), DstPort: 5001},
			Reverse: netlink.IPTuple{Protocol: proto, SrcIP: b.Addr().AsSlice(), SrcPort: b.Port(),
				DstIP: net.ParseIP("10.42.9.0"), DstPort: 40000}}
		if state >= 0 {
			f.ProtoInfo = &netlink.ProtoInfoTCP{State: uint8(state)}
		}
		return f
	}
	const established = 3
	tests := []struct {
		name string
		flow *netlink.ConntrackFlow
		want bool
	}{
		{"unanswered SYN to a departed backend", flow(6, tcpSynSent, "10.42.1.2:8080"), true},
		{"simultaneous open (SYN_SENT2)", flow(6, tcpSynSent2, "10.42.1.2:8080"), true},
		{"established connection to a departed backend: left to finish", flow(6, established, "10.42.1.2:8080"), false},
		{"unanswered SYN to a backend still there", flow(6, tcpSynSent, "10.42.2.2:8080"), false},
		{"other port of the departed address", flow(6, tcpSynSent, "10.42.1.2:9090"), false},
		{"UDP flow to a departed backend", flow(17, -1, "10.42.1.2:53"), true},
		{"UDP to the TCP backend's address and port", flow(17, -1, "10.42.1.2:8080"), false},
		{"TCP without state information", flow(6, -1, "10.42.1.2:8080"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gone.MatchConntrackFlow(tc.flow); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRetransmittedSYNReachesTheNextBackend is the mesh in a network
// namespace of its own: a client connects to a published port whose only
// backend has just died (its SYN vanishes); the mesh replaces the backend
// with a live one. The client's retransmitted SYN (one second later) must
// reach the live backend, not follow the old conntrack entry to the dead
// one until the client gives up — also when the agent crashed and
// restarted between the two rule sets (its first Apply reads the old
// backends back from the kernel), or was stopped and started (Teardown
// forgets the entries through the rules it removes).
func TestRetransmittedSYNReachesTheNextBackend(t *testing.T) {
	for _, between := range []string{"same agent", "agent crashed and restarted", "agent stopped and started"} {
		t.Run(between, func(t *testing.T) { testRetransmittedSYN(t, between) })
	}
}

func testRetransmittedSYN(t *testing.T, between string) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "skipping: needs root (network namespaces, iptables, conntrack)")
	}
	for _, bin := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Skip(t, "skipping: %s is missing", bin)
		}
	}
	// Two namespaces: the node (the mesh, and a bridge without ports whose
	// subnet holds the dead backend: no one answers ARP for it) and a
	// client, on a veth pair.
	id := os.Getpid() % 100000
	ns, client := fmt.Sprintf("shoalmesh%d", id), fmt.Sprintf("shoalmeshc%d", id)
	for _, n := range []string{ns, client} {
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n).Run() })
	}
	vethN, vethC := fmt.Sprintf("shmn%d", id), fmt.Sprintf("shmc%d", id)
	for _, args := range [][]string{
		{"link", "add", vethN, "type", "veth", "peer", "name", vethC},
		{"link", "set", vethN, "netns", ns},
		{"link", "set", vethC, "netns", client},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", "10.98.0.1/24", "dev", vethN},
		{"-n", ns, "link", "set", vethN, "up"},
		{"-n", ns, "link", "add", "d0", "type", "bridge"},
		{"-n", ns, "addr", "add", "10.99.0.1/24", "dev", "d0"},
		{"-n", ns, "link", "set", "d0", "up"},
		{"-n", client, "addr", "add", "10.98.0.2/24", "dev", vethC},
		{"-n", client, "link", "set", vethC, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	var live net.Listener
	if err := netlab.InNS(ns, func() (err error) {
		live, err = net.Listen("tcp", "10.99.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	livePort := live.Addr().(*net.TCPAddr).Port
	ipt := &IPTables{}
	rule := func(backend string) []Rule {
		return []Rule{{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 5001}, Backends: aps(backend)}}
	}
	apply := func(rules []Rule) {
		t.Helper()
		if err := netlab.InNS(ns, func() error { return ipt.Apply(rules) }); err != nil {
			t.Fatal(err)
		}
	}
	apply(rule("10.99.0.50:8080")) // the dead replica

	type result struct {
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		err := netlab.InNS(client, func() error {
			d := net.Dialer{Timeout: 5 * time.Second}
			c, err := d.DialContext(context.Background(), "tcp", "10.98.0.1:5001")
			if err == nil {
				c.Close()
			}
			return err
		})
		done <- result{err, time.Since(start)}
	}()
	// The SYN is on its way to the dead backend when the mesh replaces it.
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("the connection to the dead backend ended at once: %v", r.err)
	default:
	}
	switch between {
	case "agent crashed and restarted":
		ipt = &IPTables{} // a new agent process: no memory of the last Apply
	case "agent stopped and started":
		if err := netlab.InNS(ns, ipt.Teardown); err != nil {
			t.Fatal(err)
		}
		ipt = &IPTables{}
	}
	apply(rule(fmt.Sprintf("10.99.0.1:%d", livePort)))
	r := <-done
	if r.err != nil {
		var ne net.Error
		timeout := errors.As(r.err, &ne) && ne.Timeout()
		t.Fatalf("connect after the backend was replaced: %v (timeout %v) after %v; want the retransmitted SYN to reach the live backend",
			r.err, timeout, r.took.Round(time.Millisecond))
	}
	t.Logf("connected %v after the first SYN (the retransmission went to the live backend)", r.took.Round(time.Millisecond))
	if err := netlab.InNS(ns, ipt.Teardown); err != nil {
		t.Error(err)
	}
}
