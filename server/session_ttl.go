package server

import (
	"sync"
	"time"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/server/fsm"
)

// Tombstone reaping, as Consul's defaults: a KV tombstone lives at least
// tombstoneTTL, and the leader reaps every tombstoneReapInterval.
const (
	tombstoneTTL          = 15 * time.Minute
	tombstoneReapInterval = 30 * time.Second
)

// leaderKVState is the leader's KV duties' state while this server leads
// (Server.leaderKV, set only between sessionTTLLoop's start and stop): the
// session TTL timers, which the endpoints reset, and the KV write batcher,
// to which they submit writes.
type leaderKVState struct {
	timers *sessionTimers
	batch  *kvBatcher
}

// sessionTimers are the leader's session TTL timers: a session whose TTL
// passes twice without renewal is destroyed through Raft.
type sessionTimers struct {
	s *Server

	mu      sync.Mutex
	timers  map[string]*sessionTimer
	stopped bool
}

// sessionTimer is one session's timer. Its callback identifies it by
// this struct, allocated before the timer starts, not by the *time.Timer,
// which time.AfterFunc returns only after the timer may have fired.
type sessionTimer struct{ timer *time.Timer }

// sessionTimers returns this server's timers while it leads, else nil.
func (s *Server) sessionTimers() *sessionTimers {
	st := s.leaderKV.Load()
	if st == nil {
		return nil
	}
	return st.timers
}

// kvBatcher returns this server's KV write batcher while it leads, else nil.
func (s *Server) kvBatcher() *kvBatcher {
	st := s.leaderKV.Load()
	if st == nil {
		return nil
	}
	return st.batch
}

// sessionTTLLoop runs the leader's KV duties until stop is closed: it
// (re)starts a full TTL timer for every session — a new leader does not
// know when sessions were last renewed, so, as Consul, it gives each a
// fresh TTL — runs the KV write batcher, and reaps old tombstones.
func (s *Server) sessionTTLLoop(stop chan struct{}) {
	t := &sessionTimers{s: s, timers: map[string]*sessionTimer{}}
	st := &leaderKVState{timers: t, batch: newKVBatcher(s)}
	s.leaderKV.Store(st)
	go st.batch.run(stop)
	defer func() {
		s.leaderKV.CompareAndSwap(st, nil)
		t.stopAll()
	}()
	tx := s.State().ReadTxn()
	_, sessions, err := kv.Sessions(tx, nil)
	tx.Abort()
	if err != nil {
		s.logger.Error("session ttl: list sessions", "error", err)
	}
	for _, sess := range sessions {
		t.reset(sess.ID, sess.TTL)
	}

	type sample struct {
		at    time.Time
		index uint64
	}
	var samples []sample
	tick := time.NewTicker(tombstoneReapInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			samples = append(samples, sample{now, s.raft.AppliedIndex()})
			var reap uint64
			for len(samples) > 0 && now.Sub(samples[0].at) >= tombstoneTTL {
				reap = samples[0].index
				samples = samples[1:]
			}
			if reap > 0 {
				req := fsm.TombstoneRequest{Index: reap, Now: time.Now().UnixNano()}
				if _, err := s.raftApply(fsm.TombstoneRequestType, &req); err != nil {
					s.logger.Warn("tombstone reap failed", "index", reap, "error", err)
				}
			}
		}
	}
}

// reset (re)starts the timer of a session with the given TTL ("" or 0:
// none) at TTL×SessionTTLMultiplier.
func (t *sessionTimers) reset(id, ttl string) {
	d, err := time.ParseDuration(ttl)
	if ttl == "" || err != nil || d <= 0 {
		return
	}
	d *= kv.SessionTTLMultiplier
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if old, ok := t.timers[id]; ok {
		old.timer.Stop()
	}
	st := &sessionTimer{}
	st.timer = time.AfterFunc(d, func() { t.expire(id, st) })
	t.timers[id] = st
}

// clear stops a session's timer.
func (t *sessionTimers) clear(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.timers[id]; ok {
		old.timer.Stop()
		delete(t.timers, id)
	}
}

func (t *sessionTimers) stopAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	for id, st := range t.timers {
		st.timer.Stop()
		delete(t.timers, id)
	}
}

// expire destroys a session whose TTL ran out, unless its timer was
// replaced meanwhile.
func (t *sessionTimers) expire(id string, st *sessionTimer) {
	t.mu.Lock()
	if t.stopped || t.timers[id] != st {
		t.mu.Unlock()
		return
	}
	delete(t.timers, id)
	t.mu.Unlock()
	req := kv.SessionRequest{Op: kv.SessionDestroy, Session: kv.Session{ID: id}, Now: time.Now().UnixNano()}
	if _, err := t.s.raftApply(fsm.SessionRequestType, &req); err != nil {
		t.s.logger.Error("session ttl: invalidate failed", "session", id, "error", err)
		return
	}
	t.s.logger.Debug("session ttl expired", "session", id)
}

// rearmSessionTimers gives every session of the current state a fresh
// TTL timer and drops the timers of sessions it no longer has, after a
// snapshot restore replaced the state under the leader's duties.
func (s *Server) rearmSessionTimers() {
	t := s.sessionTimers()
	if t == nil {
		return
	}
	tx := s.State().ReadTxn()
	_, sessions, err := kv.Sessions(tx, nil)
	tx.Abort()
	if err != nil {
		s.logger.Error("session ttl: list sessions after restore", "error", err)
		return
	}
	t.mu.Lock()
	for id, st := range t.timers {
		st.timer.Stop()
		delete(t.timers, id)
	}
	t.mu.Unlock()
	for _, sess := range sessions {
		t.reset(sess.ID, sess.TTL)
	}
}
