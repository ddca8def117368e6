package dns

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/catalog"
)

// queryFixture adds the QueryExecutor ability: one prepared query,
// "web-q", answering the fixture's instances on n1 with a 10 s TTL.
type queryFixture struct{ *fixture }

func (f queryFixture) ExecuteQuery(ctx context.Context, dc, name string) ([]catalog.Instance, string, time.Duration, bool, error) {
	if err := f.read(dc); err != nil {
		return nil, "", 0, false, err
	}
	if name != "web-q" {
		return nil, "", 0, false, nil
	}
	var out []catalog.Instance
	for _, in := range f.instances {
		if in.Service.Service == "web" && in.Node.Node == "n1" {
			out = append(out, in)
		}
	}
	return out, "web", 10 * time.Second, true, nil
}

func TestPreparedQueryLookup(t *testing.T) {
	cases := []struct {
		name   string
		reader func(*fixture) Reader
		qname  string
		qtype  uint16
		rcode  int
		answer []string
	}{
		{"A records with the query's TTL", func(f *fixture) Reader { return queryFixture{f} },
			"web-q.query.consul.", mdns.TypeA, mdns.RcodeSuccess, []string{"web-q.query.consul. 10 IN A 10.0.0.1"}},
		{"SRV", func(f *fixture) Reader { return queryFixture{f} },
			"web-q.query.consul.", mdns.TypeSRV, mdns.RcodeSuccess, []string{"web-q.query.consul. 10 IN SRV 1 1 8080 n1.node.dc1.consul."}},
		{"datacenter-qualified", func(f *fixture) Reader { return queryFixture{f} },
			"web-q.query.dc1.consul.", mdns.TypeA, mdns.RcodeSuccess, []string{"web-q.query.dc1.consul. 10 IN A 10.0.0.1"}},
		{"unknown query", func(f *fixture) Reader { return queryFixture{f} },
			"nope.query.consul.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"unknown datacenter", func(f *fixture) Reader { return queryFixture{f} },
			"web-q.query.dc9.consul.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"reader without prepared queries", func(f *fixture) Reader { return f },
			"web-q.query.consul.", mdns.TypeA, mdns.RcodeNameError, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, tc.reader(newFixture()), nil)
			m := ask(t, s, tc.qname, tc.qtype, false, 0)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tc.rcode])
			}
			var got []string
			for _, rr := range m.Answer {
				got = append(got, strings.ReplaceAll(rr.String(), "\t", " "))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.answer) {
				t.Fatalf("answers %q, want %q", got, tc.answer)
			}
		})
	}
}
