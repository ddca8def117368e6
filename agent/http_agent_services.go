package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/agent/local"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

// agentLocal is the agent's local services and checks: the state with its
// anti-entropy loop and the manager that runs the checks.
type agentLocal struct {
	state  *local.State
	mgr    *local.Manager
	cancel context.CancelFunc
	done   chan struct{}
}

// startLocal builds the local state, loads config-file and persisted
// services and checks, and starts anti-entropy and the check reaper.
func (a *Agent) startLocal() error {
	c := a.cfg
	addr := c.AdvertiseAddr
	lc := local.DefaultConfig()
	lc.NodeID, lc.NodeName, lc.Datacenter, lc.Address = a.nodeID, c.NodeName, c.Datacenter, addr
	lc.TaggedAddresses = map[string]string{"lan": addr, "lan_ipv4": addr, "wan": addr, "wan_ipv4": addr}
	lc.NodeMeta = c.NodeMeta
	if c.CheckUpdateInterval != 0 {
		lc.CheckUpdateInterval = c.CheckUpdateInterval
	}
	if lc.NodeMeta == nil {
		lc.NodeMeta = map[string]string{}
	}
	st := local.NewState(lc, a.delegate, func() int { return len(a.delegate.LANMembers()) }, a.logger)
	dataDir := c.DataDir
	if c.DevMode {
		dataDir = ""
	}
	mgr := local.NewManager(local.ManagerConfig{DataDir: dataDir, EnableScriptChecks: c.EnableLocalScriptChecks}, st, a.logger)
	svcs, chks, err := configDefinitions(c)
	if err != nil {
		return err
	}
	if err := mgr.ReplaceConfig(svcs, chks); err != nil {
		return fmt.Errorf("agent: config services: %w", err)
	}
	if err := mgr.LoadPersisted(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &agentLocal{state: st, mgr: mgr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		go mgr.Run(ctx)
		st.Run(ctx)
	}()
	a.local = l
	return nil
}

// stopLocal stops anti-entropy and every check runner.
func (a *Agent) stopLocal() {
	if a.local == nil {
		return
	}
	a.local.cancel()
	<-a.local.done
	a.local.mgr.Stop()
}

// LocalState is the agent's local state (nil before Start): tests use it
// to trigger and observe anti-entropy.
func (a *Agent) LocalState() *local.State {
	if a.local == nil {
		return nil
	}
	return a.local.state
}

// configDefinitions decodes the services and checks of a configuration.
func configDefinitions(c *config.Config) ([]*local.ServiceDefinition, []*local.CheckDefinition, error) {
	var svcs []*local.ServiceDefinition
	for _, raw := range c.Services {
		d, err := local.DecodeService(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("agent: config service: %w", err)
		}
		svcs = append(svcs, d)
	}
	var chks []*local.CheckDefinition
	for _, raw := range c.Checks {
		d, err := local.DecodeCheck(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("agent: config check: %w", err)
		}
		chks = append(chks, d)
	}
	return svcs, chks, nil
}

// Reload re-reads the configuration files and applies their services and
// checks (SIGHUP, `shoal reload`, PUT /v1/agent/reload). Other settings
// need a restart. On error nothing is changed.
func (a *Agent) Reload() error {
	if a.local == nil {
		return errors.New("agent: not started")
	}
	c := a.cfg
	var args []string
	for _, f := range c.ConfigFiles {
		args = append(args, "-config-file="+f)
	}
	for _, d := range c.ConfigDirs {
		args = append(args, "-config-dir="+d)
	}
	if c.DevMode {
		args = append(args, "-dev")
	}
	if c.DataDir != "" {
		args = append(args, "-data-dir="+c.DataDir)
	}
	args = append(args, "-node="+c.NodeName, "-bind="+c.BindAddr, "-advertise="+c.AdvertiseAddr)
	if c.EnableLocalScriptChecks {
		args = append(args, "-enable-local-script-checks")
	}
	nc, err := config.Load(args)
	if err != nil {
		return fmt.Errorf("agent: reload: %w", err)
	}
	svcs, chks, err := configDefinitions(nc)
	if err != nil {
		return err
	}
	if err := a.local.mgr.ReplaceConfig(svcs, chks); err != nil {
		return fmt.Errorf("agent: reload: %w", err)
	}
	watches, err := nc.ParseWatches()
	if err != nil {
		return fmt.Errorf("agent: reload: %w", err)
	}
	a.watches.start(a, watches)
	a.logger.Info("reloaded services, checks and watches", "services", len(svcs), "checks", len(chks), "watches", len(watches))
	return nil
}

func (a *Agent) agentServiceRoutes() []route {
	return []route{
		{"/v1/agent/services", get, a.agentServices},
		{"/v1/agent/service/{id...}", get, a.agentService},
		{"/v1/agent/service/register", put, a.agentServiceRegister},
		{"/v1/agent/service/deregister/{id...}", put, a.agentServiceDeregister},
		{"/v1/agent/service/maintenance/{id...}", put, a.agentServiceMaintenance},
		{"/v1/agent/checks", get, a.agentChecks},
		{"/v1/agent/check/register", put, a.agentCheckRegister},
		{"/v1/agent/check/deregister/{id...}", put, a.agentCheckDeregister},
		{"/v1/agent/check/pass/{id...}", put, a.agentCheckTTL(catalog.HealthPassing)},
		{"/v1/agent/check/warn/{id...}", put, a.agentCheckTTL(catalog.HealthWarning)},
		{"/v1/agent/check/fail/{id...}", put, a.agentCheckTTL(catalog.HealthCritical)},
		{"/v1/agent/check/update/{id...}", put, a.agentCheckUpdate},
		{"/v1/agent/maintenance", put, a.agentNodeMaintenance},
		{"/v1/agent/health/service/name/{name...}", get, a.agentHealthServiceByName},
		{"/v1/agent/health/service/id/{id...}", get, a.agentHealthServiceByID},
		{"/v1/agent/reload", put, a.agentReload},
	}
}

// agentServiceJSON is a local service shaped as Consul's api.AgentService.
type agentServiceJSON struct {
	Kind              string `json:",omitempty"`
	ID                string
	Service           string
	Tags              []string
	Meta              map[string]string
	Port              int
	Address           string
	TaggedAddresses   map[string]any `json:",omitempty"`
	Weights           catalog.Weights
	EnableTagOverride bool
	ContentHash       string `json:",omitempty"`
	Datacenter        string
}

func (a *Agent) toAgentService(s *catalog.Service) *agentServiceJSON {
	w := catalog.Weights{Passing: 1, Warning: 1}
	if s.Weights != nil {
		w = *s.Weights
	}
	out := &agentServiceJSON{Kind: s.Kind, ID: s.ID, Service: s.Service, Tags: s.Tags, Meta: s.Meta,
		Port: s.Port, Address: s.Address, Weights: w, EnableTagOverride: s.EnableTagOverride,
		Datacenter: a.cfg.Datacenter}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Meta == nil {
		out.Meta = map[string]string{}
	}
	return out
}

func (a *Agent) agentServices(w http.ResponseWriter, r *http.Request) (any, error) {
	f, err := parseFilter(r, (*agentServiceJSON)(nil))
	if err != nil {
		return nil, err
	}
	out := map[string]*agentServiceJSON{}
	for id, s := range a.local.state.Services() {
		as := a.toAgentService(s)
		if f != nil && !f.match(as) {
			continue
		}
		out[id] = as
	}
	return out, nil
}

// agentService answers /v1/agent/service/<id>. With ?hash it blocks, as
// Consul does, until the service's content hash differs from the one given
// or ?wait (default 5m, at most 10m) passes.
func (a *Agent) agentService(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	q := query(r)
	hash := q.Get("hash")
	wait := rpcapi.DefaultQueryWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, badRequest("Invalid wait time")
		}
		wait = min(d, rpcapi.MaxQueryWait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		changed := a.local.state.Changed()
		s := a.local.state.Service(id)
		if s == nil {
			return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("unknown service ID: %s", id)}
		}
		as := a.toAgentService(s)
		b, _ := json.Marshal(as)
		as.ContentHash = fmt.Sprintf("%016x", fnv64(b))
		if hash == "" || hash != as.ContentHash {
			w.Header().Set("X-Consul-ContentHash", as.ContentHash)
			return as, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			hash = "" // answer with the unchanged service
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// localError maps the local manager's errors to HTTP statuses.
func localError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, local.ErrInvalid), errors.Is(err, local.ErrScriptsDisabled):
		msg := strings.TrimPrefix(err.Error(), local.ErrInvalid.Error()+": ")
		return HTTPError{Code: http.StatusBadRequest, Msg: msg}
	case errors.Is(err, local.ErrUnknownService), errors.Is(err, local.ErrUnknownCheck):
		return HTTPError{Code: http.StatusNotFound, Msg: err.Error()}
	}
	return err
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body) // bounded by wrap's MaxBytesReader
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, badRequest("Request decode failed: %v", err)
	}
	return b, nil
}

func (a *Agent) agentServiceRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	def, err := local.DecodeService(b)
	if err != nil {
		return nil, localError(err)
	}
	if err := validateMeta("Service Meta", def.Meta); err != nil {
		return nil, err
	}
	_, replace := query(r)["replace-existing-checks"]
	if v := query(r).Get("replace-existing-checks"); v == "false" || v == "0" {
		replace = false
	}
	return nil, localError(a.local.mgr.AddService(def, local.SourceAPI, replace))
}

func (a *Agent) agentServiceDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if err := a.local.mgr.RemoveService(id); err != nil {
		if errors.Is(err, local.ErrUnknownService) {
			return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Unknown service ID %q. Ensure that the service ID is passed, not the service name.", id)}
		}
		return nil, localError(err)
	}
	return nil, nil
}

// parseMaintenance reads ?enable and ?reason.
func parseMaintenance(r *http.Request) (bool, string, error) {
	q := query(r)
	v := q.Get("enable")
	if v == "" {
		return false, "", badRequest("Missing value for enable")
	}
	enable, err := strconv.ParseBool(v)
	if err != nil {
		return false, "", badRequest("Invalid value for enable: %q", v)
	}
	return enable, q.Get("reason"), nil
}

func (a *Agent) agentServiceMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if id == "" {
		return nil, badRequest("Missing service ID")
	}
	enable, reason, err := parseMaintenance(r)
	if err != nil {
		return nil, err
	}
	if err := a.local.mgr.SetServiceMaintenance(id, enable, reason); err != nil {
		if errors.Is(err, local.ErrUnknownService) {
			return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Unknown service ID %q", id)}
		}
		return nil, localError(err)
	}
	return nil, nil
}

func (a *Agent) agentNodeMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	enable, reason, err := parseMaintenance(r)
	if err != nil {
		return nil, err
	}
	a.local.mgr.SetNodeMaintenance(enable, reason)
	return nil, nil
}

func (a *Agent) localChecks() map[string]*catalog.HealthCheck {
	out := a.local.state.Checks()
	for _, c := range out {
		c.Node = a.cfg.NodeName
		if c.ServiceTags == nil {
			c.ServiceTags = []string{}
		}
	}
	return out
}

func (a *Agent) agentChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	f, err := parseFilter(r, (*catalog.HealthCheck)(nil))
	if err != nil {
		return nil, err
	}
	out := map[string]*catalog.HealthCheck{}
	for id, c := range a.localChecks() {
		if f != nil && !f.match(c) {
			continue
		}
		out[id] = c
	}
	return out, nil
}

func (a *Agent) agentCheckRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	def, err := local.DecodeCheck(b)
	if err != nil {
		return nil, localError(err)
	}
	if def.Name == "" {
		return nil, badRequest("Missing check name")
	}
	return nil, localError(a.local.mgr.AddCheck(def, local.SourceAPI))
}

func (a *Agent) agentCheckDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if err := a.local.mgr.RemoveCheck(id); err != nil {
		if errors.Is(err, local.ErrUnknownCheck) {
			return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Unknown check ID %q. Ensure that the check ID is passed, not the check name.", id)}
		}
		return nil, localError(err)
	}
	return nil, nil
}

func (a *Agent) updateTTL(id, status, output string) error {
	err := a.local.mgr.UpdateTTL(id, status, output)
	if errors.Is(err, local.ErrUnknownCheck) {
		return HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Unknown check ID %q. Ensure that the check ID is passed, not the check name.", id)}
	}
	if errors.Is(err, local.ErrNotTTL) {
		return HTTPError{Code: http.StatusInternalServerError, Msg: fmt.Sprintf("CheckID %q does not have associated TTL", id)}
	}
	return err
}

func (a *Agent) agentCheckTTL(status string) endpoint {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, a.updateTTL(r.PathValue("id"), status, query(r).Get("note"))
	}
}

func (a *Agent) agentCheckUpdate(w http.ResponseWriter, r *http.Request) (any, error) {
	var body struct {
		Status string
		Output string
	}
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	switch body.Status {
	case catalog.HealthPassing, catalog.HealthWarning, catalog.HealthCritical:
	default:
		return nil, badRequest("Invalid check status: '%s'", body.Status)
	}
	return nil, a.updateTTL(r.PathValue("id"), body.Status, body.Output)
}

// agentServiceHealth is one entry of /v1/agent/health/service/*, shaped as
// Consul's api.AgentServiceChecksInfo.
type agentServiceHealth struct {
	AggregatedStatus string
	Service          *agentServiceJSON
	Checks           []*catalog.HealthCheck
}

// serviceHealth returns a local service's health: its checks plus the
// node's.
func (a *Agent) serviceHealth(s *catalog.Service, all map[string]*catalog.HealthCheck) agentServiceHealth {
	checks := []*catalog.HealthCheck{}
	for _, c := range all {
		if c.ServiceID == "" || c.ServiceID == s.ID {
			checks = append(checks, c)
		}
	}
	sort.Slice(checks, func(i, j int) bool { return checks[i].CheckID < checks[j].CheckID })
	return agentServiceHealth{AggregatedStatus: catalog.AggregateStatus(checks), Service: a.toAgentService(s), Checks: checks}
}

func healthCode(status string) int {
	switch status {
	case catalog.HealthPassing:
		return http.StatusOK
	case catalog.HealthWarning:
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

func writeHealth(w http.ResponseWriter, r *http.Request, status string, body any) (any, error) {
	code := healthCode(status)
	if query(r).Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		fmt.Fprint(w, status)
		return nil, nil
	}
	writeJSONStatus(w, r, code, body)
	return nil, nil
}

func (a *Agent) agentHealthServiceByName(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	all := a.localChecks()
	var out []agentServiceHealth
	for _, s := range a.local.state.Services() {
		if s.Service == name {
			out = append(out, a.serviceHealth(s, all))
		}
	}
	if len(out) == 0 {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("ServiceName %s Not Found", name)}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service.ID < out[j].Service.ID })
	status := catalog.HealthPassing
	for _, h := range out {
		switch h.AggregatedStatus {
		case catalog.HealthCritical:
			status = catalog.HealthCritical
		case catalog.HealthWarning:
			if status == catalog.HealthPassing {
				status = catalog.HealthWarning
			}
		}
	}
	return writeHealth(w, r, status, out)
}

func (a *Agent) agentHealthServiceByID(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	s := a.local.state.Service(id)
	if s == nil {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("ServiceId %s not found", id)}
	}
	h := a.serviceHealth(s, a.localChecks())
	return writeHealth(w, r, h.AggregatedStatus, h)
}

func (a *Agent) agentReload(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return nil, nil
}

// localStats is the "agent" section of /v1/agent/self's Stats.
func (a *Agent) localStats() map[string]string {
	if a.local == nil {
		return map[string]string{"check_monitors": "0", "check_ttls": "0", "checks": "0", "services": "0"}
	}
	svcs, chks := a.local.state.Stats()
	monitors, ttls := a.local.mgr.Counts()
	return map[string]string{"check_monitors": itoa(monitors), "check_ttls": itoa(ttls),
		"checks": itoa(chks), "services": itoa(svcs)}
}
