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

// ErrPeerNotFound means a remove-peer request named no current peer.
var ErrPeerNotFound = errors.New("raft peer not found")

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
