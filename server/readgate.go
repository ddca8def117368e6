package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// readGate makes the leader's reads linearizable in both of Consul's
// non-stale modes, where Consul's default mode may serve stale data from a
// deposed leader (hashicorp/consul#2644).
//
// A read is safe to serve from the leader's FSM once the leader has proof
// that no other leader can have committed anything since the read arrived.
// Two proofs are used:
//
//   - A barrier: a Raft entry submitted after the read arrived and then
//     committed in this leader's term. A deposed leader cannot commit it,
//     and once it is applied the FSM holds everything committed before.
//     ?consistent reads always wait for one (shared by every read that
//     arrived before it was submitted, so a burst of reads costs one).
//   - A lease, for default reads: an entry of this leader's (a write or a
//     barrier) submitted at t0 and committed. Every later leader's log
//     holds that entry, which it received after t0, and a Raft follower
//     does not stand for election until HeartbeatTimeout has passed since
//     it last heard from a leader (or since it restarted). So no other
//     leader exists before t0 + HeartbeatTimeout; the lease ends at half
//     that. The clock is the monotonic one, which keeps running while the
//     process is stopped (SIGSTOP), so a leader that wakes up late finds
//     its lease expired. Unlike raft.VerifyLeader, which a heartbeat answer
//     received after a pause can satisfy though it was sent before, the
//     proof rests on entries submitted after the fact it proves.
//
// Reading the FSM after the check is safe even if the process stalls in
// between: the FSM only moves forward through committed entries.
type readGate struct {
	raft  *raft.Raft
	epoch time.Time     // base of the monotonic readings below
	lease time.Duration // how long a committed entry proves leadership

	until atomic.Int64 // lease end, as time since epoch; 0 when none

	mu      sync.Mutex
	next    *barrierRound // the round that reads join; nil when none waits
	running bool          // a goroutine is sending rounds
}

// barrierRound is one barrier shared by the reads that joined it before it
// was submitted.
type barrierRound struct {
	done chan struct{}
	err  error
}

func newReadGate(r *raft.Raft, heartbeatTimeout time.Duration) *readGate {
	return &readGate{raft: r, epoch: time.Now(), lease: heartbeatTimeout / 2}
}

// renew extends the lease from an entry submitted at t0 that has since
// committed in this leader's term.
func (g *readGate) renew(t0 time.Time) {
	end := int64(t0.Sub(g.epoch) + g.lease)
	for {
		cur := g.until.Load()
		if end <= cur || g.until.CompareAndSwap(cur, end) {
			return
		}
	}
}

// revoke ends the lease (on losing leadership).
func (g *readGate) revoke() { g.until.Store(0) }

func (g *readGate) leaseValid() bool {
	return int64(time.Since(g.epoch)) < g.until.Load()
}

// wait returns once a read that arrived before the call may be served from
// this server's FSM: at once under a valid lease unless strict, else after
// a barrier submitted after the call commits. Its errors are errNotLeader
// (the caller retries on the leader) or ctx's.
func (g *readGate) wait(ctx context.Context, strict bool) error {
	if !strict && g.leaseValid() {
		return nil
	}
	g.mu.Lock()
	r := g.next
	if r == nil {
		r = &barrierRound{done: make(chan struct{})}
		g.next = r
	}
	if !g.running {
		g.running = true
		go g.sendRounds()
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendRounds submits one barrier per waiting round, one at a time, until
// no read waits.
func (g *readGate) sendRounds() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		t0 := time.Now()
		err := g.raft.Barrier(rpcTimeout).Error()
		if err == nil {
			g.renew(t0)
		} else {
			// Whatever went wrong, the read was not served: retrying it
			// on the leader is safe.
			err = errNotLeader
		}
		r.err = err
		close(r.done)
	}
}
