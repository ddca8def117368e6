package agent_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// statsdListener collects the lines a statsd sink sends to a UDP socket.
type statsdListener struct {
	conn *net.UDPConn

	mu    sync.Mutex
	lines []string
}

func newStatsdListener(t *testing.T) *statsdListener {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &statsdListener{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			l.mu.Lock()
			for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				l.lines = append(l.lines, line)
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return l
}

// with reports whether a line begins with prefix.
func (l *statsdListener) with(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// The telemetry block of a Consul configuration: prefix_filter blocks
// metrics in every sink (the in-memory view, Prometheus and statsd),
// filter_default and a "+" rule let some through, and statsd_address
// gets the rest over UDP in statsd's format.
func TestTelemetryBlock(t *testing.T) {
	statsd := newStatsdListener(t)
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
		cfg.Telemetry.StatsdAddress = statsd.conn.LocalAddr().String()
		// Block Consul's HTTP timers and Raft's metrics but raft.apply;
		// keep everything else (filter_default).
		cfg.Telemetry.PrefixFilter = []string{"-consul.api.http", "-consul.raft", "+consul.raft.apply"}
	}})
	n := c.WaitForLeader(10 * time.Second)
	base := "http://" + n.HTTPAddr()
	for i := range 5 {
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v1/kv/t%d", base, i), strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		httpGet(t, base+"/v1/status/leader")
	}
	testcluster.Eventually(t, 15*time.Second, func() error {
		_, _, body := httpGet(t, base+"/v1/agent/metrics?format=prometheus")
		if !strings.Contains(body, "# TYPE consul_client_rpc counter") {
			return fmt.Errorf("prometheus view lacks consul_client_rpc")
		}
		if !statsd.with("consul.client.rpc:") {
			return fmt.Errorf("statsd got no consul.client.rpc")
		}
		if !statsd.with("consul.raft.apply:") {
			return fmt.Errorf("statsd got no consul.raft.apply")
		}
		return nil
	})
	// The blocked metrics reached no sink.
	_, _, prom := httpGet(t, base+"/v1/agent/metrics?format=prometheus")
	_, _, js := httpGet(t, base+"/v1/agent/metrics")
	for _, blocked := range []string{"consul.api.http", "consul.raft.commitTime", "consul.raft.fsm.apply"} {
		if strings.Contains(prom, strings.ReplaceAll(blocked, ".", "_")) || strings.Contains(js, `"`+blocked) || statsd.with(blocked) {
			t.Errorf("blocked %s was emitted: prometheus %v, json %v, statsd %v", blocked,
				strings.Contains(prom, strings.ReplaceAll(blocked, ".", "_")), strings.Contains(js, `"`+blocked), statsd.with(blocked))
		}
	}
}
