package rpcapi

import "github.com/shoalproject/shoal/kv"

// SessionRequest creates or destroys a session. For a create the reply is
// the new session's ID, chosen by the leader.
type SessionRequest struct {
	WriteRequest
	Op      kv.SessionOp
	Session kv.Session
}

// SessionSpecificRequest names one session (Session.Get).
type SessionSpecificRequest struct {
	QueryOptions
	SessionID string
}

// SessionRenewRequest renews a session's TTL. It is a write as far as
// routing goes: only the leader holds the TTL timers.
type SessionRenewRequest struct {
	WriteRequest
	SessionID string
}

// IndexedSessions answers session reads and renewals.
type IndexedSessions struct {
	QueryMeta
	Sessions []*kv.Session
}
