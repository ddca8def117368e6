package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/checks"
	"github.com/shoalproject/shoal/catalog"
)

// Maintenance check IDs and names, as Consul's.
const (
	NodeMaintCheckID     = "_node_maintenance"
	ServiceMaintPrefix   = "_service_maintenance:"
	defaultMaintReason   = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
	defaultSvcMaintReasn = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
)

// Errors of the Manager, mapped to HTTP statuses by the agent.
var (
	// ErrUnknownService means no local service has the ID (404).
	ErrUnknownService = errors.New("unknown service ID")
	// ErrUnknownCheck means no local check has the ID (404).
	ErrUnknownCheck = errors.New("unknown check ID")
	// ErrNotTTL means a TTL update named a check that is not a TTL check.
	ErrNotTTL = errors.New("check is not a TTL check")
	// ErrScriptsDisabled means a script check was registered without
	// enable_local_script_checks (400).
	ErrScriptsDisabled = errors.New("Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true")
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// DataDir persists API-registered services and checks under
	// DataDir/services and DataDir/checks; "" keeps them in memory only.
	DataDir string
	// EnableScriptChecks allows script checks.
	EnableScriptChecks bool
	// ReapInterval is how often services whose checks have been critical
	// longer than their deregister_critical_service_after are removed.
	// Default 30s, as Consul.
	ReapInterval time.Duration
}

// Manager owns the agent's service and check definitions: it keeps the
// State in line with them, runs the checks, persists what the API
// registered and applies maintenance mode. It is safe for concurrent use.
type Manager struct {
	cfg    ManagerConfig
	state  *State
	logger hclog.Logger

	mu       sync.Mutex
	runners  map[string]checks.Runner
	ttls     map[string]*checks.TTL
	checkDef map[string]*CheckDefinition
	reapAt   map[string]time.Duration // check ID → deregister_critical_service_after
}

// NewManager builds a Manager over state.
func NewManager(cfg ManagerConfig, state *State, logger hclog.Logger) *Manager {
	if cfg.ReapInterval <= 0 {
		cfg.ReapInterval = 30 * time.Second
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Manager{cfg: cfg, state: state, logger: logger.Named("checks"),
		runners: map[string]checks.Runner{}, ttls: map[string]*checks.TTL{},
		checkDef: map[string]*CheckDefinition{}, reapAt: map[string]time.Duration{}}
}

// State is the managed local state.
func (m *Manager) State() *State { return m.state }

// AddService registers a service and its checks. With replaceChecks,
// checks of the service that the definition does not list are removed.
func (m *Manager) AddService(def *ServiceDefinition, source string, replaceChecks bool) error {
	if err := def.Validate(); err != nil {
		return err
	}
	chks := def.AllChecks()
	for _, c := range chks {
		if c.Type() == TypeScript && !m.cfg.EnableScriptChecks {
			return ErrScriptsDisabled
		}
	}
	svc := def.Service()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.state.AddService(svc, source); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, c := range chks {
		keep[c.CheckID] = true
		if err := m.addCheckLocked(c, source); err != nil {
			return err
		}
	}
	if replaceChecks {
		for id, c := range m.state.Checks() {
			if c.ServiceID == svc.ID && !keep[id] && c.Type != TypeMaint {
				m.removeCheckLocked(id)
			}
		}
	}
	if source == SourceAPI {
		return m.persistService(svc)
	}
	return nil
}

// RemoveService deregisters a service and its checks.
func (m *Manager) RemoveService(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removeServiceLocked(id)
}

func (m *Manager) removeServiceLocked(id string) error {
	if m.state.Service(id) == nil {
		return fmt.Errorf("%w: %q", ErrUnknownService, id)
	}
	for cid, c := range m.state.Checks() {
		if c.ServiceID == id {
			m.stopRunnerLocked(cid)
			m.unpersist("checks", cid)
		}
	}
	m.state.RemoveService(id)
	m.unpersist("services", id)
	return nil
}

// AddCheck registers a check (node-level, or bound to a local service).
func (m *Manager) AddCheck(def *CheckDefinition, source string) error {
	if err := def.Validate(); err != nil {
		return err
	}
	if def.Type() == TypeScript && !m.cfg.EnableScriptChecks {
		return ErrScriptsDisabled
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addCheckLocked(def, source)
}

func (m *Manager) addCheckLocked(def *CheckDefinition, source string) error {
	hc := def.HealthCheck()
	// The old runner stops first: a probe of the old definition still in
	// flight (of a replica's old address, say) reports before Stop
	// returns, so it cannot land on the new check.
	oldDef, oldSource := m.checkDef[hc.CheckID], m.state.CheckSource(hc.CheckID)
	m.stopRunnerLocked(hc.CheckID)
	// A re-registered check keeps its current status unless one is given.
	if old := m.state.Check(hc.CheckID); old != nil && def.Status == "" {
		hc.Status, hc.Output = old.Status, old.Output
	}
	if err := m.state.AddCheck(hc, source); err != nil {
		if oldDef != nil {
			m.startRunnerLocked(oldDef, oldSource) // the old check stays as it was
		}
		var ue *UnknownServiceError
		if errors.As(err, &ue) {
			return invalid("%s", err.Error())
		}
		return err
	}
	m.startRunnerLocked(def, source)
	if source == SourceAPI {
		return m.persistCheck(hc, def)
	}
	return nil
}

func (m *Manager) startRunnerLocked(def *CheckDefinition, source string) {
	id := def.CheckID
	var notify checks.Notify = m.state
	if def.SuccessBeforePassing > 0 || def.FailuresBeforeCritical > 0 || def.FailuresBeforeWarning > 0 {
		notify = checks.NewStatusHandler(m.state, def.SuccessBeforePassing, def.FailuresBeforeWarning, def.FailuresBeforeCritical)
	}
	interval := max(time.Duration(def.Interval), checks.MinInterval)
	atOnce := source == SourceScheduler
	var r checks.Runner
	switch def.Type() {
	case TypeTTL:
		ttl := &checks.TTL{CheckID: id, TTL: time.Duration(def.TTL), Notify: m.state}
		m.ttls[id] = ttl
		r = ttl
	case TypeHTTP:
		r = &checks.HTTP{CheckID: id, URL: def.HTTP, Method: def.Method, Header: def.Header, Body: def.Body,
			Interval: interval, Timeout: time.Duration(def.Timeout), TLSSkipVerify: def.TLSSkipVerify,
			TLSServerName: def.TLSServerName, DisableRedirects: def.DisableRedirects, OutputMaxSize: def.OutputMaxSize,
			AtOnce: atOnce, Notify: notify, Logger: m.logger}
	case TypeTCP:
		r = &checks.TCP{CheckID: id, Address: def.TCP, Interval: interval, Timeout: time.Duration(def.Timeout),
			AtOnce: atOnce, Notify: notify, Logger: m.logger}
	case TypeGRPC:
		r = &checks.GRPC{CheckID: id, Target: def.GRPC, UseTLS: def.GRPCUseTLS, TLSSkipVerify: def.TLSSkipVerify,
			TLSServerName: def.TLSServerName, Interval: interval, Timeout: time.Duration(def.Timeout),
			Notify: notify, Logger: m.logger}
	case TypeScript:
		r = &checks.Script{CheckID: id, Args: def.Args, Interval: interval, Timeout: time.Duration(def.Timeout),
			OutputMaxSize: def.OutputMaxSize, Notify: notify, Logger: m.logger}
	default:
		return
	}
	m.runners[id] = r
	m.checkDef[id] = def
	if def.DeregisterCriticalServiceAfter > 0 && def.ServiceID != "" {
		// Consul's minimum is one minute.
		m.reapAt[id] = max(time.Duration(def.DeregisterCriticalServiceAfter), time.Minute)
	}
	r.Start()
}

func (m *Manager) stopRunnerLocked(id string) {
	if r, ok := m.runners[id]; ok {
		r.Stop()
	}
	delete(m.runners, id)
	delete(m.ttls, id)
	delete(m.checkDef, id)
	delete(m.reapAt, id)
}

// RemoveCheck deregisters a check.
func (m *Manager) RemoveCheck(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state.Check(id) == nil {
		return fmt.Errorf("%w: %q", ErrUnknownCheck, id)
	}
	m.removeCheckLocked(id)
	return nil
}

func (m *Manager) removeCheckLocked(id string) {
	m.stopRunnerLocked(id)
	m.state.RemoveCheck(id)
	m.unpersist("checks", id)
}

// UpdateTTL sets a TTL check's status and output and restarts its TTL.
func (m *Manager) UpdateTTL(id, status, output string) error {
	m.mu.Lock()
	ttl, ok := m.ttls[id]
	m.mu.Unlock()
	if !ok {
		if m.state.Check(id) == nil {
			return fmt.Errorf("%w: %q", ErrUnknownCheck, id)
		}
		return fmt.Errorf("%w: CheckID %q does not have associated TTL", ErrNotTTL, id)
	}
	ttl.SetStatus(status, output)
	// As Consul, keep a TTL check's last status across restarts.
	m.mu.Lock()
	defer m.mu.Unlock()
	if def, hc := m.checkDef[id], m.state.Check(id); def != nil && hc != nil && m.state.CheckSource(id) == SourceAPI {
		m.logPersistError(m.persistCheck(hc, def)) // the status is set: keeping it is best effort
	}
	return nil
}

// SetNodeMaintenance enables or disables node maintenance mode: a
// critical _node_maintenance check.
func (m *Manager) SetNodeMaintenance(enable bool, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !enable {
		if m.state.Check(NodeMaintCheckID) != nil {
			m.removeCheckLocked(NodeMaintCheckID)
		}
		return
	}
	if m.state.Check(NodeMaintCheckID) != nil {
		return
	}
	if reason == "" {
		reason = defaultMaintReason
	}
	hc := &catalog.HealthCheck{CheckID: NodeMaintCheckID, Name: "Node Maintenance Mode", Notes: reason,
		Status: catalog.HealthCritical, Type: TypeMaint}
	_ = m.state.AddCheck(hc, SourceAPI)
	m.logPersistError(m.persistCheck(hc, nil))
}

// SetServiceMaintenance enables or disables maintenance mode of a local
// service: a critical _service_maintenance:<id> check.
func (m *Manager) SetServiceMaintenance(id string, enable bool, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state.Service(id) == nil {
		return fmt.Errorf("%w: %q", ErrUnknownService, id)
	}
	cid := ServiceMaintPrefix + id
	if !enable {
		if m.state.Check(cid) != nil {
			m.removeCheckLocked(cid)
		}
		return nil
	}
	if m.state.Check(cid) != nil {
		return nil
	}
	if reason == "" {
		reason = defaultSvcMaintReasn
	}
	hc := &catalog.HealthCheck{CheckID: cid, Name: "Service Maintenance Mode", Notes: reason,
		ServiceID: id, Status: catalog.HealthCritical, Type: TypeMaint}
	if err := m.state.AddCheck(hc, SourceAPI); err != nil {
		return err
	}
	return m.persistCheck(hc, nil)
}

// ReplaceConfig applies the services and checks of a (re)loaded
// configuration: config-sourced entries not listed any more are removed,
// the listed ones (re)added. API-registered entries are left alone. The
// whole replacement is synced once at the end.
func (m *Manager) ReplaceConfig(svcs []*ServiceDefinition, chks []*CheckDefinition) error {
	for _, s := range svcs {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
	}
	for _, c := range chks {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("check %q: %w", c.Name, err)
		}
	}
	m.state.Pause()
	defer m.state.Resume()
	wantSvc := map[string]bool{}
	for _, s := range svcs {
		wantSvc[s.ServiceID()] = true
	}
	wantChk := map[string]bool{}
	for _, c := range chks {
		wantChk[c.CheckID] = true
	}
	for _, s := range svcs {
		for _, c := range s.AllChecks() {
			wantChk[c.CheckID] = true
		}
	}
	m.mu.Lock()
	for id := range m.state.Services() {
		if m.state.ServiceSource(id) == SourceConfig && !wantSvc[id] {
			_ = m.removeServiceLocked(id)
		}
	}
	for id := range m.state.Checks() {
		if m.state.CheckSource(id) == SourceConfig && !wantChk[id] {
			m.removeCheckLocked(id)
		}
	}
	m.mu.Unlock()
	var errs []error
	for _, s := range svcs {
		if err := m.AddService(s, SourceConfig, true); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
		}
	}
	for _, c := range chks {
		if err := m.AddCheck(c, SourceConfig); err != nil {
			errs = append(errs, fmt.Errorf("check %q: %w", c.CheckID, err))
		}
	}
	return errors.Join(errs...)
}

// Run reaps services whose checks stayed critical longer than their
// deregister_critical_service_after, until ctx is done.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.reap()
		}
	}
}

func (m *Manager) reap() {
	crit := m.state.CriticalFor()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, after := range m.reapAt {
		d, ok := crit[id]
		if !ok || d < after {
			continue
		}
		def := m.checkDef[id]
		if def == nil || m.state.Service(def.ServiceID) == nil {
			continue
		}
		m.logger.Info("removing service whose check stayed critical", "service", def.ServiceID, "check", id, "after", after)
		_ = m.removeServiceLocked(def.ServiceID)
	}
}

// Stop stops every check runner.
func (m *Manager) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.runners {
		m.runners[id].Stop()
	}
	m.runners = map[string]checks.Runner{}
	m.ttls = map[string]*checks.TTL{}
}

// Counts returns the number of running monitors (non-TTL runners) and TTL checks.
func (m *Manager) Counts() (monitors, ttls int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.runners) - len(m.ttls), len(m.ttls)
}

// persistedCheck is a check's file: its entry and, unless it is a
// maintenance check, the definition its runner is built from.
type persistedCheck struct {
	Check *catalog.HealthCheck
	Def   *CheckDefinition
}

func fileName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:]) + ".json"
}

// write persists v under the data dir so that it survives a restart. It
// writes a temporary file and renames it into place, so that a full disk
// leaves the previous version, and reports failure: the caller has changed
// the in-memory state already, and answers the request with the error.
func (m *Manager) write(kind, id string, v any) error {
	if m.cfg.DataDir == "" {
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("agent: data dir %s: persist %s %q: %w", m.cfg.DataDir, kind, id, err)
	}
	dir := filepath.Join(m.cfg.DataDir, kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fail(err)
	}
	p := filepath.Join(dir, fileName(id))
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		_ = os.Remove(tmp)
		return fail(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fail(err)
	}
	return nil
}

func (m *Manager) logPersistError(err error) {
	if err != nil {
		m.logger.Error("persist failed", "error", err)
	}
}

func (m *Manager) persistService(svc *catalog.Service) error { return m.write("services", svc.ID, svc) }

func (m *Manager) persistCheck(hc *catalog.HealthCheck, def *CheckDefinition) error {
	return m.write("checks", hc.CheckID, persistedCheck{Check: hc, Def: def})
}

func (m *Manager) unpersist(kind, id string) {
	if m.cfg.DataDir == "" {
		return
	}
	_ = os.Remove(filepath.Join(m.cfg.DataDir, kind, fileName(id)))
}

// LoadPersisted restores the services and checks the API registered
// before a restart. Unreadable files are logged and skipped. Entries that
// a config file defines win over persisted ones: call it after
// ReplaceConfig.
func (m *Manager) LoadPersisted() error {
	if m.cfg.DataDir == "" {
		return nil
	}
	svcFiles, _ := filepath.Glob(filepath.Join(m.cfg.DataDir, "services", "*.json"))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range svcFiles {
		b, err := os.ReadFile(f)
		var svc catalog.Service
		if err == nil {
			err = json.Unmarshal(b, &svc)
		}
		if err != nil {
			m.logger.Warn("skipping unreadable persisted service", "file", f, "error", err)
			continue
		}
		if m.state.ServiceSource(svc.ID) == SourceConfig {
			continue
		}
		_ = m.state.AddService(&svc, SourceAPI)
	}
	chkFiles, _ := filepath.Glob(filepath.Join(m.cfg.DataDir, "checks", "*.json"))
	for _, f := range chkFiles {
		b, err := os.ReadFile(f)
		var pc persistedCheck
		if err == nil {
			err = json.Unmarshal(b, &pc)
		}
		if err != nil || pc.Check == nil {
			m.logger.Warn("skipping unreadable persisted check", "file", f, "error", err)
			continue
		}
		if m.state.CheckSource(pc.Check.CheckID) == SourceConfig {
			continue
		}
		if pc.Def == nil {
			if err := m.state.AddCheck(pc.Check, SourceAPI); err != nil {
				m.logger.Warn("skipping persisted check", "check", pc.Check.CheckID, "error", err)
			}
			continue
		}
		if err := m.addCheckLocked(pc.Def, SourceAPI); err != nil {
			m.logger.Warn("skipping persisted check", "check", pc.Check.CheckID, "error", err)
			continue
		}
		if pc.Def.Type() == TypeTTL && pc.Check.Status != "" {
			// A TTL check comes back with its last status; its TTL
			// restarts now.
			m.state.UpdateCheck(pc.Check.CheckID, pc.Check.Status, pc.Check.Output)
		}
	}
	return nil
}
