package compat

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// BenchmarkKVPut puts 256-byte values from 32 concurrent clients spread
// over the three servers. It exists to profile the write path in process
// (go test -bench KVPut -cpuprofile); tools/kvbench measures the figures
// that docs/performance.md records.
func BenchmarkKVPut(b *testing.B) { benchKV(b, http.MethodPut, "") }

// BenchmarkKVGet reads with default consistency.
func BenchmarkKVGet(b *testing.B) { benchKV(b, http.MethodGet, "") }

// BenchmarkKVGetStale reads with ?stale.
func BenchmarkKVGetStale(b *testing.B) { benchKV(b, http.MethodGet, "?stale") }

func benchKV(b *testing.B, method, query string) {
	value := bytes.Repeat([]byte("x"), 256)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v1/kv/bench/%d", entries[0].node.HTTPAddr(), i), bytes.NewReader(value))
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	var n atomic.Int64
	b.SetParallelism(16) // × GOMAXPROCS 2 = 32 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := n.Add(1)
		addr := cluster.Nodes[int(w)%3].HTTPAddr()
		i := 0
		for pb.Next() {
			i++
			var body io.Reader
			if method == http.MethodPut {
				body = bytes.NewReader(value)
			}
			req, _ := http.NewRequest(method, fmt.Sprintf("http://%s/v1/kv/bench/%d%s", addr, i%100, query), body)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
