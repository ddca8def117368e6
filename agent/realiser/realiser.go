// Package realiser makes a node's allocations real: it follows the node's
// allocations with a blocking query, converges the drivers to them (start,
// restart per policy with back-off, stop, adopt tasks left by an earlier
// run, remove stale ones), registers each running replica as a service
// instance of the local agent so the catalog and DNS see it, and reports
// each allocation's actual state back to the servers. A driver that
// reports its tasks' deaths (driver.Watcher) wakes it at once, and the
// death of a registered task deregisters its instance at once, so that a
// dead replica leaves the catalog (and the routing mesh) before its
// replacement starts.
//
// Its edges are interfaces, so that the state machine is tested with fakes
// (realiser_test.go): driver.Driver for the tasks, Server for the servers
// (the agent adapts it to RPC) and Registry for the local agent.
package realiser

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// Instance is a running replica as a service instance of the local agent.
type Instance struct {
	ID      string // unique per allocation
	Name    string // the service name
	Address string
	Port    int
	Tags    []string
	Meta    map[string]string
	// Check is the replica's health check, nil when none.
	Check *sched.Check
	// CheckTarget is the address:port the check probes.
	CheckTarget string
}

// Registry is the local agent's service registry. Methods are safe for
// concurrent use.
type Registry interface {
	// Register adds or replaces an instance and its check.
	Register(inst Instance) error
	// Deregister removes an instance (nil when absent).
	Deregister(id string) error
	// Health reports whether the instance's check passes; known is false
	// when the instance or its check is not registered.
	Health(id string) (healthy, known bool)
}

// Server is the realiser's view of the servers: the node's allocations in,
// their actual state out. Methods are safe for concurrent use and return an
// error if and only if ctx is done or the call failed.
type Server interface {
	// NodeAllocs returns the allocations of the node and the index they
	// are at. With minIndex > 0 it is a blocking query: it returns once
	// the index passes minIndex, or after a timeout with the same index.
	// With minIndex 0 the answer must be the leader's (not a stale read):
	// a server still replaying its log after a restart, as this node's own
	// may be, would hand out allocations deleted long ago, and the node
	// would start them again (ghost replicas beyond the declared count).
	// With minIndex > 0 a stale read is fine: a server answers a blocking
	// query only once it has applied past minIndex, so it never goes back
	// in time.
	NodeAllocs(ctx context.Context, nodeID string, minIndex uint64) ([]*sched.Alloc, uint64, error)
	// UpdateAllocs reports the actual state of some of the node's
	// allocations.
	UpdateAllocs(ctx context.Context, req sched.UpdateRequest) error
}

// Config configures a Realiser.
type Config struct {
	NodeID        string
	NodeName      string
	AdvertiseAddr string
	// Drivers by name; a spec's driver must be among them.
	Drivers map[string]driver.Driver
	// Allows are the host permissions this node's configuration grants;
	// an allocation whose spec needs another one fails without starting
	// (the scheduler should not have placed it here).
	Allows   []sched.Permission
	Server   Server
	Registry Registry
	// Resync is the period of a full convergence pass (driver state is
	// polled then). Default 1s.
	Resync time.Duration
	// Overlay returns the docker network and DNS servers of replicas on
	// the overlay network, or wait=true while the overlay is still coming
	// up (such replicas are not started yet). An empty network without
	// wait means there is none: replicas use the driver's default bridge.
	// Nil means no overlay.
	Overlay func() (network string, dns []string, wait bool)
	// Unhealthy returns the services among names that have no passing
	// instance, for depends_on; nil means dependencies are not checked.
	Unhealthy func(ctx context.Context, names []string) ([]string, error)
	// StopGrace is how long a task gets between SIGTERM and SIGKILL. Default 10s.
	StopGrace time.Duration
	Logger    hclog.Logger
}

// Realiser converges one node. Create it with New; Run blocks.
type Realiser struct {
	cfg Config
	log hclog.Logger

	mu      sync.Mutex
	desired []*sched.Alloc
	index   uint64
	// known is set once the servers have answered what this node runs:
	// until then the realiser acts on nothing (it neither starts what it
	// may no longer own nor stops what it may still own).
	known bool

	// Owned by the Run goroutine; restarts is also read and grown by the
	// converge workers, under rsMu (each worker touches only its own
	// allocation's restartState).
	rsMu     sync.Mutex
	restarts map[string]*restartState // by alloc ID
	wake     chan struct{}

	// Reports: the converge workers queue each allocation's new state in
	// pending as soon as it is known, and the reporter sends what is
	// queued in one request while the pass goes on, so that a replica's
	// "running" reaches the servers (and the next batch of a rolling
	// update starts) without waiting for the rest of the pass. sendMu
	// serialises the sends; repMu guards pending and reported.
	sendMu   sync.Mutex
	repMu    sync.Mutex
	pending  map[string]sched.ClientUpdate
	reported map[string]sched.ClientUpdate
	repWake  chan struct{}
	// healthWait is set by a pass that left a health-gated replica
	// running but not yet healthy: the next pass comes after
	// healthPoll, not the resync period, so that its health reaches the
	// servers at once.
	healthWait atomic.Bool

	now func() time.Time // the clock of back-offs and deadlines

	// registered holds, by allocation, the instance and task last
	// registered, so that a driver event saying that task died takes the
	// instance out at once, before the pass it wakes has listed the tasks.
	regMu      sync.Mutex
	registered map[string]registration
}

type registration struct{ instance, task string }

// convergeWorkers bounds the allocations acted on at once.
const convergeWorkers = 8

// healthPoll is how often a replica waiting for its first passing check
// (of a health-gated update) is looked at.
const healthPoll = 100 * time.Millisecond

// restartFor returns the allocation's restart state, creating it.
func (r *Realiser) restartFor(id string) *restartState {
	r.rsMu.Lock()
	defer r.rsMu.Unlock()
	rs := r.restarts[id]
	if rs == nil {
		rs = &restartState{}
		r.restarts[id] = rs
	}
	return rs
}

// peekRestart returns the allocation's restart state, nil when none.
func (r *Realiser) peekRestart(id string) *restartState {
	r.rsMu.Lock()
	defer r.rsMu.Unlock()
	return r.restarts[id]
}

type restartState struct {
	count    int
	notUntil time.Time
	// started is when the current task started, and healthy whether its
	// check has passed since.
	started time.Time
	healthy bool
	// prepareFailures counts failed preparations (image pulls) in a row,
	// for their back-off.
	prepareFailures int
}

// New returns a realiser for cfg.
func New(cfg Config) *Realiser {
	if cfg.Resync == 0 {
		cfg.Resync = time.Second
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Realiser{cfg: cfg, log: cfg.Logger.Named("realiser"), restarts: map[string]*restartState{},
		pending: map[string]sched.ClientUpdate{}, reported: map[string]sched.ClientUpdate{},
		repWake: make(chan struct{}, 1), wake: make(chan struct{}, 1), now: time.Now,
		registered: map[string]registration{}}
}

// Run follows the node's allocations and converges until ctx is done.
func (r *Realiser) Run(ctx context.Context) {
	go r.watch(ctx)
	go r.reporter(ctx)
	for _, d := range r.cfg.Drivers {
		if w, ok := d.(driver.Watcher); ok {
			go r.watchDriver(ctx, d.Name(), w)
		}
	}
	t := time.NewTicker(r.cfg.Resync)
	defer t.Stop()
	for {
		var poll <-chan time.Time
		if r.healthWait.Load() {
			poll = time.After(healthPoll)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		case <-poll:
		}
		r.converge(ctx)
	}
}

// StopAll stops every task the drivers run on this node and deregisters
// their instances: the node is leaving the cluster, and the scheduler
// places its replicas elsewhere. Call it after Run has returned.
func (r *Realiser) StopAll(ctx context.Context) error {
	var errs []error
	for _, d := range r.cfg.Drivers {
		tasks, err := d.List(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, st := range tasks {
			_ = r.cfg.Registry.Deregister(instanceID(st.Service, st.Index, st.AllocID))
			if err := d.Stop(ctx, st.AllocID, r.cfg.StopGrace); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// watch keeps r.desired current with a blocking query.
func (r *Realiser) watch(ctx context.Context) {
	var index uint64
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		// The first answer (minIndex 0, also after a snapshot restore) is
		// the leader's: see Server.NodeAllocs.
		desired, replyIndex, err := r.cfg.Server.NodeAllocs(ctx, r.cfg.NodeID, index)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Debug("allocation watch failed; retrying", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if replyIndex < index {
			replyIndex = 0 // the store was restored: start over
		}
		index = replyIndex
		r.mu.Lock()
		changed := replyIndex != r.index
		r.desired, r.index, r.known = desired, replyIndex, true
		r.mu.Unlock()
		if changed {
			r.log.Debug("allocations changed", "index", replyIndex, "allocs", len(desired))
		}
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// watchDriver wakes the convergence loop each time one of the driver's
// tasks exits or vanishes, so that a replica killed behind the agent's
// back leaves the catalog (and the routing mesh) at once, not at the next
// resync.
func (r *Realiser) watchDriver(ctx context.Context, name string, w driver.Watcher) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := r.now()
		err := w.Watch(ctx, func(allocID, taskID string) {
			r.log.Debug("task exited or removed", "driver", name, "alloc", allocID, "task", taskID)
			r.forgetDead(allocID, taskID)
			select {
			case r.wake <- struct{}{}:
			default:
			}
		})
		if ctx.Err() != nil {
			return
		}
		if r.now().Sub(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		r.log.Debug("driver event stream ended; resync keeps polling", "driver", name, "retry_in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// noteRegistered records the task an allocation's instance was registered
// for.
func (r *Realiser) noteRegistered(allocID, instance, task string) {
	r.regMu.Lock()
	defer r.regMu.Unlock()
	r.registered[allocID] = registration{instance, task}
}

// forgetDead deregisters the allocation's instance if it was registered
// for the task that died (not for a newer one that replaced it).
func (r *Realiser) forgetDead(allocID, taskID string) {
	r.regMu.Lock()
	reg, ok := r.registered[allocID]
	if ok && reg.task == taskID {
		delete(r.registered, allocID)
	}
	r.regMu.Unlock()
	if ok && reg.task == taskID {
		if err := r.cfg.Registry.Deregister(reg.instance); err != nil {
			r.log.Warn("deregister a dead task's instance", "alloc", allocID, "error", err)
		}
	}
}

// converge runs one pass: driver state in, actions out, reports sent.
func (r *Realiser) converge(ctx context.Context) {
	r.mu.Lock()
	desired, known, index := slices.Clone(r.desired), r.known, r.index
	r.mu.Unlock()
	if !known {
		return // nothing is known yet of what this node should run
	}
	start := r.now()

	tasks := map[string]driver.Status{}
	taskDriver := map[string]driver.Driver{}
	for _, d := range r.cfg.Drivers {
		list, err := d.List(ctx)
		if err != nil {
			r.log.Warn("driver list failed", "driver", d.Name(), "error", err)
			return // act on a complete picture only
		}
		for _, st := range list {
			tasks[st.AllocID], taskDriver[st.AllocID] = st, d
		}
	}
	// Tasks with no allocation here are stale (e.g. re-placed while this
	// node was away): stop them first, before anything starts, so that a
	// node never runs an old and a new copy of one replica at once.
	wanted := make(map[string]bool, len(desired))
	for _, a := range desired {
		wanted[a.ID] = true
	}
	for id, st := range tasks {
		if !wanted[id] {
			r.log.Info("stopping stale task", "alloc", id, "service", st.Service)
			if err := taskDriver[id].Stop(ctx, id, r.cfg.StopGrace); err != nil {
				r.log.Error("stop stale task", "alloc", id, "error", err)
			}
			_ = r.cfg.Registry.Deregister(instanceID(st.Service, st.Index, id))
		}
	}
	// Allocations converge in parallel (starting a container takes a
	// round trip or two to the engine), at most convergeWorkers at once;
	// each one's new state is queued for the reporter as soon as known.
	var (
		wg         sync.WaitGroup
		sem        = make(chan struct{}, convergeWorkers)
		changed    atomic.Int32
		healthWait atomic.Bool
	)
	for _, a := range desired {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			u, ok := r.convergeAlloc(ctx, a, tasks, taskDriver)
			if u.ClientStatus == sched.ClientRunning && !u.Healthy && a.Spec.Update.HealthGated && a.Spec.Check != nil {
				healthWait.Store(true)
			}
			if ok {
				changed.Add(1)
				r.enqueue(u)
			}
		}()
	}
	wg.Wait()
	r.healthWait.Store(healthWait.Load())
	r.rsMu.Lock()
	for id := range r.restarts {
		if !wanted[id] {
			delete(r.restarts, id)
		}
	}
	r.rsMu.Unlock()
	r.regMu.Lock()
	for id := range r.registered {
		if !wanted[id] {
			delete(r.registered, id)
		}
	}
	r.regMu.Unlock()
	r.flush(ctx)
	if n := changed.Load(); n > 0 {
		r.log.Debug("converged", "index", index, "allocs", len(desired), "changed", n,
			"took", r.now().Sub(start).Round(time.Millisecond))
	}
}

// convergeAlloc acts on one allocation and returns the report to send,
// if its state changed.
func (r *Realiser) convergeAlloc(ctx context.Context, a *sched.Alloc, tasks map[string]driver.Status,
	taskDriver map[string]driver.Driver) (sched.ClientUpdate, bool) {
	st, hasTask := tasks[a.ID]
	instID := instanceID(a.Service, a.Index, a.ID)
	u := sched.ClientUpdate{ID: a.ID, ClientStatus: a.ClientStatus, Healthy: a.Healthy, IP: a.IP, TaskID: a.TaskID,
		ExitCode: a.ExitCode, Restarts: a.Restarts, ClientDescription: a.ClientDescription}
	if rs := r.peekRestart(a.ID); rs != nil {
		u.Restarts = rs.count
	}

	if a.DesiredStatus == sched.DesiredStop {
		if hasTask {
			if err := taskDriver[a.ID].Stop(ctx, a.ID, r.cfg.StopGrace); err != nil {
				r.log.Error("stop task", "alloc", a.ID, "error", err)
				return u, false
			}
		}
		_ = r.cfg.Registry.Deregister(instID)
		if !a.ClientStatus.Terminal() {
			u.ClientStatus, u.Healthy = sched.ClientComplete, false
			u.ClientDescription = "stopped: " + a.DesiredDescription
		}
		return r.changed(u)
	}
	if a.ClientStatus.Terminal() && !hasTask {
		return u, false // finished for good; the scheduler decides what next
	}
	d, ok := r.cfg.Drivers[string(driverOf(a))]
	if !ok {
		u.ClientStatus, u.ClientDescription = sched.ClientFailed, fmt.Sprintf("driver %q not available on this node", driverOf(a))
		return r.changed(u)
	}
	switch {
	case hasTask && st.State == driver.StateRunning:
		u.ClientStatus, u.IP, u.TaskID = sched.ClientRunning, st.IP, st.ID
		inst := r.instance(a, st)
		if err := r.cfg.Registry.Register(inst); err != nil {
			r.log.Error("register instance", "alloc", a.ID, "error", err)
		}
		r.noteRegistered(a.ID, inst.ID, st.ID)
		healthy, known := r.cfg.Registry.Health(inst.ID)
		u.Healthy = healthy || (!known && a.Spec.Check == nil)
		u.ClientDescription = ""
		if r.unhealthyTooLong(a, st, u.Healthy) {
			// A health-gated replica that never became healthy fails, so
			// that a bad rolling update halts (and rolls back).
			_ = r.cfg.Registry.Deregister(instID)
			if err := d.Stop(ctx, a.ID, r.cfg.StopGrace); err != nil {
				r.log.Error("stop unhealthy task", "alloc", a.ID, "error", err)
			}
			u.ClientStatus, u.Healthy = sched.ClientFailed, false
			u.ClientDescription = fmt.Sprintf("not healthy within %v", a.Spec.Update.HealthyDeadline.Std())
		}
		return r.changed(u)
	case hasTask && st.State != driver.StateRunning:
		_ = r.cfg.Registry.Deregister(instID)
		u.ExitCode, u.Healthy = st.ExitCode, false
		if !r.shouldRestart(a, st.ExitCode) {
			_ = d.Stop(ctx, a.ID, 0)
			u.ClientStatus = sched.ClientComplete
			if st.ExitCode != 0 {
				u.ClientStatus = sched.ClientFailed
			}
			u.ClientDescription = fmt.Sprintf("exited with code %d %s", st.ExitCode, st.Message)
			return r.changed(u)
		}
		return r.start(ctx, d, a, u, fmt.Sprintf("exited with code %d; restarting", st.ExitCode))
	default:
		// No task: a new allocation, or its task vanished (removed behind
		// the agent's back). A vanished task's instance leaves the catalog
		// now, before the replacement starts (which can take a second),
		// so that nothing is routed to the dead address meanwhile; the
		// replacement registers afresh, its check critical until it
		// passes.
		_ = r.cfg.Registry.Deregister(instID)
		return r.start(ctx, d, a, u, "")
	}
}

// unhealthyTooLong reports whether a health-gated replica has run for its
// healthy deadline without its check ever passing.
func (r *Realiser) unhealthyTooLong(a *sched.Alloc, st driver.Status, healthy bool) bool {
	rs := r.restartFor(a.ID)
	started := st.StartedAt
	if started.IsZero() {
		started = r.now()
	}
	if rs.started.IsZero() || started.After(rs.started) {
		rs.started, rs.healthy = started, false
	}
	if healthy {
		rs.healthy = true
	}
	d := a.Spec.Update.HealthyDeadline.Std()
	return a.Spec.Update.HealthGated && a.Spec.Check != nil && !rs.healthy && d > 0 && r.now().Sub(rs.started) > d
}

// shouldRestart applies the restart policy to a task that exited.
func (r *Realiser) shouldRestart(a *sched.Alloc, exitCode int) bool {
	p := a.Spec.Restart
	switch p.Policy {
	case sched.RestartNever:
		return false
	case sched.RestartOnFailure:
		if exitCode == 0 {
			return false
		}
	}
	rs := r.peekRestart(a.ID)
	return p.MaxAttempts == 0 || rs == nil || rs.count < p.MaxAttempts
}

// start starts (or restarts, after the back-off) a task.
func (r *Realiser) start(ctx context.Context, d driver.Driver, a *sched.Alloc, u sched.ClientUpdate, why string) (sched.ClientUpdate, bool) {
	// Defense in depth: never start what this node's configuration does
	// not allow, whatever the scheduler decided.
	if missing := sched.Missing(a.Spec.Needs(), r.cfg.Allows); len(missing) > 0 {
		u.ClientStatus, u.Healthy = sched.ClientFailed, false
		u.ClientDescription = missing[0].NotAllowed(r.nodeName())
		return r.changed(u)
	}
	rs := r.restartFor(a.ID)
	now := r.now()
	if now.Before(rs.notUntil) {
		if why != "" {
			u.ClientStatus, u.ClientDescription = sched.ClientPending, why
		}
		return r.changed(u)
	}
	if why != "" {
		rs.count++
		u.Restarts = rs.count
		r.log.Info("restarting task", "alloc", a.ID, "service", a.Service, "restarts", rs.count)
	}
	if deps := a.Spec.DependsOn; len(deps) > 0 && r.cfg.Unhealthy != nil {
		missing, err := r.cfg.Unhealthy(ctx, deps)
		if err != nil || len(missing) > 0 {
			why := "waiting for dependencies: " + strings.Join(missing, ", ")
			if err != nil {
				why = "cannot check dependencies: " + err.Error()
			}
			u.ClientStatus, u.ClientDescription = sched.ClientPending, why
			return r.changed(u)
		}
	}
	task := &driver.Task{AllocID: a.ID, Service: a.Service, Index: a.Index, Version: a.Version,
		Spec: a.Spec, Ports: a.Ports}
	if _, attaches := d.(driver.NetworkAttacher); attaches && a.Spec.Network == sched.NetworkOverlay && r.cfg.Overlay != nil {
		var wait bool
		task.Network, task.DNS, wait = r.cfg.Overlay()
		if wait {
			u.ClientStatus, u.ClientDescription = sched.ClientPending, "waiting for the overlay network"
			return r.changed(u)
		}
	}
	// Timestamps along the start, for the debug line below.
	t0 := r.now()
	if p, ok := d.(driver.Preparer); ok {
		ready, progress, err := p.Prepare(ctx, task)
		if err != nil {
			// Not lost: the replica waits, and the pull is tried again
			// after a back-off (1 s doubling to a minute).
			wait := min(time.Second<<min(rs.prepareFailures, 6), time.Minute)
			rs.prepareFailures++
			rs.notUntil = now.Add(wait)
			r.log.Error("preparing task failed", "alloc", a.ID, "service", a.Service, "retry_in", wait, "error", err)
			u.ClientStatus, u.Healthy = sched.ClientPending, false
			u.ClientDescription = fmt.Sprintf("%v on %s; retrying in %v", err, r.nodeName(), wait)
			if errors.Is(err, driver.ErrImageMissing) {
				// Pull "never": a failed start, for the scheduler to judge.
				u.ClientStatus, u.ClientDescription = sched.ClientFailed, fmt.Sprintf("%v on %s", err, r.nodeName())
			}
			return r.changed(u)
		}
		if !ready {
			u.ClientStatus, u.ClientDescription = sched.ClientPending, progress+" on "+r.nodeName()
			return r.changed(u)
		}
		rs.prepareFailures = 0
	}
	t1 := r.now()
	st, err := d.Start(ctx, task)
	t2 := r.now()
	delay := a.Spec.Restart.Delay.Std()
	if delay <= 0 {
		delay = sched.DefaultRestartDelay.Std()
	}
	rs.notUntil = now.Add(min(delay<<min(rs.count, 6), time.Minute))
	if err != nil {
		r.log.Error("start task", "alloc", a.ID, "service", a.Service, "error", err)
		u.ClientStatus, u.Healthy, u.ClientDescription = sched.ClientFailed, false, err.Error()
		if !errors.Is(err, driver.ErrImageMissing) && r.shouldRestart(a, -1) {
			u.ClientStatus = sched.ClientPending
		}
		return r.changed(u)
	}
	u.ClientStatus, u.IP, u.TaskID, u.ClientDescription = sched.ClientRunning, st.IP, st.ID, ""
	if st.State != driver.StateRunning {
		u.ClientStatus = sched.ClientPending
	}
	inst := r.instance(a, st)
	if err := r.cfg.Registry.Register(inst); err != nil {
		r.log.Error("register instance", "alloc", a.ID, "error", err)
	}
	r.noteRegistered(a.ID, inst.ID, st.ID)
	healthy, known := r.cfg.Registry.Health(inst.ID)
	u.Healthy = healthy || (!known && a.Spec.Check == nil)
	r.log.Debug("task started", "alloc", a.ID, "service", a.Service, "prepare", t1.Sub(t0).Round(time.Millisecond),
		"start", t2.Sub(t1).Round(time.Millisecond), "register", r.now().Sub(t2).Round(time.Millisecond))
	return r.changed(u)
}

// instance describes a running replica as a service instance: on the
// overlay it is reached at its own IP and container port; otherwise at
// this node's address and the published host port.
func (r *Realiser) instance(a *sched.Alloc, st driver.Status) Instance {
	inst := Instance{
		ID: instanceID(a.Service, a.Index, a.ID), Name: a.Service, Address: r.cfg.AdvertiseAddr,
		Meta: map[string]string{"shoal-alloc": a.ID, "shoal-version": a.Version, "shoal-index": strconv.Itoa(a.Index)},
		Tags: []string{"shoal"},
	}
	maps.Copy(inst.Meta, a.Spec.Labels)
	var port sched.Port
	if len(a.Ports) > 0 {
		port = a.Ports[0]
		if c := a.Spec.Check; c != nil && c.Port != "" {
			for _, p := range a.Ports {
				if p.Name == c.Port {
					port = p
				}
			}
		}
	}
	inst.Port = port.Host
	if a.Spec.Network == sched.NetworkOverlay && st.IP != "" {
		inst.Address, inst.Port = st.IP, port.Container
	}
	if a.Spec.Check != nil && inst.Port != 0 {
		inst.Check = a.Spec.Check
		inst.CheckTarget = fmt.Sprintf("%s:%d", inst.Address, inst.Port)
	}
	return inst
}

// nodeName names this node in status lines.
func (r *Realiser) nodeName() string {
	if r.cfg.NodeName != "" {
		return r.cfg.NodeName
	}
	return r.cfg.NodeID
}

func instanceID(service string, index int, allocID string) string {
	short := allocID
	if len(short) > 8 {
		short = short[:8]
	}
	return fmt.Sprintf("%s-%d-%s", service, index, short)
}

func driverOf(a *sched.Alloc) sched.Driver {
	if a.Spec == nil || a.Spec.Driver == "" {
		return sched.DriverDocker
	}
	return a.Spec.Driver
}

// changed reports u when it differs from what was last sent.
func (r *Realiser) changed(u sched.ClientUpdate) (sched.ClientUpdate, bool) {
	r.repMu.Lock()
	prev, ok := r.reported[u.ID]
	r.repMu.Unlock()
	u.ClientTime = 0
	if ok && prev == u {
		return u, false
	}
	return u, true
}

// enqueue queues u for the reporter (a newer state of the same allocation
// replaces a queued one) and wakes it.
func (r *Realiser) enqueue(u sched.ClientUpdate) {
	r.repMu.Lock()
	r.pending[u.ID] = u
	r.repMu.Unlock()
	select {
	case r.repWake <- struct{}{}:
	default:
	}
}

// reporter sends queued reports as they come, until ctx is done.
func (r *Realiser) reporter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.repWake:
			r.flush(ctx)
		}
	}
}

// flush sends every queued report to the servers in one request. A report
// that fails is dropped: the next pass finds the state still unreported
// and queues it again.
func (r *Realiser) flush(ctx context.Context) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	r.repMu.Lock()
	if len(r.pending) == 0 {
		r.repMu.Unlock()
		return
	}
	now := r.now().UnixNano()
	req := sched.UpdateRequest{NodeID: r.cfg.NodeID}
	for _, id := range slices.Sorted(maps.Keys(r.pending)) {
		u := r.pending[id]
		u.ClientTime = now
		req.Updates = append(req.Updates, u)
	}
	clear(r.pending)
	r.repMu.Unlock()
	if err := r.cfg.Server.UpdateAllocs(ctx, req); err != nil {
		r.log.Warn("reporting allocation status failed; will retry", "error", err)
		return
	}
	r.repMu.Lock()
	for _, u := range req.Updates {
		u.ClientTime = 0
		r.reported[u.ID] = u
	}
	r.repMu.Unlock()
}
