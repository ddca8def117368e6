package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/aclrules"
	"github.com/shoalproject/shoal/agent/local"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// routeACL is one HTTP route's ACL decision. Every route of apiRoutes has
// one in routeACLs: handler panics on a route without it, and
// TestEveryRouteHasACLDecision fails, so a route cannot be added without
// deciding who may call it. Exactly one of none, server, or check/filter
// is set. Decisions follow Consul's "ACL Required" for each endpoint.
type routeACL struct {
	// none says why the route needs no token (it reveals nothing a
	// network peer cannot learn, as Consul's /v1/status).
	none string
	// server: the servers decide (the /v1/acl endpoints check acl:read
	// and acl:write against the request's token themselves).
	server bool
	// check refuses, before the handler runs, a request the token may
	// not make. It may read (and restores) the request body.
	check func(a *Agent, z *acl.Authorizer, r *http.Request) error
	// filter removes from the handler's result what the token may not
	// read, as Consul filters list endpoints.
	filter *resultFilter
}

// resultFilter says which parts of a result are subject to which rule.
type resultFilter struct {
	// under names the member of an object result holding the collection
	// ("Services"); "" means the result itself.
	under string
	// keyed: map results whose keys name this resource (catalog/services).
	keyed acl.Resource
	// fields are checked on each element (list item or map value): every
	// non-empty value at a path must be readable.
	fields []aclField
	// only applies the filter when it reports true (nil: always).
	only func(r *http.Request) bool
}

// aclField names a resource held at a dotted path of an element; path ""
// is the element itself (a string).
type aclField struct {
	res  acl.Resource
	path string
}

func need(res acl.Resource, name string, lvl acl.Access) func(*Agent, *acl.Authorizer, *http.Request) error {
	return func(_ *Agent, z *acl.Authorizer, _ *http.Request) error { return z.Check(res, name, lvl) }
}

func needPath(res acl.Resource, param string, lvl acl.Access) func(*Agent, *acl.Authorizer, *http.Request) error {
	return func(_ *Agent, z *acl.Authorizer, r *http.Request) error { return z.Check(res, r.PathValue(param), lvl) }
}

func needGlobal(global string, lvl acl.Access) func(*Agent, *acl.Authorizer, *http.Request) error {
	return func(_ *Agent, z *acl.Authorizer, _ *http.Request) error { return z.CheckGlobal(global, lvl) }
}

// needAgent checks agent:<lvl> on this agent's node name.
func needAgent(lvl acl.Access) func(*Agent, *acl.Authorizer, *http.Request) error {
	return func(a *Agent, z *acl.Authorizer, _ *http.Request) error {
		return z.Check(acl.ResourceAgent, a.cfg.NodeName, lvl)
	}
}

func filterBy(fields ...aclField) *resultFilter { return &resultFilter{fields: fields} }

var (
	nodeField        = aclField{acl.ResourceNode, "Node"}
	serviceNameField = aclField{acl.ResourceService, "ServiceName"}
)

const statusWhy = "cluster status a network peer learns from gossip anyway (Consul requires none)"

// routeACLs is the decision of every route, keyed by its pattern.
func routeACLs() map[string]routeACL {
	read, write := acl.AccessRead, acl.AccessWrite
	return map[string]routeACL{
		"/v1/status/leader":          {none: statusWhy},
		"/v1/status/peers":           {none: statusWhy},
		"/v1/catalog/datacenters":    {none: "the datacenter name only (Consul requires none)"},
		"/v1/shoal/validate":         {none: "validates the posted spec; reads and writes nothing"},
		"/v1/agent/version":          {none: "the build version (Consul requires none)"},
		"/v1/coordinate/datacenters": {none: "the datacenter name only (Consul requires none)"},
		"/v1/internal/acl/authorize": {none: "answers for the caller's own token only (Consul requires none)"},

		"/v1/agent/host":    {check: needGlobal(acl.GlobalOperator, read)},
		"/v1/agent/monitor": {check: needAgent(read)},
		"/v1/operator/autopilot/configuration": {check: func(_ *Agent, z *acl.Authorizer, r *http.Request) error {
			if r.Method == http.MethodPut {
				return z.CheckGlobal(acl.GlobalOperator, write)
			}
			return z.CheckGlobal(acl.GlobalOperator, read)
		}},
		"/v1/operator/autopilot/health": {check: needGlobal(acl.GlobalOperator, read)},
		"/v1/operator/autopilot/state":  {check: needGlobal(acl.GlobalOperator, read)},
		"/v1/event/fire/{name...}":      {check: needPath(acl.ResourceEvent, "name", write)},
		"/v1/event/list":                {filter: filterBy(aclField{acl.ResourceEvent, "Name"})},
		"/v1/coordinate/nodes":          {filter: filterBy(nodeField)},
		"/v1/coordinate/node/{node...}": {check: needPath(acl.ResourceNode, "node", read)},
		// Prepared queries: query rules here; they are stored in KV, so the
		// servers also apply key rules on shoal/queries/ (docs/acl.md).
		"/v1/query": {check: checkQueryCreate, filter: &resultFilter{fields: []aclField{{acl.ResourceQuery, "Name"}},
			only: func(r *http.Request) bool { return r.Method == http.MethodGet }}},
		"/v1/query/{id}": {check: checkQueryChange, filter: &resultFilter{fields: []aclField{{acl.ResourceQuery, "Name"}},
			only: func(r *http.Request) bool { return r.Method == http.MethodGet }}},
		"/v1/query/{id}/execute": {filter: &resultFilter{under: "Nodes",
			fields: []aclField{{acl.ResourceNode, "Node.Node"}, {acl.ResourceService, "Service.Service"}}}},

		"/v1/agent/self":                    {check: needAgent(read)},
		"/v1/agent/metrics":                 {check: needAgent(read)},
		"/v1/agent/members":                 {filter: filterBy(aclField{acl.ResourceNode, "Name"})},
		"/v1/agent/join/{addr...}":          {check: needAgent(write)},
		"/v1/agent/leave":                   {check: needAgent(write)},
		"/v1/agent/reload":                  {check: needAgent(write)},
		"/v1/agent/force-leave/{node}":      {check: needGlobal(acl.GlobalOperator, write)},
		"/v1/operator/raft/configuration":   {check: needGlobal(acl.GlobalOperator, read)},
		"/v1/operator/raft/peer":            {check: needGlobal(acl.GlobalOperator, write)},
		"/v1/operator/raft/transfer-leader": {check: needGlobal(acl.GlobalOperator, write)},
		"/v1/shoal/overlay":                 {check: needGlobal(acl.GlobalOperator, read)},
		"/v1/operator/keyring": {check: func(_ *Agent, z *acl.Authorizer, r *http.Request) error {
			if r.Method == http.MethodGet {
				return z.CheckGlobal(acl.GlobalKeyring, read)
			}
			return z.CheckGlobal(acl.GlobalKeyring, write)
		}},
		"/v1/snapshot": {check: needGlobal(acl.GlobalACL, write)}, // Consul: a management token

		"/v1/catalog/register":          {check: checkCatalogRegister},
		"/v1/catalog/deregister":        {check: checkCatalogDeregister},
		"/v1/catalog/nodes":             {filter: filterBy(nodeField)},
		"/v1/catalog/services":          {filter: &resultFilter{keyed: acl.ResourceService}},
		"/v1/catalog/service/{name...}": {filter: filterBy(serviceNameField, nodeField)},
		"/v1/catalog/node/{node...}": {check: needPath(acl.ResourceNode, "node", read),
			filter: &resultFilter{under: "Services", fields: []aclField{{acl.ResourceService, "Service"}}}},
		"/v1/catalog/node-services/{node...}": {check: needPath(acl.ResourceNode, "node", read),
			filter: &resultFilter{under: "Services", fields: []aclField{{acl.ResourceService, "Service"}}}},

		"/v1/health/node/{node...}":       {filter: filterBy(nodeField, serviceNameField)},
		"/v1/health/checks/{service...}":  {filter: filterBy(nodeField, serviceNameField)},
		"/v1/health/state/{state...}":     {filter: filterBy(nodeField, serviceNameField)},
		"/v1/health/service/{service...}": {filter: filterBy(aclField{acl.ResourceNode, "Node.Node"}, aclField{acl.ResourceService, "Service.Service"})},

		"/v1/agent/services":                    {filter: filterBy(aclField{acl.ResourceService, "Service"})},
		"/v1/agent/checks":                      {filter: filterBy(nodeField, serviceNameField)},
		"/v1/agent/service/{id...}":             {check: localService(read)},
		"/v1/agent/service/register":            {check: checkAgentServiceRegister},
		"/v1/agent/service/deregister/{id...}":  {check: localService(write)},
		"/v1/agent/service/maintenance/{id...}": {check: localService(write)},
		"/v1/agent/check/register":              {check: checkAgentCheckRegister},
		"/v1/agent/check/deregister/{id...}":    {check: localCheck},
		"/v1/agent/check/pass/{id...}":          {check: localCheck},
		"/v1/agent/check/warn/{id...}":          {check: localCheck},
		"/v1/agent/check/fail/{id...}":          {check: localCheck},
		"/v1/agent/check/update/{id...}":        {check: localCheck},
		"/v1/agent/maintenance": {check: func(a *Agent, z *acl.Authorizer, _ *http.Request) error {
			return z.Check(acl.ResourceNode, a.cfg.NodeName, write)
		}},
		"/v1/agent/health/service/name/{name...}": {check: needPath(acl.ResourceService, "name", read)},
		"/v1/agent/health/service/id/{id...}":     {check: localService(read)},

		"/v1/kv/{key...}": {check: checkKV, filter: &resultFilter{fields: []aclField{{acl.ResourceKey, "Key"}, {acl.ResourceKey, ""}},
			only: kvListing}},
		"/v1/txn": {check: checkTxn, filter: &resultFilter{under: "Results", fields: []aclField{{acl.ResourceKey, "KV.Key"}}}},

		"/v1/session/create":       {check: checkSessionCreate},
		"/v1/session/destroy/{id}": {check: checkSessionWrite},
		"/v1/session/renew/{id}":   {check: checkSessionWrite},
		"/v1/session/info/{id}":    {filter: filterBy(aclField{acl.ResourceSession, "Node"})},
		"/v1/session/node/{node}":  {filter: filterBy(aclField{acl.ResourceSession, "Node"})},
		"/v1/session/list":         {filter: filterBy(aclField{acl.ResourceSession, "Node"})},

		"/v1/shoal/services":                  {filter: filterBy(aclField{acl.ResourceDeploy, "Name"})},
		"/v1/shoal/services/{name}":           {check: needPath(acl.ResourceDeploy, "name", read)},
		"/v1/shoal/services/{name}/rebalance": {check: needPath(acl.ResourceDeploy, "name", write)},
		"/v1/shoal/services/{name}/versions":  {check: needPath(acl.ResourceDeploy, "name", read)},
		// The rollback writes the old spec through KVS.Apply with the
		// caller's token, so the servers also check key write on the spec
		// and, for a spec that reaches the host, operator write.
		"/v1/shoal/services/{name}/rollback": {check: needPath(acl.ResourceDeploy, "name", write)},
		"/v1/shoal/allocs":                   {filter: filterBy(aclField{acl.ResourceDeploy, "Service"})},
		"/v1/shoal/allocs/{id}/logs":         {check: checkAllocLogs},

		"/v1/acl/bootstrap":          {server: true},
		"/v1/acl/token":              {server: true},
		"/v1/acl/token/self":         {server: true},
		"/v1/acl/token/{id}":         {server: true},
		"/v1/acl/tokens":             {server: true},
		"/v1/acl/policy":             {server: true},
		"/v1/acl/policy/{id}":        {server: true},
		"/v1/acl/policy/name/{name}": {server: true},
		"/v1/acl/policies":           {server: true},
		"/v1/acl/role":               {server: true},
		"/v1/acl/role/{id}":          {server: true},
		"/v1/acl/role/name/{name}":   {server: true},
		"/v1/acl/roles":              {server: true},
		"/v1/agent/token/{kind}":     {check: needGlobal(acl.GlobalACL, write)},
	}
}

// kvListing reports whether a KV request lists (?recurse or ?keys), which
// is filtered rather than refused, as in Consul.
func kvListing(r *http.Request) bool {
	q := query(r)
	_, recurse := q["recurse"]
	_, keys := q["keys"]
	return r.Method == http.MethodGet && (recurse || keys)
}

// checkQueryCreate: creating a prepared query needs query:write on its
// name (an unnamed one on ""); listing is filtered.
func checkQueryCreate(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	if r.Method != http.MethodPost {
		return nil
	}
	b, err := peekBody(r, maxBodySize)
	if err != nil {
		return err
	}
	var body struct{ Name string }
	_ = json.Unmarshal(b, &body)
	return z.Check(acl.ResourceQuery, body.Name, acl.AccessWrite)
}

// checkQueryChange: an update needs query:write on the new name; a delete
// names only the ID, so it needs write on every query name (stricter than
// Consul, which checks the stored query's name).
func checkQueryChange(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	switch r.Method {
	case http.MethodPut:
		b, err := peekBody(r, maxBodySize)
		if err != nil {
			return err
		}
		var body struct{ Name string }
		_ = json.Unmarshal(b, &body)
		return z.Check(acl.ResourceQuery, body.Name, acl.AccessWrite)
	case http.MethodDelete:
		return z.CheckWritePrefix(acl.ResourceQuery, "")
	}
	return nil
}

// peekBody reads the request body (up to limit) and puts it back for the
// handler.
func peekBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err != nil {
		return nil, badRequest("Request body read failed: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

func checkCatalogRegister(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	b, err := peekBody(r, 8<<20)
	if err != nil {
		return err
	}
	var body struct {
		Node    string
		Service *struct{ Service string }
	}
	_ = json.Unmarshal(b, &body) // the handler reports bad bodies
	if err := z.Check(acl.ResourceNode, body.Node, acl.AccessWrite); err != nil {
		return err
	}
	if body.Service != nil {
		return z.Check(acl.ResourceService, body.Service.Service, acl.AccessWrite)
	}
	return nil
}

func checkCatalogDeregister(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	b, err := peekBody(r, 8<<20)
	if err != nil {
		return err
	}
	var body struct{ Node string }
	_ = json.Unmarshal(b, &body)
	return z.Check(acl.ResourceNode, body.Node, acl.AccessWrite)
}

// localService checks lvl on the service name of the local service whose
// ID is the path's {id} (nothing when there is none: the handler 404s).
func localService(lvl acl.Access) func(*Agent, *acl.Authorizer, *http.Request) error {
	return func(a *Agent, z *acl.Authorizer, r *http.Request) error {
		if a.local == nil {
			return nil
		}
		if s := a.local.state.Service(r.PathValue("id")); s != nil {
			return z.Check(acl.ResourceService, s.Service, lvl)
		}
		return nil
	}
}

// localCheck needs service:write on a service check's service, else
// node:write on this node.
func localCheck(a *Agent, z *acl.Authorizer, r *http.Request) error {
	if a.local != nil {
		if c := a.local.state.Check(r.PathValue("id")); c != nil && c.ServiceName != "" {
			return z.Check(acl.ResourceService, c.ServiceName, acl.AccessWrite)
		}
	}
	return z.Check(acl.ResourceNode, a.cfg.NodeName, acl.AccessWrite)
}

func checkAgentServiceRegister(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	b, err := peekBody(r, 8<<20)
	if err != nil {
		return err
	}
	def, err := local.DecodeService(b)
	if err != nil {
		return nil // the handler reports it
	}
	return z.Check(acl.ResourceService, def.Name, acl.AccessWrite)
}

func checkAgentCheckRegister(a *Agent, z *acl.Authorizer, r *http.Request) error {
	b, err := peekBody(r, 8<<20)
	if err != nil {
		return err
	}
	if def, err := local.DecodeCheck(b); err == nil && def.ServiceID != "" && a.local != nil {
		if s := a.local.state.Service(def.ServiceID); s != nil {
			return z.Check(acl.ResourceService, s.Service, acl.AccessWrite)
		}
	}
	return z.Check(acl.ResourceNode, a.cfg.NodeName, acl.AccessWrite)
}

// checkKV: a read needs key:read (recurse and keys are filtered instead),
// a write key:write, a recursive delete write on the whole prefix
// (CVE-2019-12291). Writes under shoal/services/ also need deploy rules
// (aclrules).
func checkKV(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	key := r.PathValue("key")
	_, recurse := query(r)["recurse"]
	switch r.Method {
	case http.MethodGet:
		if kvListing(r) {
			return nil
		}
		return aclrules.KVOp(z, kv.OpGet, key, nil)
	case http.MethodPut:
		var value []byte
		if _, ok := aclrules.SpecName(key); ok {
			b, err := peekBody(r, maxKVSize+1)
			if err != nil {
				return err
			}
			value = b
		}
		return aclrules.KVOp(z, kv.OpSet, key, value)
	}
	if recurse {
		return aclrules.KVOp(z, kv.OpDeleteTree, key, nil)
	}
	return aclrules.KVOp(z, kv.OpDelete, key, nil)
}

// checkTxn checks every operation of a transaction (CVE-2021-38698:
// Consul's /v1/txn once skipped the per-operation checks).
func checkTxn(_ *Agent, z *acl.Authorizer, r *http.Request) error {
	b, err := peekBody(r, maxTxnLen+1)
	if err != nil {
		return err
	}
	var body []txnOpBody
	if json.Unmarshal(b, &body) != nil {
		return nil // the handler reports it
	}
	ops := make([]kv.TxnOp, 0, len(body))
	for _, op := range body {
		if op.KV != nil { // others are refused by the handler
			ops = append(ops, kv.TxnOp{Verb: op.KV.Verb, Entry: kv.Entry{Key: op.KV.Key, Value: op.KV.Value}})
		}
	}
	return aclrules.Txn(z, ops)
}

func checkSessionCreate(a *Agent, z *acl.Authorizer, r *http.Request) error {
	b, err := peekBody(r, 1<<20)
	if err != nil {
		return err
	}
	var body struct{ Node string }
	_ = json.Unmarshal(b, &body)
	if body.Node == "" {
		body.Node = a.cfg.NodeName
	}
	return z.Check(acl.ResourceSession, body.Node, acl.AccessWrite)
}

// checkSessionWrite needs session:write on the node of the session named
// by the path (nothing when it does not exist: the handler answers).
func checkSessionWrite(a *Agent, z *acl.Authorizer, r *http.Request) error {
	args := rpcapi.SessionSpecificRequest{SessionID: r.PathValue("id")}
	var reply rpcapi.IndexedSessions
	if err := a.delegate.RPC(r.Context(), "Session.Get", &args, &reply); err != nil {
		return err
	}
	for _, s := range reply.Sessions {
		if err := z.Check(acl.ResourceSession, s.Node, acl.AccessWrite); err != nil {
			return err
		}
	}
	return nil
}

// checkAllocLogs needs deploy:read on the allocation's service.
func checkAllocLogs(a *Agent, z *acl.Authorizer, r *http.Request) error {
	var reply rpcapi.IndexedAllocs
	if err := a.delegate.RPC(r.Context(), "Sched.ServiceAllocs", &rpcapi.ServiceAllocsRequest{}, &reply); err != nil {
		return err
	}
	id := r.PathValue("id")
	for _, al := range reply.Allocs {
		if al.ID == id {
			return z.Check(acl.ResourceDeploy, al.Service, acl.AccessRead)
		}
	}
	// Unknown to the servers: only a management-level token may probe
	// the drivers for it.
	return z.CheckGlobal(acl.GlobalOperator, acl.AccessRead)
}

// apply filters obj for z. It reports whether anything was removed; obj
// is returned unchanged when the filter does not apply.
func (f *resultFilter) apply(z *acl.Authorizer, r *http.Request, obj any) (any, bool, error) {
	if f.only != nil && !f.only(r) {
		return obj, false, nil
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 64-bit indexes exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, err
	}
	coll := v
	if f.under != "" {
		m, ok := v.(map[string]any)
		if !ok {
			return obj, false, nil
		}
		coll = m[f.under]
	}
	var out any
	removed := false
	switch c := coll.(type) {
	case []any:
		kept := []any{}
		for _, e := range c {
			if f.allowed(z, "", e) {
				kept = append(kept, e)
			} else {
				removed = true
			}
		}
		out = kept
	case map[string]any:
		kept := map[string]any{}
		for k, e := range c {
			if f.allowed(z, k, e) {
				kept[k] = e
			} else {
				removed = true
			}
		}
		out = kept
	default:
		return obj, false, nil
	}
	if !removed {
		return obj, false, nil
	}
	if f.under != "" {
		v.(map[string]any)[f.under] = out
		return v, true, nil
	}
	return out, true, nil
}

func (f *resultFilter) allowed(z *acl.Authorizer, key string, e any) bool {
	if f.keyed != "" && !z.Allowed(f.keyed, key, acl.AccessRead) {
		return false
	}
	for _, fl := range f.fields {
		name, ok := fieldAt(e, fl.path)
		if ok && name != "" && !z.Allowed(fl.res, name, acl.AccessRead) {
			return false
		}
	}
	return true
}

// fieldAt returns the string at a dotted path of a decoded JSON value.
func fieldAt(v any, path string) (string, bool) {
	if path != "" {
		for _, p := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return "", false
			}
			v = m[p]
		}
	}
	s, ok := v.(string)
	return s, ok
}
