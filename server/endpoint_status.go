package server

import (
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
