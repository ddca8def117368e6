package agent

import (
	"context"
	"net/netip"
	"time"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/dns"
)

// aclDNSReader answers DNS under the agent's default token, as Consul
// does: a service instance is served only if the token may read the
// service and its node, a node only if it may read the node. What is
// filtered out is answered as absent (NXDOMAIN), never refused.
type aclDNSReader struct {
	inner interface {
		dns.Reader
		dns.ServiceLister
	}
	authorizer func(ctx context.Context) (*acl.Authorizer, error)
}

// ServiceNodes implements dns.Reader.
func (r *aclDNSReader) ServiceNodes(ctx context.Context, dc, service string) ([]catalog.Instance, error) {
	z, err := r.authorizer(ctx)
	if err != nil {
		return nil, err
	}
	if !z.Allowed(acl.ResourceService, service, acl.AccessRead) {
		return nil, nil
	}
	all, err := r.inner.ServiceNodes(ctx, dc, service)
	if err != nil {
		return nil, err
	}
	out := make([]catalog.Instance, 0, len(all))
	for _, in := range all {
		if in.Node != nil && z.Allowed(acl.ResourceNode, in.Node.Node, acl.AccessRead) {
			out = append(out, in)
		}
	}
	return out, nil
}

// Node implements dns.Reader.
func (r *aclDNSReader) Node(ctx context.Context, dc, name string) (*catalog.Node, error) {
	z, err := r.authorizer(ctx)
	if err != nil {
		return nil, err
	}
	n, err := r.inner.Node(ctx, dc, name)
	if err != nil || n == nil || !z.Allowed(acl.ResourceNode, n.Node, acl.AccessRead) {
		return nil, err
	}
	return n, nil
}

// Nodes implements dns.Reader.
func (r *aclDNSReader) Nodes(ctx context.Context, dc string) ([]*catalog.Node, error) {
	z, err := r.authorizer(ctx)
	if err != nil {
		return nil, err
	}
	all, err := r.inner.Nodes(ctx, dc)
	if err != nil {
		return nil, err
	}
	out := make([]*catalog.Node, 0, len(all))
	for _, n := range all {
		if z.Allowed(acl.ResourceNode, n.Node, acl.AccessRead) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Services implements dns.ServiceLister.
func (r *aclDNSReader) Services(ctx context.Context, dc string) ([]string, error) {
	z, err := r.authorizer(ctx)
	if err != nil {
		return nil, err
	}
	all, err := r.inner.Services(ctx, dc)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(all))
	for _, s := range all {
		if z.Allowed(acl.ResourceService, s, acl.AccessRead) {
			out = append(out, s)
		}
	}
	return out, nil
}

// dnsACLReader wraps reader with the default token's filter when ACLs
// are on.
func (a *Agent) dnsACLReader(reader *dnsReader) dns.Reader {
	if a.acl == nil {
		return reader
	}
	return &aclDNSReader{inner: reader, authorizer: func(ctx context.Context) (*acl.Authorizer, error) {
		return a.acl.authorizer(ctx, a.tokens.defaultToken())
	}}
}

// VIP implements dns.VirtualIPs: a service's virtual IP, for a token that
// may read the service.
func (r *aclDNSReader) VIP(service string) (netip.Addr, bool) {
	v, ok := r.inner.(dns.VirtualIPs)
	if !ok {
		return netip.Addr{}, false
	}
	z, err := r.authorizer(context.Background())
	if err != nil || !z.Allowed(acl.ResourceService, service, acl.AccessRead) {
		return netip.Addr{}, false
	}
	return v.VIP(service)
}

// ExecuteQuery implements dns.QueryExecutor: the query runs as the inner
// reader runs it, and its answer keeps only the instances whose service
// and node the token may read, as ServiceNodes does.
func (r *aclDNSReader) ExecuteQuery(ctx context.Context, dc, name string) ([]catalog.Instance, string, time.Duration, bool, error) {
	qe, ok := r.inner.(dns.QueryExecutor)
	if !ok {
		return nil, "", 0, false, nil
	}
	z, err := r.authorizer(ctx)
	if err != nil {
		return nil, "", 0, false, err
	}
	if !z.Allowed(acl.ResourceQuery, name, acl.AccessRead) {
		return nil, "", 0, false, nil
	}
	all, service, ttl, found, err := qe.ExecuteQuery(ctx, dc, name)
	if err != nil || !found {
		return nil, service, ttl, found, err
	}
	out := make([]catalog.Instance, 0, len(all))
	for _, in := range all {
		if in.Service != nil && z.Allowed(acl.ResourceService, in.Service.Service, acl.AccessRead) &&
			in.Node != nil && z.Allowed(acl.ResourceNode, in.Node.Node, acl.AccessRead) {
			out = append(out, in)
		}
	}
	return out, service, ttl, true, nil
}
