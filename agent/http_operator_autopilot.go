package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/shoalproject/shoal/rpcapi"
)

// autopilotRoutes serves /v1/operator/autopilot/*: the configuration
// (read, and stored through Raft with PUT), the servers' health and the
// autopilot state, shaped as Consul's.
func (a *Agent) autopilotRoutes() []route {
	return []route{
		{"/v1/operator/autopilot/configuration", getPut, a.autopilotConfiguration},
		{"/v1/operator/autopilot/health", get, a.autopilotHealth},
		{"/v1/operator/autopilot/state", get, a.autopilotState},
	}
}

// duration is a time.Duration written as Consul's ReadableDuration ("200ms").
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON accepts what Consul's ReadableDuration does: a duration
// string ("200ms") or a number of nanoseconds.
func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = duration(p)
	case float64:
		*d = duration(time.Duration(v))
	default:
		return errors.New("a duration is a string like \"200ms\" or a number of nanoseconds")
	}
	return nil
}

// autopilotConfigJSON is Consul's api.AutopilotConfiguration.
type autopilotConfigJSON struct {
	CleanupDeadServers      bool
	LastContactThreshold    duration
	MaxTrailingLogs         uint64
	MinQuorum               uint
	ServerStabilizationTime duration
	RedundancyZoneTag       string
	DisableUpgradeMigration bool
	UpgradeVersionTag       string
	CreateIndex             uint64
	ModifyIndex             uint64
}

// serverHealthJSON is Consul's api.ServerHealth.
type serverHealthJSON struct {
	ID          string
	Name        string
	Address     string
	SerfStatus  string
	Version     string
	Leader      bool
	LastContact duration
	LastTerm    uint64
	LastIndex   uint64
	Healthy     bool
	Voter       bool
	StableSince time.Time
}

// autopilotServerJSON is Consul's api.AutopilotServer.
type autopilotServerJSON struct {
	ID             string
	Name           string
	Address        string
	NodeStatus     string
	Version        string
	LastContact    duration
	LastTerm       uint64
	LastIndex      uint64
	Healthy        bool
	StableSince    time.Time
	RedundancyZone string
	UpgradeVersion string
	ReadReplica    bool
	Status         string
	Meta           map[string]string
	NodeType       string
}

func (a *Agent) serverHealth(r *http.Request) (*rpcapi.OperatorHealthReply, error) {
	var args rpcapi.DCRequest
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.OperatorHealthReply
	if err := a.delegate.RPC(r.Context(), "Operator.ServerHealth", &args, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

func (a *Agent) autopilotConfiguration(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Method == http.MethodPut {
		return a.autopilotSetConfiguration(r)
	}
	var args rpcapi.DCRequest
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.AutopilotConfigReply
	if err := a.delegate.RPC(r.Context(), "Operator.AutopilotGetConfiguration", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	c := reply.Config
	return autopilotConfigJSON{
		CleanupDeadServers: c.CleanupDeadServers, LastContactThreshold: duration(c.LastContactThreshold),
		MaxTrailingLogs: c.MaxTrailingLogs, MinQuorum: c.MinQuorum,
		ServerStabilizationTime: duration(c.ServerStabilizationTime),
		RedundancyZoneTag:       c.RedundancyZoneTag, DisableUpgradeMigration: c.DisableUpgradeMigration,
		UpgradeVersionTag: c.UpgradeVersionTag, CreateIndex: reply.CreateIndex, ModifyIndex: reply.ModifyIndex,
	}, nil
}

// autopilotSetConfiguration stores the body's configuration; fields it
// leaves out take Consul's defaults (api.NewAutopilotConfiguration). With
// ?cas=<ModifyIndex> it answers whether the write took effect; without,
// true.
func (a *Agent) autopilotSetConfiguration(r *http.Request) (any, error) {
	body := autopilotConfigJSON{
		CleanupDeadServers: true, LastContactThreshold: duration(200 * time.Millisecond),
		MaxTrailingLogs: 250, ServerStabilizationTime: duration(10 * time.Second),
	}
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.LastContactThreshold < 0 || body.ServerStabilizationTime < 0 {
		return nil, badRequest("Error parsing autopilot config: durations must not be negative")
	}
	q := query(r)
	args := rpcapi.AutopilotSetConfigRequest{Config: rpcapi.AutopilotConfig{
		CleanupDeadServers: body.CleanupDeadServers, LastContactThreshold: time.Duration(body.LastContactThreshold),
		MaxTrailingLogs: body.MaxTrailingLogs, MinQuorum: body.MinQuorum,
		ServerStabilizationTime: time.Duration(body.ServerStabilizationTime),
		RedundancyZoneTag:       body.RedundancyZoneTag, DisableUpgradeMigration: body.DisableUpgradeMigration,
		UpgradeVersionTag: body.UpgradeVersionTag,
	}}
	args.Datacenter = q.Get("dc")
	if _, ok := q["cas"]; ok {
		idx, err := parseUintParam(q.Get("cas"), "cas index")
		if err != nil {
			return nil, err
		}
		args.CAS, args.ModifyIndex = true, idx
	}
	var ok bool
	if err := a.delegate.RPC(r.Context(), "Operator.AutopilotSetConfiguration", &args, &ok); err != nil {
		return nil, err
	}
	return ok || !args.CAS, nil
}

// autopilotHealth answers 429 with the body when any server is unhealthy,
// as Consul does, so that a health check can poll it.
func (a *Agent) autopilotHealth(w http.ResponseWriter, r *http.Request) (any, error) {
	reply, err := a.serverHealth(r)
	if err != nil {
		return nil, err
	}
	out := struct {
		Healthy          bool
		FailureTolerance int
		Servers          []serverHealthJSON
	}{reply.Healthy, reply.FailureTolerance, []serverHealthJSON{}}
	for _, s := range reply.Servers {
		out.Servers = append(out.Servers, serverHealthJSON{
			ID: s.ID, Name: s.Name, Address: s.Address, SerfStatus: s.SerfStatus, Version: s.Version,
			Leader: s.Leader, LastContact: duration(s.LastContact), LastTerm: s.LastTerm, LastIndex: s.LastIndex,
			Healthy: s.Healthy, Voter: s.Voter, StableSince: s.StableSince,
		})
	}
	code := http.StatusOK
	if !reply.Healthy {
		code = http.StatusTooManyRequests
	}
	writeJSONStatus(w, r, code, out)
	return nil, nil
}

func (a *Agent) autopilotState(w http.ResponseWriter, r *http.Request) (any, error) {
	reply, err := a.serverHealth(r)
	if err != nil {
		return nil, err
	}
	out := struct {
		Healthy                    bool
		FailureTolerance           int
		OptimisticFailureTolerance int
		Servers                    map[string]autopilotServerJSON
		Leader                     string
		Voters                     []string
	}{Healthy: reply.Healthy, FailureTolerance: reply.FailureTolerance,
		Servers: map[string]autopilotServerJSON{}, Voters: []string{}}
	for _, s := range reply.Servers {
		status := "non-voter"
		switch {
		case s.Leader:
			status, out.Leader = "leader", s.ID
		case s.Voter:
			status = "voter"
		}
		if s.Voter {
			out.Voters = append(out.Voters, s.ID)
			if s.Healthy {
				out.OptimisticFailureTolerance++
			}
		}
		out.Servers[s.ID] = autopilotServerJSON{
			ID: s.ID, Name: s.Name, Address: s.Address, NodeStatus: s.SerfStatus, Version: s.Version,
			LastContact: duration(s.LastContact), LastTerm: s.LastTerm, LastIndex: s.LastIndex,
			Healthy: s.Healthy, StableSince: s.StableSince, Status: status, Meta: map[string]string{},
			NodeType: "voter",
		}
	}
	// Optimistic: every voter that is healthy now, whether or not yet
	// stable, beyond a quorum.
	out.OptimisticFailureTolerance = max(out.OptimisticFailureTolerance-(len(out.Voters)/2+1), 0)
	return out, nil
}
