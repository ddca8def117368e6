package server

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"sync"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/aclrules"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
)

// ACLs are enforced where the data is served: every RPC a server reads —
// from a client agent, another server forwarding, or its own agent in
// process — passes aclCodec, which resolves the request's AuthToken
// against this server's state, refuses what the token may not do before
// the endpoint runs, and filters what it may not read out of the reply.
// Every endpoint method has a decision in rpcACLs
// (TestEveryRPCMethodHasACLDecision); a method without one is refused.

// errNoRPCDecision refuses a method that has no ACL decision: failing
// closed keeps a new endpoint from serving without authorization.
var errNoRPCDecision = errors.New("Permission denied: RPC method has no ACL decision")

// rpcACL is one RPC method's decision; exactly one of none, self, or
// check/filter is set.
type rpcACL struct {
	// none says why the method needs no token.
	none string
	// self: the endpoint checks the token itself (the ACL endpoints).
	self bool
	// check refuses a request before the endpoint runs.
	check func(s *Server, z *acl.Authorizer, args any) error
	// filter removes from the reply what z may not read and reports
	// whether it removed anything; it builds new slices and maps (the old
	// ones may be the state store's).
	filter func(z *acl.Authorizer, reply any) bool
}

// rpcACLTable is rpcACLs, built once: an immutable table.
var rpcACLTable = sync.OnceValue(rpcACLs)

func rpcACLs() map[string]rpcACL {
	read, write := acl.AccessRead, acl.AccessWrite
	raft := "Raft bootstrap and leader discovery between servers (Consul requires none)"
	return map[string]rpcACL{
		"Status.Leader":    {none: raft},
		"Status.Peers":     {none: raft},
		"Status.RaftStats": {none: raft},
		"Status.Following": {none: "a leader confirming its term for ?consistent reads (Consul's heartbeat round needs none)"},

		"Catalog.Register": {check: func(_ *Server, z *acl.Authorizer, a any) error {
			return checkRegister(z, &a.(*rpcapi.RegisterRequest).RegisterRequest)
		}},
		"Catalog.Deregister": {check: func(_ *Server, z *acl.Authorizer, a any) error {
			return checkDeregister(z, &a.(*rpcapi.DeregisterRequest).DeregisterRequest)
		}},
		"Catalog.Batch":        {check: checkBatch},
		"Catalog.ListNodes":    {filter: filterNodes},
		"Catalog.NodeChecks":   {filter: filterChecks},
		"Catalog.ListServices": {filter: filterServiceMap},
		"Catalog.ServiceNodes": {filter: filterServiceNodes},
		"Catalog.NodeServices": {filter: filterNodeServices},
		"Health.NodeChecks":    {filter: filterChecks},
		"Health.ServiceChecks": {filter: filterChecks},
		"Health.ChecksInState": {filter: filterChecks},
		"Health.ServiceNodes":  {filter: filterInstances},
		"Internal.NodeDump":    {filter: filterNodeDump},

		"KVS.Apply": {check: func(_ *Server, z *acl.Authorizer, a any) error {
			r := a.(*rpcapi.KVSRequest)
			return aclrules.KVOp(z, r.Op, r.Entry.Key, r.Entry.Value)
		}},
		"KVS.Get": {check: func(_ *Server, z *acl.Authorizer, a any) error {
			return z.Check(acl.ResourceKey, a.(*rpcapi.KeyRequest).Key, read)
		}},
		"KVS.List":     {filter: filterEntries},
		"KVS.ListKeys": {filter: filterKeys},
		"Txn.Apply":    {check: func(_ *Server, z *acl.Authorizer, a any) error { return aclrules.Txn(z, a.(*rpcapi.TxnRequest).Ops) }, filter: filterTxn},
		"Txn.Read": {check: func(_ *Server, z *acl.Authorizer, a any) error {
			return aclrules.Txn(z, a.(*rpcapi.TxnReadRequest).Ops)
		}, filter: filterTxn},

		"Session.Apply": {check: checkSessionApply},
		"Session.Renew": {check: func(s *Server, z *acl.Authorizer, a any) error {
			return s.checkSessionWrite(z, a.(*rpcapi.SessionRenewRequest).SessionID)
		}},
		"Session.Get":          {filter: filterSessions},
		"Session.List":         {filter: filterSessions},
		"Session.NodeSessions": {filter: filterSessions},

		"Operator.RaftGetConfiguration":      {check: func(_ *Server, z *acl.Authorizer, _ any) error { return z.CheckGlobal(acl.GlobalOperator, read) }},
		"Operator.ServerHealth":              {check: func(_ *Server, z *acl.Authorizer, _ any) error { return z.CheckGlobal(acl.GlobalOperator, read) }},
		"Operator.AutopilotGetConfiguration": {check: func(_ *Server, z *acl.Authorizer, _ any) error { return z.CheckGlobal(acl.GlobalOperator, read) }},
		"Operator.AutopilotSetConfiguration": {check: func(_ *Server, z *acl.Authorizer, _ any) error { return z.CheckGlobal(acl.GlobalOperator, write) }},
		"Operator.RaftRemovePeer":            {check: func(_ *Server, z *acl.Authorizer, _ any) error { return z.CheckGlobal(acl.GlobalOperator, write) }},
		"Operator.RaftTransferLeader":        {check: func(_ *Server, z *acl.Authorizer, _ any) error { return z.CheckGlobal(acl.GlobalOperator, write) }},

		"Sched.NodeAllocs":    {filter: filterAllocs},
		"Sched.ServiceAllocs": {filter: filterAllocs},
		"Sched.Services":      {filter: filterStatuses},
		"Sched.UpdateAllocs":  {check: checkUpdateAllocs},
		"Sched.Rebalance": {check: func(_ *Server, z *acl.Authorizer, a any) error {
			return z.Check(acl.ResourceDeploy, a.(*rpcapi.RebalanceRequest).Service, write)
		}},

		"ACL.Bootstrap": {self: true}, "ACL.TokenSet": {self: true}, "ACL.TokenGet": {self: true},
		"ACL.TokenList": {self: true}, "ACL.TokenDelete": {self: true}, "ACL.PolicySet": {self: true},
		"ACL.PolicyGet": {self: true}, "ACL.PolicyList": {self: true}, "ACL.PolicyDelete": {self: true},
		"ACL.RoleSet": {self: true}, "ACL.RoleGet": {self: true}, "ACL.RoleList": {self: true},
		"ACL.RoleDelete": {self: true},
		"ACL.Resolve":    {none: "knowing a secret is the permission to learn what it grants"},
	}
}

// aclCodec wraps a server codec with the ACL decisions.
type aclCodec struct {
	rpc.ServerCodec
	s *Server

	// method and seq are of the request being read; only the reading
	// goroutine touches them.
	method string
	seq    uint64

	mu      sync.Mutex
	pending map[uint64]*acl.Authorizer // by Seq, until the reply is written
}

func (s *Server) aclCodec(c rpc.ServerCodec) rpc.ServerCodec {
	if !s.cfg.ACL.Enabled {
		return c
	}
	return &aclCodec{ServerCodec: c, s: s, pending: map[uint64]*acl.Authorizer{}}
}

func (c *aclCodec) ReadRequestHeader(r *rpc.Request) error {
	err := c.ServerCodec.ReadRequestHeader(r)
	c.method, c.seq = r.ServiceMethod, r.Seq
	return err
}

// ReadRequestBody decodes the arguments, then decides. An error here is
// sent back as the call's error and the endpoint never runs.
func (c *aclCodec) ReadRequestBody(args any) error {
	if err := c.ServerCodec.ReadRequestBody(args); err != nil || args == nil {
		return err
	}
	z, err := c.s.authorizeRPC(c.method, args)
	if err != nil {
		return err
	}
	if z != nil {
		c.mu.Lock()
		c.pending[c.seq] = z
		c.mu.Unlock()
	}
	return nil
}

func (c *aclCodec) WriteResponse(resp *rpc.Response, reply any) error {
	c.mu.Lock()
	z := c.pending[resp.Seq]
	delete(c.pending, resp.Seq)
	c.mu.Unlock()
	if z != nil && resp.Error == "" && reply != nil {
		if d := rpcACLTable()[resp.ServiceMethod]; d.filter != nil && d.filter(z, reply) {
			if m, ok := reply.(interface{ QueryMetaOf() *rpcapi.QueryMeta }); ok {
				m.QueryMetaOf().ResultsFilteredByACLs = true
			}
		}
	}
	return c.ServerCodec.WriteResponse(resp, reply)
}

// authorizeRPC runs method's check for the token args carry. It returns
// the token's authorizer when the reply must be filtered.
func (s *Server) authorizeRPC(method string, args any) (*acl.Authorizer, error) {
	d, ok := rpcACLTable()[method]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s", errNoRPCDecision, method)
	case d.none != "" || d.self:
		return nil, nil
	}
	var secret string
	if a, ok := args.(rpcapi.Authenticated); ok {
		secret = a.Auth()
	}
	z, err := s.authorizer(secret)
	if err != nil {
		return nil, err
	}
	if d.check != nil {
		if err := d.check(s, z, args); err != nil {
			return nil, err
		}
	}
	if d.filter == nil {
		return nil, nil
	}
	return z, nil
}

func checkRegister(z *acl.Authorizer, r *catalog.RegisterRequest) error {
	if err := z.Check(acl.ResourceNode, r.Node, acl.AccessWrite); err != nil {
		return err
	}
	if r.Service != nil {
		return z.Check(acl.ResourceService, r.Service.Service, acl.AccessWrite)
	}
	return nil
}

func checkDeregister(z *acl.Authorizer, r *catalog.DeregisterRequest) error {
	return z.Check(acl.ResourceNode, r.Node, acl.AccessWrite)
}

// checkBatch is anti-entropy's batch: the agent token must write its node
// and services.
func checkBatch(_ *Server, z *acl.Authorizer, a any) error {
	b := a.(*rpcapi.BatchRequest)
	for _, r := range b.Register {
		if r == nil {
			continue
		}
		if err := checkRegister(z, r); err != nil {
			return err
		}
	}
	for _, r := range b.Deregister {
		if r == nil {
			continue
		}
		if err := checkDeregister(z, r); err != nil {
			return err
		}
	}
	return nil
}

func checkSessionApply(s *Server, z *acl.Authorizer, a any) error {
	r := a.(*rpcapi.SessionRequest)
	if r.Op == kv.SessionCreate {
		return z.Check(acl.ResourceSession, r.Session.Node, acl.AccessWrite)
	}
	return s.checkSessionWrite(z, r.Session.ID)
}

// checkSessionWrite needs session:write on the node of an existing
// session (nothing for one that does not exist: the endpoint answers).
func (s *Server) checkSessionWrite(z *acl.Authorizer, id string) error {
	tx := s.State().ReadTxn()
	defer tx.Abort()
	_, sess, err := kv.GetSession(tx, nil, id)
	if err != nil || sess == nil {
		return err
	}
	return z.Check(acl.ResourceSession, sess.Node, acl.AccessWrite)
}

// checkUpdateAllocs: an agent reports on its own node's allocations, so
// it needs node:write on that node.
func checkUpdateAllocs(s *Server, z *acl.Authorizer, a any) error {
	r := a.(*rpcapi.AllocUpdateRequest)
	tx := s.State().ReadTxn()
	defer tx.Abort()
	_, as, err := allocs.ByNode(tx, nil, r.NodeID)
	if err != nil {
		return err
	}
	for _, al := range as {
		return z.Check(acl.ResourceNode, al.NodeName, acl.AccessWrite)
	}
	return nil // no allocation: the update changes nothing
}

// keep sets *s to the elements of *s that ok accepts, in a new slice, and
// reports whether it dropped any.
func keep[T any](s *[]T, ok func(T) bool) bool {
	if *s == nil {
		return false
	}
	out := make([]T, 0, len(*s))
	for _, e := range *s {
		if ok(e) {
			out = append(out, e)
		}
	}
	dropped := len(out) != len(*s)
	*s = out
	return dropped
}

func readable(z *acl.Authorizer, res acl.Resource, name string) bool {
	return z.Allowed(res, name, acl.AccessRead)
}

func checkReadable(z *acl.Authorizer, c *catalog.HealthCheck) bool {
	return readable(z, acl.ResourceNode, c.Node) && (c.ServiceName == "" || readable(z, acl.ResourceService, c.ServiceName))
}

func filterNodes(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedNodes)
	return keep(&r.Nodes, func(n *catalog.Node) bool { return readable(z, acl.ResourceNode, n.Node) })
}

func filterChecks(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedChecks)
	return keep(&r.Checks, func(c *catalog.HealthCheck) bool { return checkReadable(z, c) })
}

func filterServiceMap(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedServices)
	out := make(map[string][]string, len(r.Services))
	for name, tags := range r.Services {
		if readable(z, acl.ResourceService, name) {
			out[name] = tags
		}
	}
	dropped := len(out) != len(r.Services)
	r.Services = out
	return dropped
}

func filterServiceNodes(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedServiceNodes)
	return keep(&r.ServiceNodes, func(sn *catalog.ServiceNode) bool {
		return readable(z, acl.ResourceNode, sn.Node) && readable(z, acl.ResourceService, sn.ServiceName)
	})
}

func filterNodeServices(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedNodeServices)
	if r.Node != nil && !readable(z, acl.ResourceNode, r.Node.Node) {
		r.Node, r.Services = nil, nil
		return true
	}
	return keep(&r.Services, func(s *catalog.Service) bool { return readable(z, acl.ResourceService, s.Service) })
}

func filterInstances(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedCheckServiceNodes)
	return keep(&r.Nodes, func(in catalog.Instance) bool {
		return in.Node != nil && in.Service != nil &&
			readable(z, acl.ResourceNode, in.Node.Node) && readable(z, acl.ResourceService, in.Service.Service)
	})
}

func filterNodeDump(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.NodeDump)
	if r.Node != nil && !readable(z, acl.ResourceNode, r.Node.Node) {
		r.Node, r.Services, r.Checks = nil, nil, nil
		return true
	}
	a := keep(&r.Services, func(s *catalog.Service) bool { return readable(z, acl.ResourceService, s.Service) })
	b := keep(&r.Checks, func(c *catalog.HealthCheck) bool { return checkReadable(z, c) })
	return a || b
}

func filterEntries(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedEntries)
	return keep(&r.Entries, func(e *kv.Entry) bool { return readable(z, acl.ResourceKey, e.Key) })
}

func filterKeys(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedKeyList)
	return keep(&r.Keys, func(k string) bool { return readable(z, acl.ResourceKey, k) })
}

func filterTxn(z *acl.Authorizer, reply any) bool {
	var r *rpcapi.TxnResponse
	switch x := reply.(type) {
	case *rpcapi.TxnResponse:
		r = x
	case *rpcapi.TxnReadResponse:
		r = &x.TxnResponse
	default:
		return false
	}
	return keep(&r.Results, func(t kv.TxnResult) bool { return t.KV == nil || readable(z, acl.ResourceKey, t.KV.Key) })
}

func filterSessions(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedSessions)
	return keep(&r.Sessions, func(s *kv.Session) bool { return readable(z, acl.ResourceSession, s.Node) })
}

// filterAllocs keeps an allocation the token may read through its service
// (deploy:read) or its node (node:read, as an agent reads its own).
func filterAllocs(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedAllocs)
	return keep(&r.Allocs, func(a *sched.Alloc) bool {
		return readable(z, acl.ResourceDeploy, a.Service) || readable(z, acl.ResourceNode, a.NodeName)
	})
}

func filterStatuses(z *acl.Authorizer, reply any) bool {
	r := reply.(*rpcapi.IndexedServiceStatuses)
	return keep(&r.Statuses, func(st *sched.ServiceStatus) bool { return readable(z, acl.ResourceDeploy, st.Name) })
}

// checkSnapshotToken: saving or restoring a snapshot needs a management
// token (acl:write), as in Consul.
func (s *Server) checkSnapshotToken(secret string) error {
	if !s.cfg.ACL.Enabled {
		return nil
	}
	z, err := s.authorizer(secret)
	if err != nil {
		return err
	}
	return z.CheckGlobal(acl.GlobalACL, acl.AccessWrite)
}

// ctxToken is the ACL token a caller put in ctx (rpcapi.WithAuthToken).
func ctxToken(ctx context.Context) string {
	t, _ := rpcapi.AuthTokenFrom(ctx)
	return t
}
