package rpcapi

import (
	"context"
	"errors"
	"time"

	"github.com/shoalproject/shoal/acl"
)

// ErrACLDisabled is returned by the ACL endpoints of a cluster whose
// servers run without ACLs. Its text is Consul's.
var ErrACLDisabled = errors.New("ACL support disabled")

// ACLBootstrapRequest asks for the first management token.
type ACLBootstrapRequest struct {
	WriteRequest
}

// ACLTokenSetRequest creates (Create) or updates a token.
type ACLTokenSetRequest struct {
	WriteRequest
	Token  acl.Token
	Create bool
	// ExpirationTTL, when set on create, makes the token expire that long
	// after the server creates it.
	ExpirationTTL time.Duration
}

// ACLTokenGetRequest reads a token by AccessorID, or the caller's own
// token when Self is set.
type ACLTokenGetRequest struct {
	QueryOptions
	AccessorID string
	Self       bool
}

// ACLTokenListRequest lists tokens, optionally those linked to a policy or role.
type ACLTokenListRequest struct {
	QueryOptions
	Policy string
	Role   string
}

// ACLDeleteRequest deletes a token (AccessorID), policy or role (ID).
type ACLDeleteRequest struct {
	WriteRequest
	ID string
}

// ACLPolicySetRequest creates or updates a policy.
type ACLPolicySetRequest struct {
	WriteRequest
	Policy acl.Policy
}

// ACLRoleSetRequest creates or updates a role.
type ACLRoleSetRequest struct {
	WriteRequest
	Role acl.Role
}

// ACLGetRequest reads a policy or role by ID or by Name.
type ACLGetRequest struct {
	QueryOptions
	ID   string
	Name string
}

// ACLListRequest lists policies or roles.
type ACLListRequest struct {
	QueryOptions
}

// ACLTokenReply answers token reads and writes; Token is nil when not found.
type ACLTokenReply struct {
	QueryMeta
	Token *acl.Token
}

// ACLTokenList answers ACL.TokenList; SecretIDs are redacted.
type ACLTokenList struct {
	QueryMeta
	Tokens []*acl.Token
}

// ACLPolicyReply answers policy reads and writes; nil when not found.
type ACLPolicyReply struct {
	QueryMeta
	Policy *acl.Policy
}

// ACLPolicyList answers ACL.PolicyList.
type ACLPolicyList struct {
	QueryMeta
	Policies []*acl.Policy
}

// ACLRoleReply answers role reads and writes; nil when not found.
type ACLRoleReply struct {
	QueryMeta
	Role *acl.Role
}

// ACLRoleList answers ACL.RoleList.
type ACLRoleList struct {
	QueryMeta
	Roles []*acl.Role
}

// ACLResolveRequest asks a server what a secret resolves to (agents
// build the authorizer from the reply and cache it).
type ACLResolveRequest struct {
	QueryOptions
	SecretID string
}

// ACLResolveReply answers ACL.Resolve. Enabled is false when the servers
// run without ACLs; Resolved is then nil.
type ACLResolveReply struct {
	QueryMeta
	Enabled       bool
	DefaultPolicy acl.DefaultPolicy
	Resolved      *acl.Resolved
}

// authTokenKey is the context key of WithAuthToken.
type authTokenKey struct{}

// WithAuthToken returns ctx carrying the ACL token of the request it
// serves, for calls whose arguments have no token of their own (snapshot
// restore) and for the agent to stamp on each RPC.
func WithAuthToken(ctx context.Context, secret string) context.Context {
	return context.WithValue(ctx, authTokenKey{}, secret)
}

// AuthTokenFrom returns the token WithAuthToken stored, and whether there
// is one ("" with true is the anonymous token).
func AuthTokenFrom(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(authTokenKey{}).(string)
	return s, ok
}
