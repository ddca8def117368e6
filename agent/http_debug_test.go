package agent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// enable_debug, as Consul's, is what exposes Go's profiler on the HTTP API;
// without it the profiler's paths are not served.
func TestEnableDebugServesPprof(t *testing.T) {
	tests := []struct {
		name     string
		enabled  bool
		wantCode int
	}{
		{"off by default", false, 404},
		{"enable_debug = true", true, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
				cfg.BootstrapExpect, cfg.Bootstrap = 0, true
				cfg.EnableDebug = tc.enabled
			}})
			n := c.WaitForLeader(10 * time.Second)
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
				code, _, body := httpGet(t, "http://"+n.HTTPAddr()+path)
				if code != tc.wantCode {
					t.Fatalf("GET %s: %d, want %d", path, code, tc.wantCode)
				}
				if tc.enabled && !strings.Contains(body, "goroutine") {
					t.Errorf("GET %s: no profile in the answer: %.200q", path, body)
				}
			}
		})
	}
}
