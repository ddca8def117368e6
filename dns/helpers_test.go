package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/catalog"
)

// fixture is a Reader over an in-memory catalog of one datacenter.
type fixture struct {
	dc        string
	nodes     []*catalog.Node
	instances []catalog.Instance
	err       error // returned by every read when set

	mu    sync.Mutex
	reads int
}

func (f *fixture) read(dc string) error {
	f.mu.Lock()
	f.reads++
	f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if dc != f.dc {
		return ErrNoDatacenter
	}
	return nil
}

func (f *fixture) ServiceNodes(ctx context.Context, dc, service string) ([]catalog.Instance, error) {
	if err := f.read(dc); err != nil {
		return nil, err
	}
	var out []catalog.Instance
	for _, in := range f.instances {
		if strings.EqualFold(in.Service.Service, service) {
			out = append(out, in)
		}
	}
	return out, nil
}

func (f *fixture) Node(ctx context.Context, dc, name string) (*catalog.Node, error) {
	if err := f.read(dc); err != nil {
		return nil, err
	}
	for _, n := range f.nodes {
		if strings.EqualFold(n.Node, name) {
			return n, nil
		}
	}
	return nil, nil
}

func (f *fixture) Nodes(ctx context.Context, dc string) ([]*catalog.Node, error) {
	if err := f.read(dc); err != nil {
		return nil, err
	}
	return f.nodes, nil
}

// listingFixture adds the ServiceLister ability.
type listingFixture struct{ *fixture }

// VIP gives web a virtual IP (VirtualIPs).
func (f listingFixture) VIP(service string) (netip.Addr, bool) {
	if service == "web" {
		return netip.MustParseAddr("10.42.0.7"), true
	}
	return netip.Addr{}, false
}

func (f listingFixture) Services(ctx context.Context, dc string) ([]string, error) {
	if err := f.read(dc); err != nil {
		return nil, err
	}
	var out []string
	for _, in := range f.instances {
		if !slices.Contains(out, in.Service.Service) {
			out = append(out, in.Service.Service)
		}
	}
	return out, nil
}

func (f *fixture) node(name, addr string, meta map[string]string) *catalog.Node {
	n := &catalog.Node{Node: name, Address: addr, Datacenter: f.dc, Meta: meta}
	f.nodes = append(f.nodes, n)
	return n
}

// add registers an instance on node with one check in status.
func (f *fixture) add(n *catalog.Node, svc catalog.Service, status string) {
	svc.Node = n.Node
	if svc.ID == "" {
		svc.ID = fmt.Sprintf("%s-%d", svc.Service, len(f.instances))
	}
	checks := []*catalog.HealthCheck{{Node: n.Node, CheckID: "serfHealth", Status: catalog.HealthPassing}}
	if status != "" {
		checks = append(checks, &catalog.HealthCheck{Node: n.Node, CheckID: "svc:" + svc.ID, Status: status, ServiceID: svc.ID})
	}
	f.instances = append(f.instances, catalog.Instance{Node: n, Service: &svc, Checks: checks})
}

// newFixture is the catalog the answer tests read.
func newFixture() *fixture {
	f := &fixture{dc: "dc1"}
	n1 := f.node("n1", "10.0.0.1", map[string]string{"rack": "r1"})
	n2 := f.node("n2", "10.0.0.2", nil)
	n3 := f.node("n3", "10.0.0.3", nil)
	n6 := f.node("n6", "2001:db8::6", nil)
	ext := f.node("ext", "example.org", nil)
	f.add(n1, catalog.Service{Service: "web", Tags: []string{"v1", "Primary"}, Port: 8080}, catalog.HealthPassing)
	f.add(n2, catalog.Service{Service: "web", Tags: []string{"v2"}, Port: 8080}, catalog.HealthWarning)
	f.add(n3, catalog.Service{Service: "web", Tags: []string{"v1"}, Port: 8080}, catalog.HealthCritical)
	f.add(n1, catalog.Service{Service: "api", Address: "10.1.0.1", Port: 9000,
		Weights: &catalog.Weights{Passing: 10, Warning: 1}}, catalog.HealthPassing)
	f.add(n2, catalog.Service{Service: "api", Address: "10.1.0.2", Port: 9000,
		Weights: &catalog.Weights{Passing: 10, Warning: 1}}, catalog.HealthWarning)
	f.add(n6, catalog.Service{Service: "v6", Port: 80}, catalog.HealthPassing)
	f.add(ext, catalog.Service{Service: "ext", Port: 443}, "")
	f.add(n1, catalog.Service{Service: "alias", Address: "db.example.com", Port: 5432}, "")
	f.add(n1, catalog.Service{Service: "dup", ID: "dup1", Port: 1}, "")
	f.add(n1, catalog.Service{Service: "dup", ID: "dup2", Port: 1}, "")
	f.add(n3, catalog.Service{Service: "down", Port: 1}, catalog.HealthMaint)
	f.add(n1, catalog.Service{Service: "consul", Port: 8300}, "")
	for i := 1; i <= 40; i++ {
		n := f.node(fmt.Sprintf("big%d", i), fmt.Sprintf("10.2.0.%d", i), nil)
		f.add(n, catalog.Service{Service: "big", Port: 7000 + i}, catalog.HealthPassing)
	}
	return f
}

func testServer(t *testing.T, r Reader, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Datacenter = "dc1"
	cfg.AltDomain = "shoal."
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, r, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// recorder is an mdns.ResponseWriter that keeps the message written, as
// CoreDNS's dnstest.Recorder.
type recorder struct {
	remote net.Addr
	msg    *mdns.Msg
}

func newRecorder(tcp bool) *recorder {
	if tcp {
		return &recorder{remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
	}
	return &recorder{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
}

func (r *recorder) LocalAddr() net.Addr           { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8600} }
func (r *recorder) RemoteAddr() net.Addr          { return r.remote }
func (r *recorder) WriteMsg(m *mdns.Msg) error    { r.msg = m; return nil }
func (r *recorder) Write(b []byte) (int, error)   { return len(b), nil }
func (r *recorder) Close() error                  { return nil }
func (r *recorder) TsigStatus() error             { return nil }
func (r *recorder) TsigTimersOnly(bool)           {}
func (r *recorder) Hijack()                       {}
func (r *recorder) Network() string               { return r.remote.Network() }
func (r *recorder) String() string                { return "recorder" }
func (r *recorder) SetRemote(a net.Addr) net.Addr { r.remote = a; return a }

// ask sends one question through ServeDNS and returns the answer as a
// client would read it (packed and unpacked again).
func ask(t *testing.T, s *Server, name string, qtype uint16, tcp bool, edns uint16) *mdns.Msg {
	t.Helper()
	req := new(mdns.Msg)
	req.SetQuestion(name, qtype)
	if edns > 0 {
		req.SetEdns0(edns, false)
	}
	rec := newRecorder(tcp)
	s.ServeDNS(rec, req)
	if rec.msg == nil {
		t.Fatalf("%s %s: no response", name, mdns.Type(qtype))
	}
	wire, err := rec.msg.Pack()
	if err != nil {
		t.Fatalf("%s %s: pack: %v", name, mdns.Type(qtype), err)
	}
	if !tcp {
		limit := 512
		if edns > 0 {
			limit = int(edns)
		}
		if len(wire) > limit {
			t.Errorf("%s %s: UDP response of %d bytes exceeds %d", name, mdns.Type(qtype), len(wire), limit)
		}
	}
	out := new(mdns.Msg)
	if err := out.Unpack(wire); err != nil {
		t.Fatalf("%s %s: unpack: %v", name, mdns.Type(qtype), err)
	}
	if out.Id != req.Id {
		t.Errorf("id %d, want %d", out.Id, req.Id)
	}
	return out
}

// brief renders records for comparison: the zone-file form with single
// spaces, the SOA without its time-based serial, sorted.
func brief(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if _, ok := rr.(*mdns.OPT); ok {
			continue
		}
		if soa, ok := rr.(*mdns.SOA); ok {
			out = append(out, fmt.Sprintf("%s %d SOA %s %s", soa.Hdr.Name, soa.Hdr.Ttl, soa.Ns, soa.Mbox))
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	slices.Sort(out)
	return out
}

func catalogService(name string) catalog.Service { return catalog.Service{Service: name, Port: 80} }
