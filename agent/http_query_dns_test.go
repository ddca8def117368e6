package agent_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestPreparedQueryDNS: a prepared query answers <name>.query.consul and
// <id>.query.consul over a real agent's DNS, with the query's TTL and
// filters.
func TestPreparedQueryDNS(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
		cfg.Ports.DNS = testcluster.ExtraPort(t, cfg)
	}})
	n := c.WaitForLeader(10 * time.Second)
	cl := n.API(t)
	for i, tag := range []string{"v1", "v2"} {
		reg := &api.AgentServiceRegistration{ID: "qd-" + tag, Name: "qd", Tags: []string{tag}, Port: 8000 + i,
			Address: fmt.Sprintf("10.1.0.%d", i+1)}
		if err := cl.Agent().ServiceRegister(reg); err != nil {
			t.Fatal(err)
		}
	}
	id, _, err := cl.PreparedQuery().Create(&api.PreparedQueryDefinition{Name: "qd-v2",
		Service: api.ServiceQuery{Service: "qd", Tags: []string{"v2"}}, DNS: api.QueryDNSOptions{TTL: "7s"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(n.Cfg.Ports.DNS)
	cases := []struct {
		name, qname string
		rcode       int
		want        string
	}{
		{"by name", "qd-v2.query.consul.", mdns.RcodeSuccess, "qd-v2.query.consul.\t7\tIN\tA\t10.1.0.2"},
		{"by id", id + ".query.consul.", mdns.RcodeSuccess, id + ".query.consul.\t7\tIN\tA\t10.1.0.2"},
		{"unknown", "nope.query.consul.", mdns.RcodeNameError, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testcluster.Eventually(t, 10*time.Second, func() error { // anti-entropy syncs the services
				m := new(mdns.Msg)
				m.SetQuestion(tc.qname, mdns.TypeA)
				r, _, err := new(mdns.Client).Exchange(m, addr)
				if err != nil {
					return err
				}
				if r.Rcode != tc.rcode {
					return fmt.Errorf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
				}
				if tc.want != "" && (len(r.Answer) != 1 || r.Answer[0].String() != tc.want) {
					return fmt.Errorf("answer %v, want %q", r.Answer, tc.want)
				}
				return nil
			})
		})
	}
}
