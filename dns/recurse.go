package dns

import (
	"math/rand/v2"
	"slices"

	mdns "github.com/miekg/dns"
)

// recurse forwards a question outside the served domains to the
// recursors, in order, each bounded by RecursorTimeout, and relays the
// first answer that is NOERROR or NXDOMAIN (or truncated). When all fail
// the answer is SERVFAIL; with no recursors it is REFUSED.
func (s *Server) recurse(req *mdns.Msg, network string) *mdns.Msg {
	q := req.Question[0]
	if len(s.recursors) == 0 {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeRefused)
		setEDNS(req, m)
		return m
	}
	c := &mdns.Client{Net: network, Timeout: s.cfg.RecursorTimeout}
	order := s.recursors
	if s.cfg.RecursorRandom && len(order) > 1 {
		order = slices.Clone(order)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for _, addr := range order {
		r, rtt, err := c.ExchangeContext(s.ctx, req, addr)
		switch {
		case err != nil:
			s.logger.Debug("recursor failed", "recursor", addr, "name", q.Name, "error", err)
		case r.Rcode == mdns.RcodeSuccess || r.Rcode == mdns.RcodeNameError || r.Truncated:
			r.Compress = !s.cfg.DisableCompression
			r.Id = req.Id
			s.logger.Trace("recursed", "recursor", addr, "name", q.Name, "rtt", rtt)
			return r
		default:
			s.logger.Debug("recursor answered an error", "recursor", addr, "name", q.Name,
				"rcode", mdns.RcodeToString[r.Rcode])
		}
	}
	s.warnFailure("all recursors failed", "name", q.Name, "type", mdns.Type(q.Qtype).String())
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	setEDNS(req, m)
	return m
}
