package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// ACL serves tokens, policies and roles. Every endpoint but Bootstrap and
// Resolve checks the caller's token (AuthToken) against the local state:
// acl:read to read, acl:write to write. Secrets are never logged.
type ACL struct{ s *Server }

// Authorizer resolves a secret ("" is the anonymous token) against this
// server's state. It returns acl.ErrNotFound for an unknown or expired
// secret. Answers are cached until the ACL tables change (authzCache).
func (s *Server) Authorizer(secret string) (*acl.Authorizer, error) {
	if !s.cfg.ACL.Enabled {
		return acl.AllowAll(), nil
	}
	if secret == "" {
		secret = acl.AnonymousTokenSecret
	}
	tx := s.State().ReadTxn()
	defer tx.Abort()
	idx := state.MaxIndex(tx, acl.TableTokens, acl.TablePolicies, acl.TableRoles)
	now := time.Now()
	if z, ok := s.authz.get(idx, secret, now); ok {
		return z, nil
	}
	res, err := acl.Resolve(tx, secret, now)
	if err != nil {
		return nil, err
	}
	z := res.Compile(acl.DefaultPolicy(s.cfg.ACL.DefaultPolicy), nil)
	s.authz.put(idx, secret, z, res.ExpirationTime)
	return z, nil
}

func (s *Server) authorizer(secret string) (*acl.Authorizer, error) { return s.Authorizer(secret) }

// authzCache holds compiled authorizers by secret for one version of the
// ACL tables (the highest index of tokens, policies and roles): any ACL
// write starts a new, empty cache. Its size is bounded.
type authzCache struct {
	mu       sync.Mutex
	index    uint64
	bySecret map[string]cachedAuthz
}

type cachedAuthz struct {
	z       *acl.Authorizer
	expires *time.Time
}

// maxCachedAuthz bounds the cache (a flood of distinct secrets empties it).
const maxCachedAuthz = 4096

func (c *authzCache) get(index uint64, secret string, now time.Time) (*acl.Authorizer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.bySecret[secret]
	if !ok || c.index != index || (e.expires != nil && !now.Before(*e.expires)) {
		return nil, false
	}
	return e.z, true
}

func (c *authzCache) put(index uint64, secret string, z *acl.Authorizer, expires *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != index || c.bySecret == nil || len(c.bySecret) >= maxCachedAuthz {
		c.index, c.bySecret = index, map[string]cachedAuthz{}
	}
	c.bySecret[secret] = cachedAuthz{z: z, expires: expires}
}

// aclCheck fails unless ACLs are on and the caller holds acl:need.
func (e *ACL) aclCheck(auth rpcapi.Authenticated, need acl.Access) (*acl.Authorizer, error) {
	if !e.s.cfg.ACL.Enabled {
		return nil, rpcapi.ErrACLDisabled
	}
	authz, err := e.s.authorizer(auth.Auth())
	if err != nil {
		return nil, err
	}
	return authz, authz.CheckGlobal(acl.GlobalACL, need)
}

// Bootstrap creates the first management token, once. It needs no token.
func (e *ACL) Bootstrap(args *rpcapi.ACLBootstrapRequest, reply *acl.Token) error {
	if done, err := e.s.forward("ACL.Bootstrap", args, args, reply); done {
		return err
	}
	if !e.s.cfg.ACL.Enabled {
		return rpcapi.ErrACLDisabled
	}
	t, err := e.newToken()
	if err != nil {
		return err
	}
	t.Description = "Bootstrap Token (Global Management)"
	if _, err := e.s.raftApply(fsm.ACLBootstrapRequestType, &acl.BootstrapRequest{Token: *t}); err != nil {
		return err
	}
	return e.readToken(t.AccessorID, reply)
}

func (e *ACL) newToken() (*acl.Token, error) {
	accessor, err := randomUUID()
	if err != nil {
		return nil, err
	}
	secret, err := randomUUID()
	if err != nil {
		return nil, err
	}
	return &acl.Token{AccessorID: accessor, SecretID: secret, CreateTime: time.Now().UTC()}, nil
}

func (e *ACL) readToken(accessor string, reply *acl.Token) error {
	tx := e.s.State().ReadTxn()
	defer tx.Abort()
	_, t, err := acl.TokenByAccessor(tx, nil, accessor)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("%w: token %s", acl.ErrNoSuch, accessor)
	}
	*reply = *t
	return nil
}

// TokenSet creates or updates a token; links by name are resolved to IDs.
// An update may omit the SecretID (it is kept).
func (e *ACL) TokenSet(args *rpcapi.ACLTokenSetRequest, reply *rpcapi.ACLTokenReply) error {
	if done, err := e.s.forward("ACL.TokenSet", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessWrite); err != nil {
		return err
	}
	t := args.Token
	tx := e.s.State().ReadTxn()
	_, old, err := acl.TokenByAccessor(tx, nil, t.AccessorID)
	if err == nil {
		err = resolveLinks(tx, t.Policies, t.Roles)
	}
	tx.Abort()
	if err != nil {
		return err
	}
	switch {
	case args.Create:
		fresh, err := e.newToken()
		if err != nil {
			return err
		}
		if t.AccessorID == "" {
			t.AccessorID = fresh.AccessorID
		}
		if t.SecretID == "" {
			t.SecretID = fresh.SecretID
		}
		t.CreateTime = fresh.CreateTime
		if args.ExpirationTTL < 0 {
			return fmt.Errorf("%w: ExpirationTTL must not be negative", acl.ErrInvalid)
		}
		if args.ExpirationTTL > 0 {
			exp := t.CreateTime.Add(args.ExpirationTTL)
			t.ExpirationTime = &exp
		}
	case old == nil:
		return fmt.Errorf("%w: cannot find token %q to update", acl.ErrInvalid, t.AccessorID)
	case t.SecretID == "":
		t.SecretID = old.SecretID
	}
	if t.AccessorID == acl.AnonymousTokenID && t.SecretID != acl.AnonymousTokenSecret {
		return fmt.Errorf("%w: the anonymous token's secret cannot change", acl.ErrInvalid)
	}
	req := acl.TokenSetRequest{Token: t, Create: args.Create}
	if _, err := e.s.raftApply(fsm.ACLTokenSetRequestType, &req); err != nil {
		return err
	}
	reply.Token = new(acl.Token)
	return e.readToken(t.AccessorID, reply.Token)
}

// resolveLinks fills in each link's ID (from its Name) and Name (from its
// ID) from the state, and fails for a link that names nothing.
func resolveLinks(tx *memdb.Txn, policies, roles []acl.Link) error {
	for i := range policies {
		l := &policies[i]
		var p *acl.Policy
		var err error
		if l.ID != "" {
			_, p, err = acl.PolicyByID(tx, nil, l.ID)
		} else {
			_, p, err = acl.PolicyByName(tx, nil, l.Name)
		}
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%w: no such ACL policy %q", acl.ErrInvalid, l.ID+l.Name)
		}
		l.ID, l.Name = p.ID, p.Name
	}
	for i := range roles {
		l := &roles[i]
		var r *acl.Role
		var err error
		if l.ID != "" {
			_, r, err = acl.RoleByID(tx, nil, l.ID)
		} else {
			_, r, err = acl.RoleByName(tx, nil, l.Name)
		}
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("%w: no such ACL role %q", acl.ErrInvalid, l.ID+l.Name)
		}
		l.ID, l.Name = r.ID, r.Name
	}
	return nil
}

// TokenGet reads a token by AccessorID (acl:read; the SecretID only for
// acl:write holders), or the caller's own (Self, no permission needed).
func (e *ACL) TokenGet(args *rpcapi.ACLTokenGetRequest, reply *rpcapi.ACLTokenReply) error {
	if done, err := e.s.forward("ACL.TokenGet", args, args, reply); done {
		return err
	}
	if !e.s.cfg.ACL.Enabled {
		return rpcapi.ErrACLDisabled
	}
	var showSecret bool
	if !args.Self {
		authz, err := e.aclCheck(args, acl.AccessRead)
		if err != nil {
			return err
		}
		showSecret = authz.GlobalAllowed(acl.GlobalACL, acl.AccessWrite)
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		var (
			idx uint64
			t   *acl.Token
			err error
		)
		if args.Self {
			secret := args.AuthToken
			if secret == "" {
				secret = acl.AnonymousTokenSecret
			}
			idx, t, err = acl.TokenBySecret(tx, ws, secret)
			if err == nil && t == nil {
				err = acl.ErrNotFound
			}
			showSecret = true
		} else {
			idx, t, err = acl.TokenByAccessor(tx, ws, args.AccessorID)
		}
		reply.Token = nil
		if t != nil {
			if !showSecret {
				t = t.Redacted()
			}
			reply.Token = t
		}
		return idx, err
	})
}

// TokenList lists tokens (acl:read). Secrets are always redacted: a list
// is the easiest place for a secret to leak (logs, screenshots), and
// `token read` shows one to acl:write holders.
func (e *ACL) TokenList(args *rpcapi.ACLTokenListRequest, reply *rpcapi.ACLTokenList) error {
	if done, err := e.s.forward("ACL.TokenList", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessRead); err != nil {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, toks, err := acl.Tokens(tx, ws, args.Policy, args.Role)
		reply.Tokens = make([]*acl.Token, 0, len(toks))
		for _, t := range toks {
			reply.Tokens = append(reply.Tokens, t.Redacted())
		}
		return idx, err
	})
}

// TokenDelete deletes a token (acl:write); a token cannot delete itself.
func (e *ACL) TokenDelete(args *rpcapi.ACLDeleteRequest, reply *bool) error {
	if done, err := e.s.forward("ACL.TokenDelete", args, args, reply); done {
		return err
	}
	authz, err := e.aclCheck(args, acl.AccessWrite)
	if err != nil {
		return err
	}
	if authz.Accessor() != "" && authz.Accessor() == args.ID {
		return fmt.Errorf("%w: deletion of the request's authorization token is not permitted", acl.ErrInvalid)
	}
	return e.apply(fsm.ACLTokenDeleteRequestType, &acl.DeleteRequest{ID: args.ID}, reply)
}

func (e *ACL) apply(t fsm.MessageType, req any, reply *bool) error {
	if _, err := e.s.raftApply(t, req); err != nil {
		return err
	}
	*reply = true
	return nil
}

// PolicySet creates (no ID) or updates a policy (acl:write).
func (e *ACL) PolicySet(args *rpcapi.ACLPolicySetRequest, reply *rpcapi.ACLPolicyReply) error {
	if done, err := e.s.forward("ACL.PolicySet", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessWrite); err != nil {
		return err
	}
	p := args.Policy
	if p.ID == "" {
		id, err := randomUUID()
		if err != nil {
			return err
		}
		p.ID = id
	} else if err := e.mustExist(acl.TablePolicies, p.ID); err != nil {
		return err
	}
	if _, err := e.s.raftApply(fsm.ACLPolicySetRequestType, &acl.PolicySetRequest{Policy: p}); err != nil {
		return err
	}
	tx := e.s.State().ReadTxn()
	defer tx.Abort()
	_, reply.Policy, _ = acl.PolicyByID(tx, nil, p.ID)
	return nil
}

// mustExist fails with ErrInvalid when an update names a missing row.
func (e *ACL) mustExist(table, id string) error {
	tx := e.s.State().ReadTxn()
	defer tx.Abort()
	raw, err := tx.First(table, "id", id)
	if err != nil {
		return err
	}
	if raw == nil {
		return fmt.Errorf("%w: cannot find %s %q to update", acl.ErrInvalid, table, id)
	}
	return nil
}

// PolicyGet reads a policy by ID or Name (acl:read).
func (e *ACL) PolicyGet(args *rpcapi.ACLGetRequest, reply *rpcapi.ACLPolicyReply) error {
	if done, err := e.s.forward("ACL.PolicyGet", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessRead); err != nil {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		if args.Name != "" {
			idx, p, err := acl.PolicyByName(tx, ws, args.Name)
			reply.Policy = p
			return idx, err
		}
		idx, p, err := acl.PolicyByID(tx, ws, args.ID)
		reply.Policy = p
		return idx, err
	})
}

// PolicyList lists policies (acl:read).
func (e *ACL) PolicyList(args *rpcapi.ACLListRequest, reply *rpcapi.ACLPolicyList) error {
	if done, err := e.s.forward("ACL.PolicyList", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessRead); err != nil {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, list, err := acl.Policies(tx, ws)
		reply.Policies = list
		return idx, err
	})
}

// PolicyDelete deletes a policy (acl:write).
func (e *ACL) PolicyDelete(args *rpcapi.ACLDeleteRequest, reply *bool) error {
	if done, err := e.s.forward("ACL.PolicyDelete", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessWrite); err != nil {
		return err
	}
	return e.apply(fsm.ACLPolicyDeleteRequestType, &acl.DeleteRequest{ID: args.ID}, reply)
}

// RoleSet creates (no ID) or updates a role (acl:write).
func (e *ACL) RoleSet(args *rpcapi.ACLRoleSetRequest, reply *rpcapi.ACLRoleReply) error {
	if done, err := e.s.forward("ACL.RoleSet", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessWrite); err != nil {
		return err
	}
	r := args.Role
	if r.ID == "" {
		id, err := randomUUID()
		if err != nil {
			return err
		}
		r.ID = id
	} else if err := e.mustExist(acl.TableRoles, r.ID); err != nil {
		return err
	}
	tx := e.s.State().ReadTxn()
	err := resolveLinks(tx, r.Policies, nil)
	tx.Abort()
	if err != nil {
		return err
	}
	if _, err := e.s.raftApply(fsm.ACLRoleSetRequestType, &acl.RoleSetRequest{Role: r}); err != nil {
		return err
	}
	tx = e.s.State().ReadTxn()
	defer tx.Abort()
	_, reply.Role, _ = acl.RoleByID(tx, nil, r.ID)
	return nil
}

// RoleGet reads a role by ID or Name (acl:read).
func (e *ACL) RoleGet(args *rpcapi.ACLGetRequest, reply *rpcapi.ACLRoleReply) error {
	if done, err := e.s.forward("ACL.RoleGet", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessRead); err != nil {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		if args.Name != "" {
			idx, p, err := acl.RoleByName(tx, ws, args.Name)
			reply.Role = p
			return idx, err
		}
		idx, p, err := acl.RoleByID(tx, ws, args.ID)
		reply.Role = p
		return idx, err
	})
}

// RoleList lists roles (acl:read).
func (e *ACL) RoleList(args *rpcapi.ACLListRequest, reply *rpcapi.ACLRoleList) error {
	if done, err := e.s.forward("ACL.RoleList", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessRead); err != nil {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, list, err := acl.Roles(tx, ws)
		reply.Roles = list
		return idx, err
	})
}

// RoleDelete deletes a role (acl:write).
func (e *ACL) RoleDelete(args *rpcapi.ACLDeleteRequest, reply *bool) error {
	if done, err := e.s.forward("ACL.RoleDelete", args, args, reply); done {
		return err
	}
	if _, err := e.aclCheck(args, acl.AccessWrite); err != nil {
		return err
	}
	return e.apply(fsm.ACLRoleDeleteRequestType, &acl.DeleteRequest{ID: args.ID}, reply)
}

// Resolve answers what a secret resolves to, for agents that enforce
// ACLs on their HTTP API. Knowing the secret is the permission.
func (e *ACL) Resolve(args *rpcapi.ACLResolveRequest, reply *rpcapi.ACLResolveReply) error {
	if done, err := e.s.forward("ACL.Resolve", args, args, reply); done {
		return err
	}
	reply.Enabled = e.s.cfg.ACL.Enabled
	reply.DefaultPolicy = acl.DefaultPolicy(e.s.cfg.ACL.DefaultPolicy)
	if !reply.Enabled {
		return nil
	}
	secret := args.SecretID
	if secret == "" {
		secret = acl.AnonymousTokenSecret
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx := state.MaxIndexWatch(tx, ws, acl.TableTokens, acl.TablePolicies, acl.TableRoles)
		res, err := acl.Resolve(tx, secret, time.Now())
		reply.Resolved = res
		return idx, err
	})
}
