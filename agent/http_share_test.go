package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// blockingKV stands for the servers at the agent's RPC edge: one KV store
// whose reads block as the servers' do (until the index passes the
// caller's or MaxQueryTime is over). Values read with a token come back
// prefixed by it, so that an answer served to the wrong token shows.
type blockingKV struct {
	delegate // the methods these tests never call

	reads   atomic.Int32 // KVS reads served
	blocked atomic.Int32 // reads blocked now
	noBlock bool         // answer at once, as a read that cannot block

	mu      sync.Mutex
	index   uint64
	values  map[string]string
	changed chan struct{} // closed and replaced by every write
}

func newBlockingKV(index uint64, values map[string]string) *blockingKV {
	return &blockingKV{index: index, values: values, changed: make(chan struct{})}
}

func (d *blockingKV) set(key, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.index++
	d.values[key] = value
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *blockingKV) RPC(ctx context.Context, method string, args, reply any) error {
	d.reads.Add(1)
	o := args.(rpcapi.Query).Options()
	token, _ := rpcapi.AuthTokenFrom(ctx)
	wait := o.MaxQueryTime
	if wait <= 0 {
		wait = rpcapi.DefaultQueryWait
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		d.mu.Lock()
		index, changed := d.index, d.changed
		var entries []*kv.Entry
		var keys []string
		for k, v := range d.values {
			switch a := args.(type) {
			case *rpcapi.KeyRequest:
				if k == a.Key || (method == "KVS.List" && strings.HasPrefix(k, a.Key)) {
					entries = append(entries, &kv.Entry{Key: k, Value: []byte(token + ":" + v), ModifyIndex: index})
				}
			case *rpcapi.KeyListRequest:
				if strings.HasPrefix(k, a.Prefix) {
					keys = append(keys, k)
				}
			}
		}
		d.mu.Unlock()
		if o.MinQueryIndex == 0 || index > o.MinQueryIndex || timeout == nil || d.noBlock {
			meta := rpcapi.QueryMeta{Index: index, KnownLeader: true}
			switch r := reply.(type) {
			case *rpcapi.IndexedEntries:
				r.QueryMeta, r.Entries = meta, entries
			case *rpcapi.IndexedKeyList:
				r.QueryMeta, r.Keys = meta, keys
			}
			return nil
		}
		d.blocked.Add(1)
		select {
		case <-changed:
		case <-timeout.C:
			timeout = nil // answer with the current result
		case <-ctx.Done():
			d.blocked.Add(-1)
			return ctx.Err()
		}
		d.blocked.Add(-1)
	}
}

// shareTestAgent serves the agent's HTTP API over d.
func shareTestAgent(t *testing.T, d delegate) (*Agent, string) {
	t.Helper()
	a := &Agent{cfg: config.Default(), logger: hclog.NewNullLogger(), delegate: d, tokens: &agentTokens{}}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return a, srv.URL
}

type shareAnswer struct {
	code  int
	index string
	body  string
	err   error
}

// shareGet sends a GET of path with token (none when "").
func shareGet(ctx context.Context, base, path, token string) shareAnswer {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return shareAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return shareAnswer{code: resp.StatusCode, index: resp.Header.Get("X-Consul-Index"), body: string(b), err: err}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// parked returns the number of watchers parked: on shared calls, or on
// reads of their own.
func parked(a *Agent, d *blockingKV) int {
	_, n := a.flights.Len()
	return max(n, int(d.blocked.Load()))
}

// TestSharedBlockingQueryOneReadPerWake: N identical watchers of a key
// cost one read per wake, and each gets the new value and index.
func TestSharedBlockingQueryOneReadPerWake(t *testing.T) {
	cases := []struct {
		name, path string
		want       string // in every body
	}{
		{"get", "/v1/kv/k?index=5", `"Key":"k"`},
		{"raw", "/v1/kv/k?index=5&raw", "tok:new"},
		{"recurse", "/v1/kv/k?recurse&index=5", `"Key":"k"`},
		{"keys", "/v1/kv/?keys&index=5", `["k"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newBlockingKV(5, map[string]string{"k": "old"})
			a, base := shareTestAgent(t, d)
			const n = 50
			answers := make(chan shareAnswer, n)
			for range n {
				go func() { answers <- shareGet(t.Context(), base, tc.path, "tok") }()
			}
			waitUntil(t, "every watcher to park", func() bool { return parked(a, d) == n })
			d.set("k", "new")
			var first string
			for range n {
				ans := <-answers
				if ans.err != nil || ans.code != http.StatusOK || ans.index != "6" || !strings.Contains(ans.body, tc.want) {
					t.Fatalf("answer %+v, want 200, index 6, a body with %s", ans, tc.want)
				}
				if first == "" {
					first = ans.body
				} else if ans.body != first {
					t.Fatalf("answers differ: %q and %q", first, ans.body)
				}
			}
			if r := d.reads.Load(); r != 1 {
				t.Fatalf("%d identical watchers woken by one write made %d reads, want 1", n, r)
			}
		})
	}
}

// TestSharedBlockingQueryMissingKey: a shared wake on a deleted or still
// missing key is the 404 with X-Consul-Index, as for one watcher.
func TestSharedBlockingQueryMissingKey(t *testing.T) {
	d := newBlockingKV(5, map[string]string{})
	a, base := shareTestAgent(t, d)
	answers := make(chan shareAnswer, 2)
	for range 2 {
		go func() { answers <- shareGet(t.Context(), base, "/v1/kv/missing?index=5", "") }()
	}
	waitUntil(t, "both watchers to park", func() bool { return parked(a, d) == 2 })
	d.set("other", "x")
	for range 2 {
		if ans := <-answers; ans.code != http.StatusNotFound || ans.index != "6" || ans.body != "" {
			t.Fatalf("answer %+v, want 404 with index 6 and no body", ans)
		}
	}
}

// TestSharedBlockingQueryCallerLeaves: a watcher that goes away does not
// cancel the read the others wait on; the last one leaving does.
func TestSharedBlockingQueryCallerLeaves(t *testing.T) {
	d := newBlockingKV(5, map[string]string{"k": "old"})
	a, base := shareTestAgent(t, d)
	leaver, leave := context.WithCancel(t.Context())
	left := make(chan shareAnswer, 1)
	go func() { left <- shareGet(leaver, base, "/v1/kv/k?index=5", "") }()
	waitUntil(t, "the first watcher", func() bool { return parked(a, d) == 1 })
	stayed := make(chan shareAnswer, 1)
	go func() { stayed <- shareGet(t.Context(), base, "/v1/kv/k?index=5", "") }()
	waitUntil(t, "the second watcher", func() bool { return parked(a, d) == 2 })

	leave()
	<-left
	waitUntil(t, "the first watcher to leave", func() bool { return parked(a, d) == 1 })
	if b := d.blocked.Load(); b != 1 {
		t.Fatalf("after one of two watchers left, %d reads are blocked, want the shared one", b)
	}
	d.set("k", "new")
	if ans := <-stayed; ans.code != http.StatusOK || ans.index != "6" || !strings.Contains(ans.body, `"Key":"k"`) {
		t.Fatalf("the watcher that stayed got %+v", ans)
	}
	if r := d.reads.Load(); r != 1 {
		t.Fatalf("%d reads, want 1", r)
	}

	last, leaveLast := context.WithCancel(t.Context())
	done := make(chan shareAnswer, 1)
	go func() { done <- shareGet(last, base, "/v1/kv/k?index=6", "") }()
	waitUntil(t, "a new watcher", func() bool { return d.blocked.Load() == 1 })
	leaveLast()
	<-done
	waitUntil(t, "the read of the last watcher to be cancelled", func() bool { return d.blocked.Load() == 0 })
}

// TestSharedBlockingQueryDistinct: requests that differ in what decides
// the answer — token, key, index, parameters, consistency — never share;
// the same query with its parameters in another order or another wait
// does.
func TestSharedBlockingQueryDistinct(t *testing.T) {
	type req struct{ path, token string }
	cases := []struct {
		name   string
		a, b   req
		shared bool
	}{
		{"tokens", req{"/v1/kv/k?index=5", "t1"}, req{"/v1/kv/k?index=5", "t2"}, false},
		{"token and none", req{"/v1/kv/k?index=5", "t1"}, req{"/v1/kv/k?index=5", ""}, false},
		{"query token and header token", req{"/v1/kv/k?index=5&token=t1", ""}, req{"/v1/kv/k?index=5", "t2"}, false},
		{"keys", req{"/v1/kv/k?index=5", ""}, req{"/v1/kv/j?index=5", ""}, false},
		{"index", req{"/v1/kv/k?index=5", ""}, req{"/v1/kv/k?index=6", ""}, false},
		{"raw", req{"/v1/kv/k?index=5", ""}, req{"/v1/kv/k?index=5&raw", ""}, false},
		{"recurse", req{"/v1/kv/k?index=5", ""}, req{"/v1/kv/k?index=5&recurse", ""}, false},
		{"stale", req{"/v1/kv/k?index=5", ""}, req{"/v1/kv/k?index=5&stale", ""}, false},
		{"separator", req{"/v1/kv/?keys&index=5&separator=/", ""}, req{"/v1/kv/?keys&index=5", ""}, false},
		{"consistent", req{"/v1/kv/k?index=5&consistent", ""}, req{"/v1/kv/k?index=5&consistent", ""}, false},
		{"same token", req{"/v1/kv/k?index=5", "t1"}, req{"/v1/kv/k?index=5", "t1"}, true},
		{"query token and same header token", req{"/v1/kv/k?index=5&token=t1", ""}, req{"/v1/kv/k?index=5", "t1"}, true},
		{"parameter order and wait", req{"/v1/kv/k?recurse&index=5&wait=1m", ""}, req{"/v1/kv/k?index=5&wait=2m&recurse", ""}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newBlockingKV(5, map[string]string{"k": "old", "j": "old"})
			_, base := shareTestAgent(t, d)
			answers := make(chan shareAnswer, 2)
			for _, r := range []req{tc.a, tc.b} {
				go func() { answers <- shareGet(t.Context(), base, r.path, r.token) }()
				time.Sleep(20 * time.Millisecond) // b comes while a's read runs
			}
			want := int32(2)
			if tc.shared {
				want = 1
			}
			waitUntil(t, "the reads", func() bool { return d.blocked.Load() == want })
			time.Sleep(50 * time.Millisecond)
			if b := d.blocked.Load(); b != want {
				t.Fatalf("%d reads blocked, want %d", b, want)
			}
			d.set("k", "new")
			d.set("j", "new")
			for range 2 {
				if ans := <-answers; ans.code != http.StatusOK {
					t.Fatalf("answer %+v", ans)
				}
			}
		})
	}
}

// TestSharedBlockingQueryOwnWait: each watcher keeps its own wait — one
// that joins a longer wait answers when its own is over, one that joins a
// shorter wait answers no sooner than its own.
func TestSharedBlockingQueryOwnWait(t *testing.T) {
	cases := []struct {
		name                 string
		firstWait, laterWait time.Duration
	}{
		{"joins a longer wait", 10 * time.Second, 300 * time.Millisecond},
		{"joins a shorter wait", 200 * time.Millisecond, 600 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newBlockingKV(5, map[string]string{"k": "old"})
			a, base := shareTestAgent(t, d)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go shareGet(ctx, base, "/v1/kv/k?index=5&wait="+tc.firstWait.String(), "")
			waitUntil(t, "the first watcher", func() bool { return parked(a, d) == 1 })
			start := time.Now()
			ans := shareGet(t.Context(), base, "/v1/kv/k?index=5&wait="+tc.laterWait.String(), "")
			took := time.Since(start)
			if ans.code != http.StatusOK || ans.index != "5" {
				t.Fatalf("answer %+v, want 200 with the unchanged index 5", ans)
			}
			if took < tc.laterWait || took > tc.laterWait+tc.laterWait/16+time.Second {
				t.Fatalf("answered after %v, want its own wait %v (plus at most 1/16)", took, tc.laterWait)
			}
		})
	}
}

// TestSharedBlockingQueryUnblockedAnswer: a read that answers at once
// with the caller's index (one that cannot block) is the caller's answer
// — the agent does not ask again until the wait is over.
func TestSharedBlockingQueryUnblockedAnswer(t *testing.T) {
	d := newBlockingKV(5, map[string]string{"k": "old"})
	d.noBlock = true
	_, base := shareTestAgent(t, d)
	start := time.Now()
	ans := shareGet(t.Context(), base, "/v1/kv/k?index=5&wait=2s", "")
	if ans.code != http.StatusOK || ans.index != "5" || time.Since(start) > time.Second {
		t.Fatalf("answer %+v after %v, want 200 with index 5 at once", ans, time.Since(start))
	}
	if r := d.reads.Load(); r != 1 {
		t.Fatalf("%d reads, want 1", r)
	}
}

// TestSharedRoutesExist: every shared route is a GET route of the API.
func TestSharedRoutesExist(t *testing.T) {
	a := &Agent{cfg: config.Default()}
	gets := map[string]bool{}
	for _, rt := range a.apiRoutes() {
		if allowed(rt.methods, http.MethodGet) {
			gets[rt.pattern] = true
		}
	}
	for p := range sharedRoutes {
		if !gets[p] {
			t.Errorf("shared route %s is no GET route", p)
		}
	}
}
