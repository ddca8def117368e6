package server

import (
	"context"
	"errors"
	"fmt"
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
// Three proofs are used:
//
//   - A confirmation, for every read that cannot use the lease: after the
//     reads arrived, a
//     majority of the voters (this leader counting as one) answered that
//     they are still in this leader's term (Status.Following), and this
//     server is still leader in that term afterwards. A server's term
//     only grows, and it takes the new term before it votes in it, so no
//     leader of a later term can have been elected before those answers:
//     its majority would share a voter with them. Every write
//     acknowledged before the reads arrived was therefore acknowledged
//     by this leader — after its own FSM applied it — or by an earlier
//     leader, whose entries this leader applied before it served any read
//     (setReady). Unlike raft.VerifyLeader (below), the question is asked
//     after the fact it proves; unlike a barrier, it writes nothing to the
//     log and waits for no fsync. etcd's ReadIndex rests on the same
//     argument. Shared by every read that arrived before it was sent.
//     When a default read was among them, a barrier follows in the
//     background to renew the lease.
//   - A barrier: a Raft entry submitted after the read arrived and then
//     committed in this leader's term. A deposed leader cannot commit it,
//     and once it is applied the FSM holds everything committed before.
//     Reads wait for one when the confirmation failed (a voter that does
//     not know Status.Following, or no majority in time).
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

	// confirm asks the other voters whether they are still in term (the
	// server's confirmLeadership); nil disables confirmations. It gets
	// confirmWait to answer.
	confirm     func(ctx context.Context, term uint64) error
	confirmWait time.Duration

	until atomic.Int64 // lease end, as time since epoch; 0 when none
	// ready is the term in which this leader has applied every entry of
	// earlier terms (setReady); 0 when none.
	ready atomic.Uint64
	// renewing is set while a barrier renewing the lease is on its way.
	renewing atomic.Bool

	mu      sync.Mutex
	next    *barrierRound // the round that reads join; nil when none waits
	running bool          // a goroutine is sending rounds
}

// barrierRound is one proof (a confirmation or a barrier) shared by the
// reads that joined it before it was sought.
type barrierRound struct {
	done    chan struct{}
	err     error
	lenient bool // a default read joined: renew the lease too
}

func newReadGate(r *raft.Raft, heartbeatTimeout time.Duration, confirm func(ctx context.Context, term uint64) error) *readGate {
	return &readGate{raft: r, epoch: time.Now(), lease: heartbeatTimeout / 2, confirm: confirm, confirmWait: heartbeatTimeout}
}

// setReady records that this leader, in term, has applied every entry
// committed before its term (the leader loop's first barrier).
func (g *readGate) setReady(term uint64) { g.ready.Store(term) }

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
func (g *readGate) revoke() {
	g.until.Store(0)
	g.ready.Store(0)
}

func (g *readGate) leaseValid() bool {
	return int64(time.Since(g.epoch)) < g.until.Load()
}

// wait returns once a read that arrived before the call may be served from
// this server's FSM: at once under a valid lease unless strict, else after
// a confirmation sent after the call, or if that fails a barrier submitted
// after it commits. Its errors are errNotLeader (the caller retries on the
// leader) or ctx's.
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
	if !strict {
		r.lenient = true
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

// sendRounds proves leadership once per waiting round, one round at a
// time, until no read waits. (Two rounds at a time, tried, served no more
// reads and cost 8 % more CPU per read.)
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
		lenient := r.lenient // no read joins a round once it is taken
		g.mu.Unlock()
		if g.confirmed() {
			if lenient {
				// Default reads follow: a lease spares them the next
				// confirmations.
				g.renewLease()
			}
			close(r.done)
			continue
		}
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

// renewLease submits a barrier in the background, unless one is on its
// way, and renews the lease from it once it commits.
func (g *readGate) renewLease() {
	if !g.renewing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer g.renewing.Store(false)
		t0 := time.Now()
		if g.raft.Barrier(rpcTimeout).Error() == nil {
			g.renew(t0)
		}
	}()
}

// confirmed reports whether a majority of the voters confirmed, after the
// call, that this server leads in its current term, and it still does.
func (g *readGate) confirmed() bool {
	if g.confirm == nil {
		return false
	}
	term := g.raft.CurrentTerm()
	if g.ready.Load() != term || g.raft.State() != raft.Leader {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.confirmWait)
	defer cancel()
	if g.confirm(ctx, term) != nil {
		return false
	}
	return g.raft.State() == raft.Leader && g.raft.CurrentTerm() == term
}

// errNoConfirmQuorum: too few voters to confirm a leadership.
var errNoConfirmQuorum = errors.New("too few voters answered to confirm the leadership")

// confirmLeadership asks every other voter of the latest Raft
// configuration, at once, whether it is in term (Status.Following), and
// returns nil once enough have answered yes to make a majority with this
// server (when it votes). Its error says why no majority answered before
// ctx ended.
func (s *Server) confirmLeadership(ctx context.Context, term uint64) error {
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	var peers []string
	voters, self := 0, false
	for _, srv := range cf.Configuration().Servers {
		if srv.Suffrage != raft.Voter {
			continue
		}
		voters++
		if srv.ID == raft.ServerID(s.cfg.NodeID) {
			self = true
		} else {
			peers = append(peers, string(srv.Address))
		}
	}
	need := voters/2 + 1
	if self {
		need--
	}
	if need <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan error, len(peers))
	for _, addr := range peers {
		go func() {
			var ok bool
			answers <- s.pool.RPC(ctx, addr, "Status.Following", &term, &ok)
		}()
	}
	var last error = errNoConfirmQuorum
	for left := len(peers); left >= need; left-- {
		select {
		case err := <-answers:
			if err == nil {
				if need--; need == 0 {
					return nil
				}
			} else {
				last = err
			}
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ctx.Err(), last)
		}
	}
	return last
}
