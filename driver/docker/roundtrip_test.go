package docker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/shoalproject/shoal/driver"
)

// countingEngine is a reverse proxy in front of the real engine at host
// that counts the requests by method and path pattern; its address is for
// Options.Host.
type countingEngine struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   map[string]int
}

// imageInspect matches GET /v1.xx/images/<ref>/json.
var imageInspect = regexp.MustCompile(`^(/v[0-9.]+)?/images/.+/json$`)

func newCountingEngine(t *testing.T, host string) *countingEngine {
	t.Helper()
	network, addr, ok := strings.Cut(host, "://")
	if !ok || (network != "unix" && network != "tcp") {
		t.Fatalf("countingEngine: engine %q is neither unix:// nor tcp://", host)
	}
	c := &countingEngine{n: map[string]int{}}
	target := &url.URL{Scheme: "http", Host: "docker"}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && imageInspect.MatchString(r.URL.Path) {
			c.mu.Lock()
			c.n["image inspect"]++
			c.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *countingEngine) host() string { return "tcp://" + c.srv.Listener.Addr().String() }

func (c *countingEngine) count(what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[what]
}

// TestStartAsksForTheImageOnce checks that starting a task whose image is
// present asks the engine about the image once, whether the realiser
// prepared it first (driver.Preparer) or not: a scale-up pays one engine
// round trip less per replica.
func TestStartAsksForTheImageOnce(t *testing.T) {
	t.Parallel()
	host := engine(t)
	tests := []struct {
		name    string
		prepare bool
	}{
		{name: "prepared", prepare: true},
		{name: "not prepared"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCountingEngine(t, host)
			d := newDriver(t, ce.host(), Options{})
			ctx := ctxT(t)
			task := newTask(t, "once", nil)
			if tc.prepare {
				ready, progress, err := d.Prepare(ctx, task)
				if err != nil || !ready {
					t.Fatalf("Prepare = %v, %q, %v; want ready (the image is present)", ready, progress, err)
				}
			}
			st, err := d.Start(ctx, task)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { _ = d.Stop(context.Background(), task.AllocID, 0) })
			if st.State != driver.StateRunning {
				t.Errorf("state = %v, want running", st.State)
			}
			if n := ce.count("image inspect"); n != 1 {
				t.Errorf("the engine was asked about the image %d times, want 1", n)
			}
		})
	}
}
