package dns

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/catalog"
)

// dispatch answers a name under domain; rest is the part before it.
func (s *Server) dispatch(ctx context.Context, req, m *mdns.Msg, domain, rest string) error {
	qt := req.Question[0].Qtype
	q, err := parseQuery(rest, qt == mdns.TypeSRV)
	if err != nil {
		return err
	}
	dc := q.dc
	if dc == "" {
		dc = s.cfg.Datacenter
	}
	switch q.kind {
	case kindApex:
		return errNoData // only SOA and NS exist at the apex
	case kindService:
		return s.serviceLookup(ctx, req, m, &q, dc, domain)
	case kindNode:
		return s.nodeLookup(ctx, req, m, q.node, dc)
	case kindQuery:
		return s.preparedQueryLookup(ctx, req, m, q.service, dc, domain)
	case kindVirtual:
		v, ok := s.reader.(VirtualIPs)
		if !ok {
			return errNameNotFound
		}
		vip, ok := v.VIP(q.service)
		if !ok {
			return errNameNotFound
		}
		rr := addrRecord(req.Question[0].Name, vip, s.cfg.ttlFor(q.service))
		if wantAddr(qt, vip) {
			m.Answer = append(m.Answer, rr)
			return nil
		}
		return errNoData
	case kindAddr:
		rr := addrRecord(req.Question[0].Name, q.addr, seconds(s.cfg.NodeTTL))
		if wantAddr(qt, q.addr) {
			m.Answer = append(m.Answer, rr)
			return nil
		}
		m.Extra = append(m.Extra, rr)
		return errNoData
	}
	return errNameNotFound
}

// Health of an instance: the worst of its checks.
const (
	statusPassing = iota
	statusWarning
	statusCritical
)

func status(checks []*catalog.HealthCheck) int {
	st := statusPassing
	for _, c := range checks {
		switch c.Status {
		case catalog.HealthPassing:
		case catalog.HealthWarning:
			st = statusWarning
		default: // critical, maintenance, or unknown
			return statusCritical
		}
	}
	return st
}

// healthy returns the instances of service in dc that match tag and are
// not critical (nor warning with OnlyPassing), in random order.
func (s *Server) healthy(ctx context.Context, dc, service, tag string) ([]*catalog.Instance, error) {
	all, err := s.reader.ServiceNodes(ctx, dc, service)
	if err != nil {
		return nil, err
	}
	out := make([]*catalog.Instance, 0, len(all))
	for i := range all {
		in := &all[i]
		if in.Node == nil || in.Service == nil {
			continue
		}
		if tag != "" && !slices.ContainsFunc(in.Service.Tags, func(t string) bool { return strings.EqualFold(t, tag) }) {
			continue
		}
		st := status(in.Checks)
		if st == statusCritical || (s.cfg.OnlyPassing && st != statusPassing) {
			continue
		}
		out = append(out, in)
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// serviceLookup answers a service name: SRV records with their targets'
// addresses in the additional section, or address records.
func (s *Server) serviceLookup(ctx context.Context, req, m *mdns.Msg, q *query, dc, domain string) error {
	insts, err := s.healthy(ctx, dc, q.service, q.tag)
	if err != nil {
		return err
	}
	if len(insts) == 0 {
		return errNameNotFound
	}
	ttl := s.cfg.ttlFor(q.service)
	if req.Question[0].Qtype == mdns.TypeSRV {
		s.srvRecords(req, m, insts, dc, domain, ttl)
	} else {
		s.addressRecords(req, m, insts, ttl)
	}
	if len(m.Answer) == 0 {
		return errNoData
	}
	return nil
}

// instanceAddr is where an instance is reached: its service address, else
// its node's.
func instanceAddr(in *catalog.Instance) (addr string, fromNode bool) {
	if in.Service.Address != "" {
		return in.Service.Address, false
	}
	return in.Node.Address, true
}

// addressRecords adds one A/AAAA record per distinct instance address
// (up to ARecordLimit), or, when no instance has an IP address, a CNAME to
// the first instance's host name.
func (s *Server) addressRecords(req, m *mdns.Msg, insts []*catalog.Instance, ttl uint32) {
	q := req.Question[0]
	var cname mdns.RR
	seen := make([]string, 0, len(insts))
	for _, in := range insts {
		addr, _ := instanceAddr(in)
		if addr == "" || slices.Contains(seen, addr) {
			continue
		}
		seen = append(seen, addr)
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			if cname == nil {
				cname = &mdns.CNAME{Hdr: hdr(q.Name, mdns.TypeCNAME, ttl), Target: mdns.Fqdn(addr)}
			}
			continue
		}
		if !wantAddr(q.Qtype, ip) {
			continue
		}
		m.Answer = append(m.Answer, addrRecord(q.Name, ip, ttl))
		if s.cfg.ARecordLimit > 0 && len(m.Answer) >= s.cfg.ARecordLimit {
			return
		}
	}
	if len(m.Answer) == 0 && cname != nil {
		m.Answer = append(m.Answer, cname)
	}
}

// srvRecords adds `1 <weight> <port> <target>` per distinct instance. The
// target is <node>.node.<dc>.<domain> when the instance uses its node's
// address, <hex>.addr.<dc>.<domain> for its own IP address, or its own
// host name; the additional section holds the targets' addresses.
func (s *Server) srvRecords(req, m *mdns.Msg, insts []*catalog.Instance, dc, domain string, ttl uint32) {
	q := req.Question[0]
	type tuple struct {
		node, addr string
		port       int
	}
	seen := make([]tuple, 0, len(insts))
	targets := make([]string, 0, len(insts))
	for _, in := range insts {
		addr, fromNode := instanceAddr(in)
		t := tuple{in.Node.Node, addr, in.Service.Port}
		if slices.Contains(seen, t) {
			continue
		}
		seen = append(seen, t)
		var target string
		var extra []mdns.RR
		ip, err := netip.ParseAddr(addr)
		switch {
		case err != nil: // a host name: the client resolves it
			target = mdns.Fqdn(addr)
		case fromNode:
			target = nodeName(in.Node.Node, dc, domain)
			extra = append(extra, addrRecord(target, ip, ttl))
			if s.cfg.NodeMetaTXT {
				extra = append(extra, metaTXT(target, in.Node.Meta, ttl)...)
			}
		default:
			target = addrName(ip, dc, domain)
			extra = append(extra, addrRecord(target, ip, ttl))
		}
		m.Answer = append(m.Answer, &mdns.SRV{
			Hdr:      hdr(q.Name, mdns.TypeSRV, ttl),
			Priority: 1,
			Weight:   weight(in),
			Port:     uint16(in.Service.Port),
			Target:   target,
		})
		// Several instances may share a target: its records go in once.
		if !slices.Contains(targets, target) {
			targets = append(targets, target)
			m.Extra = append(m.Extra, extra...)
		}
	}
}

// weight is the SRV weight of a healthy instance: its Weights for its
// state when set, else 1. Zero weights for both states count as unset:
// clients such as Consul's api package send them for "no weights", and a
// registration through the agent requires a passing weight of at least 1.
func weight(in *catalog.Instance) uint16 {
	w := in.Service.Weights
	if w == nil || (w.Passing == 0 && w.Warning == 0) {
		return 1
	}
	v := w.Passing
	if status(in.Checks) == statusWarning {
		v = w.Warning
	}
	return uint16(min(max(v, 0), 65535))
}

// nodeLookup answers <node>.node: its address (a CNAME for a host name)
// and its metadata as TXT records.
func (s *Server) nodeLookup(ctx context.Context, req, m *mdns.Msg, name, dc string) error {
	n, err := s.reader.Node(ctx, dc, name)
	if err != nil {
		return err
	}
	if n == nil {
		return errNameNotFound
	}
	q := req.Question[0]
	ttl := seconds(s.cfg.NodeTTL)
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY:
		if ip, err := netip.ParseAddr(n.Address); err != nil {
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: hdr(q.Name, mdns.TypeCNAME, ttl), Target: mdns.Fqdn(n.Address)})
		} else if wantAddr(q.Qtype, ip) {
			m.Answer = append(m.Answer, addrRecord(q.Name, ip, ttl))
		}
		if q.Qtype == mdns.TypeANY {
			m.Answer = append(m.Answer, metaTXT(q.Name, n.Meta, ttl)...)
		} else if s.cfg.NodeMetaTXT {
			m.Extra = append(m.Extra, metaTXT(q.Name, n.Meta, ttl)...)
		}
	case mdns.TypeTXT:
		m.Answer = append(m.Answer, metaTXT(q.Name, n.Meta, ttl)...)
	}
	if len(m.Answer) == 0 {
		return errNoData
	}
	return nil
}

// nameservers returns NS records for up to three healthy servers (the
// "consul" service of the local datacenter) and their addresses.
func (s *Server) nameservers(ctx context.Context, domain string) (ns, glue []mdns.RR) {
	insts, err := s.healthy(ctx, s.cfg.Datacenter, "consul", "")
	if err != nil {
		s.logger.Warn("cannot list servers for NS records", "error", err)
		return nil, nil
	}
	ttl := seconds(s.cfg.NodeTTL)
	for _, in := range insts {
		ip, err := netip.ParseAddr(in.Node.Address)
		if err != nil {
			continue
		}
		name := strings.ToLower(nodeName(in.Node.Node, s.cfg.Datacenter, domain))
		ns = append(ns, &mdns.NS{Hdr: hdr(domain, mdns.TypeNS, ttl), Ns: name})
		glue = append(glue, addrRecord(name, ip, ttl))
		if len(ns) == 3 {
			break
		}
	}
	return ns, glue
}

// soa is the domain's SOA record. Its serial is the current time, as
// Consul's: there are no zone transfers to keep consistent.
func (s *Server) soa(domain string) *mdns.SOA {
	return &mdns.SOA{
		Hdr:     hdr(domain, mdns.TypeSOA, s.cfg.SOA.MinTTL),
		Ns:      "ns." + domain,
		Mbox:    "hostmaster." + domain,
		Serial:  uint32(time.Now().Unix()),
		Refresh: s.cfg.SOA.Refresh,
		Retry:   s.cfg.SOA.Retry,
		Expire:  s.cfg.SOA.Expire,
		Minttl:  s.cfg.SOA.MinTTL,
	}
}

// handlePTR answers a reverse lookup: the first node with the address,
// else the first service instance with it; else the recursors' answer,
// else NXDOMAIN.
func (s *Server) handlePTR(req *mdns.Msg, lname, network string) *mdns.Msg {
	q := req.Question[0]
	m := s.newReply(req)
	ip, ok := ipFromARPA(lname)
	if ok {
		ctx, cancel := s.queryContext()
		ptr, err := s.reverse(ctx, ip)
		cancel()
		if err != nil {
			s.warnFailure("reverse lookup failed", "name", q.Name, "error", err)
			m.Rcode = mdns.RcodeServerFailure
			setEDNS(req, m)
			return m
		}
		if ptr != "" {
			m.Answer = append(m.Answer, &mdns.PTR{Hdr: hdr(q.Name, mdns.TypePTR, 0), Ptr: ptr})
		}
	}
	if len(m.Answer) == 0 {
		if len(s.recursors) > 0 {
			return s.recurse(req, network)
		}
		m.Rcode = mdns.RcodeNameError
		m.Ns = append(m.Ns, s.soa(s.primaryDomain()))
	}
	setEDNS(req, m)
	return m
}

// reverse returns the name for ip: <node>.node.<dc>.<domain> or
// <service>.service.<dc>.<domain>, or "" when nothing has that address.
func (s *Server) reverse(ctx context.Context, ip netip.Addr) (string, error) {
	dc, domain := s.cfg.Datacenter, s.primaryDomain()
	nodes, err := s.reader.Nodes(ctx, dc)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if a, err := netip.ParseAddr(n.Address); err == nil && a.Unmap() == ip.Unmap() {
			return nodeName(n.Node, dc, domain), nil
		}
	}
	if s.lister == nil {
		return "", nil
	}
	names, err := s.lister.Services(ctx, dc)
	if err != nil {
		return "", err
	}
	for _, name := range names {
		insts, err := s.reader.ServiceNodes(ctx, dc, strings.ToLower(name))
		if err != nil {
			return "", err
		}
		for _, in := range insts {
			if in.Service == nil {
				continue
			}
			if a, err := netip.ParseAddr(in.Service.Address); err == nil && a.Unmap() == ip.Unmap() {
				return in.Service.Service + ".service." + dc + "." + domain, nil
			}
		}
	}
	return "", nil
}

// primaryDomain is Domain (as opposed to AltDomain), fully qualified.
func (s *Server) primaryDomain() string { return strings.ToLower(mdns.Fqdn(s.cfg.Domain)) }

func hdr(name string, rrtype uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: rrtype, Class: mdns.ClassINET, Ttl: ttl}
}

// wantAddr reports whether a question of type qt wants ip's record type.
func wantAddr(qt uint16, ip netip.Addr) bool {
	switch qt {
	case mdns.TypeANY:
		return true
	case mdns.TypeA:
		return ip.Unmap().Is4()
	case mdns.TypeAAAA:
		return !ip.Unmap().Is4()
	}
	return false
}

// addrRecord is an A or AAAA record, as ip's family says.
func addrRecord(name string, ip netip.Addr, ttl uint32) mdns.RR {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return &mdns.A{Hdr: hdr(name, mdns.TypeA, ttl), A: net.IP(b[:])}
	}
	b := ip.As16()
	return &mdns.AAAA{Hdr: hdr(name, mdns.TypeAAAA, ttl), AAAA: net.IP(b[:])}
}

func nodeName(node, dc, domain string) string { return node + ".node." + dc + "." + domain }

// addrName is <hex>.addr.<dc>.<domain>: 8 hex digits for IPv4, 32 for IPv6.
func addrName(ip netip.Addr, dc, domain string) string {
	return hex.EncodeToString(ip.Unmap().AsSlice()) + ".addr." + dc + "." + domain
}

// metaTXT returns a node's metadata as TXT records, sorted by key: "k=v"
// (RFC 1464, with ` escaping), or the bare value for keys starting with
// "rfc1035-"; a record longer than 255 bytes is split into several strings.
func metaTXT(name string, meta map[string]string, ttl uint32) []mdns.RR {
	if len(meta) == 0 {
		return nil
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]mdns.RR, 0, len(keys))
	for _, k := range keys {
		txt := meta[k]
		if !strings.HasPrefix(strings.ToLower(k), "rfc1035-") {
			txt = rfc1464(k, txt)
		}
		out = append(out, &mdns.TXT{Hdr: hdr(name, mdns.TypeTXT, ttl), Txt: splitTXT(txt)})
	}
	return out
}

// maxTXTString is the longest character-string a TXT record holds (RFC 1035).
const maxTXTString = 255

// splitTXT cuts s into character-strings of at most 255 bytes; a client
// joins them again (RFC 7208 3.3). Consul drops the whole answer instead.
func splitTXT(s string) []string {
	if len(s) <= maxTXTString {
		return []string{s}
	}
	out := make([]string, 0, len(s)/maxTXTString+1)
	for len(s) > maxTXTString {
		out = append(out, s[:maxTXTString])
		s = s[maxTXTString:]
	}
	return append(out, s)
}

// rfc1464 encodes key=value: "`" and "=" in the key and leading and
// trailing spaces are quoted with "`", "`" in the value doubled.
func rfc1464(key, value string) string {
	var b strings.Builder
	trimmed := strings.TrimLeft(key, " ")
	lead := len(key) - len(trimmed)
	core := strings.TrimRight(trimmed, " ")
	trail := len(trimmed) - len(core)
	b.WriteString(strings.Repeat("` ", lead))
	r := strings.NewReplacer("`", "``", "=", "`=")
	b.WriteString(r.Replace(core))
	b.WriteString(strings.Repeat("` ", trail))
	b.WriteByte('=')
	b.WriteString(strings.ReplaceAll(value, "`", "``"))
	return b.String()
}
