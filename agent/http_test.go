package agent_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

func httpGet(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHTTPBase(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
		cfg.Ports.DNS = testcluster.ExtraPort(t, cfg)
	}})
	n := c.WaitForLeader(10 * time.Second)
	base := "http://" + n.HTTPAddr()
	put := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPut, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put("/v1/kv/m", "x"); code != 200 {
		t.Fatalf("put: %d", code)
	}

	t.Run("read headers", func(t *testing.T) {
		code, h, _ := httpGet(t, base+"/v1/kv/m")
		if code != 200 || h.Get("X-Consul-Index") == "" || h.Get("X-Consul-KnownLeader") != "true" ||
			h.Get("X-Consul-LastContact") != "0" || h.Get("Content-Type") != "application/json" {
			t.Fatalf("code %d headers %v", code, h)
		}
	})
	t.Run("missing key is 404 with index", func(t *testing.T) {
		code, h, _ := httpGet(t, base+"/v1/kv/nope")
		if code != 404 || h.Get("X-Consul-Index") == "" {
			t.Fatalf("code %d headers %v", code, h)
		}
	})
	errCases := []struct {
		name, method, path string
		code               int
		body               string
	}{
		{"stale with consistent", "GET", "/v1/kv/m?stale&consistent", 400, "Cannot specify ?stale with ?consistent"},
		{"bad wait", "GET", "/v1/kv/m?wait=soon", 400, "Invalid wait time"},
		{"bad index", "GET", "/v1/kv/m?index=x", 400, "Invalid index"},
		{"wrong method", "POST", "/v1/status/leader", 405, "method POST not allowed"},
		{"force-leave unknown node", "PUT", "/v1/agent/force-leave/ghost", 404, "Unknown node"},
		{"remove-peer without id", "DELETE", "/v1/operator/raft/peer", 400, "Must specify"},
		{"remove-peer unknown id", "DELETE", "/v1/operator/raft/peer?id=ghost", 400, "raft peer not found"},
		{"rebalance unknown service", "PUT", "/v1/shoal/services/ghost/rebalance", 404, "no such service"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("%s %s: %d %q (%s)", tc.method, tc.path, resp.StatusCode, b, resp.Header.Get("Content-Type"))
			}
		})
	}

	t.Run("agent self through the Go client", func(t *testing.T) {
		name, err := n.API(t).Agent().NodeName()
		if err != nil || name != n.Name {
			t.Fatalf("NodeName %q, %v", name, err)
		}
	})

	// Consul's names and kinds: client.rpc and rpc.query are counters,
	// the DNS timers are dns.domain_query and dns.ptr_query by node.
	t.Run("prometheus metrics", func(t *testing.T) {
		for _, q := range []string{"consul.service.consul.", "1.0.0.127.in-addr.arpa."} {
			m := new(mdns.Msg)
			m.SetQuestion(q, mdns.TypeANY)
			if _, _, err := new(mdns.Client).Exchange(m, fmt.Sprintf("127.0.0.1:%d", n.Cfg.Ports.DNS)); err != nil {
				t.Fatalf("DNS %s: %v", q, err)
			}
		}
		testcluster.Eventually(t, 15*time.Second, func() error {
			code, _, body := httpGet(t, base+"/v1/agent/metrics?format=prometheus")
			if code != 200 {
				return fmt.Errorf("code %d", code)
			}
			for _, want := range []string{"consul_raft_", "consul_api_http", "# TYPE consul_client_rpc counter", "# TYPE consul_rpc_query counter",
				`consul_dns_domain_query{node="s1",quantile="0.5"}`, `consul_dns_ptr_query{node="s1",quantile="0.5"}`, "consul_memberlist_", "go_goroutines"} {
				if !strings.Contains(body, want) {
					return fmt.Errorf("metrics lack %s", want)
				}
			}
			return nil
		})
	})
	t.Run("json metrics", func(t *testing.T) {
		code, _, body := httpGet(t, base+"/v1/agent/metrics")
		if code != 200 || !strings.Contains(body, `"Gauges"`) {
			t.Fatalf("%d %s", code, body)
		}
	})
}
