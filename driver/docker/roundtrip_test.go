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
	"time"

	"github.com/shoalproject/shoal/driver"
)

// countingEngine is a reverse proxy in front of the real engine at host
// that counts the requests by method and path pattern; its address is for
// Options.Host.
type countingEngine struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   map[string]int
	// intercept, when set (before the first request), may answer a
	// request itself instead of the engine: it returns true if it did.
	intercept func(w http.ResponseWriter, r *http.Request, engine http.Handler) bool
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
		if c.intercept != nil && c.intercept(w, r, proxy) {
			return
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

// containerDelete matches DELETE /v1.xx/containers/<id>.
var containerDelete = regexp.MustCompile(`^(/v[0-9.]+)?/containers/[^/]+$`)

// TestStartWaitsForARemovalUnderWay checks that a restart whose old
// container is already being removed by someone else (the engine answers
// the forced removal 409 "removal ... is already in progress", as it did
// to an e2e test's `docker rm -f`) waits for that removal and starts,
// instead of failing the start (which costs the restart its back-off).
// The proxy answers the first removal 409 itself and lets the engine
// remove the container a moment later.
func TestStartWaitsForARemovalUnderWay(t *testing.T) {
	t.Parallel()
	ce := newCountingEngine(t, engine(t))
	var once sync.Once
	var removed sync.WaitGroup
	ce.intercept = func(w http.ResponseWriter, r *http.Request, engine http.Handler) bool {
		if r.Method != http.MethodDelete || !containerDelete.MatchString(r.URL.Path) {
			return false
		}
		took := false
		once.Do(func() {
			took = true
			removed.Add(1)
			bg := r.Clone(context.Background())
			go func() {
				defer removed.Done()
				time.Sleep(300 * time.Millisecond)
				engine.ServeHTTP(httptest.NewRecorder(), bg)
			}()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"removal of container is already in progress"}`))
		})
		return took
	}
	d := newDriver(t, ce.host(), Options{})
	ctx := ctxT(t)
	task := newTask(t, "rmrace", nil)
	first, err := d.Start(ctx, task)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background(), task.AllocID, 0) })
	// The restart removes the first container: its removal is "under way".
	second, err := d.Start(ctx, task)
	removed.Wait()
	if err != nil {
		t.Fatalf("restart while the old container's removal was under way: %v", err)
	}
	if second.ID == first.ID || second.State != driver.StateRunning {
		t.Fatalf("restart = %+v, want a new running container (the first was %s)", second, first.ID)
	}
}
