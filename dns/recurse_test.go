package dns

import (
	"net"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// startUpstream runs a local DNS server standing in for a recursor: it
// answers example.com. A 192.0.2.10, NXDOMAIN for nx.example.com., and
// whatever rcode for the rest.
func startUpstream(t *testing.T, rest int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		switch req.Question[0].Name {
		case "example.com.":
			rr, _ := mdns.NewRR("example.com. 60 IN A 192.0.2.10")
			m.Answer = append(m.Answer, rr)
		case "nx.example.com.":
			m.Rcode = mdns.RcodeNameError
		case "10.2.0.192.in-addr.arpa.":
			rr, _ := mdns.NewRR("10.2.0.192.in-addr.arpa. 60 IN PTR example.com.")
			m.Answer = append(m.Answer, rr)
		default:
			m.Rcode = rest
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

// deadAddr is a UDP address where nothing answers.
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() }) // open but silent: queries time out
	return pc.LocalAddr().String()
}

func TestRecursors(t *testing.T) {
	good := startUpstream(t, mdns.RcodeServerFailure)
	refusing := startUpstream(t, mdns.RcodeRefused)
	dead := deadAddr(t)
	cases := []struct {
		name      string
		recursors []string
		qname     string
		qtype     uint16
		rcode     int
		answer    []string
	}{
		{"forwarded", []string{good}, "example.com.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"example.com. 60 IN A 192.0.2.10"}},
		{"NXDOMAIN relayed", []string{good}, "nx.example.com.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"dead recursor skipped after timeout", []string{dead, good}, "example.com.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"example.com. 60 IN A 192.0.2.10"}},
		{"error rcode tries the next", []string{refusing, good}, "other.example.", mdns.TypeA, mdns.RcodeServerFailure, nil},
		{"all failing is SERVFAIL", []string{dead}, "example.com.", mdns.TypeA, mdns.RcodeServerFailure, nil},
		{"unknown PTR forwarded", []string{good}, "10.2.0.192.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess,
			[]string{"10.2.0.192.in-addr.arpa. 60 IN PTR example.com."}},
		{"known PTR answered locally", []string{good}, "1.0.0.10.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess,
			[]string{"1.0.0.10.in-addr.arpa. 0 IN PTR n1.node.dc1.consul."}},
		{"domain names are never forwarded", []string{good}, "nope.service.consul.", mdns.TypeA, mdns.RcodeNameError, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, newFixture(), func(c *Config) {
				c.Recursors = tc.recursors
				c.RecursorTimeout = 200 * time.Millisecond
			})
			m := ask(t, s, tc.qname, tc.qtype, false, 0)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if !m.RecursionAvailable {
				t.Errorf("RA not set with recursors configured")
			}
			if got := brief(m.Answer); !slices.Equal(got, tc.answer) {
				t.Errorf("answer %q, want %q", got, tc.answer)
			}
		})
	}
}

func TestListenUDPAndTCP(t *testing.T) {
	s := testServer(t, newFixture(), nil)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			addr, err := s.Listen(network, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
			req := new(mdns.Msg)
			req.SetQuestion("big.service.consul.", mdns.TypeA)
			m, _, err := c.Exchange(req, addr.String())
			if err != nil {
				t.Fatal(err)
			}
			want, tc := 40, false
			if network == "udp" {
				want, tc = 3, true
			}
			if len(m.Answer) != want || m.Truncated != tc {
				t.Errorf("%d answers TC=%v, want %d TC=%v", len(m.Answer), m.Truncated, want, tc)
			}
		})
	}
	s.Shutdown()
	if _, err := s.Listen("udp", "127.0.0.1:0"); err == nil {
		t.Error("Listen after Shutdown succeeded")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no datacenter", func(c *Config) { c.Datacenter = "" }, false},
		{"bad domain", func(c *Config) { c.Domain = "a..b" }, false},
		{"root domain", func(c *Config) { c.Domain = "." }, false},
		{"alt equals domain", func(c *Config) { c.AltDomain = "CONSUL" }, false},
		{"zero udp limit", func(c *Config) { c.UDPAnswerLimit = 0 }, false},
		{"negative a limit", func(c *Config) { c.ARecordLimit = -1 }, false},
		{"recursor without port", func(c *Config) { c.Recursors = []string{"8.8.8.8", "::1"} }, true},
		{"recursor with port", func(c *Config) { c.Recursors = []string{"127.0.0.1:5353"} }, true},
		{"bad recursor", func(c *Config) { c.Recursors = []string{"host:port:x"} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Datacenter = "dc1"
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
