package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/dns"
	"github.com/shoalproject/shoal/rpcapi"
)

// fakeCatalog answers the reads the DNS reader makes, counting them, with
// blocking queries that wake on set.
type fakeCatalog struct {
	mu          sync.Mutex
	index       uint64
	nodes       []catalog.Instance
	changed     chan struct{} // closed and replaced on every set
	err         error
	lastContact time.Duration

	reads, blocking, staleReads, leaderReads atomic.Int64
}

func newFakeCatalog() *fakeCatalog {
	f := &fakeCatalog{index: 10, changed: make(chan struct{})}
	f.set(1)
	return f
}

// set replaces the service's instances with n fresh ones.
func (f *fakeCatalog) set(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.nodes = nil
	for i := 0; i < n; i++ {
		node := &catalog.Node{Node: "n" + string(rune('a'+i)), Address: "10.0.0." + string(rune('1'+i))}
		f.nodes = append(f.nodes, catalog.Instance{Node: node, Service: &catalog.Service{Service: "web", Port: 80}})
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeCatalog) rpc(ctx context.Context, method string, args, reply any) error {
	if method != "Health.ServiceNodes" {
		return errors.New("unexpected method " + method)
	}
	a := args.(*rpcapi.ServiceSpecificRequest)
	f.reads.Add(1)
	if a.AllowStale {
		f.staleReads.Add(1)
	} else {
		f.leaderReads.Add(1)
	}
	for {
		f.mu.Lock()
		idx, nodes, changed, err, lc := f.index, f.nodes, f.changed, f.err, f.lastContact
		f.mu.Unlock()
		if err != nil {
			return err
		}
		if a.MinQueryIndex == 0 || idx > a.MinQueryIndex {
			r := reply.(*rpcapi.IndexedCheckServiceNodes)
			r.Index, r.Nodes = idx, nodes
			if a.AllowStale {
				r.LastContact = lc
			}
			return nil
		}
		f.blocking.Add(1)
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeCatalog) fail(err error) {
	f.mu.Lock()
	f.err = err
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func newTestReader(t *testing.T, f *fakeCatalog, maxStale time.Duration) *dnsReader {
	r := newDNSReader(f.rpc, "dc1", true, maxStale, hclog.NewNullLogger())
	t.Cleanup(r.close)
	return r
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDNSReaderBurstCostsOneRead(t *testing.T) {
	f := newFakeCatalog()
	r := newTestReader(t, f, time.Hour)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				nodes, err := r.ServiceNodes(context.Background(), "dc1", "web")
				if err != nil || len(nodes) != 1 {
					t.Errorf("ServiceNodes = %d nodes, %v", len(nodes), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// One read filled the entry; the watcher's blocking query is the other.
	if n := f.reads.Load(); n > 2 {
		t.Errorf("%d catalog reads for 6400 lookups, want at most 2", n)
	}
	if f.leaderReads.Load() != 0 {
		t.Errorf("leader reads with allow_stale")
	}
}

func TestDNSReaderBlockingQueryUpdates(t *testing.T) {
	f := newFakeCatalog()
	r := newTestReader(t, f, time.Hour)
	ctx := context.Background()
	if nodes, _ := r.ServiceNodes(ctx, "dc1", "web"); len(nodes) != 1 {
		t.Fatalf("%d nodes, want 1", len(nodes))
	}
	eventually(t, "the watcher to block", func() bool { return f.blocking.Load() > 0 })
	f.set(3)
	eventually(t, "the change to reach the cache", func() bool {
		nodes, _ := r.ServiceNodes(ctx, "dc1", "web")
		return len(nodes) == 3
	})
	if n := f.reads.Load(); n > 3 {
		t.Errorf("%d reads, want the first read and two blocking queries", n)
	}
}

func TestDNSReaderFailureDropsEntry(t *testing.T) {
	f := newFakeCatalog()
	r := newTestReader(t, f, time.Hour)
	ctx := context.Background()
	if _, err := r.ServiceNodes(ctx, "dc1", "web"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watcher to block", func() bool { return f.blocking.Load() > 0 })
	boom := errors.New("no servers")
	f.fail(boom)
	// The watcher fails and drops the entry: the next lookup reads again,
	// and sees the error (SERVFAIL) rather than old data.
	eventually(t, "the error to surface", func() bool {
		_, err := r.ServiceNodes(ctx, "dc1", "web")
		return errors.Is(err, boom)
	})
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	eventually(t, "recovery", func() bool {
		nodes, err := r.ServiceNodes(ctx, "dc1", "web")
		return err == nil && len(nodes) == 1
	})
}

func TestDNSReaderMaxStale(t *testing.T) {
	f := newFakeCatalog()
	f.lastContact = time.Minute
	r := newTestReader(t, f, 10*time.Second)
	if _, err := r.ServiceNodes(context.Background(), "dc1", "web"); err != nil {
		t.Fatal(err)
	}
	if f.leaderReads.Load() != 1 {
		t.Errorf("%d leader reads after a too-stale answer, want 1", f.leaderReads.Load())
	}
}

func TestDNSReaderOtherDatacenter(t *testing.T) {
	f := newFakeCatalog()
	r := newTestReader(t, f, time.Hour)
	if _, err := r.ServiceNodes(context.Background(), "dc2", "web"); !errors.Is(err, dns.ErrNoDatacenter) {
		t.Errorf("err = %v, want ErrNoDatacenter", err)
	}
}

func TestDNSReaderCloseStopsWatchers(t *testing.T) {
	f := newFakeCatalog()
	r := newDNSReader(f.rpc, "dc1", true, time.Hour, hclog.NewNullLogger())
	if _, err := r.ServiceNodes(context.Background(), "dc1", "web"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watcher to block", func() bool { return f.blocking.Load() > 0 })
	done := make(chan struct{})
	go func() { r.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not stop the blocking query")
	}
}
