package agent

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server"
	"github.com/shoalproject/shoal/version"
)

var (
	get    = []string{http.MethodGet}
	put    = []string{http.MethodPut}
	getPut = []string{http.MethodGet, http.MethodPut}
)

func (a *Agent) statusRoutes() []route {
	return []route{
		{"/v1/status/leader", get, a.statusLeader},
		{"/v1/status/peers", get, a.statusPeers},
	}
}

func (a *Agent) statusLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	var leader string
	if err := a.delegate.RPC(r.Context(), "Status.Leader", &struct{}{}, &leader); err != nil {
		return nil, err
	}
	return leader, nil
}

func (a *Agent) statusPeers(w http.ResponseWriter, r *http.Request) (any, error) {
	var peers []string
	if err := a.delegate.RPC(r.Context(), "Status.Peers", &struct{}{}, &peers); err != nil {
		return nil, err
	}
	return peers, nil
}

func (a *Agent) agentRoutes() []route {
	return []route{
		{"/v1/agent/self", get, a.agentSelf},
		{"/v1/agent/members", get, a.agentMembers},
		{"/v1/agent/join/{addr...}", put, a.agentJoin},
		{"/v1/agent/leave", put, a.agentLeave},
		{"/v1/agent/force-leave/{node}", put, a.agentForceLeave},
		{"/v1/agent/metrics", get, a.agentMetrics},
	}
}

// member is a Serf member shaped as Consul's /v1/agent/members entries.
type member struct {
	Name        string
	Addr        string
	Port        uint16
	Tags        map[string]string
	Status      int
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

func toMember(m serf.Member) member {
	return member{
		Name: m.Name, Addr: m.Addr.String(), Port: m.Port, Tags: m.Tags, Status: int(m.Status),
		ProtocolMin: m.ProtocolMin, ProtocolMax: m.ProtocolMax, ProtocolCur: m.ProtocolCur,
		DelegateMin: m.DelegateMin, DelegateMax: m.DelegateMax, DelegateCur: m.DelegateCur,
	}
}

func (a *Agent) agentSelf(w http.ResponseWriter, r *http.Request) (any, error) {
	stats := map[string]map[string]string{}
	for k, v := range a.delegate.Stats() {
		stats[k] = v
	}
	stats["agent"] = a.localStats()
	stats["runtime"] = map[string]string{
		"os": runtime.GOOS, "arch": runtime.GOARCH, "version": runtime.Version(),
		"goroutines": itoa(runtime.NumGoroutine()), "max_procs": itoa(runtime.GOMAXPROCS(0)),
		"cpu_count": itoa(runtime.NumCPU()),
	}
	stats["build"] = map[string]string{"version": version.Version, "revision": version.GitCommit, "prerelease": ""}
	return map[string]any{
		"Config": map[string]any{
			"Datacenter":        a.cfg.Datacenter,
			"PrimaryDatacenter": a.cfg.Datacenter,
			"NodeName":          a.cfg.NodeName,
			"NodeID":            a.nodeID,
			"Server":            a.cfg.Server,
			"Revision":          version.GitCommit,
			"Version":           version.Version,
			"BuildDate":         "",
		},
		"Member": toMember(a.delegate.LocalMember()),
		"Stats":  stats,
		"Meta":   a.cfg.NodeMeta,
	}, nil
}

func (a *Agent) agentMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	f, err := parseFilter(r, member{})
	if err != nil {
		return nil, err
	}
	out := []member{}
	if query(r).Get("wan") == "1" {
		return out, nil // no WAN pool: a single datacenter
	}
	for _, m := range a.delegate.LANMembers() {
		if mm := toMember(m); f == nil || f.match(mm) {
			out = append(out, mm)
		}
	}
	return out, nil
}

func (a *Agent) agentJoin(w http.ResponseWriter, r *http.Request) (any, error) {
	addr := r.PathValue("addr")
	if addr == "" {
		return nil, badRequest("missing address to join")
	}
	if _, err := a.delegate.JoinLAN([]string{addr}); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *Agent) agentLeave(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := a.delegate.Leave(); err != nil {
		return nil, err
	}
	// Shut down after the response is written, as Consul does.
	go a.Leave()
	return nil, nil
}

func (a *Agent) agentForceLeave(w http.ResponseWriter, r *http.Request) (any, error) {
	node := r.PathValue("node")
	_, prune := query(r)["prune"]
	known := false
	for _, m := range a.delegate.LANMembers() {
		if m.Name == node {
			known = true
		}
	}
	if !known {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: "Unknown node: " + node}
	}
	if err := a.delegate.RemoveFailedNode(node, prune); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *Agent) agentMetrics(w http.ResponseWriter, r *http.Request) (any, error) {
	if query(r).Get("format") == "prometheus" || strings.Contains(r.Header.Get("Accept"), "text/plain; version=0.0.4") {
		a.metrics.prometheusHandler().ServeHTTP(w, r)
		return nil, nil
	}
	return a.metrics.inmem.DisplayMetrics(w, r)
}

func (a *Agent) operatorRoutes() []route {
	return []route{
		{"/v1/operator/raft/configuration", get, a.raftConfiguration},
		{"/v1/operator/raft/peer", []string{http.MethodDelete}, a.raftRemovePeer},
		{"/v1/operator/raft/transfer-leader", []string{http.MethodPost}, a.raftTransferLeader},
	}
}

// raftTransferLeader serves POST /v1/operator/raft/transfer-leader[?id=]:
// 200 {"Success":true} once the leader has handed over; 400 for an ID that
// is not a voter of the configuration, or the leader's own, or when there
// is no other voter; 500 when Raft could not hand over (a target that did
// not catch up within an election timeout, a transfer in progress).
func (a *Agent) raftTransferLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.RaftTransferLeaderRequest{ID: query(r).Get("id")}
	var reply rpcapi.RaftTransferLeaderReply
	if err := a.delegate.RPC(r.Context(), "Operator.RaftTransferLeader", &args, &reply); err != nil {
		if rpcapi.IsRemote(err, server.ErrPeerNotFound) || rpcapi.IsRemote(err, server.ErrTransferTarget) {
			return nil, HTTPError{Code: http.StatusBadRequest, Msg: err.Error()}
		}
		return nil, err
	}
	return reply, nil
}

func (a *Agent) raftConfiguration(w http.ResponseWriter, r *http.Request) (any, error) {
	var args rpcapi.DCRequest
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.RaftConfiguration
	if err := a.delegate.RPC(r.Context(), "Operator.RaftGetConfiguration", &args, &reply); err != nil {
		return nil, err
	}
	return reply, nil
}

func (a *Agent) raftRemovePeer(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.RaftRemovePeerRequest{ID: query(r).Get("id"), Address: query(r).Get("address")}
	if (args.ID == "") == (args.Address == "") {
		return nil, badRequest("Must specify either ?id with the server's ID or ?address with IP:port of peer to remove")
	}
	var reply struct{}
	if err := a.delegate.RPC(r.Context(), "Operator.RaftRemovePeer", &args, &reply); err != nil {
		if rpcapi.IsRemote(err, server.ErrPeerNotFound) {
			return nil, HTTPError{Code: http.StatusBadRequest, Msg: err.Error()}
		}
		return nil, err
	}
	return nil, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
