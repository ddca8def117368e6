package dns

import (
	"fmt"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestUDPResponsesStayWithinTheirLimit: a small UDP question never draws an
// answer larger than 512 bytes (or the EDNS0 size it advertised), however
// much node metadata there is: a DNS server must not be an amplifier. Meta
// values longer than 255 bytes are split into several strings of one TXT
// record instead of breaking the answer.
func TestUDPResponsesStayWithinTheirLimit(t *testing.T) {
	f := newFixture()
	meta := map[string]string{}
	for i := range 64 {
		meta[fmt.Sprintf("key%02d", i)] = strings.Repeat("v", 200)
	}
	big := f.node("fat", "10.9.0.1", meta)
	f.add(big, catalogService("fat"), "")
	f.node("long", "10.9.0.2", map[string]string{"cert": strings.Repeat("x", 600)})
	s := testServer(t, f, nil)

	cases := []struct {
		name    string
		qname   string
		qtype   uint16
		tcp     bool
		edns    uint16
		answers int  // at least this many answers
		tc      bool // TC bit expected
		maxSize int  // 0: no bound beyond ask's
	}{
		{"node A without EDNS0 drops the meta TXT extras", "fat.node.consul.", mdns.TypeA, false, 0, 1, false, 512},
		{"service SRV without EDNS0", "fat.service.consul.", mdns.TypeSRV, false, 0, 1, false, 512},
		{"node TXT without EDNS0 truncates", "fat.node.consul.", mdns.TypeTXT, false, 0, 1, true, 512},
		{"node A with EDNS0 4096", "fat.node.consul.", mdns.TypeA, false, 4096, 1, false, 4096},
		{"node TXT over TCP is whole", "fat.node.consul.", mdns.TypeTXT, true, 0, 64, false, 0},
		{"a 600-byte meta value is split, not dropped", "long.node.consul.", mdns.TypeTXT, true, 0, 1, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ask(t, s, tc.qname, tc.qtype, tc.tcp, tc.edns)
			if m.Rcode != mdns.RcodeSuccess {
				t.Fatalf("rcode %s", mdns.RcodeToString[m.Rcode])
			}
			if len(m.Answer) < tc.answers {
				t.Errorf("%d answers, want at least %d", len(m.Answer), tc.answers)
			}
			if m.Truncated != tc.tc {
				t.Errorf("TC %v, want %v", m.Truncated, tc.tc)
			}
			if tc.maxSize > 0 && m.Len() > tc.maxSize {
				t.Errorf("response of %d bytes, limit %d", m.Len(), tc.maxSize)
			}
		})
	}

	m := ask(t, s, "long.node.consul.", mdns.TypeTXT, true, 0)
	txt, ok := m.Answer[0].(*mdns.TXT)
	if !ok {
		t.Fatalf("answer %v, want TXT", m.Answer[0])
	}
	if got := strings.Join(txt.Txt, ""); got != "cert="+strings.Repeat("x", 600) {
		t.Errorf("TXT strings join to %d bytes %.20q…, want the whole value", len(got), got)
	}
	for _, s := range txt.Txt {
		if len(s) > 255 {
			t.Errorf("TXT string of %d bytes, DNS allows 255", len(s))
		}
	}
}
