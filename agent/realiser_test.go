package agent

import (
	"context"
	"testing"

	"github.com/shoalproject/shoal/rpcapi"
)

// TestRealiserFirstReadIsTheLeaders: the realiser's first read of its
// node's allocations is not stale (a restarted server still replaying its
// log would hand out allocations deleted long ago: ghost replicas); the
// blocking reads after it may be.
func TestRealiserFirstReadIsTheLeaders(t *testing.T) {
	cases := []struct {
		minIndex  uint64
		wantStale bool
	}{
		{0, false},
		{1, true},
		{42, true},
	}
	for _, tc := range cases {
		var got rpcapi.NodeAllocsRequest
		srv := rpcSchedServer{rpc: func(ctx context.Context, method string, args, reply any) error {
			if method != "Sched.NodeAllocs" {
				t.Fatalf("method %s", method)
			}
			got = *args.(*rpcapi.NodeAllocsRequest)
			return nil
		}}
		if _, _, err := srv.NodeAllocs(context.Background(), "n1", tc.minIndex); err != nil {
			t.Fatal(err)
		}
		if got.AllowStale != tc.wantStale || got.MinQueryIndex != tc.minIndex || got.NodeID != "n1" {
			t.Errorf("minIndex %d: request %+v, want AllowStale=%v", tc.minIndex, got, tc.wantStale)
		}
	}
}
