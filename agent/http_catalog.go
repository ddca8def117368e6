package agent

import (
	"encoding/json"
	"net/http"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

func (a *Agent) catalogRoutes() []route {
	return []route{
		{"/v1/catalog/register", put, a.catalogRegister},
		{"/v1/catalog/deregister", put, a.catalogDeregister},
		{"/v1/catalog/nodes", get, a.catalogNodes},
		{"/v1/catalog/datacenters", get, a.catalogDatacenters},
	}
}

func (a *Agent) catalogRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.RegisterRequest
	if err := json.NewDecoder(r.Body).Decode(&args.RegisterRequest); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	if args.Node == "" {
		return nil, badRequest("Missing node name")
	}
	if args.Service != nil && args.Service.Service == "" {
		return nil, badRequest("Missing service name")
	}
	var reply struct{}
	if err := a.delegate.RPC(r.Context(), "Catalog.Register", &args, &reply); err != nil {
		return nil, err
	}
	return true, nil
}

func (a *Agent) catalogDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.DeregisterRequest
	if err := json.NewDecoder(r.Body).Decode(&args.DeregisterRequest); err != nil {
		return nil, badRequest("Request decode failed: %v", err)
	}
	if args.Node == "" {
		return nil, badRequest("Missing node name")
	}
	var reply struct{}
	if err := a.delegate.RPC(r.Context(), "Catalog.Deregister", &args, &reply); err != nil {
		return nil, err
	}
	return true, nil
}

func (a *Agent) catalogNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.DCRequest
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.IndexedNodes
	if err := a.delegate.RPC(r.Context(), "Catalog.ListNodes", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if reply.Nodes == nil {
		reply.Nodes = []*catalog.Node{}
	}
	return reply.Nodes, nil
}

func (a *Agent) catalogDatacenters(w http.ResponseWriter, r *http.Request) (any, error) {
	return []string{a.cfg.Datacenter}, nil
}
