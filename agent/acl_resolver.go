package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/rpcapi"
)

// errACLServersDisabled means this agent enforces ACLs but its servers
// run without them: every request is refused until they agree.
var errACLServersDisabled = errors.New("ACLs are enabled on this agent but not on its servers")

// aclResolver turns a token secret into an authorizer for the HTTP API.
// On a server agent it asks the server in process (its state and cache,
// what its RPC endpoints see); on a client agent it asks a server (ACL.Resolve) and
// caches the answer for TokenTTL, applying DownPolicy when no server
// answers. Compiled policies are cached by ID and ModifyIndex. Secrets
// are cache keys only, never logged.
type aclResolver struct {
	rpc   func(ctx context.Context, method string, args, reply any) error
	local func(secret string) (*acl.Authorizer, error) // the server's, nil on client agents
	down  string
	ttl   time.Duration
	now   func() time.Time

	mu       sync.Mutex
	tokens   map[string]cachedToken
	policies map[string]cachedPolicy
}

type cachedToken struct {
	authz   *acl.Authorizer
	fetched time.Time
}

type cachedPolicy struct {
	modifyIndex uint64
	rules       *acl.Rules
	err         error
}

// maxCachedTokens bounds the token cache; past it the cache is emptied
// (a flood of unknown secrets cannot grow it without bound).
const maxCachedTokens = 4096

func newACLResolver(rpc func(ctx context.Context, method string, args, reply any) error,
	local func(string) (*acl.Authorizer, error), down string, ttl time.Duration) *aclResolver {
	return &aclResolver{rpc: rpc, local: local, down: down, ttl: ttl,
		now: time.Now, tokens: map[string]cachedToken{}, policies: map[string]cachedPolicy{}}
}

// authorizer returns the authorizer of secret ("" is the anonymous
// token), or an error wrapping acl.ErrNotFound for an unknown secret.
func (r *aclResolver) authorizer(ctx context.Context, secret string) (*acl.Authorizer, error) {
	if secret == "" {
		secret = acl.AnonymousTokenSecret
	}
	if r.local != nil {
		return r.local(secret)
	}
	r.mu.Lock()
	c, ok := r.tokens[secret]
	r.mu.Unlock()
	if ok && r.now().Sub(c.fetched) < r.ttl {
		return c.authz, nil
	}
	var reply rpcapi.ACLResolveReply
	err := r.rpc(ctx, "ACL.Resolve", &rpcapi.ACLResolveRequest{SecretID: secret}, &reply)
	switch {
	case err == nil && !reply.Enabled:
		return nil, errACLServersDisabled
	case err == nil:
		z := reply.Resolved.Compile(reply.DefaultPolicy, r.parse)
		r.mu.Lock()
		if len(r.tokens) >= maxCachedTokens {
			r.tokens = map[string]cachedToken{}
		}
		r.tokens[secret] = cachedToken{authz: z, fetched: r.now()}
		r.mu.Unlock()
		return z, nil
	case rpcapi.IsRemote(err, acl.ErrNotFound):
		r.mu.Lock()
		delete(r.tokens, secret)
		r.mu.Unlock()
		return nil, acl.ErrNotFound
	case ctx.Err() != nil:
		return nil, err
	}
	// No server answered: the down policy decides.
	switch r.down {
	case "allow":
		return acl.AllowAll(), nil
	case "deny":
		return acl.DenyAll(), nil
	}
	if ok { // extend-cache, async-cache: keep the last answer
		return c.authz, nil
	}
	return nil, fmt.Errorf("%w: resolving token: no server answered (%v) and nothing is cached", acl.ErrPermissionDenied, err)
}

// parse compiles a policy's rules once per ModifyIndex.
func (r *aclResolver) parse(p acl.ResolvedPolicy) (*acl.Rules, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.policies[p.ID]; ok && c.modifyIndex == p.ModifyIndex {
		return c.rules, c.err
	}
	rules, err := acl.ParseRules(p.Rules)
	r.policies[p.ID] = cachedPolicy{modifyIndex: p.ModifyIndex, rules: rules, err: err}
	return rules, err
}
