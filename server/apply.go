package server

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/server/fsm"
)

// errNotLeader means a write provably never reached a leader's log: this
// server was not the leader when Raft took it, or it was queued and dropped
// before it was appended. Forwarding re-sends such a write to the new
// leader; it is the only write error that is ever re-sent.
var errNotLeader = errors.New("not leader")

// errLeadershipLost means a write reached this leader's log, but the
// leader lost its leadership before the entry committed. The next leader
// may still commit it (it may already be on a majority), so its outcome is
// unknown: it is reported to the client, never re-sent. The text is
// Raft's, and Consul's (a 500 with this body).
var errLeadershipLost = errors.New(raft.ErrLeadershipLost.Error())

// raftApply commits a command through Raft and returns the FSM's result,
// or its error. Its errors say whether the command may be re-sent:
// errNotLeader only when it provably never entered a leader's log;
// errLeadershipLost (and errShutdown) when its outcome is unknown.
func (s *Server) raftApply(t fsm.MessageType, msg any) (any, error) {
	buf, err := fsm.Encode(t, msg)
	if err != nil {
		return nil, err
	}
	submitted := time.Now()
	f := s.raft.Apply(buf, 30*time.Second)
	// With BatchApplyCh, Raft's apply channel is buffered: a command queued
	// while Raft shuts down is never answered, so wait for shutdown too.
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err = <-errc:
	case <-s.shutdownCh:
		return nil, errShutdown
	}
	if err != nil {
		return nil, applyError(err)
	}
	// The entry committed in this leader's term after it was submitted:
	// no other leader can exist before submitted + the lease (readgate.go).
	s.reads.renew(submitted)
	if err, ok := f.Response().(error); ok {
		return nil, err
	}
	return f.Response(), nil
}

// applyError classifies an error from a Raft Apply or Barrier future.
func applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Answered by Raft's follower or candidate loop, or by a leader
		// stepping down or handing over, before the entry was dispatched
		// to the log.
		return errNotLeader
	case errors.Is(err, raft.ErrLeadershipLost):
		// Dispatched to the log, then the leader stepped down before the
		// entry committed.
		return errLeadershipLost
	case errors.Is(err, raft.ErrRaftShutdown):
		return errShutdown
	}
	return err
}
