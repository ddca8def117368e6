package compat

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Two contenders, on different agents, take turns holding api.Lock.
func TestLockTwoContenders(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]int{{0, 1}, {1, 2}} {
		a, b := entries[pair[0]], entries[pair[1]]
		t.Run(a.name+"+"+b.name, func(t *testing.T) {
			key := "locks/" + a.name + "-" + b.name
			la, err := a.node.API(t).LockOpts(&api.LockOptions{Key: key, Value: []byte("a")})
			if err != nil {
				t.Fatal(err)
			}
			lb, err := b.node.API(t).LockOpts(&api.LockOptions{Key: key, Value: []byte("b"), LockWaitTime: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			lostA, err := la.Lock(nil)
			if err != nil || lostA == nil {
				t.Fatalf("a lock: %v", err)
			}
			var bHeld atomic.Bool
			got := make(chan error, 1)
			go func() {
				lost, err := lb.Lock(nil)
				if err == nil && lost != nil {
					bHeld.Store(true)
				}
				got <- err
			}()
			time.Sleep(500 * time.Millisecond)
			if bHeld.Load() {
				t.Fatal("b holds the lock while a does")
			}
			pair, _, _ := a.node.API(t).KV().Get(key, nil)
			if pair == nil || string(pair.Value) != "a" || pair.Flags != api.LockFlagValue {
				t.Fatalf("lock key %+v", pair)
			}
			if err := la.Unlock(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-got:
				if err != nil || !bHeld.Load() {
					t.Fatalf("b lock: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("b did not acquire after a released")
			}
			select {
			case <-lostA:
			default:
				t.Fatal("a's lost channel not closed after unlock")
			}
			if err := lb.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := lb.Destroy(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A semaphore of limit 1 with two contenders on different agents.
func TestSemaphoreTwoContenders(t *testing.T) {
	t.Parallel()
	a, b := entries[2], entries[1]
	prefix := "sema/test"
	sa, err := a.node.API(t).SemaphorePrefix(prefix, 1)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.node.API(t).SemaphorePrefix(prefix, 1)
	if err != nil {
		t.Fatal(err)
	}
	if lost, err := sa.Acquire(nil); err != nil || lost == nil {
		t.Fatalf("a acquire: %v", err)
	}
	var bHeld atomic.Bool
	got := make(chan error, 1)
	go func() {
		lost, err := sb.Acquire(nil)
		if err == nil && lost != nil {
			bHeld.Store(true)
		}
		got <- err
	}()
	time.Sleep(500 * time.Millisecond)
	if bHeld.Load() {
		t.Fatal("b holds the only slot while a does")
	}
	if err := sa.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil || !bHeld.Load() {
			t.Fatalf("b acquire: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not acquire after a released")
	}
	if err := sb.Release(); err != nil {
		t.Fatal(err)
	}
}
