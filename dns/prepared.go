package dns

import (
	"context"

	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/catalog"
)

// preparedQueryLookup answers <name>.query[.<dc>].<domain>: the instances
// of a prepared query, as SRV or address records like a service lookup.
// Without a QueryExecutor, or for an unknown query, the name does not
// exist.
func (s *Server) preparedQueryLookup(ctx context.Context, req, m *mdns.Msg, name, dc, domain string) error {
	qe, ok := s.reader.(QueryExecutor)
	if !ok {
		return errNameNotFound
	}
	insts, service, ttl, found, err := qe.ExecuteQuery(ctx, dc, name)
	if err != nil {
		return err
	}
	if !found || len(insts) == 0 {
		return errNameNotFound
	}
	ptrs := make([]*catalog.Instance, len(insts))
	for i := range insts {
		ptrs[i] = &insts[i]
	}
	secs := s.cfg.ttlFor(service)
	if ttl > 0 {
		secs = seconds(ttl)
	}
	if req.Question[0].Qtype == mdns.TypeSRV {
		s.srvRecords(req, m, ptrs, dc, domain, secs)
	} else {
		s.addressRecords(req, m, ptrs, secs)
	}
	if len(m.Answer) == 0 {
		return errNoData
	}
	return nil
}
