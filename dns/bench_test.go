package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// BenchmarkHandleA is the server's own cost of one A lookup of a
// three-instance service, without sockets:
//
//	go test -run - -bench HandleA -benchmem ./dns/
func BenchmarkHandleA(b *testing.B) {
	f := &fixture{dc: "dc1"}
	for _, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		f.add(f.node("n"+a, a, nil), catalogService("web"), "passing")
	}
	cfg := DefaultConfig()
	cfg.Datacenter = "dc1"
	s, err := New(cfg, f, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown()
	req := new(mdns.Msg)
	req.SetQuestion("web.service.consul.", mdns.TypeA)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m := s.Handle(req, "udp")
		if _, err := m.Pack(); err != nil || len(m.Answer) != 3 {
			b.Fatalf("%v %d", err, len(m.Answer))
		}
	}
}
