// Package flight runs one call for many identical callers: the first
// caller of a key starts the call, the callers of the same key that come
// while it runs join it, and all of them get its one result.
//
// It is golang.org/x/sync/singleflight with one difference that blocking
// queries need: a caller that goes away (its context done) leaves the
// call without cancelling it for the others. The call runs under a
// context of its own, cancelled only when its last caller has left; a
// caller that comes after that starts a new call.
package flight

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group holds the calls in flight, by key. The zero Group is ready to use;
// a Group must not be copied after first use. Its methods may be called
// from any number of goroutines.
type Group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

// call is one run of fn, shared by refs callers.
type call[T any] struct {
	done   chan struct{} // closed when val and err are set
	val    T
	err    error
	refs   int // callers waiting on done; guarded by Group.mu
	cancel context.CancelFunc
}

// Do returns the result of fn for key: of a call of fn already running
// for key, else of one it starts. fn gets a context that carries ctx's
// values but not its cancellation: it is cancelled only when every
// caller of the call has left. The result is shared as it is: callers
// must not modify it.
//
// Do returns ctx.Err() if and only if ctx is done before the call ends;
// the caller then leaves the call. shared reports whether the call had
// another caller when this one joined.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(context.Context) (T, error)) (v T, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call[T])
	}
	c, ok := g.calls[key]
	if ok {
		c.refs++
		shared = true
	} else {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[T]{done: make(chan struct{}), refs: 1, cancel: cancel}
		g.calls[key] = c
		go g.run(cctx, key, c, fn)
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, shared, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	c.refs--
	if c.refs == 0 {
		// The last caller left: nobody wants the answer any more. A new
		// caller of key starts a new call rather than join this one.
		c.cancel()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
	}
	g.mu.Unlock()
	var zero T
	return zero, shared, ctx.Err()
}

// ErrPanicked is the error of a call whose function panicked; the panic
// value follows it in the message.
var ErrPanicked = errors.New("flight: the shared call panicked")

func (g *Group[T]) run(ctx context.Context, key string, c *call[T], fn func(context.Context) (T, error)) {
	defer func() {
		// A panic would otherwise kill the process (the call has its own
		// goroutine) and leave its callers waiting: they get an error.
		if p := recover(); p != nil {
			c.err = fmt.Errorf("%w: %v", ErrPanicked, p)
		}
		c.cancel()
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
}

// Len returns the number of calls in flight and of callers waiting on
// them.
func (g *Group[T]) Len() (calls, callers int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.calls {
		callers += c.refs
	}
	return len(g.calls), callers
}
