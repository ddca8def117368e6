package agent

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// kvEchoDelegate answers KV RPCs at once, so that the benchmarks below
// measure only the agent's HTTP side: decoding the request, building the
// RPC arguments, encoding the answer.
type kvEchoDelegate struct {
	delegate // the methods these benchmarks never call
	entry    kv.Entry
}

func (d *kvEchoDelegate) RPC(_ context.Context, method string, args, reply any) error {
	switch r := reply.(type) {
	case *bool:
		*r = true
	case *rpcapi.IndexedEntries:
		e := d.entry
		r.Index, r.KnownLeader, r.Entries = e.ModifyIndex, true, []*kv.Entry{&e}
	}
	return nil
}

func benchAgentKV(b *testing.B, method, url string, body []byte) {
	a := &Agent{cfg: config.Default(), logger: hclog.NewNullLogger(), tokens: &agentTokens{},
		delegate: &kvEchoDelegate{entry: kv.Entry{Key: "bench/key", Value: bytes.Repeat([]byte("x"), 256), CreateIndex: 5, ModifyIndex: 9}}}
	h := a.handler()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(method, url, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkHTTPKVPut: PUT /v1/kv/<key> with a 256-byte value, as the
// official client sends it.
func BenchmarkHTTPKVPut(b *testing.B) {
	benchAgentKV(b, http.MethodPut, "/v1/kv/bench/key", bytes.Repeat([]byte("x"), 256))
}

// BenchmarkHTTPKVGet: GET /v1/kv/<key> answering one 256-byte entry.
func BenchmarkHTTPKVGet(b *testing.B) {
	benchAgentKV(b, http.MethodGet, "/v1/kv/bench/key", nil)
}

// BenchmarkHTTPKVGetStale: the same with ?stale, as the official client
// sends a stale read.
func BenchmarkHTTPKVGetStale(b *testing.B) {
	benchAgentKV(b, http.MethodGet, "/v1/kv/bench/key?stale=", nil)
}
