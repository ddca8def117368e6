package rpcapi

import (
	"errors"
	"fmt"
	"net/rpc"
	"testing"
)

func TestIsRemote(t *testing.T) {
	target := errors.New("no such service")
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"local sentinel", target, true},
		{"local wrapped", fmt.Errorf("rebalance: %w", target), true},
		{"remote exact", rpc.ServerError("no such service"), true},
		{"remote wrapped with colon", rpc.ServerError(`no such service: "web"`), true},
		{"remote wrapped with space", rpc.ServerError(`no such service "web"`), true},
		{"remote wrapped again locally", fmt.Errorf("forward: %w", rpc.ServerError("no such service: x")), true},
		{"remote other error", rpc.ServerError("no leader"), false},
		{"remote longer word", rpc.ServerError("no such services known"), false},
		{"remote text inside", rpc.ServerError("lookup: no such service"), false},
		{"local text only", errors.New("no such service"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsRemote(tc.err, target); got != tc.want {
				t.Errorf("IsRemote(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
