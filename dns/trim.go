package dns

import (
	"strings"

	mdns "github.com/miekg/dns"
)

// Size limits of a response.
const (
	// defaultUDPSize is the limit of a UDP response without EDNS0 (RFC 1035).
	defaultUDPSize = 512
	// maxUDPSize caps an EDNS0 size: 64 KiB less the IP and UDP headers.
	maxUDPSize = 65535 - 68
	// maxTCPSize is what fits a TCP DNS message with some headroom.
	maxTCPSize = 65523
)

// trim makes the response fit: over UDP, at most UDPAnswerLimit answers
// without EDNS0, and never more bytes than 512 or the EDNS0 size; over TCP,
// 64 KiB. The additional section keeps only what the remaining answers
// refer to, and is emptied (but for the OPT record) when even one answer
// with its additional records does not fit: a small question over UDP
// never draws a large answer, so the server cannot be used as an
// amplifier. When answers were dropped and EnableTruncate is set, the TC
// bit tells the client to ask again over TCP.
func (s *Server) trim(req, m *mdns.Msg, network string) {
	n := len(m.Answer)
	allExtra := m.Extra
	maxSize := maxTCPSize
	if network != "tcp" {
		maxSize = defaultUDPSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > maxSize {
			maxSize = min(int(opt.UDPSize()), maxUDPSize)
		}
		if limit := min(s.cfg.UDPAnswerLimit, maxUDPAnswerLimit); maxSize == defaultUDPSize && n > limit {
			m.Answer = m.Answer[:limit]
			syncExtra(m, allExtra)
		}
	}
	if m.Len() > maxSize {
		m.Ns = nil // the authority section goes first
	}
	if m.Len() > maxSize && len(m.Answer) > 1 {
		all := m.Answer
		// The largest prefix of the answers that fits, by binary search.
		lo, hi := 1, len(all) // lo always fits or is the minimum of one answer
		for lo < hi {
			mid := (lo + hi + 1) / 2
			m.Answer = all[:mid]
			syncExtra(m, allExtra)
			if m.Len() <= maxSize {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		m.Answer = all[:lo]
		syncExtra(m, allExtra)
	}
	if m.Len() > maxSize {
		m.Extra = onlyOPT(m.Extra)
	}
	if m.Len() > maxSize {
		m.Answer = nil // one answer that does not fit on its own
	}
	if len(m.Answer) < n {
		if s.cfg.EnableTruncate || len(m.Answer) == 0 {
			m.Truncated = true
		}
		s.logger.Debug("response truncated", "name", req.Question[0].Name, "network", network,
			"answers", len(m.Answer), "of", n)
	}
}

// onlyOPT returns the OPT record of rrs, if any.
func onlyOPT(rrs []mdns.RR) []mdns.RR {
	for _, rr := range rrs {
		if _, ok := rr.(*mdns.OPT); ok {
			return []mdns.RR{rr}
		}
	}
	return nil
}

// syncExtra sets the additional section to the records of all that the
// answers' targets (SRV, NS, CNAME) name, and the OPT record.
func syncExtra(m *mdns.Msg, all []mdns.RR) {
	if len(all) == 0 {
		return
	}
	targets := make(map[string]struct{}, len(m.Answer))
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *mdns.SRV:
			targets[strings.ToLower(rr.Target)] = struct{}{}
		case *mdns.NS:
			targets[strings.ToLower(rr.Ns)] = struct{}{}
		case *mdns.CNAME:
			targets[strings.ToLower(rr.Target)] = struct{}{}
		}
	}
	if len(targets) == 0 {
		m.Extra = all
		return
	}
	kept := make([]mdns.RR, 0, len(all))
	for _, rr := range all {
		if _, ok := rr.(*mdns.OPT); ok {
			kept = append(kept, rr)
			continue
		}
		if _, ok := targets[strings.ToLower(rr.Header().Name)]; ok {
			kept = append(kept, rr)
		}
	}
	m.Extra = kept
}
