package kv

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// SessionBehavior is what happens to a session's locks when it is
// invalidated.
type SessionBehavior string

// Session behaviours, as Consul's.
const (
	// BehaviorRelease releases the locks (the default).
	BehaviorRelease SessionBehavior = "release"
	// BehaviorDelete deletes the locked keys.
	BehaviorDelete SessionBehavior = "delete"
)

// Session limits and defaults, as Consul's.
const (
	SessionTTLMin     = 10 * time.Second
	SessionTTLMax     = 24 * time.Hour
	DefaultLockDelay  = 15 * time.Second
	SerfHealthCheckID = "serfHealth"
	// SessionTTLMultiplier: a session is invalidated once TTL×multiplier
	// passes without renewal, as Consul's.
	SessionTTLMultiplier = 2
)

// ServiceCheck names a service check a session is bound to.
type ServiceCheck struct {
	ID        string
	Namespace string `json:",omitempty"`
}

// Session is a session, shaped as Consul's (and its JSON).
type Session struct {
	ID            string
	Name          string
	Node          string
	LockDelay     time.Duration
	Behavior      SessionBehavior
	TTL           string
	NodeChecks    []string
	ServiceChecks []ServiceCheck
	CreateIndex   uint64
	ModifyIndex   uint64
}

// CheckIDs lists every check the session is bound to.
func (s *Session) CheckIDs() []string {
	out := append([]string(nil), s.NodeChecks...)
	for _, c := range s.ServiceChecks {
		out = append(out, c.ID)
	}
	return out
}

// Health is the sessions' view of the catalog, which package kv does not
// import: the FSM passes an implementation reading the catalog's tables in
// the same transaction.
type Health interface {
	// NodeExists reports whether node is registered.
	NodeExists(tx *memdb.Txn, node string) bool
	// CheckState reports whether the node's check exists and whether it is
	// critical.
	CheckState(tx *memdb.Txn, node, checkID string) (exists, critical bool)
}

// Errors of session writes. Their text reaches API callers.
var (
	// ErrSessionNodeMissing means the session's node is not registered.
	ErrSessionNodeMissing = errors.New("Missing node registration")
	// ErrSessionCheckMissing means a check the session names is not registered.
	ErrSessionCheckMissing = errors.New("missing check registration")
	// ErrSessionCheckCritical means a check the session names is critical.
	ErrSessionCheckCritical = errors.New("check is in critical state")
	// ErrSessionExists means a create reused an ID.
	ErrSessionExists = errors.New("session ID already in use")
)

// SessionOp names a session write.
type SessionOp string

// Session writes.
const (
	SessionCreate  SessionOp = "create"
	SessionDestroy SessionOp = "destroy"
)

// SessionRequest is a session write, the FSM command body.
type SessionRequest struct {
	Op      SessionOp
	Session Session
	// Now is the leader's clock (Unix nanoseconds): the lock-delay of the
	// keys a destroyed session held starts then.
	Now int64
}

// ApplySession performs req at index idx.
func ApplySession(tx *memdb.Txn, idx uint64, h Health, req *SessionRequest) error {
	switch req.Op {
	case SessionCreate:
		s := req.Session
		return CreateSession(tx, idx, h, &s)
	case SessionDestroy:
		return DestroySession(tx, idx, req.Session.ID, req.Now)
	default:
		return fmt.Errorf("kv: unknown session operation %q", req.Op)
	}
}

// CreateSession inserts s (whose ID, defaults and limits the caller has
// set): its node must exist and none of its checks may be missing or
// critical.
func CreateSession(tx *memdb.Txn, idx uint64, h Health, s *Session) error {
	if raw, err := tx.First(TableSessions, indexID, s.ID); err != nil {
		return fmt.Errorf("kv: session lookup: %w", err)
	} else if raw != nil {
		return fmt.Errorf("%w: %s", ErrSessionExists, s.ID)
	}
	if !h.NodeExists(tx, s.Node) {
		return ErrSessionNodeMissing
	}
	for _, c := range s.CheckIDs() {
		exists, critical := h.CheckState(tx, s.Node, c)
		if !exists {
			return fmt.Errorf("%w: check '%s' on node '%s'", ErrSessionCheckMissing, c, s.Node)
		}
		if critical {
			return fmt.Errorf("%w: Check '%s' is in critical state", ErrSessionCheckCritical, c)
		}
	}
	s.CreateIndex, s.ModifyIndex = idx, idx
	if err := tx.Insert(TableSessions, s); err != nil {
		return fmt.Errorf("kv: session insert: %w", err)
	}
	return state.UpdateIndex(tx, TableSessions, idx)
}

// DestroySession removes a session (absent is not an error) and applies its
// behaviour to the keys it holds: release (clear Session) or delete. Each
// such key enters the session's lock-delay, starting at now (0: at the
// next lock attempt).
func DestroySession(tx *memdb.Txn, idx uint64, id string, now int64) error {
	raw, err := tx.First(TableSessions, indexID, id)
	if err != nil {
		return fmt.Errorf("kv: session lookup: %w", err)
	}
	if raw == nil {
		return nil
	}
	s := raw.(*Session)
	if err := tx.Delete(TableSessions, s); err != nil {
		return fmt.Errorf("kv: session delete: %w", err)
	}
	if err := state.UpdateIndex(tx, TableSessions, idx); err != nil {
		return err
	}
	it, err := tx.Get(TableKVs, indexSession, id)
	if err != nil {
		return fmt.Errorf("kv: session locks: %w", err)
	}
	var held []*Entry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		held = append(held, raw.(*Entry))
	}
	delay := min(s.LockDelay, MaxLockDelay)
	for _, e := range held {
		if s.Behavior == BehaviorDelete {
			err = deleteEntry(tx, idx, e)
		} else {
			ne := *e
			ne.Session = ""
			err = insert(tx, idx, &ne)
		}
		if err != nil {
			return err
		}
		if delay > 0 {
			if err := tx.Insert(TableLockDelay, &LockDelay{Key: e.Key, Start: now, Delay: delay}); err != nil {
				return fmt.Errorf("kv: lock delay: %w", err)
			}
		}
	}
	return nil
}

// InvalidateNodeSessions destroys the sessions of node that are no longer
// valid: all of them when the node is gone, else those bound to a check
// that is missing or critical. The FSM calls it after every catalog write
// touching node. Their lock-delay starts at the next lock attempt, since a
// catalog command carries no time.
func InvalidateNodeSessions(tx *memdb.Txn, idx uint64, h Health, node string) error {
	it, err := tx.Get(TableSessions, indexNode, node)
	if err != nil {
		return fmt.Errorf("kv: node sessions: %w", err)
	}
	var sessions []*Session
	for raw := it.Next(); raw != nil; raw = it.Next() {
		sessions = append(sessions, raw.(*Session))
	}
	if len(sessions) == 0 {
		return nil
	}
	nodeGone := !h.NodeExists(tx, node)
	for _, s := range sessions {
		invalid := nodeGone
		for _, c := range s.CheckIDs() {
			if invalid {
				break
			}
			exists, critical := h.CheckState(tx, node, c)
			invalid = !exists || critical
		}
		if invalid {
			if err := DestroySession(tx, idx, s.ID, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// GetSession returns one session (nil when absent) and the sessions
// table's index.
func GetSession(tx *memdb.Txn, ws memdb.WatchSet, id string) (uint64, *Session, error) {
	idx := state.MaxIndexWatch(tx, nil, TableSessions)
	ch, raw, err := tx.FirstWatch(TableSessions, indexID, id)
	if err != nil {
		return 0, nil, fmt.Errorf("kv: session: %w", err)
	}
	if ws != nil {
		ws.Add(ch)
	}
	if raw == nil {
		return idx, nil, nil
	}
	return idx, raw.(*Session), nil
}

// Sessions lists every session, by ID, and the sessions table's index.
func Sessions(tx *memdb.Txn, ws memdb.WatchSet) (uint64, []*Session, error) {
	return listSessions(tx, ws, indexID)
}

// NodeSessions lists the sessions of one node and the sessions table's index.
func NodeSessions(tx *memdb.Txn, ws memdb.WatchSet, node string) (uint64, []*Session, error) {
	return listSessions(tx, ws, indexNode, node)
}

func listSessions(tx *memdb.Txn, ws memdb.WatchSet, index string, args ...any) (uint64, []*Session, error) {
	idx := state.MaxIndexWatch(tx, nil, TableSessions)
	it, err := tx.Get(TableSessions, index, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("kv: sessions: %w", err)
	}
	if ws != nil {
		ws.Add(it.WatchCh())
	}
	var out []*Session
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*Session))
	}
	return idx, out, nil
}
