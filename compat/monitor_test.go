package compat

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestAgentMonitor: /v1/agent/monitor streams the agent's log lines at the
// asked level, as text or JSON, through the Go client.
func TestAgentMonitor(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		cases := []struct {
			name string
			json bool
			want string
		}{
			{"text", false, "[ERROR]"},
			{"json", true, `"@level":"error"`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				stop := make(chan struct{})
				defer close(stop)
				var logs chan string
				var err error
				if tc.json {
					logs, err = c.Agent().MonitorJSON("debug", stop, nil)
				} else {
					logs, err = c.Agent().Monitor("debug", stop, nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				// A failing request is logged at ERROR with its URL.
				marker := "/v1/kv/monitor-" + tc.name + "?dc=nosuchdc"
				deadline := time.After(10 * time.Second)
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case line := <-logs:
						if strings.Contains(line, "monitor-"+tc.name) {
							if !strings.Contains(line, tc.want) {
								t.Fatalf("line %q lacks %q", line, tc.want)
							}
							return
						}
					case <-tick.C:
						rawHTTP(t, n, http.MethodGet, marker, "")
					case <-deadline:
						t.Fatal("the failing request never reached the monitor")
					}
				}
			})
		}
	})
	t.Run("bad level", func(t *testing.T) {
		resp, body := rawHTTP(t, entries[0].node, http.MethodGet, "/v1/agent/monitor?loglevel=loud", "")
		if resp.StatusCode != 400 || !strings.Contains(body, "Unknown log level") {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
}

// TestCancelledBlockingQueryNotAnError: a blocking query whose client
// goes away (a watch that exits) is not logged at ERROR by the agent it
// reached, whichever agent that is.
func TestCancelledBlockingQueryNotAnError(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		stop := make(chan struct{})
		defer close(stop)
		logs, err := c.Agent().Monitor("debug", stop, nil)
		if err != nil {
			t.Fatal(err)
		}
		key := "cancelled-" + n.Name
		_, meta, err := c.KV().Get(key, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, _, err = c.KV().Get(key, (&api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute}).WithContext(ctx))
		if err == nil {
			t.Fatal("the blocking query returned before it was cancelled")
		}
		// The agent sees the client leave; give it time to log.
		deadline := time.After(time.Second)
		for {
			select {
			case line := <-logs:
				if strings.Contains(line, key) && strings.Contains(line, "[ERROR]") {
					t.Fatalf("logged at ERROR: %s", line)
				}
			case <-deadline:
				return
			}
		}
	})
}
