package compat

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

func TestKVBasics(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		kv := c.KV()
		p := "basics/" + n.Name + "/"
		if _, err := kv.Put(&api.KVPair{Key: p + "a", Value: []byte("1"), Flags: 42}, nil); err != nil {
			t.Fatal(err)
		}
		got, meta, err := kv.Get(p+"a", nil)
		if err != nil || got == nil {
			t.Fatalf("get: %v %v", got, err)
		}
		if string(got.Value) != "1" || got.Flags != 42 || got.CreateIndex == 0 || got.ModifyIndex != meta.LastIndex {
			t.Fatalf("got %+v meta %+v", got, meta)
		}
		// Binary-safe values.
		bin := []byte{0, 1, 2, 255, '\n'}
		if _, err := kv.Put(&api.KVPair{Key: p + "bin", Value: bin}, nil); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := kv.Get(p+"bin", nil); got == nil || !bytes.Equal(got.Value, bin) {
			t.Fatalf("binary value %v", got)
		}
		// CAS: 0 creates only; a stale index fails; the current one wins.
		if ok, _, err := kv.CAS(&api.KVPair{Key: p + "a", Value: []byte("x")}, nil); err != nil || ok {
			t.Fatalf("cas 0 on existing key: %v %v", ok, err)
		}
		if ok, _, err := kv.CAS(&api.KVPair{Key: p + "a", Value: []byte("2"), ModifyIndex: got.ModifyIndex}, nil); err != nil || !ok {
			t.Fatalf("cas current index: %v %v", ok, err)
		}
		if ok, _, _ := kv.CAS(&api.KVPair{Key: p + "a", Value: []byte("3"), ModifyIndex: got.ModifyIndex}, nil); ok {
			t.Fatal("cas with stale index succeeded")
		}
		for _, k := range []string{"dir/x", "dir/y", "dir/sub/z"} {
			if _, err := kv.Put(&api.KVPair{Key: p + k, Value: []byte(k)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		pairs, _, err := kv.List(p+"dir/", nil)
		if err != nil || len(pairs) != 3 {
			t.Fatalf("list: %d %v", len(pairs), err)
		}
		keys, _, err := kv.Keys(p, "/", nil)
		if want := []string{p + "a", p + "bin", p + "dir/"}; err != nil || !slices.Equal(keys, want) {
			t.Fatalf("keys %v, want %v (%v)", keys, want, err)
		}
		// DELETE with cas, then recurse.
		cur, _, _ := kv.Get(p+"dir/x", nil)
		if ok, _, _ := kv.DeleteCAS(&api.KVPair{Key: p + "dir/x", ModifyIndex: cur.ModifyIndex + 1000}, nil); ok {
			t.Fatal("delete-cas with wrong index succeeded")
		}
		if ok, _, err := kv.DeleteCAS(&api.KVPair{Key: p + "dir/x", ModifyIndex: cur.ModifyIndex}, nil); err != nil || !ok {
			t.Fatalf("delete-cas: %v %v", ok, err)
		}
		if _, err := kv.DeleteTree(p+"dir/", nil); err != nil {
			t.Fatal(err)
		}
		pairs, meta, err = kv.List(p+"dir/", nil)
		if err != nil || len(pairs) != 0 || meta.LastIndex == 0 {
			t.Fatalf("after delete-tree: %d pairs, meta %+v, %v", len(pairs), meta, err)
		}
		if _, err := kv.Delete(p+"a", nil); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := kv.Get(p+"a", nil); got != nil {
			t.Fatal("deleted key still there")
		}
	})
}

func TestKVHTTPRules(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		p := "/v1/kv/http/" + n.Name
		cases := []struct {
			name, method, path, body string
			wantCode                 int
			wantBody                 string // substring
			wantIndex                bool
		}{
			{"put", "PUT", p + "/k?flags=7", "hello", 200, "true", false},
			{"raw", "GET", p + "/k?raw", "", 200, "hello", true},
			{"json base64", "GET", p + "/k", "", 200, `"Value":"aGVsbG8="`, true},
			{"missing is 404 with index", "GET", p + "/missing", "", 404, "", true},
			{"missing recurse is 404", "GET", p + "/nothing/?recurse", "", 404, "", true},
			{"keys missing prefix is 404", "GET", p + "/nothing/?keys", "", 404, "", true},
			{"dc and ns accepted", "GET", p + "/k?dc=dc1&ns=default", "", 200, "aGVsbG8=", true},
			{"stale read", "GET", p + "/k?stale", "", 200, "aGVsbG8=", true},
			{"consistent read", "GET", p + "/k?consistent", "", 200, "aGVsbG8=", true},
			{"stale and consistent conflict", "GET", p + "/k?stale&consistent", "", 400, "", false},
			{"too large", "PUT", p + "/big", strings.Repeat("x", 512*1024+1), 413, "too large", false},
			{"at the limit", "PUT", p + "/big", strings.Repeat("x", 512*1024), 200, "true", false},
			{"missing key", "PUT", "/v1/kv/", "x", 400, "Missing key", false},
			{"bad flags", "PUT", p + "/k?flags=x", "", 400, "", false},
			{"acquire unknown session", "PUT", p + "/k?acquire=00000000-0000-0000-0000-000000000000", "", 500, "invalid session", false},
			{"release without lock", "PUT", p + "/k?release=00000000-0000-0000-0000-000000000000", "", 200, "false", false},
			{"delete cas wrong", "DELETE", p + "/k?cas=1", "", 200, "false", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := rawHTTP(t, n, tc.method, tc.path, tc.body)
				for i := 0; i < 50 && strings.Contains(tc.path, "stale") && resp.StatusCode == 404; i++ {
					time.Sleep(20 * time.Millisecond) // a stale read may lag the write
					resp, body = rawHTTP(t, n, tc.method, tc.path, tc.body)
				}
				if resp.StatusCode != tc.wantCode || !strings.Contains(body, tc.wantBody) {
					t.Fatalf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, trunc(body), tc.wantCode, tc.wantBody)
				}
				if tc.wantIndex && resp.Header.Get("X-Consul-Index") == "" {
					t.Fatalf("no X-Consul-Index on %d", resp.StatusCode)
				}
			})
		}
	})
}

func TestKVKeysAtRootIsList(t *testing.T) {
	t.Parallel()
	resp, body := rawHTTP(t, entries[0].node, http.MethodGet, "/v1/kv/?keys&separator=/", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "[") {
		t.Fatalf("root keys: %d %s", resp.StatusCode, trunc(body))
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// Concurrent CAS increments, through every entry point at once, lose no
// update: the leader's group commit applies each write as if alone.
//
// A CAS answered with a 5xx (a leader change on a loaded machine:
// "leadership lost while committing log") has an unknown outcome: it may
// have been applied. The worker counts it and tries again, so the final
// value must lie between the increments acknowledged and those plus the
// unknown ones, as in Jepsen's counter check: fewer would be a lost
// update, more a write applied twice.
func TestKVConcurrentCASCounter(t *testing.T) {
	t.Parallel()
	const workers, incs = 12, 15
	key := fmt.Sprintf("concurrent/counter-%d", time.Now().UnixNano()) // -count > 1 runs on one cluster
	var unknown atomic.Int64
	transient := func(err error) bool {
		var se api.StatusError
		return errors.As(err, &se) && se.Code >= 500
	}
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			kv := entries[w%len(entries)].node.API(t).KV()
			for i := 0; i < incs; i++ {
				for {
					p, _, err := kv.Get(key, nil)
					if transient(err) {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					n, idx := 0, uint64(0)
					if p != nil {
						n, _ = strconv.Atoi(string(p.Value))
						idx = p.ModifyIndex
					}
					ok, _, err := kv.CAS(&api.KVPair{Key: key, Value: []byte(strconv.Itoa(n + 1)), ModifyIndex: idx}, nil)
					if transient(err) {
						unknown.Add(1)
						t.Logf("worker %d: CAS with an unknown outcome, tried again: %v", w, err)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					if ok {
						break
					}
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := entries[0].node.API(t).KV().Get(key, &api.QueryOptions{RequireConsistent: true})
	if err != nil || p == nil {
		t.Fatalf("counter: %v %v", p, err)
	}
	got, _ := strconv.Atoi(string(p.Value))
	if lo, hi := workers*incs, workers*incs+int(unknown.Load()); got < lo || got > hi {
		t.Fatalf("counter = %d, want %d acknowledged increments (+ up to %d with unknown outcomes)", got, lo, hi-lo)
	}
}
