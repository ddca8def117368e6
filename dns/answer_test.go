package dns

import (
	"errors"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/catalog"
)

const soaConsul = "consul. 0 SOA ns.consul. hostmaster.consul."

func TestAnswers(t *testing.T) {
	type testCase struct {
		name   string
		qname  string
		qtype  uint16
		tcp    bool
		edns   uint16
		cfg    func(*Config)
		rcode  int
		answer []string // exact records, any order; nil checks nAnswer
		// nAnswer is the number of answers when answer is nil.
		nAnswer int
		ns      []string
		extra   []string
		tc      bool
	}
	cases := []testCase{
		{name: "service A skips critical, keeps warning", qname: "web.service.consul.", qtype: mdns.TypeA,
			answer: []string{"web.service.consul. 0 IN A 10.0.0.1", "web.service.consul. 0 IN A 10.0.0.2"}},
		{name: "only_passing drops warning", qname: "web.service.consul.", qtype: mdns.TypeA,
			cfg:    func(c *Config) { c.OnlyPassing = true },
			answer: []string{"web.service.consul. 0 IN A 10.0.0.1"}},
		{name: "case-insensitive name keeps the question's case", qname: "WeB.SeRvIcE.CoNsUl.", qtype: mdns.TypeA,
			answer: []string{"WeB.SeRvIcE.CoNsUl. 0 IN A 10.0.0.1", "WeB.SeRvIcE.CoNsUl. 0 IN A 10.0.0.2"}},
		{name: "tag filter", qname: "v1.web.service.consul.", qtype: mdns.TypeA,
			answer: []string{"v1.web.service.consul. 0 IN A 10.0.0.1"}},
		{name: "tag filter is case-insensitive", qname: "primary.web.service.consul.", qtype: mdns.TypeA,
			answer: []string{"primary.web.service.consul. 0 IN A 10.0.0.1"}},
		{name: "tag with only critical instances", qname: "v9.web.service.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "datacenter-qualified", qname: "web.service.dc1.consul.", qtype: mdns.TypeA, nAnswer: 2},
		{name: "explicit .dc form", qname: "web.service.dc1.dc.consul.", qtype: mdns.TypeA, nAnswer: 2},
		{name: "unknown datacenter", qname: "web.service.dc9.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "alt domain answers in its own domain", qname: "web.service.shoal.", qtype: mdns.TypeSRV,
			answer: []string{"web.service.shoal. 0 IN SRV 1 1 8080 n1.node.dc1.shoal.", "web.service.shoal. 0 IN SRV 1 1 8080 n2.node.dc1.shoal."},
			extra:  []string{"n1.node.dc1.shoal. 0 IN A 10.0.0.1", "n1.node.dc1.shoal. 0 IN TXT \"rack=r1\"", "n2.node.dc1.shoal. 0 IN A 10.0.0.2"}},
		{name: "virtual IP", qname: "web.virtual.consul.", qtype: mdns.TypeA,
			answer: []string{"web.virtual.consul. 0 IN A 10.42.0.7"}},
		{name: "virtual IP, case-insensitive, alt domain", qname: "WEB.virtual.shoal.", qtype: mdns.TypeA,
			answer: []string{"WEB.virtual.shoal. 0 IN A 10.42.0.7"}},
		{name: "no virtual IP", qname: "api.virtual.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "virtual IP has no AAAA", qname: "web.virtual.consul.", qtype: mdns.TypeAAAA,
			ns: []string{soaConsul}},
		{name: "unknown service", qname: "nope.service.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "service whose only instance is in maintenance", qname: "down.service.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "SRV with node targets and addresses in additional", qname: "web.service.consul.", qtype: mdns.TypeSRV,
			cfg: func(c *Config) { c.NodeMetaTXT = false },
			answer: []string{"web.service.consul. 0 IN SRV 1 1 8080 n1.node.dc1.consul.",
				"web.service.consul. 0 IN SRV 1 1 8080 n2.node.dc1.consul."},
			extra: []string{"n1.node.dc1.consul. 0 IN A 10.0.0.1", "n2.node.dc1.consul. 0 IN A 10.0.0.2"}},
		{name: "RFC 2782 form, _tcp means any tag", qname: "_web._tcp.service.consul.", qtype: mdns.TypeSRV,
			cfg: func(c *Config) { c.NodeMetaTXT = false }, nAnswer: 2},
		{name: "RFC 2782 form with a tag", qname: "_web._v2.service.consul.", qtype: mdns.TypeSRV,
			answer: []string{"_web._v2.service.consul. 0 IN SRV 1 1 8080 n2.node.dc1.consul."},
			extra:  []string{"n2.node.dc1.consul. 0 IN A 10.0.0.2"}},
		{name: "RFC 2782 form without the service label", qname: "_web._v2.consul.", qtype: mdns.TypeSRV,
			answer: []string{"_web._v2.consul. 0 IN SRV 1 1 8080 n2.node.dc1.consul."},
			extra:  []string{"n2.node.dc1.consul. 0 IN A 10.0.0.2"}},
		{name: "SRV weights by state, service address as .addr. target", qname: "api.service.consul.", qtype: mdns.TypeSRV,
			answer: []string{"api.service.consul. 0 IN SRV 1 10 9000 0a010001.addr.dc1.consul.",
				"api.service.consul. 0 IN SRV 1 1 9000 0a010002.addr.dc1.consul."},
			extra: []string{"0a010001.addr.dc1.consul. 0 IN A 10.1.0.1", "0a010002.addr.dc1.consul. 0 IN A 10.1.0.2"}},
		{name: "service address wins over node address", qname: "api.service.consul.", qtype: mdns.TypeA,
			answer: []string{"api.service.consul. 0 IN A 10.1.0.1", "api.service.consul. 0 IN A 10.1.0.2"}},
		{name: "AAAA of an IPv6 instance", qname: "v6.service.consul.", qtype: mdns.TypeAAAA,
			answer: []string{"v6.service.consul. 0 IN AAAA 2001:db8::6"}},
		{name: "A of an IPv6-only service is no data", qname: "v6.service.consul.", qtype: mdns.TypeA,
			ns: []string{soaConsul}},
		{name: "AAAA of an IPv4-only service is no data", qname: "web.service.consul.", qtype: mdns.TypeAAAA,
			ns: []string{soaConsul}},
		{name: "ANY gives both families", qname: "web.service.consul.", qtype: mdns.TypeANY, nAnswer: 2},
		{name: "node with a host name gives a CNAME", qname: "ext.service.consul.", qtype: mdns.TypeA,
			answer: []string{"ext.service.consul. 0 IN CNAME example.org."}},
		{name: "service with a host name gives a CNAME", qname: "alias.service.consul.", qtype: mdns.TypeA,
			answer: []string{"alias.service.consul. 0 IN CNAME db.example.com."}},
		{name: "SRV to a host name", qname: "alias.service.consul.", qtype: mdns.TypeSRV,
			answer: []string{"alias.service.consul. 0 IN SRV 1 1 5432 db.example.com."}},
		{name: "duplicate instances answered once", qname: "dup.service.consul.", qtype: mdns.TypeSRV,
			cfg:    func(c *Config) { c.NodeMetaTXT = false },
			answer: []string{"dup.service.consul. 0 IN SRV 1 1 1 n1.node.dc1.consul."},
			extra:  []string{"n1.node.dc1.consul. 0 IN A 10.0.0.1"}},
		{name: "service_ttl exact and wildcard", qname: "web.service.consul.", qtype: mdns.TypeA,
			cfg: func(c *Config) {
				c.ServiceTTL = map[string]time.Duration{"*": 5 * time.Second, "w*": 7 * time.Second, "WEB": 9 * time.Second}
			},
			answer: []string{"web.service.consul. 9 IN A 10.0.0.1", "web.service.consul. 9 IN A 10.0.0.2"}},
		{name: "service_ttl longest prefix", qname: "v6.service.consul.", qtype: mdns.TypeAAAA,
			cfg: func(c *Config) {
				c.ServiceTTL = map[string]time.Duration{"*": 5 * time.Second, "v*": 7 * time.Second}
			},
			answer: []string{"v6.service.consul. 7 IN AAAA 2001:db8::6"}},
		{name: "node A with meta TXT in additional", qname: "n1.node.consul.", qtype: mdns.TypeA,
			cfg:    func(c *Config) { c.NodeTTL = 30 * time.Second },
			answer: []string{"n1.node.consul. 30 IN A 10.0.0.1"},
			extra:  []string{"n1.node.consul. 30 IN TXT \"rack=r1\""}},
		{name: "node TXT", qname: "N1.node.dc1.consul.", qtype: mdns.TypeTXT,
			answer: []string{"N1.node.dc1.consul. 0 IN TXT \"rack=r1\""}},
		{name: "node AAAA", qname: "n6.node.consul.", qtype: mdns.TypeAAAA,
			answer: []string{"n6.node.consul. 0 IN AAAA 2001:db8::6"}},
		{name: "node AAAA of IPv4 node is no data", qname: "n2.node.consul.", qtype: mdns.TypeAAAA,
			ns: []string{soaConsul}},
		{name: "unknown node", qname: "nobody.node.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "addr IPv4", qname: "0a000001.addr.dc1.consul.", qtype: mdns.TypeA,
			answer: []string{"0a000001.addr.dc1.consul. 0 IN A 10.0.0.1"}},
		{name: "addr IPv6", qname: "20010db8000000000000000000000006.addr.consul.", qtype: mdns.TypeAAAA,
			answer: []string{"20010db8000000000000000000000006.addr.consul. 0 IN AAAA 2001:db8::6"}},
		{name: "addr of wrong length", qname: "0a0001.addr.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "invalid name under the domain", qname: "foo.bar.consul.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "apex A is no data", qname: "consul.", qtype: mdns.TypeA, ns: []string{soaConsul}},
		{name: "SOA", qname: "consul.", qtype: mdns.TypeSOA,
			answer: []string{soaConsul},
			ns:     []string{"consul. 0 IN NS n1.node.dc1.consul."},
			extra:  []string{"n1.node.dc1.consul. 0 IN A 10.0.0.1"}},
		{name: "NS", qname: "consul.", qtype: mdns.TypeNS,
			answer: []string{"consul. 0 IN NS n1.node.dc1.consul."},
			extra:  []string{"n1.node.dc1.consul. 0 IN A 10.0.0.1"}},
		{name: "SOA of alt domain", qname: "shoal.", qtype: mdns.TypeSOA,
			answer: []string{"shoal. 0 SOA ns.shoal. hostmaster.shoal."}, nAnswer: 1,
			ns:    []string{"shoal. 0 IN NS n1.node.dc1.shoal."},
			extra: []string{"n1.node.dc1.shoal. 0 IN A 10.0.0.1"}},
		{name: "AXFR is not implemented", qname: "consul.", qtype: mdns.TypeAXFR, rcode: mdns.RcodeNotImplemented},
		{name: "PTR of a node address", qname: "1.0.0.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"1.0.0.10.in-addr.arpa. 0 IN PTR n1.node.dc1.consul."}},
		{name: "PTR of an IPv6 node address", qname: "6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", qtype: mdns.TypePTR,
			answer: []string{"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 0 IN PTR n6.node.dc1.consul."}},
		{name: "PTR unknown without recursors", qname: "9.9.9.10.in-addr.arpa.", qtype: mdns.TypePTR,
			rcode: mdns.RcodeNameError, ns: []string{soaConsul}},
		{name: "other domain without recursors is refused", qname: "example.com.", qtype: mdns.TypeA,
			rcode: mdns.RcodeRefused},
		// Size handling.
		{name: "UDP without EDNS0: udp_answer_limit and TC", qname: "big.service.consul.", qtype: mdns.TypeA,
			nAnswer: 3, tc: true},
		{name: "UDP limit without truncate flag", qname: "big.service.consul.", qtype: mdns.TypeA,
			cfg: func(c *Config) { c.EnableTruncate = false }, nAnswer: 3},
		{name: "UDP answer limit configured", qname: "big.service.consul.", qtype: mdns.TypeA,
			cfg: func(c *Config) { c.UDPAnswerLimit = 5 }, nAnswer: 5, tc: true},
		{name: "UDP answer limit capped at 8", qname: "big.service.consul.", qtype: mdns.TypeA,
			cfg: func(c *Config) { c.UDPAnswerLimit = 100 }, nAnswer: 8, tc: true},
		{name: "UDP with EDNS0 fits all A records", qname: "big.service.consul.", qtype: mdns.TypeA,
			edns: 1232, nAnswer: 40},
		{name: "a_record_limit applies to TCP too", qname: "big.service.consul.", qtype: mdns.TypeA,
			tcp: true, cfg: func(c *Config) { c.ARecordLimit = 4 }, nAnswer: 4},
		{name: "UDP EDNS0 SRV truncated by size", qname: "big.service.consul.", qtype: mdns.TypeSRV,
			edns: 1232, nAnswer: -1, tc: true},
		{name: "TCP returns every SRV", qname: "big.service.consul.", qtype: mdns.TypeSRV,
			tcp: true, nAnswer: 40},
		{name: "TCP returns every A", qname: "big.service.consul.", qtype: mdns.TypeA,
			tcp: true, nAnswer: 40},
		{name: "UDP SRV without EDNS0", qname: "big.service.consul.", qtype: mdns.TypeSRV,
			nAnswer: 3, tc: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, listingFixture{newFixture()}, tc.cfg)
			m := ask(t, s, tc.qname, tc.qtype, tc.tcp, tc.edns)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if m.Truncated != tc.tc {
				t.Errorf("TC %v, want %v", m.Truncated, tc.tc)
			}
			if !m.Authoritative && tc.rcode != mdns.RcodeRefused && tc.rcode != mdns.RcodeNotImplemented {
				t.Errorf("AA not set")
			}
			switch {
			case tc.answer != nil:
				want := slices.Clone(tc.answer)
				slices.Sort(want)
				if got := brief(m.Answer); !slices.Equal(got, want) {
					t.Errorf("answer:\n got %q\nwant %q", got, want)
				}
			case tc.nAnswer < 0:
				if len(m.Answer) == 0 || len(m.Answer) >= 40 {
					t.Errorf("%d answers, want some but not all", len(m.Answer))
				}
			default:
				if len(m.Answer) != tc.nAnswer {
					t.Errorf("%d answers, want %d: %v", len(m.Answer), tc.nAnswer, brief(m.Answer))
				}
			}
			if tc.ns != nil || len(m.Ns) > 0 {
				if got := brief(m.Ns); !slices.Equal(got, tc.ns) {
					t.Errorf("authority:\n got %q\nwant %q", got, tc.ns)
				}
			}
			if tc.extra != nil {
				want := slices.Clone(tc.extra)
				slices.Sort(want)
				if got := brief(m.Extra); !slices.Equal(got, want) {
					t.Errorf("additional:\n got %q\nwant %q", got, want)
				}
			}
			checkExtraMatchesSRV(t, m)
		})
	}
}

// checkExtraMatchesSRV asserts that every SRV target's address is in the
// additional section and nothing else is (bar OPT and TXT).
func checkExtraMatchesSRV(t *testing.T, m *mdns.Msg) {
	t.Helper()
	targets := map[string]bool{}
	for _, rr := range m.Answer {
		if srv, ok := rr.(*mdns.SRV); ok {
			targets[srv.Target] = true
		}
	}
	if len(targets) == 0 {
		return
	}
	have := map[string]bool{}
	for _, rr := range m.Extra {
		switch rr.(type) {
		case *mdns.A, *mdns.AAAA:
			if !targets[rr.Header().Name] {
				t.Errorf("additional %s answers no SRV target", rr)
			}
			have[rr.Header().Name] = true
		}
	}
	for target := range targets {
		if !have[target] && mdns.IsSubDomain("consul.", target) {
			t.Errorf("SRV target %s has no address in additional", target)
		}
	}
}

func TestShuffledPerQuery(t *testing.T) {
	s := testServer(t, newFixture(), nil)
	firsts := map[string]int{}
	for range 200 {
		m := ask(t, s, "big.service.consul.", mdns.TypeA, true, 0)
		firsts[m.Answer[0].(*mdns.A).A.String()]++
	}
	if len(firsts) < 20 {
		t.Errorf("only %d distinct first answers in 200 queries: not shuffled", len(firsts))
	}
}

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		qname string
		qtype uint16
		rcode int
	}{
		{"no server reachable: service", errors.New("rpc: no servers"), "web.service.consul.", mdns.TypeA, mdns.RcodeServerFailure},
		{"no server reachable: node", errors.New("rpc: no servers"), "n1.node.consul.", mdns.TypeA, mdns.RcodeServerFailure},
		{"no server reachable: PTR", errors.New("rpc: no servers"), "1.0.0.10.in-addr.arpa.", mdns.TypePTR, mdns.RcodeServerFailure},
		{"no path to datacenter", ErrNoDatacenter, "web.service.consul.", mdns.TypeA, mdns.RcodeNameError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			f.err = tc.err
			s := testServer(t, f, nil)
			m := ask(t, s, tc.qname, tc.qtype, false, 0)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if len(m.Answer) != 0 {
				t.Errorf("answers on error: %v", m.Answer)
			}
		})
	}
}

func TestPTRServiceAddress(t *testing.T) {
	cases := []struct {
		name   string
		reader Reader
		rcode  int
		answer []string
	}{
		{"with a ServiceLister", listingFixture{newFixture()}, mdns.RcodeSuccess,
			[]string{"1.0.1.10.in-addr.arpa. 0 IN PTR api.service.dc1.consul."}},
		{"without", newFixture(), mdns.RcodeNameError, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, tc.reader, nil)
			m := ask(t, s, "1.0.1.10.in-addr.arpa.", mdns.TypePTR, false, 0)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if got := brief(m.Answer); !slices.Equal(got, tc.answer) {
				t.Errorf("answer %q, want %q", got, tc.answer)
			}
		})
	}
}

func TestSRVWeights(t *testing.T) {
	cases := []struct {
		name    string
		weights *catalog.Weights
		status  string
		want    uint16
	}{
		{"unset", nil, catalog.HealthPassing, 1},
		{"zero means unset", &catalog.Weights{}, catalog.HealthPassing, 1},
		{"passing", &catalog.Weights{Passing: 10, Warning: 1}, catalog.HealthPassing, 10},
		{"warning", &catalog.Weights{Passing: 10, Warning: 2}, catalog.HealthWarning, 2},
		{"clamped", &catalog.Weights{Passing: 1 << 20, Warning: 1}, catalog.HealthPassing, 65535},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &catalog.Instance{
				Service: &catalog.Service{Weights: tc.weights},
				Checks:  []*catalog.HealthCheck{{Status: tc.status}},
			}
			if got := weight(in); got != tc.want {
				t.Errorf("weight = %d, want %d", got, tc.want)
			}
		})
	}
}
