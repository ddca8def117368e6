package agent

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

// catalogRoutes returns every route of the catalog, health and agent
// service/check APIs.
func (a *Agent) catalogRoutes() []route {
	routes := []route{
		{"/v1/catalog/register", put, a.catalogRegister},
		{"/v1/catalog/deregister", put, a.catalogDeregister},
		{"/v1/catalog/nodes", get, a.catalogNodes},
		{"/v1/catalog/datacenters", get, a.catalogDatacenters},
		{"/v1/catalog/services", get, a.catalogServices},
		{"/v1/catalog/service/{name...}", get, a.catalogServiceNodes},
		{"/v1/catalog/node/{node...}", get, a.catalogNodeServices},
		{"/v1/catalog/node-services/{node...}", get, a.catalogNodeServiceList},
	}
	routes = append(routes, a.healthRoutes()...)
	return append(routes, a.agentServiceRoutes()...)
}

// parseNodeMeta reads the repeated ?node-meta=key:value filters.
func parseNodeMeta(r *http.Request) map[string]string {
	vals := query(r)["node-meta"]
	if len(vals) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, v := range vals {
		k, val, _ := strings.Cut(v, ":")
		out[k] = val
	}
	return out
}

func (a *Agent) catalogRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.RegisterRequest
	if err := decodeBody(r, &args.RegisterRequest); err != nil {
		return nil, err
	}
	if args.Node == "" {
		return nil, badRequest("Missing node name")
	}
	if args.Address == "" && !args.SkipNodeUpdate {
		return nil, badRequest("Missing node address")
	}
	if args.Service != nil && args.Service.Service == "" {
		return nil, badRequest("Missing service name")
	}
	if args.Service != nil {
		if err := validateMeta("Service Meta", args.Service.Meta); err != nil {
			return nil, err
		}
	}
	if svc := args.Service; svc != nil && (svc.Weights == nil || *svc.Weights == (catalog.Weights{})) {
		// The Go client always sends Weights; zero means unset, as in Consul.
		svc.Weights = &catalog.Weights{Passing: 1, Warning: 1}
	}
	if args.RegisterRequest.Datacenter == "" {
		args.RegisterRequest.Datacenter = a.cfg.Datacenter
	}
	if args.Check != nil {
		if err := validCheckStatus(args.Check.Status); err != nil {
			return nil, err
		}
	}
	for _, c := range args.Checks {
		if err := validCheckStatus(c.Status); err != nil {
			return nil, err
		}
	}
	var reply struct{}
	if err := a.delegate.RPC(r.Context(), "Catalog.Register", &args, &reply); err != nil {
		return nil, catalogWriteError(err)
	}
	return true, nil
}

func validCheckStatus(s string) error {
	switch s {
	case "", catalog.HealthPassing, catalog.HealthWarning, catalog.HealthCritical:
		return nil
	}
	return badRequest("Invalid check status: %q", s)
}

// catalogWriteError turns a write the catalog rejected as invalid into a
// 400.
func catalogWriteError(err error) error {
	for _, invalid := range []error{catalog.ErrMissingNode, catalog.ErrMissingService, catalog.ErrUnknownNode,
		catalog.ErrUnknownCheckService, catalog.ErrMissingCheckID} {
		if rpcapi.IsRemote(err, invalid) {
			return badRequest("%s", err.Error())
		}
	}
	return err
}

func (a *Agent) catalogDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.DeregisterRequest
	if err := decodeBody(r, &args.DeregisterRequest); err != nil {
		return nil, err
	}
	if args.Node == "" {
		return nil, badRequest("Missing node name")
	}
	var reply struct{}
	if err := a.delegate.RPC(r.Context(), "Catalog.Deregister", &args, &reply); err != nil {
		return nil, catalogWriteError(err)
	}
	return true, nil
}

func (a *Agent) catalogNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.NodeSpecificRequest
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	f, err := parseFilter(r, (*catalog.Node)(nil))
	if err != nil {
		return nil, err
	}
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedNodes
	if err := a.delegate.RPC(r.Context(), "Catalog.ListNodes", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	out := []*catalog.Node{}
	for _, n := range reply.Nodes {
		if f == nil || f.match(n) {
			out = append(out, n)
		}
	}
	sortNear(a.rtts(r), out, func(n *catalog.Node) string { return n.Node })
	return out, nil
}

func (a *Agent) catalogDatacenters(w http.ResponseWriter, r *http.Request) (any, error) {
	return []string{a.cfg.Datacenter}, nil
}

func (a *Agent) catalogServices(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.NodeSpecificRequest
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	f, err := parseFilter(r, (*catalog.ServiceNode)(nil))
	if err != nil {
		return nil, err
	}
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedServices
	if err := a.delegate.RPC(r.Context(), "Catalog.ListServices", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Services == nil {
		reply.Services = map[string][]string{}
	}
	if f == nil {
		return reply.Services, nil
	}
	return a.filterServices(r, args, reply.Services, f)
}

// filterServices applies ?filter to /v1/catalog/services as Consul does:
// to each instance (a ServiceNode); a service is listed with the tags of
// its matching instances, and left out when none matches. It reads each
// service's instances at the index the list was read at.
func (a *Agent) filterServices(r *http.Request, list rpcapi.NodeSpecificRequest, services map[string][]string, f *filter) (map[string][]string, error) {
	out := map[string][]string{}
	for name := range services {
		args := rpcapi.ServiceSpecificRequest{ServiceName: name, NodeMetaFilters: list.NodeMetaFilters}
		args.QueryOptions = list.QueryOptions
		args.MinQueryIndex = 0 // the list already waited
		var reply rpcapi.IndexedServiceNodes
		if err := a.delegate.RPC(r.Context(), "Catalog.ServiceNodes", &args, &reply); err != nil {
			return nil, err
		}
		for _, sn := range reply.ServiceNodes {
			if !f.match(sn) {
				continue
			}
			tags, seen := out[name]
			if !seen {
				tags = []string{}
			}
			for _, t := range sn.ServiceTags {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
			out[name] = tags
		}
	}
	return out, nil
}

func (a *Agent) catalogServiceNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.ServiceSpecificRequest{ServiceName: r.PathValue("name")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	if args.ServiceName == "" {
		return nil, badRequest("Missing service name")
	}
	f, err := parseFilter(r, (*catalog.ServiceNode)(nil))
	if err != nil {
		return nil, err
	}
	args.ServiceTags = query(r)["tag"]
	args.NodeMetaFilters = parseNodeMeta(r)
	var reply rpcapi.IndexedServiceNodes
	if err := a.delegate.RPC(r.Context(), "Catalog.ServiceNodes", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	out := []*catalog.ServiceNode{}
	for _, sn := range reply.ServiceNodes {
		if f == nil || f.match(sn) {
			out = append(out, sn)
		}
	}
	sortNear(a.rtts(r), out, func(sn *catalog.ServiceNode) string { return sn.Node })
	return out, nil
}

func (a *Agent) nodeServices(w http.ResponseWriter, r *http.Request) (*rpcapi.IndexedNodeServices, *filter, error) {
	args := rpcapi.NodeRequest{Node: r.PathValue("node")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, nil, err
	}
	if args.Node == "" {
		return nil, nil, badRequest("Missing node name")
	}
	f, err := parseFilter(r, (*agentServiceJSON)(nil))
	if err != nil {
		return nil, nil, err
	}
	var reply rpcapi.IndexedNodeServices
	if err := a.delegate.RPC(r.Context(), "Catalog.NodeServices", &args, &reply); err != nil {
		return nil, nil, err
	}
	setMeta(w, &reply.QueryMeta)
	sort.Slice(reply.Services, func(i, j int) bool { return reply.Services[i].ID < reply.Services[j].ID })
	return &reply, f, nil
}

// catalogNodeServices answers /v1/catalog/node/<node>: the node and a map
// of its services by ID, or null when the node is not registered.
func (a *Agent) catalogNodeServices(w http.ResponseWriter, r *http.Request) (any, error) {
	reply, f, err := a.nodeServices(w, r)
	if err != nil {
		return nil, err
	}
	if reply.Node == nil {
		return json.RawMessage("null"), nil
	}
	svcs := map[string]*agentServiceJSON{}
	for _, s := range reply.Services {
		as := a.toAgentService(s)
		if f == nil || f.match(as) {
			svcs[s.ID] = as
		}
	}
	return map[string]any{"Node": reply.Node, "Services": svcs}, nil
}

// catalogNodeServiceList answers /v1/catalog/node-services/<node>: the
// node and a list of its services.
func (a *Agent) catalogNodeServiceList(w http.ResponseWriter, r *http.Request) (any, error) {
	reply, f, err := a.nodeServices(w, r)
	if err != nil {
		return nil, err
	}
	svcs := []*agentServiceJSON{}
	for _, s := range reply.Services {
		as := a.toAgentService(s)
		if f == nil || f.match(as) {
			svcs = append(svcs, as)
		}
	}
	return map[string]any{"Node": reply.Node, "Services": svcs}, nil
}
