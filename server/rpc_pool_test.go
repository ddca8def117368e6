package server

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/shoalproject/shoal/rpcapi"
)

// TestPoolDialDelaysOnlyItsServer: a server that does not answer the dial
// (a partitioned host drops the SYN) must delay only the calls to it. A
// leader confirms ?consistent reads with every other voter at once, and a
// client agent tries servers in turn; with the pool's lock held through a
// dial, every call through the pool waited for the dead one's timeout.
func TestPoolDialDelaysOnlyItsServer(t *testing.T) {
	s := newDevServer(t, time.Second)
	live := net.JoinHostPort("127.0.0.1", itoa(s.cfg.RPCPort))
	const dead = "192.0.2.1:8300" // TEST-NET-1: never dialled for real
	p := newConnPool(nil)
	defer p.Close()
	real := p.dial
	p.dial = func(ctx context.Context, addr string) (net.Conn, error) {
		if addr == dead {
			<-ctx.Done() // a dial whose SYN is dropped, until the pool closes
			return nil, ctx.Err()
		}
		return real(ctx, addr)
	}

	deadErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		deadErr <- p.RPC(ctx, dead, "Status.RaftStats", &struct{}{}, &rpcapi.RaftStats{})
	}()
	time.Sleep(100 * time.Millisecond) // the dead dial is under way

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.RPC(ctx, live, "Status.RaftStats", &struct{}{}, &rpcapi.RaftStats{}); err != nil {
		t.Fatalf("call to a live server while another's dial hangs: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a call to a live server waited %v for another server's dial", d)
	}
	// The caller of the dead server leaves on its context, with an error
	// that says nothing was sent (so the call may go elsewhere).
	if err := <-deadErr; !errors.Is(err, errDial) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to the dead server: %v, want a dial error with its deadline", err)
	}
}
