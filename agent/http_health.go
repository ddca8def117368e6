package agent

import (
	"net/http"
	"strconv"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

func (a *Agent) healthRoutes() []route {
	return []route{
		{"/v1/health/node/{node...}", get, a.healthNodeChecks},
		{"/v1/health/checks/{service...}", get, a.healthServiceChecks},
		{"/v1/health/service/{service...}", get, a.healthServiceNodes},
		{"/v1/health/state/{state...}", get, a.healthChecksInState},
	}
}

func filterChecks(f *filter, checks []*catalog.HealthCheck) []*catalog.HealthCheck {
	out := []*catalog.HealthCheck{}
	for _, c := range checks {
		if f == nil || f.match(c) {
			if c.ServiceTags == nil {
				c.ServiceTags = []string{}
			}
			out = append(out, c)
		}
	}
	return out
}

func (a *Agent) healthNodeChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.NodeRequest{Node: r.PathValue("node")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.Node == "" {
		return nil, badRequest("Missing node name")
	}
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	var reply rpcapi.IndexedChecks
	if err := a.delegate.RPC(r.Context(), "Health.NodeChecks", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	return filterChecks(f, reply.Checks), nil
}

func (a *Agent) healthServiceChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ServiceChecksRequest{ServiceName: r.PathValue("service")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.ServiceName == "" {
		return nil, badRequest("Missing service name")
	}
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedChecks
	if err := a.delegate.RPC(r.Context(), "Health.ServiceChecks", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	return filterChecks(f, reply.Checks), nil
}

func (a *Agent) healthChecksInState(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ChecksInStateRequest{State: r.PathValue("state")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	// An unknown state matches no check: 200 [] as Consul answers.
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedChecks
	if err := a.delegate.RPC(r.Context(), "Health.ChecksInState", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	return filterChecks(f, reply.Checks), nil
}

// healthServiceJSON is one entry of /v1/health/service/<name>.
type healthServiceJSON struct {
	Node    *catalog.Node
	Service *agentServiceJSON
	Checks  []*catalog.HealthCheck
}

func (a *Agent) healthServiceNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ServiceSpecificRequest{ServiceName: r.PathValue("service")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.ServiceName == "" {
		return nil, badRequest("Missing service name")
	}
	q := query(r)
	if v, ok := q["passing"]; ok {
		args.PassingOnly = true
		if len(v) > 0 && v[0] != "" {
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return nil, badRequest("Invalid value for ?passing")
			}
			args.PassingOnly = b
		}
	}
	f, err := parseFilter(r, healthServiceJSON{})
	if err != nil {
		return nil, err
	}
	args.ServiceTags = q["tag"]
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedCheckServiceNodes
	if err := a.delegate.RPC(r.Context(), "Health.ServiceNodes", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	out := []healthServiceJSON{}
	for _, n := range reply.Nodes {
		e := healthServiceJSON{Node: n.Node, Service: a.toAgentService(n.Service), Checks: filterChecks(nil, n.Checks)}
		if f == nil || f.match(e) {
			out = append(out, e)
		}
	}
	sortNear(a.rtts(r), out, func(e healthServiceJSON) string {
		if e.Node == nil {
			return ""
		}
		return e.Node.Node
	})
	return out, nil
}
