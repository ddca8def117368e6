package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDoSharesOneCall(t *testing.T) {
	var g Group[int]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		return 42, nil
	}
	const n = 20
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := range n {
		wg.Go(func() {
			v, _, err := g.Do(context.Background(), "k", fn)
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		})
	}
	waitFor(t, "every caller to join", func() bool { c, w := g.Len(); return c == 1 && w == n })
	close(release)
	wg.Wait()
	if r := runs.Load(); r != 1 {
		t.Fatalf("fn ran %d times for %d identical callers, want 1", r, n)
	}
	for i, v := range results {
		if v != 42 {
			t.Fatalf("caller %d got %d", i, v)
		}
	}
	if c, w := g.Len(); c != 0 || w != 0 {
		t.Fatalf("after the call: %d calls, %d callers in flight", c, w)
	}
}

func TestDoLeavingCallerDoesNotCancelTheOthers(t *testing.T) {
	var g Group[string]
	release := make(chan struct{})
	cancelled := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		select {
		case <-release:
			return "answer", nil
		case <-ctx.Done():
			close(cancelled)
			return "", ctx.Err()
		}
	}
	leaver, leave := context.WithCancel(context.Background())
	leftErr := make(chan error, 1)
	go func() { _, _, err := g.Do(leaver, "k", fn); leftErr <- err }()
	waitFor(t, "the first caller", func() bool { _, w := g.Len(); return w == 1 })
	stayed := make(chan string, 1)
	go func() { v, _, _ := g.Do(context.Background(), "k", fn); stayed <- v }()
	waitFor(t, "the second caller", func() bool { _, w := g.Len(); return w == 2 })

	leave()
	if err := <-leftErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left got %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
		t.Fatal("the call was cancelled when one of its two callers left")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if v := <-stayed; v != "answer" {
		t.Fatalf("the caller that stayed got %q", v)
	}
}

func TestDoLastCallerLeavingCancelsTheCall(t *testing.T) {
	var g Group[int]
	cancelled := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		close(cancelled)
		return 0, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _, _ = g.Do(ctx, "k", fn); close(done) }()
	waitFor(t, "the caller", func() bool { _, w := g.Len(); return w == 1 })
	cancel()
	<-done
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after its last caller left")
	}
	// A new caller of the key starts a new call, not the cancelled one.
	v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	if v != 7 || shared || err != nil {
		t.Fatalf("after the last caller left: %d, shared %v, %v; want 7 from a new call", v, shared, err)
	}
}

func TestDoKeysDoNotShare(t *testing.T) {
	var g Group[string]
	release := make(chan struct{})
	fn := func(key string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { <-release; return key, nil }
	}
	var wg sync.WaitGroup
	for _, k := range []string{"a", "b", "c"} {
		wg.Go(func() {
			if v, _, _ := g.Do(context.Background(), k, fn(k)); v != k {
				t.Errorf("key %q got %q", k, v)
			}
		})
	}
	waitFor(t, "three calls", func() bool { c, _ := g.Len(); return c == 3 })
	close(release)
	wg.Wait()
}

func TestDoPanicIsAnError(t *testing.T) {
	var g Group[int]
	_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	if !errors.Is(err, ErrPanicked) {
		t.Fatalf("got %v, want ErrPanicked", err)
	}
}
