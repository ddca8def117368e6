package agent

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/watch"
)

// TestInProcessClientToken: the watches' client sends the watch's token,
// or none, never the CONSUL_HTTP_TOKEN of the agent's environment.
func TestInProcessClientToken(t *testing.T) {
	t.Setenv("CONSUL_HTTP_TOKEN", "from-the-environment")
	for _, tc := range []struct{ name, token, want string }{
		{"no token: the agent's default", "", ""},
		{"the watch's token", "watch-token", "watch-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("X-Consul-Token")
				w.Header().Set("X-Consul-Index", "5")
				_, _ = w.Write([]byte(`{"a":["t"]}`))
			})
			c, err := inProcessClient(h, tc.token)
			if err != nil {
				t.Fatal(err)
			}
			svcs, meta, err := c.Catalog().Services(nil)
			if err != nil || svcs["a"] == nil || meta.LastIndex != 5 {
				t.Fatalf("services %v %+v %v", svcs, meta, err)
			}
			if got != tc.want {
				t.Fatalf("token %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConcurrentWatchReloadsStop: two reloads at once (SIGHUP and
// /v1/agent/reload) leave one set of watches, which shutdown stops.
func TestConcurrentWatchReloadsStop(t *testing.T) {
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("index") != "" {
			<-r.Context().Done() // a blocking query with nothing new
			return
		}
		w.Header().Set("X-Consul-Index", "5")
		_, _ = w.Write([]byte(`{}`))
	})
	a := &Agent{logger: hclog.NewNullLogger(), shutdownCh: make(chan struct{}), apiHandler: blocking}
	defs := []config.Watch{{Params: watch.Params{Type: "services"}, Args: []string{"true"}}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() { defer wg.Done(); a.watches.start(a, defs) }()
			}
			wg.Wait()
		}
		a.watches.stop()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("reloads and stop did not return: a set of watches was left running, and stop waits for it")
	}
}
