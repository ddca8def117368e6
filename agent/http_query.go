package agent

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/dns"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// Prepared queries (/v1/query) are kept in the KV store, replicated by
// Raft like everything else: the definition as JSON at
// shoal/queries/<id>, and a claim on its name at shoal/query-names/<name>
// written in the same transaction, so two queries never share a name.
const (
	queryPrefix     = "shoal/queries/"
	queryNamePrefix = "shoal/query-names/"
)

func (a *Agent) queryRoutes() []route {
	return []route{
		{"/v1/query", []string{http.MethodGet, http.MethodPost}, a.queryList},
		{"/v1/query/{id}", []string{http.MethodGet, http.MethodPut, http.MethodDelete}, a.querySpecific},
		{"/v1/query/{id}/execute", get, a.queryExecute},
	}
}

// preparedQuery is Consul's api.PreparedQueryDefinition, less what Shoal
// does not have (Connect, peers, sameness groups, templates).
type preparedQuery struct {
	ID          string
	Name        string
	Session     string
	Token       string
	Service     serviceQuery
	DNS         queryDNS
	Template    queryTemplate
	CreateIndex uint64
	ModifyIndex uint64
}

type serviceQuery struct {
	Service        string
	Failover       queryFailover
	IgnoreCheckIDs []string
	OnlyPassing    bool
	Near           string
	Tags           []string
	NodeMeta       map[string]string
	ServiceMeta    map[string]string
}

// queryFailover is kept as given; Shoal has a single datacenter, so
// there is never another one to fail over to.
type queryFailover struct {
	NearestN    int
	Datacenters []string
}

type queryDNS struct{ TTL string }

type queryTemplate struct {
	Type            string
	Regexp          string
	RemoveEmptyTags bool
}

// validate checks a definition as Consul's parseQuery does.
func (q *preparedQuery) validate() error {
	if q.Template.Type != "" {
		return badRequest("Prepared query templates are not supported")
	}
	if q.Service.Service == "" {
		return badRequest("Must provide a Service name to query")
	}
	if q.Service.Failover.NearestN < 0 {
		return badRequest("Bad NearestN '%d', must be >= 0", q.Service.Failover.NearestN)
	}
	if q.Name != "" && isUUID(q.Name) {
		return badRequest("Query name cannot be a UUID")
	}
	if strings.Contains(q.Name, "/") {
		return badRequest("Query name cannot contain '/'")
	}
	if q.DNS.TTL != "" {
		if d, err := time.ParseDuration(q.DNS.TTL); err != nil || d < 0 {
			return badRequest("Bad DNS TTL '%s': %v", q.DNS.TTL, err)
		}
	}
	return nil
}

// isUUID reports whether s is shaped like a UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// queries reads every prepared query with the request's options.
func (a *Agent) queries(r *http.Request) ([]*preparedQuery, rpcapi.QueryMeta, error) {
	var opts rpcapi.QueryOptions
	if err := parseQuery(r, &opts); err != nil {
		return nil, rpcapi.QueryMeta{}, err
	}
	return a.readQueries(r.Context(), opts)
}

// readQueries reads every prepared query.
func (a *Agent) readQueries(ctx context.Context, opts rpcapi.QueryOptions) ([]*preparedQuery, rpcapi.QueryMeta, error) {
	args := rpcapi.KeyRequest{Key: queryPrefix, QueryOptions: opts}
	var reply rpcapi.IndexedEntries
	if err := a.delegate.RPC(ctx, "KVS.List", &args, &reply); err != nil {
		return nil, rpcapi.QueryMeta{}, err
	}
	out := []*preparedQuery{}
	for _, e := range reply.Entries {
		var q preparedQuery
		if err := json.Unmarshal(e.Value, &q); err != nil {
			a.logger.Warn("query: unreadable prepared query", "key", e.Key, "error", err)
			continue
		}
		q.CreateIndex, q.ModifyIndex = e.CreateIndex, e.ModifyIndex
		out = append(out, &q)
	}
	live, err := a.liveSessions(ctx, out, opts)
	if err != nil {
		return nil, rpcapi.QueryMeta{}, err
	}
	kept := out[:0]
	for _, q := range out {
		if q.Session == "" || live[q.Session] {
			kept = append(kept, q)
			continue
		}
		a.removeQuery(ctx, q)
	}
	return kept, reply.QueryMeta, nil
}

// removeQuery deletes a query whose session ended, and frees its name;
// best effort: the next read tries again.
func (a *Agent) removeQuery(ctx context.Context, q *preparedQuery) {
	ops := []kv.TxnOp{{Verb: kv.OpDeleteCAS, Entry: kv.Entry{Key: queryPrefix + q.ID, ModifyIndex: q.ModifyIndex}}}
	if q.Name != "" {
		ops = append(ops, kv.TxnOp{Verb: kv.OpDelete, Entry: kv.Entry{Key: queryNamePrefix + q.Name}})
	}
	var resp rpcapi.TxnResponse
	if err := a.delegate.RPC(ctx, "Txn.Apply", &rpcapi.TxnRequest{Ops: ops}, &resp); err != nil {
		a.logger.Debug("query: removing a query whose session ended", "id", q.ID, "error", err)
	}
}

// liveSessions returns the sessions that exist among those the queries
// are bound to (nil when none is bound). A query whose session is gone is
// treated as deleted, as Consul deletes it when the session ends.
func (a *Agent) liveSessions(ctx context.Context, qs []*preparedQuery, opts rpcapi.QueryOptions) (map[string]bool, error) {
	bound := false
	for _, q := range qs {
		bound = bound || q.Session != ""
	}
	if !bound {
		return nil, nil
	}
	args := rpcapi.DCRequest{QueryOptions: opts}
	args.MinQueryIndex = 0 // the KV read already waited
	var reply rpcapi.IndexedSessions
	if err := a.delegate.RPC(ctx, "Session.List", &args, &reply); err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, s := range reply.Sessions {
		live[s.ID] = true
	}
	return live, nil
}

// checkSession refuses a query bound to a session that does not exist.
func (a *Agent) checkSession(r *http.Request, q *preparedQuery) error {
	if q.Session == "" {
		return nil
	}
	live, err := a.liveSessions(r.Context(), []*preparedQuery{q}, rpcapi.QueryOptions{})
	if err != nil {
		return err
	}
	if !live[q.Session] {
		return badRequest("invalid session %q", q.Session)
	}
	return nil
}

// findQuery returns the query with this ID or, with byName, name.
func (a *Agent) findQuery(r *http.Request, idOrName string, byName bool) (*preparedQuery, rpcapi.QueryMeta, error) {
	all, meta, err := a.queries(r)
	if err != nil {
		return nil, meta, err
	}
	return lookupQuery(all, meta, idOrName, byName)
}

func lookupQuery(all []*preparedQuery, meta rpcapi.QueryMeta, idOrName string, byName bool) (*preparedQuery, rpcapi.QueryMeta, error) {
	for _, q := range all {
		if q.ID == idOrName || (byName && q.Name != "" && q.Name == idOrName) {
			return q, meta, nil
		}
	}
	return nil, meta, HTTPError{Code: http.StatusNotFound, Msg: "Query not found"}
}

func decodeQuery(r *http.Request) (*preparedQuery, error) {
	var q preparedQuery
	if err := decodeBody(r, &q); err != nil {
		return nil, err
	}
	return &q, q.validate()
}

// writeQuery stores q in one transaction: its definition, its name claim
// (refused if another query holds the name) and the release of oldName.
func (a *Agent) writeQuery(r *http.Request, q *preparedQuery, oldName string) error {
	// Reading first removes queries whose session ended, freeing names.
	if _, _, err := a.readQueries(r.Context(), rpcapi.QueryOptions{}); err != nil {
		return err
	}
	body, err := json.Marshal(q)
	if err != nil {
		return err
	}
	var ops []kv.TxnOp
	if q.Name != oldName && q.Name != "" {
		ops = append(ops,
			kv.TxnOp{Verb: kv.OpCheckNotExists, Entry: kv.Entry{Key: queryNamePrefix + q.Name}},
			kv.TxnOp{Verb: kv.OpSet, Entry: kv.Entry{Key: queryNamePrefix + q.Name, Value: []byte(q.ID)}})
	}
	if q.Name != oldName && oldName != "" {
		ops = append(ops, kv.TxnOp{Verb: kv.OpDelete, Entry: kv.Entry{Key: queryNamePrefix + oldName}})
	}
	ops = append(ops, kv.TxnOp{Verb: kv.OpSet, Entry: kv.Entry{Key: queryPrefix + q.ID, Value: body}})
	return a.applyQueryTxn(r, ops, q.Name)
}

func (a *Agent) applyQueryTxn(r *http.Request, ops []kv.TxnOp, name string) error {
	args := rpcapi.TxnRequest{Ops: ops}
	var resp rpcapi.TxnResponse
	if err := a.delegate.RPC(r.Context(), "Txn.Apply", &args, &resp); err != nil {
		return err
	}
	if len(resp.Errors) > 0 {
		return badRequest("Name '%s' aliases an existing query name", name)
	}
	return nil
}

// queryList answers GET (every query) and POST (create) on /v1/query.
func (a *Agent) queryList(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Method == http.MethodPost {
		q, err := decodeQuery(r)
		if err != nil {
			return nil, err
		}
		q.ID = newUUID()
		if err := a.checkSession(r, q); err != nil {
			return nil, err
		}
		if err := a.writeQuery(r, q, ""); err != nil {
			return nil, err
		}
		return map[string]string{"ID": q.ID}, nil
	}
	all, meta, err := a.queries(r)
	if err != nil {
		return nil, err
	}
	setMeta(w, &meta)
	return all, nil
}

// querySpecific answers GET, PUT (update) and DELETE on /v1/query/<id>.
func (a *Agent) querySpecific(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	cur, meta, err := a.findQuery(r, id, false)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case http.MethodGet:
		setMeta(w, &meta)
		return []*preparedQuery{cur}, nil
	case http.MethodPut:
		q, err := decodeQuery(r)
		if err != nil {
			return nil, err
		}
		q.ID = cur.ID
		if err := a.checkSession(r, q); err != nil {
			return nil, err
		}
		return nil, a.writeQuery(r, q, cur.Name)
	default:
		ops := []kv.TxnOp{{Verb: kv.OpDelete, Entry: kv.Entry{Key: queryPrefix + cur.ID}}}
		if cur.Name != "" {
			ops = append(ops, kv.TxnOp{Verb: kv.OpDelete, Entry: kv.Entry{Key: queryNamePrefix + cur.Name}})
		}
		return nil, a.applyQueryTxn(r, ops, cur.Name)
	}
}

// queryExecuteResponse is Consul's api.PreparedQueryExecuteResponse.
type queryExecuteResponse struct {
	Service    string
	Nodes      []healthServiceJSON
	DNS        queryDNS
	Datacenter string
	Failovers  int
	// instances are Nodes as the catalog has them, for DNS.
	instances []catalog.Instance
}

// queryExecute answers /v1/query/<id or name>/execute.
func (a *Agent) queryExecute(w http.ResponseWriter, r *http.Request) (any, error) {
	var opts rpcapi.QueryOptions
	if err := parseQuery(r, &opts); err != nil {
		return nil, err
	}
	limit := 0
	if s := query(r).Get("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			return nil, badRequest("Invalid limit %q", s)
		}
	}
	out, meta, err := a.executeQuery(r.Context(), r.PathValue("id"), query(r).Get("near"), opts, limit)
	if err != nil {
		return nil, err
	}
	setMeta(w, &meta)
	return out, nil
}

// executeQuery runs a query, by ID or name: the service's healthy
// instances (never critical ones; with OnlyPassing, passing ones only,
// ignoring IgnoreCheckIDs), filtered by tags ("!tag" excludes), node and
// service meta, sorted by near (else the query's Near), else shuffled, and
// cut at limit (0: no limit). An unknown query is a 404 HTTPError.
func (a *Agent) executeQuery(ctx context.Context, idOrName, near string, opts rpcapi.QueryOptions, limit int) (*queryExecuteResponse, rpcapi.QueryMeta, error) {
	all, meta, err := a.readQueries(ctx, opts)
	if err != nil {
		return nil, meta, err
	}
	q, _, err := lookupQuery(all, meta, idOrName, true)
	if err != nil {
		return nil, meta, err
	}
	args := rpcapi.ServiceSpecificRequest{ServiceName: q.Service.Service, NodeMetaFilters: q.Service.NodeMeta, QueryOptions: opts}
	var reply rpcapi.IndexedCheckServiceNodes
	if err := a.delegate.RPC(ctx, "Health.ServiceNodes", &args, &reply); err != nil {
		return nil, meta, err
	}
	out := &queryExecuteResponse{Service: q.Service.Service, Nodes: []healthServiceJSON{}, DNS: q.DNS,
		Datacenter: a.cfg.Datacenter, instances: []catalog.Instance{}}
	for _, n := range reply.Nodes {
		if !queryKeeps(q, n) {
			continue
		}
		out.instances = append(out.instances, n)
	}
	if near == "" {
		near = q.Service.Near
	}
	if rtt := a.rttsFrom(near); rtt != nil {
		sortNear(rtt, out.instances, func(n catalog.Instance) string {
			if n.Node == nil {
				return ""
			}
			return n.Node.Node
		})
	} else {
		rand.Shuffle(len(out.instances), func(i, j int) {
			out.instances[i], out.instances[j] = out.instances[j], out.instances[i]
		})
	}
	if limit > 0 && len(out.instances) > limit {
		out.instances = out.instances[:limit]
	}
	for _, n := range out.instances {
		out.Nodes = append(out.Nodes, healthServiceJSON{Node: n.Node, Service: a.toAgentService(n.Service), Checks: filterChecks(nil, n.Checks)})
	}
	return out, reply.QueryMeta, nil
}

// queryKeeps reports whether instance n passes q's health, tag and meta
// filters.
func queryKeeps(q *preparedQuery, n catalog.Instance) bool {
	ignored := map[string]bool{}
	for _, id := range q.Service.IgnoreCheckIDs {
		ignored[id] = true
	}
	for _, c := range n.Checks {
		if ignored[c.CheckID] {
			continue
		}
		if c.Status == catalog.HealthCritical || (q.Service.OnlyPassing && c.Status != catalog.HealthPassing) {
			return false
		}
	}
	tags := map[string]bool{}
	for _, t := range n.Service.Tags {
		tags[strings.ToLower(t)] = true
	}
	for _, t := range q.Service.Tags {
		if want, ok := strings.CutPrefix(t, "!"); ok {
			if tags[strings.ToLower(want)] {
				return false
			}
		} else if !tags[strings.ToLower(t)] {
			return false
		}
	}
	for k, v := range q.Service.ServiceMeta {
		if n.Service.Meta[k] != v {
			return false
		}
	}
	return true
}

// dnsExecuteQuery runs a prepared query for DNS (<name>.query.<domain>),
// stale when the DNS interface allows stale reads (dns_config.allow_stale).
func (a *Agent) dnsExecuteQuery(ctx context.Context, dc, name string, stale bool) ([]catalog.Instance, string, time.Duration, bool, error) {
	if dc != "" && !strings.EqualFold(dc, a.cfg.Datacenter) {
		return nil, "", 0, false, dns.ErrNoDatacenter
	}
	out, _, err := a.executeQuery(ctx, name, "", rpcapi.QueryOptions{AllowStale: stale}, 0)
	var he HTTPError
	if errors.As(err, &he) && he.Code == http.StatusNotFound {
		return nil, "", 0, false, nil
	}
	if err != nil {
		return nil, "", 0, false, err
	}
	var ttl time.Duration
	if out.DNS.TTL != "" {
		ttl, _ = time.ParseDuration(out.DNS.TTL) // checked when the query was written
	}
	return out.instances, out.Service, ttl, true, nil
}
