package server

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
)

// Session serves sessions. The leader keeps their TTL timers
// (session_ttl.go).
type Session struct{ s *Server }

// Apply creates a session (reply is its new ID) or destroys one (reply is
// the ID given).
func (e *Session) Apply(args *rpcapi.SessionRequest, reply *string) error {
	if done, err := e.s.forward("Session.Apply", args, args, reply); done {
		return err
	}
	req := kv.SessionRequest{Op: args.Op, Session: args.Session, Now: time.Now().UnixNano()}
	switch args.Op {
	case kv.SessionCreate:
		if err := normalizeSession(&req.Session); err != nil {
			return err
		}
		id, err := e.newSessionID()
		if err != nil {
			return err
		}
		req.Session.ID = id
	case kv.SessionDestroy:
		if req.Session.ID == "" {
			return fmt.Errorf("Must provide ID")
		}
	default:
		return fmt.Errorf("Invalid session operation %q", args.Op)
	}
	if _, err := e.s.raftApply(fsm.SessionRequestType, &req); err != nil {
		return err
	}
	if t := e.s.sessionTimers(); t != nil {
		if args.Op == kv.SessionCreate {
			t.reset(req.Session.ID, req.Session.TTL)
		} else {
			t.clear(req.Session.ID)
		}
	}
	*reply = req.Session.ID
	return nil
}

// normalizeSession validates a session to create and fills in Consul's
// defaults: behaviour release, lock-delay 15 s (capped at 60 s), and the
// node's serfHealth check when no check list was given at all.
func normalizeSession(s *kv.Session) error {
	if s.Node == "" {
		return fmt.Errorf("Must provide Node")
	}
	switch s.Behavior {
	case "":
		s.Behavior = kv.BehaviorRelease
	case kv.BehaviorRelease, kv.BehaviorDelete:
	default:
		return fmt.Errorf("Invalid Behavior setting '%s'", s.Behavior)
	}
	if s.TTL != "" {
		ttl, err := time.ParseDuration(s.TTL)
		if err != nil {
			return fmt.Errorf("Session TTL '%s' invalid: %v", s.TTL, err)
		}
		if ttl != 0 && (ttl < kv.SessionTTLMin || ttl > kv.SessionTTLMax) {
			return fmt.Errorf("Invalid Session TTL '%d', must be between [%v=%v]", ttl, kv.SessionTTLMin, kv.SessionTTLMax)
		}
	}
	if s.LockDelay < 0 {
		return fmt.Errorf("Invalid LockDelay %v", s.LockDelay)
	}
	s.LockDelay = min(s.LockDelay, kv.MaxLockDelay)
	return nil
}

func (e *Session) newSessionID() (string, error) {
	for {
		id, err := randomUUID()
		if err != nil {
			return "", fmt.Errorf("session id: %w", err)
		}
		tx := e.s.State().ReadTxn()
		_, existing, err := kv.GetSession(tx, nil, id)
		tx.Abort()
		if err != nil {
			return "", err
		}
		if existing == nil {
			return id, nil
		}
	}
}

// Get reads one session.
func (e *Session) Get(args *rpcapi.SessionSpecificRequest, reply *rpcapi.IndexedSessions) error {
	if done, err := e.s.forward("Session.Get", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, s, err := kv.GetSession(tx, ws, args.SessionID)
		reply.Sessions = nil
		if s != nil {
			reply.Sessions = []*kv.Session{s}
		}
		return idx, err
	})
}

// List reads every session.
func (e *Session) List(args *rpcapi.DCRequest, reply *rpcapi.IndexedSessions) error {
	if done, err := e.s.forward("Session.List", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, ss, err := kv.Sessions(tx, ws)
		reply.Sessions = ss
		return idx, err
	})
}

// NodeSessions reads the sessions of one node.
func (e *Session) NodeSessions(args *rpcapi.NodeRequest, reply *rpcapi.IndexedSessions) error {
	if done, err := e.s.forward("Session.NodeSessions", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, ss, err := kv.NodeSessions(tx, ws, args.Node)
		reply.Sessions = ss
		return idx, err
	})
}

// Renew restarts a session's TTL timer on the leader. A session that does
// not exist answers no sessions (HTTP 404).
func (e *Session) Renew(args *rpcapi.SessionRenewRequest, reply *rpcapi.IndexedSessions) error {
	if done, err := e.s.forward("Session.Renew", args, args, reply); done {
		return err
	}
	tx := e.s.State().ReadTxn()
	idx, s, err := kv.GetSession(tx, nil, args.SessionID)
	tx.Abort()
	if err != nil {
		return err
	}
	opts := rpcapi.QueryOptions{}
	e.s.setQueryMeta(&opts, &reply.QueryMeta)
	reply.Index = max(idx, 1)
	if s == nil {
		return nil
	}
	if t := e.s.sessionTimers(); t != nil {
		t.reset(s.ID, s.TTL)
	}
	reply.Sessions = []*kv.Session{s}
	return nil
}
