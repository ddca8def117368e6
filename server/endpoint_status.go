package server

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/rpcapi"
)

// Status answers questions about the Raft cluster itself.
type Status struct{ s *Server }

// Leader returns the leader's RPC address, or "" when there is none.
func (e *Status) Leader(args *struct{}, reply *string) error {
	addr, _ := e.s.raft.LeaderWithID()
	*reply = string(addr)
	return nil
}

// Peers returns the addresses of the Raft voters.
func (e *Status) Peers(args *struct{}, reply *[]string) error {
	cf := e.s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	out := []string{}
	for _, srv := range cf.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			out = append(out, string(srv.Address))
		}
	}
	*reply = out
	return nil
}

// RaftStats reports this server's log position and when it last heard
// from a leader (used before bootstrap, and by autopilot).
func (e *Status) RaftStats(args *struct{}, reply *rpcapi.RaftStats) error {
	*reply = e.s.localRaftStats()
	return nil
}

// errNotInTerm refuses Status.Following: this server is in another term
// than the leader that asked.
var errNotInTerm = errors.New("not in the asking leader's term")

// Following answers a leader confirming its leadership for ?consistent
// reads (readgate.go): it succeeds only while this server's current Raft
// term is *term. A server takes a new term before it votes in it, so a
// success means this server had not helped elect a later leader when it
// answered.
func (e *Status) Following(term *uint64, reply *bool) error {
	if cur := e.s.raft.CurrentTerm(); cur != *term {
		return fmt.Errorf("%w: asked for term %d, this server is in term %d", errNotInTerm, *term, cur)
	}
	*reply = true
	return nil
}
