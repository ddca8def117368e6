// Package local holds an agent's local state — the services and checks
// registered with this agent, which are the truth for its node — and the
// anti-entropy that keeps the catalog in line with it.
//
// Flow:
//
//	HTTP / config / check runners ──► State (marks entries out of sync, triggers)
//	                                     │
//	             Run loop ◄──────────────┘
//	             ├─ on trigger: SyncChanges — push out-of-sync entries (batched)
//	             └─ every SyncInterval (scaled with cluster size, staggered):
//	                SyncFull — read the node from the catalog (Internal.NodeDump),
//	                mark every difference out of sync, then SyncChanges
//
// Terms: an entry is "in sync" when the catalog holds exactly it; a
// "deleted" entry is kept until its deregistration has reached the catalog.
// Check output changes that keep the status are deferred for up to
// CheckUpdateInterval, so a chatty check does not flood Raft.
package local

import (
	"context"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/catalog"
)

// Config configures a State. Field comments state defaults.
type Config struct {
	NodeID          string
	NodeName        string
	Datacenter      string
	Address         string
	TaggedAddresses map[string]string
	NodeMeta        map[string]string
	// CheckUpdateInterval defers output-only check changes by up to this
	// long. Default 5m; negative disables deferral.
	CheckUpdateInterval time.Duration
	// SyncInterval is the base period of full syncs, scaled with the
	// cluster size as Consul does. Default 60s.
	SyncInterval time.Duration
	// RetryInterval is the wait after a failed sync. Default 3s (plus
	// stagger).
	RetryInterval time.Duration
	// BatchSize bounds the registrations sent in one RPC. Default 128.
	BatchSize int
}

// DefaultConfig returns the defaults of the fields that have one.
func DefaultConfig() Config {
	return Config{CheckUpdateInterval: 5 * time.Minute, SyncInterval: time.Minute,
		RetryInterval: 3 * time.Second, BatchSize: 128}
}

// RPC is the agent's way to the servers. It must be safe for concurrent
// use and return an error if ctx is done first.
type RPC interface {
	RPC(ctx context.Context, method string, args, reply any) error
}

// Sources of a service or check: config files are reloaded, the API's
// registrations persisted. The scheduler's (replicas the realiser started)
// are neither: the realiser re-registers them after a restart, and their
// HTTP and TCP checks run their first probe at once rather than after
// Consul's random stagger, so that a health-gated rollout moves on as soon
// as a new replica answers.
const (
	SourceAPI       = "api"
	SourceConfig    = "config"
	SourceScheduler = "scheduler"
)

type serviceState struct {
	svc     *catalog.Service
	source  string
	inSync  bool
	deleted bool
	gen     uint64 // bumped on every local change
}

type checkState struct {
	chk          *catalog.HealthCheck
	source       string
	inSync       bool
	deleted      bool
	gen          uint64
	deferTimer   *time.Timer
	criticalTime time.Time
}

// State is the agent's local services and checks. It is safe for
// concurrent use. Values passed in are copied; values returned are copies.
type State struct {
	cfg         Config
	logger      hclog.Logger
	rpc         RPC
	clusterSize func() int

	mu         sync.Mutex
	services   map[string]*serviceState
	checks     map[string]*checkState
	nodeInSync bool
	gen        uint64
	paused     int

	triggerCh chan struct{}
	fullCh    chan struct{}
	changeCh  chan struct{} // closed and replaced on every local change
}

// NewState builds an empty state. clusterSize (nil means 1) scales the
// full sync interval.
func NewState(cfg Config, rpc RPC, clusterSize func() int, logger hclog.Logger) *State {
	def := DefaultConfig()
	if cfg.CheckUpdateInterval == 0 {
		cfg.CheckUpdateInterval = def.CheckUpdateInterval
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = def.SyncInterval
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = def.RetryInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = def.BatchSize
	}
	if clusterSize == nil {
		clusterSize = func() int { return 1 }
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &State{
		cfg: cfg, logger: logger.Named("anti_entropy"), rpc: rpc, clusterSize: clusterSize,
		services: map[string]*serviceState{}, checks: map[string]*checkState{},
		triggerCh: make(chan struct{}, 1), fullCh: make(chan struct{}, 1), changeCh: make(chan struct{}),
	}
}

// nextGen numbers a local change and wakes the Changed watchers. Callers
// hold l.mu.
func (l *State) nextGen() uint64 {
	l.gen++
	close(l.changeCh)
	l.changeCh = make(chan struct{})
	return l.gen
}

// Changed returns a channel closed at the next local change of a service
// or check (blocking agent queries wait on it).
func (l *State) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changeCh
}

// trigger asks the Run loop for a partial sync; it never blocks.
func (l *State) trigger() {
	select {
	case l.triggerCh <- struct{}{}:
	default:
	}
}

// TriggerSyncFull asks the Run loop for a full sync now; it never blocks.
func (l *State) TriggerSyncFull() {
	select {
	case l.fullCh <- struct{}{}:
	default:
	}
}

// Pause stops syncing until Resume (calls nest): a reload replaces many
// entries and syncs once at the end.
func (l *State) Pause() {
	l.mu.Lock()
	l.paused++
	l.mu.Unlock()
}

// Resume undoes one Pause and triggers a sync when the last is undone.
func (l *State) Resume() {
	l.mu.Lock()
	l.paused--
	if l.paused < 0 {
		panic("local: Resume without Pause")
	}
	p := l.paused
	l.mu.Unlock()
	if p == 0 {
		l.trigger()
	}
}

// AddService adds or replaces a service. svc.ID defaults to its name.
func (l *State) AddService(svc *catalog.Service, source string) error {
	if svc == nil || svc.Service == "" {
		return catalog.ErrMissingService
	}
	cp := *svc
	if cp.ID == "" {
		cp.ID = cp.Service
	}
	cp.Node, cp.CreateIndex, cp.ModifyIndex = "", 0, 0
	l.mu.Lock()
	l.services[cp.ID] = &serviceState{svc: &cp, source: source, gen: l.nextGen()}
	l.mu.Unlock()
	l.trigger()
	return nil
}

// RemoveService marks a service (and the checks bound to it) deleted. It
// reports whether the service existed.
func (l *State) RemoveService(id string) bool {
	l.mu.Lock()
	s, ok := l.services[id]
	if !ok || s.deleted {
		l.mu.Unlock()
		return false
	}
	s.deleted, s.inSync, s.gen = true, false, l.nextGen()
	for _, c := range l.checks {
		if c.chk.ServiceID == id && !c.deleted {
			l.deleteCheckLocked(c)
		}
	}
	l.mu.Unlock()
	l.trigger()
	return true
}

func (l *State) deleteCheckLocked(c *checkState) {
	c.deleted, c.inSync, c.gen = true, false, l.nextGen()
	if c.deferTimer != nil {
		c.deferTimer.Stop()
		c.deferTimer = nil
	}
}

// Service returns a copy of a service, or nil.
func (l *State) Service(id string) *catalog.Service {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.services[id]
	if !ok || s.deleted {
		return nil
	}
	cp := *s.svc
	return &cp
}

// ServiceSource returns the source a service was added with ("" if none).
func (l *State) ServiceSource(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.services[id]; ok && !s.deleted {
		return s.source
	}
	return ""
}

// Services returns copies of every service, keyed by ID.
func (l *State) Services() map[string]*catalog.Service {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*catalog.Service, len(l.services))
	for id, s := range l.services {
		if !s.deleted {
			cp := *s.svc
			out[id] = &cp
		}
	}
	return out
}

// AddCheck adds or replaces a check. A check bound to a service must name
// a local service; its ServiceName and ServiceTags are filled in.
func (l *State) AddCheck(chk *catalog.HealthCheck, source string) error {
	if chk == nil || chk.CheckID == "" {
		return errors.New("missing check ID")
	}
	cp := *chk
	cp.Node, cp.CreateIndex, cp.ModifyIndex = "", 0, 0
	if cp.Status == "" {
		cp.Status = catalog.HealthCritical
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cp.ServiceID != "" {
		s, ok := l.services[cp.ServiceID]
		if !ok || s.deleted {
			return &UnknownServiceError{ID: cp.ServiceID}
		}
		cp.ServiceName, cp.ServiceTags = s.svc.Service, s.svc.Tags
	}
	if old, ok := l.checks[cp.CheckID]; ok && old.deferTimer != nil {
		old.deferTimer.Stop()
	}
	c := &checkState{chk: &cp, source: source, gen: l.nextGen()}
	if cp.Status == catalog.HealthCritical {
		c.criticalTime = time.Now()
	}
	l.checks[cp.CheckID] = c
	l.trigger()
	return nil
}

// UnknownServiceError is returned for a check bound to a service that is
// not registered locally.
type UnknownServiceError struct{ ID string }

func (e *UnknownServiceError) Error() string { return "ServiceID \"" + e.ID + "\" does not exist" }

// RemoveCheck marks a check deleted and reports whether it existed.
func (l *State) RemoveCheck(id string) bool {
	l.mu.Lock()
	c, ok := l.checks[id]
	if !ok || c.deleted {
		l.mu.Unlock()
		return false
	}
	l.deleteCheckLocked(c)
	l.mu.Unlock()
	l.trigger()
	return true
}

// Check returns a copy of a check, or nil.
func (l *State) Check(id string) *catalog.HealthCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.checks[id]
	if !ok || c.deleted {
		return nil
	}
	cp := *c.chk
	return &cp
}

// Checks returns copies of every check, keyed by ID.
func (l *State) Checks() map[string]*catalog.HealthCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*catalog.HealthCheck, len(l.checks))
	for id, c := range l.checks {
		if !c.deleted {
			cp := *c.chk
			out[id] = &cp
		}
	}
	return out
}

// CheckSource returns the source a check was added with ("" if none).
func (l *State) CheckSource(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.checks[id]; ok && !c.deleted {
		return c.source
	}
	return ""
}

// CriticalFor returns, for every check currently critical, how long it
// has been critical.
func (l *State) CriticalFor() map[string]time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	out := map[string]time.Duration{}
	for id, c := range l.checks {
		if !c.deleted && c.chk.Status == catalog.HealthCritical && !c.criticalTime.IsZero() {
			out[id] = now.Sub(c.criticalTime)
		}
	}
	return out
}

// UpdateCheck records a check result; it implements the check runners'
// Notify. A status change is synced at once; an output-only change is
// deferred by up to CheckUpdateInterval.
func (l *State) UpdateCheck(id, status, output string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.checks[id]
	if !ok || c.deleted {
		return
	}
	if c.chk.Status == status && c.chk.Output == output {
		return
	}
	cp := *c.chk
	cp.Output = output
	if l.cfg.CheckUpdateInterval > 0 && c.chk.Status == status {
		c.chk = &cp
		c.gen = l.nextGen()
		if c.deferTimer == nil {
			d := rand.N(l.cfg.CheckUpdateInterval) + 1
			c.deferTimer = time.AfterFunc(d, func() {
				l.mu.Lock()
				if l.checks[id] == c {
					c.deferTimer = nil
					c.inSync = false
				}
				l.mu.Unlock()
				l.trigger()
			})
		}
		return
	}
	if c.deferTimer != nil {
		c.deferTimer.Stop()
		c.deferTimer = nil
	}
	if status == catalog.HealthCritical && cp.Status != catalog.HealthCritical {
		c.criticalTime = time.Now()
	}
	cp.Status = status
	c.chk = &cp
	c.inSync, c.gen = false, l.nextGen()
	l.trigger()
}

// Stats reports counts for /v1/agent/self.
func (l *State) Stats() (services, checks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.services {
		if !s.deleted {
			services++
		}
	}
	for _, c := range l.checks {
		if !c.deleted {
			checks++
		}
	}
	return services, checks
}

// InSync reports whether every entry and the node are in sync.
func (l *State) InSync() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.nodeInSync {
		return false
	}
	for _, s := range l.services {
		if !s.inSync {
			return false
		}
	}
	for _, c := range l.checks {
		if !c.inSync {
			return false
		}
	}
	return true
}

// scaleFactor is Consul's: 1 up to 128 nodes, then one more per doubling.
func scaleFactor(nodes int) int {
	const threshold = 128
	if nodes <= threshold {
		return 1
	}
	return int(math.Ceil(math.Log2(float64(nodes))-math.Log2(threshold))) + 1
}

// nextFullSync is the wait before the next periodic full sync: the
// interval plus a random stagger of up to the interval times the scale
// factor, so that large clusters spread their syncs out.
func (l *State) nextFullSync() time.Duration {
	d := l.cfg.SyncInterval * time.Duration(scaleFactor(l.clusterSize()))
	return l.cfg.SyncInterval + rand.N(d)
}

func serviceEqual(a, b *catalog.Service) bool {
	wa, wb := weights(a.Weights), weights(b.Weights)
	return a.ID == b.ID && a.Service == b.Service && a.Kind == b.Kind && a.Address == b.Address &&
		a.Port == b.Port && a.EnableTagOverride == b.EnableTagOverride && wa == wb &&
		slices.Equal(a.Tags, b.Tags) && maps.Equal(a.Meta, b.Meta)
}

func weights(w *catalog.Weights) catalog.Weights {
	if w == nil {
		return catalog.Weights{Passing: 1, Warning: 1}
	}
	return *w
}

// checkEqual compares the fields the agent owns; Output only when
// withOutput.
func checkEqual(a, b *catalog.HealthCheck, withOutput bool) bool {
	return a.CheckID == b.CheckID && a.Name == b.Name && a.Status == b.Status && a.Notes == b.Notes &&
		a.ServiceID == b.ServiceID && a.Type == b.Type && (!withOutput || a.Output == b.Output)
}
