package agent_test

import (
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

var (
	digOnce sync.Once
	digPath string
)

// needDig returns the path of dig, installing dnsutils when it is missing
// and that is possible; the test is skipped only when it is not.
func needDig(t *testing.T) string {
	t.Helper()
	digOnce.Do(func() {
		if p, err := exec.LookPath("dig"); err == nil {
			digPath = p
			return
		}
		if out, err := exec.Command("apt-get", "install", "-y", "dnsutils").CombinedOutput(); err != nil {
			t.Logf("apt-get install dnsutils: %v\n%s", err, out)
		}
		digPath, _ = exec.LookPath("dig")
	})
	if digPath == "" {
		testenv.Skip(t, "dig is not installed and apt-get install -y dnsutils failed: skipping end-to-end DNS tests")
	}
	return digPath
}

// digResult is dig's answer, parsed from its text output.
type digResult struct {
	status                        string
	flags                         []string
	answer, authority, additional []string // records with single spaces
}

func (r digResult) String() string {
	return fmt.Sprintf("status=%s flags=%v\nanswer=%q\nauthority=%q\nadditional=%q",
		r.status, r.flags, r.answer, r.authority, r.additional)
}

func (r digResult) has(flag string) bool { return slices.Contains(r.flags, flag) }

// dig runs the real dig against addr ("127.0.0.1:port") with args such as
// "web.service.consul", "SRV", "+tcp".
func dig(t *testing.T, addr string, args ...string) digResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	argv := append([]string{"@" + host, "-p", port, "+time=3", "+tries=1", "+nocookie", "+nocmd", "+nostats"}, args...)
	out, err := exec.Command(needDig(t), argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", argv, err, out)
	}
	var r digResult
	var section *[]string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.Contains(line, "status: "):
			r.status = strings.TrimSuffix(strings.Fields(line[strings.Index(line, "status: "):])[1], ",")
		case strings.HasPrefix(line, ";; flags:"):
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			r.flags = strings.Fields(flags)
		case strings.HasPrefix(line, ";; ANSWER SECTION"):
			section = &r.answer
		case strings.HasPrefix(line, ";; AUTHORITY SECTION"):
			section = &r.authority
		case strings.HasPrefix(line, ";; ADDITIONAL SECTION"):
			section = &r.additional
		case strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "":
			if strings.TrimSpace(line) == "" {
				section = nil
			}
		case section != nil:
			*section = append(*section, strings.Join(strings.Fields(line), " "))
		}
	}
	if r.status == "" {
		t.Fatalf("dig %v: no status in output:\n%s", argv, out)
	}
	return r
}

// rdata returns the last field of each record: the address, target or name.
func rdata(rrs []string) []string {
	var out []string
	for _, rr := range rrs {
		f := strings.Fields(rr)
		out = append(out, f[len(f)-1])
	}
	slices.Sort(out)
	return out
}

// upstream runs a local DNS server as the client agent's recursor.
func upstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		if req.Question[0].Name == "example.com." && req.Question[0].Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR("example.com. 60 IN A 192.0.2.10")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &mdns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// register puts one instance on its own node through /v1/catalog/register.
func register(t *testing.T, cl *api.Client, node, addr, service string, port int, tags []string, status string) {
	t.Helper()
	_, err := cl.Catalog().Register(&api.CatalogRegistration{
		Node:    node,
		Address: addr,
		Service: &api.AgentService{ID: service + "-" + node, Service: service, Port: port, Tags: tags},
		Check: &api.AgentCheck{CheckID: "check-" + service + "-" + node, Name: "alive", Status: status,
			ServiceID: service + "-" + node},
	}, nil)
	if err != nil {
		t.Fatalf("register %s on %s: %v", service, node, err)
	}
}

// TestDNSWithDig runs every lookup of the DNS issue with dig against a
// client agent of a three-server cluster, and a server agent.
func TestDNSWithDig(t *testing.T) {
	needDig(t)
	recursor := upstream(t)
	c := testcluster.New(t, testcluster.Options{Servers: 3, Clients: 1, Configure: func(i int, cfg *config.Config) {
		cfg.Ports.DNS = testcluster.ExtraPort(t, cfg)
		cfg.Recursors = []string{recursor}
		cfg.DNSConfig = map[string]interface{}{"recursor_timeout": "1s"}
	}})
	c.WaitForLeader(20 * time.Second)
	client := c.Nodes[3]
	dnsAddr := "127.0.0.1:" + strconv.Itoa(client.Cfg.Ports.DNS)
	serverDNS := "127.0.0.1:" + strconv.Itoa(c.Nodes[0].Cfg.Ports.DNS)
	cl := client.API(t)

	for i := 1; i <= 3; i++ {
		tags := []string{"v2"}
		if i == 1 {
			tags = []string{"v1"}
		}
		register(t, cl, fmt.Sprintf("w%d", i), fmt.Sprintf("10.0.1.%d", i), "web", 8080, tags, api.HealthPassing)
	}
	// An instance with its own address, for PTR of service addresses.
	if _, err := cl.Catalog().Register(&api.CatalogRegistration{Node: "w1", Address: "10.0.1.1",
		Service: &api.AgentService{ID: "api1", Service: "api", Port: 9000, Address: "10.0.3.1"}}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if r := dig(t, dnsAddr, "web.service.consul"); len(r.answer) != 3 {
			return fmt.Errorf("web: %v", r)
		}
		return nil
	})

	type check func(t *testing.T, r digResult)
	wantStatus := func(s string) check {
		return func(t *testing.T, r digResult) {
			if r.status != s {
				t.Errorf("status %s, want %s\n%v", r.status, s, r)
			}
		}
	}
	wantAnswer := func(want ...string) check {
		return func(t *testing.T, r digResult) {
			slices.Sort(want)
			if got := rdata(r.answer); !slices.Equal(got, want) {
				t.Errorf("answer %q, want %q\n%v", got, want, r)
			}
		}
	}
	cases := []struct {
		name   string
		addr   string
		args   []string
		checks []check
	}{
		{"A of healthy instances", dnsAddr, []string{"web.service.consul"},
			[]check{wantStatus("NOERROR"), wantAnswer("10.0.1.1", "10.0.1.2", "10.0.1.3"),
				func(t *testing.T, r digResult) {
					if !r.has("aa") {
						t.Errorf("not authoritative: %v", r)
					}
				}}},
		{"from a server agent", serverDNS, []string{"web.service.consul"},
			[]check{wantStatus("NOERROR"), wantAnswer("10.0.1.1", "10.0.1.2", "10.0.1.3")}},
		{"case-insensitive", dnsAddr, []string{"WEB.Service.CONSUL"},
			[]check{wantAnswer("10.0.1.1", "10.0.1.2", "10.0.1.3")}},
		{"datacenter-qualified", dnsAddr, []string{"web.service.dc1.consul"},
			[]check{wantAnswer("10.0.1.1", "10.0.1.2", "10.0.1.3")}},
		{"SRV with addresses in additional", dnsAddr, []string{"web.service.consul", "SRV"},
			[]check{wantAnswer("w1.node.dc1.consul.", "w2.node.dc1.consul.", "w3.node.dc1.consul."),
				func(t *testing.T, r digResult) {
					for _, rr := range r.answer {
						if !strings.Contains(rr, "SRV 1 1 8080 ") {
							t.Errorf("SRV %q, want 1 1 8080 <target>", rr)
						}
					}
					if got := rdata(r.additional); !slices.Equal(got, []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"}) {
						t.Errorf("additional %q", r.additional)
					}
				}}},
		{"tag filter", dnsAddr, []string{"v1.web.service.consul"}, []check{wantAnswer("10.0.1.1")}},
		{"RFC 2782", dnsAddr, []string{"_web._tcp.service.consul", "SRV"},
			[]check{wantAnswer("w1.node.dc1.consul.", "w2.node.dc1.consul.", "w3.node.dc1.consul.")}},
		{"RFC 2782 with tag", dnsAddr, []string{"_web._v2.service.consul", "SRV"},
			[]check{wantAnswer("w2.node.dc1.consul.", "w3.node.dc1.consul.")}},
		{"node", dnsAddr, []string{"w1.node.consul"}, []check{wantAnswer("10.0.1.1")}},
		{"node of the cluster", dnsAddr, []string{"s1.node.dc1.consul"}, []check{wantAnswer("127.0.0.1")}},
		{"PTR", dnsAddr, []string{"-x", "10.0.1.2"}, []check{wantAnswer("w2.node.dc1.consul.")}},
		{"PTR of a service address", dnsAddr, []string{"-x", "10.0.3.1"}, []check{wantAnswer("api.service.dc1.consul.")}},
		{"SRV of a service address", dnsAddr, []string{"api.service.consul", "SRV"},
			[]check{wantAnswer("0a000301.addr.dc1.consul.")}},
		{"addr", dnsAddr, []string{"0a000103.addr.dc1.consul"}, []check{wantAnswer("10.0.1.3")}},
		{"SOA", dnsAddr, []string{"consul", "SOA"}, []check{wantStatus("NOERROR"),
			func(t *testing.T, r digResult) {
				if len(r.answer) != 1 || !strings.Contains(r.answer[0], "SOA ns.consul. hostmaster.consul.") {
					t.Errorf("SOA answer %q", r.answer)
				}
			}}},
		{"NS", dnsAddr, []string{"consul", "NS"}, []check{wantStatus("NOERROR"),
			func(t *testing.T, r digResult) {
				if len(r.answer) == 0 || len(r.answer) > 3 || len(r.additional) != len(r.answer) {
					t.Errorf("want 1 to 3 servers with glue: %v", r)
				}
			}}},
		{"NXDOMAIN with SOA", dnsAddr, []string{"nope.service.consul"}, []check{wantStatus("NXDOMAIN"),
			func(t *testing.T, r digResult) {
				if len(r.authority) != 1 || !strings.Contains(r.authority[0], " SOA ") {
					t.Errorf("authority %q, want the SOA", r.authority)
				}
			}}},
		{"recursor", dnsAddr, []string{"example.com"}, []check{wantStatus("NOERROR"), wantAnswer("192.0.2.10"),
			func(t *testing.T, r digResult) {
				if !r.has("ra") {
					t.Errorf("RA not set: %v", r)
				}
			}}},
	}
	// A server answers stale reads from its own state: wait until it has
	// applied the registrations.
	testcluster.Eventually(t, 10*time.Second, func() error {
		if r := dig(t, serverDNS, "web.service.consul"); len(r.answer) != 3 {
			return fmt.Errorf("web on s1: %v", r)
		}
		return nil
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dig(t, tc.addr, tc.args...)
			for _, c := range tc.checks {
				c(t, r)
			}
		})
	}

	t.Run("40 instances over UDP and TCP", func(t *testing.T) {
		for i := 1; i <= 40; i++ {
			register(t, cl, fmt.Sprintf("b%d", i), fmt.Sprintf("10.0.2.%d", i), "big", 9000, nil, api.HealthPassing)
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			if r := dig(t, dnsAddr, "+tcp", "big.service.consul"); len(r.answer) != 40 {
				return fmt.Errorf("TCP A: %d answers", len(r.answer))
			}
			return nil
		})
		udp := dig(t, dnsAddr, "+noedns", "+ignore", "big.service.consul")
		if len(udp.answer) != 3 || !udp.has("tc") {
			t.Errorf("UDP without EDNS0: want 3 answers and TC\n%v", udp)
		}
		srv := dig(t, dnsAddr, "+ignore", "big.service.consul", "SRV")
		if len(srv.answer) == 0 || len(srv.answer) >= 40 || !srv.has("tc") {
			t.Errorf("UDP SRV with EDNS0 1232: want some answers and TC\n%v", srv)
		}
		if len(srv.additional) != len(srv.answer) {
			t.Errorf("UDP SRV: %d additional for %d answers", len(srv.additional), len(srv.answer))
		}
		tcp := dig(t, dnsAddr, "+tcp", "big.service.consul", "SRV")
		if len(tcp.answer) != 40 || tcp.has("tc") || len(tcp.additional) != 40 {
			t.Errorf("TCP SRV: want all 40 with their addresses\n%v", tcp)
		}
		// dig retries over TCP on TC by default: the whole answer.
		if r := dig(t, dnsAddr, "+noedns", "big.service.consul"); len(r.answer) != 40 {
			t.Errorf("UDP then TCP retry: %d answers", len(r.answer))
		}
	})

	t.Run("critical instance disappears", func(t *testing.T) {
		register(t, cl, "w3", "10.0.1.3", "web", 8080, []string{"v2"}, api.HealthCritical)
		testcluster.Eventually(t, 5*time.Second, func() error {
			got := rdata(dig(t, dnsAddr, "web.service.consul").answer)
			if !slices.Equal(got, []string{"10.0.1.1", "10.0.1.2"}) {
				return fmt.Errorf("answer %q", got)
			}
			return nil
		})
		register(t, cl, "w2", "10.0.1.2", "web", 8080, []string{"v2"}, api.HealthWarning)
		time.Sleep(200 * time.Millisecond)
		if got := rdata(dig(t, dnsAddr, "web.service.consul").answer); !slices.Equal(got, []string{"10.0.1.1", "10.0.1.2"}) {
			t.Errorf("warning instance must stay: %q", got)
		}
	})

	t.Run("SERVFAIL when no server is reachable", func(t *testing.T) {
		for _, n := range c.Nodes[:3] {
			c.Kill(n)
		}
		testcluster.Eventually(t, 15*time.Second, func() error {
			if r := dig(t, dnsAddr, "other.service.consul"); r.status != "SERVFAIL" {
				return fmt.Errorf("uncached name: %v", r)
			}
			if r := dig(t, dnsAddr, "web.service.consul"); r.status != "SERVFAIL" {
				return fmt.Errorf("cached name: %v", r)
			}
			return nil
		})
	})
}
