package mesh

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/shoalproject/shoal/sched"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func aps(ss ...string) []netip.AddrPort {
	out := []netip.AddrPort{}
	for _, s := range ss {
		out = append(out, netip.MustParseAddrPort(s))
	}
	return out
}

func TestPlan(t *testing.T) {
	ingress := sched.Port{Name: "http", Container: 8080, Published: 5001, Mode: sched.PortIngress, Protocol: sched.ProtocolTCP}
	hostMode := sched.Port{Name: "admin", Container: 9000, Published: 9000, Host: 9000, Mode: sched.PortHost, Protocol: sched.ProtocolTCP}
	vip := netip.MustParseAddr("10.42.255.2")
	tests := []struct {
		name      string
		services  []Service
		want      []Rule
		conflicts []string
	}{
		{name: "ingress over healthy instances, sorted and deduplicated",
			services: []Service{{Name: "web", Ports: []sched.Port{ingress}, Instances: addrs("10.42.3.2", "10.42.1.2", "10.42.3.2")}},
			want: []Rule{{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 5001},
				Backends: aps("10.42.1.2:8080", "10.42.3.2:8080")}}},
		{name: "no healthy instance keeps the frontend without backends",
			services: []Service{{Name: "web", Ports: []sched.Port{ingress}}},
			want:     []Rule{{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 5001}, Backends: aps()}}},
		{name: "host mode is not the mesh's",
			services: []Service{{Name: "web", Ports: []sched.Port{hostMode}, Instances: addrs("10.42.1.2")}}},
		{name: "a VIP answers on every container port",
			services: []Service{{Name: "web", VIP: vip, Ports: []sched.Port{ingress, hostMode}, Instances: addrs("10.42.1.2")}},
			want: []Rule{
				{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 5001}, Backends: aps("10.42.1.2:8080")},
				{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 8080, VIP: vip}, Backends: aps("10.42.1.2:8080")},
				{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 9000, VIP: vip}, Backends: aps("10.42.1.2:9000")},
			}},
		{name: "the first name keeps a contested port",
			services: []Service{
				{Name: "web2", Ports: []sched.Port{ingress}, Instances: addrs("10.42.2.2")},
				{Name: "web", Ports: []sched.Port{ingress}, Instances: addrs("10.42.1.2")},
			},
			want:      []Rule{{Frontend: Frontend{Service: "web", Protocol: "tcp", Port: 5001}, Backends: aps("10.42.1.2:8080")}},
			conflicts: []string{"web2: published port 5001/tcp is web's"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, conflicts := Plan(tc.services)
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(conflicts, tc.conflicts) {
				t.Errorf("Plan =\n%+v %q\nwant\n%+v %q", got, conflicts, tc.want, tc.conflicts)
			}
		})
	}
}

// TestRender checks the iptables-restore input: equal shares for the
// backends, the mark for masquerading, and stale frontend chains removed.
func TestRender(t *testing.T) {
	f := Frontend{Service: "web", Protocol: "tcp", Port: 5001}
	rules := []Rule{{Frontend: f, Backends: aps("10.42.1.2:8080", "10.42.2.2:8080", "10.42.3.2:8080")}}
	out := Render(rules, []string{"DOCKER", chainName(f), "SHOAL-FE-0000000000000000"})
	c := chainName(f)
	for _, want := range []string{
		"*nat\n:SHOAL-MESH - [0:0]\n:SHOAL-MESH-POST - [0:0]\n",
		"-A SHOAL-MESH-POST -m mark --mark 0x8000/0x8000 -j MASQUERADE\n",
		"-A SHOAL-MESH -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 5001 -m comment --comment \"web ingress 5001/tcp\" -j " + c + "\n",
		"-A " + c + " -p tcp -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.42.1.2:8080\n",
		"-A " + c + " -p tcp -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.42.2.2:8080\n",
		"-A " + c + " -p tcp -j DNAT --to-destination 10.42.3.2:8080\n",
		":SHOAL-FE-0000000000000000 - [0:0]\n",
		"-X SHOAL-FE-0000000000000000\nCOMMIT\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Render output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DOCKER") || strings.Count(out, ":"+c) != 1 {
		t.Errorf("Render touched another chain or declared one twice:\n%s", out)
	}
}
