package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/rpcapi"
)

// Operator serves cluster administration.
type Operator struct{ s *Server }

// RaftGetConfiguration describes the Raft configuration with node names.
func (e *Operator) RaftGetConfiguration(args *rpcapi.DCRequest, reply *rpcapi.RaftConfiguration) error {
	if done, err := e.s.forward("Operator.RaftGetConfiguration", args, args, reply); done {
		return err
	}
	cf := e.s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	names := map[string]string{}
	for _, m := range e.s.serf.Members() {
		if id := m.Tags["id"]; id != "" {
			names[id] = m.Name
		}
	}
	leader, _ := e.s.raft.LeaderWithID()
	stats := e.s.raftStats(context.Background(), cf.Configuration().Servers)
	reply.Index = cf.Index()
	reply.Servers = nil
	for _, srv := range cf.Configuration().Servers {
		reply.Servers = append(reply.Servers, &rpcapi.RaftServer{
			ID:              string(srv.ID),
			Node:            names[string(srv.ID)],
			Address:         string(srv.Address),
			Leader:          srv.Address == leader,
			ProtocolVersion: "3",
			Voter:           srv.Suffrage == raft.Voter,
			LastIndex:       stats[srv.ID].LastIndex,
		})
	}
	return nil
}

// ErrPeerNotFound means a remove-peer or transfer-leader request named no
// current peer.
var ErrPeerNotFound = errors.New("raft peer not found")

// ErrTransferTarget means a transfer-leader request named a server that
// cannot take the leadership (a non-voter, or the leader itself), or that
// the leader has no other voter to hand it to.
var ErrTransferTarget = errors.New("cannot transfer leadership")

// RaftTransferLeader hands the leadership to the voter args.ID, or, with
// no ID, to the most up-to-date other voter (Consul's
// /v1/operator/raft/transfer-leader). It returns once the leader has
// stepped down for it, or with Raft's error (no other voter, the target
// did not catch up within an election timeout, a transfer in progress).
func (e *Operator) RaftTransferLeader(args *rpcapi.RaftTransferLeaderRequest, reply *rpcapi.RaftTransferLeaderReply) error {
	if done, err := e.s.forward("Operator.RaftTransferLeader", args, args, reply); done {
		return err
	}
	cf := e.s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	_, self := e.s.raft.LeaderWithID()
	var f raft.Future
	if args.ID == "" {
		others := 0
		for _, srv := range cf.Configuration().Servers {
			if srv.Suffrage == raft.Voter && srv.ID != self {
				others++
			}
		}
		if others == 0 {
			return fmt.Errorf("%w: no other voter to take it", ErrTransferTarget)
		}
		f = e.s.raft.LeadershipTransfer()
	} else {
		var target *raft.Server
		for _, srv := range cf.Configuration().Servers {
			if string(srv.ID) == args.ID {
				target = &srv
			}
		}
		switch {
		case target == nil:
			return fmt.Errorf("%w: id=%q", ErrPeerNotFound, args.ID)
		case target.Suffrage != raft.Voter:
			return fmt.Errorf("%w: server %q is not a voter", ErrTransferTarget, args.ID)
		case target.ID == self:
			return fmt.Errorf("%w: server %q is already the leader", ErrTransferTarget, args.ID)
		}
		f = e.s.raft.LeadershipTransferToServer(target.ID, target.Address)
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("transfer leadership: %w", err)
	}
	reply.Success = true
	return nil
}

// RaftRemovePeer removes a server from the Raft configuration by ID or address.
func (e *Operator) RaftRemovePeer(args *rpcapi.RaftRemovePeerRequest, reply *struct{}) error {
	if done, err := e.s.forward("Operator.RaftRemovePeer", args, args, reply); done {
		return err
	}
	cf := e.s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	for _, srv := range cf.Configuration().Servers {
		if (args.ID != "" && string(srv.ID) == args.ID) || (args.Address != "" && string(srv.Address) == args.Address) {
			return e.s.raft.RemoveServer(srv.ID, 0, 0).Error()
		}
	}
	return fmt.Errorf("%w: id=%q address=%q", ErrPeerNotFound, args.ID, args.Address)
}
