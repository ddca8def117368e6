package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// wakeDelegate answers KVS.Get for one key, blocking like the servers
// until the index passes the caller's: the edge of the woken path.
type wakeDelegate struct {
	delegate // the methods the benchmark never calls
	blocked  atomic.Int32

	mu      sync.Mutex
	index   uint64
	changed chan struct{}
}

func (d *wakeDelegate) RPC(ctx context.Context, _ string, args, reply any) error {
	o := args.(rpcapi.Query).Options()
	for {
		d.mu.Lock()
		index, changed := d.index, d.changed
		d.mu.Unlock()
		if index > o.MinQueryIndex {
			r := reply.(*rpcapi.IndexedEntries)
			r.Index, r.KnownLeader = index, true
			r.Entries = []*kv.Entry{{Key: "watched", Value: []byte("value"), CreateIndex: 1, ModifyIndex: index}}
			return nil
		}
		d.blocked.Add(1)
		select {
		case <-changed:
			d.blocked.Add(-1)
		case <-ctx.Done():
			d.blocked.Add(-1)
			return ctx.Err()
		}
	}
}

func (d *wakeDelegate) write() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.index++
	close(d.changed)
	d.changed = make(chan struct{})
}

// BenchmarkHTTPKVWatchWake: n watchers blocked on GET /v1/kv/watched
// over loopback HTTP, one write, until the last one has its answer — the
// agent's woken path (the servers' part is the fake above).
func BenchmarkHTTPKVWatchWake(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			d := &wakeDelegate{index: 1, changed: make(chan struct{})}
			a := &Agent{cfg: config.Default(), logger: hclog.NewNullLogger(), delegate: d, tokens: &agentTokens{}}
			var entered atomic.Int32
			h := a.handler()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered.Add(1)
				h.ServeHTTP(w, r)
			}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * n, MaxIdleConns: 2 * n}}
			for b.Loop() {
				b.StopTimer()
				d.mu.Lock()
				index := d.index
				d.mu.Unlock()
				entered.Store(0)
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						resp, err := client.Get(fmt.Sprintf("%s/v1/kv/watched?index=%d", srv.URL, index))
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Consul-Index") != fmt.Sprint(index+1) {
							b.Errorf("status %d index %s", resp.StatusCode, resp.Header.Get("X-Consul-Index"))
						}
					})
				}
				for entered.Load() < int32(n) || d.blocked.Load() == 0 {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(20 * time.Millisecond) // the last ones from the handler into their wait
				b.StartTimer()
				d.write()
				wg.Wait()
			}
		})
	}
}
