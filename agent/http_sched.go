package agent

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/server"
)

// The scheduler's API lives under /v1/shoal/, beside Consul's: a Shoal
// addition that no Consul tool relies on.
func (a *Agent) schedRoutes() []route {
	return []route{
		{"/v1/shoal/services", get, a.schedServices},
		{"/v1/shoal/services/{name}", get, a.schedService},
		{"/v1/shoal/services/{name}/rebalance", put, a.schedRebalance},
		{"/v1/shoal/services/{name}/versions", get, a.schedVersions},
		{"/v1/shoal/services/{name}/rollback", put, a.schedRollback},
		{"/v1/shoal/allocs", get, a.schedAllocs},
		{"/v1/shoal/allocs/{id}/logs", get, a.schedLogs},
		{"/v1/shoal/validate", []string{http.MethodPost, http.MethodPut}, a.schedValidate},
		{"/v1/shoal/overlay", get, a.overlayLeases},
	}
}

// ServiceSummary is one service as `shoal svc ls` shows it.
type ServiceSummary struct {
	sched.ServiceStatus
	// Desired counts live replicas, Running those running, Healthy those
	// running and passing their check (or without one).
	Desired, Running, Healthy int
	// Outdated counts live replicas of another version.
	Outdated int
}

func summarize(st *sched.ServiceStatus, as []*sched.Alloc) ServiceSummary {
	s := ServiceSummary{ServiceStatus: *st}
	for _, x := range as {
		if x.Service != st.Name || !x.Live() {
			continue
		}
		s.Desired++
		if x.ClientStatus == sched.ClientRunning {
			s.Running++
			if x.Healthy {
				s.Healthy++
			}
		}
		if x.Version != st.Version {
			s.Outdated++
		}
	}
	return s
}

func (a *Agent) schedState(r *http.Request, service string) (*rpcapi.IndexedServiceStatuses, *rpcapi.IndexedAllocs, error) {
	var sargs rpcapi.DCRequest
	if err := parseQuery(r, &sargs.QueryOptions); err != nil {
		return nil, nil, err
	}
	var sts rpcapi.IndexedServiceStatuses
	if err := a.delegate.RPC(r.Context(), "Sched.Services", &sargs, &sts); err != nil {
		return nil, nil, err
	}
	aargs := rpcapi.ServiceAllocsRequest{Service: service}
	aargs.QueryOptions = sargs.QueryOptions
	aargs.MinQueryIndex = 0 // the statuses read above was the blocking one
	var as rpcapi.IndexedAllocs
	if err := a.delegate.RPC(r.Context(), "Sched.ServiceAllocs", &aargs, &as); err != nil {
		return nil, nil, err
	}
	return &sts, &as, nil
}

func (a *Agent) schedServices(w http.ResponseWriter, r *http.Request) (any, error) {
	sts, as, err := a.schedState(r, "")
	if err != nil {
		return nil, err
	}
	setMeta(w, &sts.QueryMeta)
	out := []ServiceSummary{}
	for _, st := range sts.Statuses {
		out = append(out, summarize(st, as.Allocs))
	}
	return out, nil
}

// ServiceDetail is one service with its allocations.
type ServiceDetail struct {
	ServiceSummary
	Allocs []*sched.Alloc
}

func (a *Agent) schedService(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	sts, as, err := a.schedState(r, name)
	if err != nil {
		return nil, err
	}
	setMeta(w, &as.QueryMeta)
	for _, st := range sts.Statuses {
		if st.Name == name {
			d := ServiceDetail{ServiceSummary: summarize(st, as.Allocs), Allocs: as.Allocs}
			if d.Allocs == nil {
				d.Allocs = []*sched.Alloc{}
			}
			return d, nil
		}
	}
	return nil, HTTPError{Code: http.StatusNotFound, Msg: "Service not found: " + name}
}

func (a *Agent) schedAllocs(w http.ResponseWriter, r *http.Request) (any, error) {
	q := query(r)
	var out []*sched.Alloc
	var meta rpcapi.QueryMeta
	if node := q.Get("node"); node != "" {
		args := rpcapi.NodeAllocsRequest{NodeID: node}
		if err := parseQuery(r, &args.QueryOptions); err != nil {
			return nil, err
		}
		var reply rpcapi.IndexedAllocs
		if err := a.delegate.RPC(r.Context(), "Sched.NodeAllocs", &args, &reply); err != nil {
			return nil, err
		}
		out, meta = reply.Allocs, reply.QueryMeta
	} else {
		args := rpcapi.ServiceAllocsRequest{Service: q.Get("service")}
		if err := parseQuery(r, &args.QueryOptions); err != nil {
			return nil, err
		}
		var reply rpcapi.IndexedAllocs
		if err := a.delegate.RPC(r.Context(), "Sched.ServiceAllocs", &args, &reply); err != nil {
			return nil, err
		}
		out, meta = reply.Allocs, reply.QueryMeta
	}
	setMeta(w, &meta)
	if out == nil {
		out = []*sched.Alloc{}
	}
	return out, nil
}

func (a *Agent) schedRebalance(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.RebalanceRequest{Service: r.PathValue("name")}
	if s := query(r).Get("max-moves"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, badRequest("Invalid max-moves: %q", s)
		}
		args.MaxMoves = n
	}
	var reply rpcapi.RebalanceReply
	if err := a.delegate.RPC(r.Context(), "Sched.Rebalance", &args, &reply); err != nil {
		if rpcapi.IsRemote(err, server.ErrNoSuchService) {
			return nil, HTTPError{Code: http.StatusNotFound, Msg: err.Error()}
		}
		return nil, err
	}
	return reply, nil
}

func (a *Agent) schedValidate(w http.ResponseWriter, r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxKVSize+1))
	if err != nil {
		return nil, badRequest("Request body read failed: %v", err)
	}
	spec, err := sched.ParseSpec(body)
	if err == nil {
		err = sched.Limits{MaxReplicas: a.cfg.Scheduler.MaxReplicas}.Check(spec)
	}
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return map[string]any{"Name": spec.Name, "Version": spec.Version(), "Spec": spec}, nil
}

func (a *Agent) schedLogs(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	tail := 0
	if s := query(r).Get("tail"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest("Invalid tail: %q", s)
		}
		tail = n
	}
	names := make([]string, 0, len(a.drivers))
	for name, d := range a.drivers {
		names = append(names, name)
		var buf bytes.Buffer
		if err := d.Logs(r.Context(), id, tail, &buf); err == nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(buf.Bytes())
			return nil, nil
		}
	}
	slices.Sort(names)
	return nil, HTTPError{Code: http.StatusNotFound,
		Msg: "allocation " + id + " has no task on node " + a.cfg.NodeName + " (drivers: " + strings.Join(names, ",") + ")"}
}
