package agent

import (
	"context"
	"io"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/rpcapi"
)

// tokenDelegate stamps an ACL token on every RPC the agent makes: the
// token of the HTTP request being served (wrap puts it in the context),
// else — for the agent's own calls: anti-entropy, the realiser, DNS
// reads — the agent token (acl.tokens.agent, else the default token).
// A token already set on the arguments is kept.
type tokenDelegate struct {
	delegate
	agentToken func() string
}

func (d tokenDelegate) token(ctx context.Context) string {
	if t, ok := rpcapi.AuthTokenFrom(ctx); ok {
		if t == "" {
			return acl.AnonymousTokenSecret
		}
		return t
	}
	return d.agentToken()
}

// RPC implements delegate.
func (d tokenDelegate) RPC(ctx context.Context, method string, args, reply any) error {
	if a, ok := args.(rpcapi.Authenticated); ok && a.Auth() == "" {
		a.SetAuth(d.token(ctx))
	}
	return d.delegate.RPC(ctx, method, args, reply)
}

// SnapshotSave implements delegate.
func (d tokenDelegate) SnapshotSave(ctx context.Context, opts rpcapi.QueryOptions) (io.ReadCloser, rpcapi.QueryMeta, error) {
	if opts.AuthToken == "" {
		opts.AuthToken = d.token(ctx)
	}
	return d.delegate.SnapshotSave(ctx, opts)
}

// SnapshotRestore implements delegate.
func (d tokenDelegate) SnapshotRestore(ctx context.Context, dc string, archive io.Reader) error {
	return d.delegate.SnapshotRestore(rpcapi.WithAuthToken(ctx, d.token(ctx)), dc, archive)
}

// agentToken is the token of the agent's own requests.
func (t *agentTokens) agentToken() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.AgentT != "" {
		return t.AgentT
	}
	return t.DefaultT
}
