package realiser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// fakeDriver is a Driver whose tasks are entries in a map: tests make them
// exit, and read back what the realiser asked for.
type fakeDriver struct {
	name  string
	clock func() time.Time // stamps startCall.at; nil: zero

	mu       sync.Mutex
	tasks    map[string]driver.Status // by alloc ID
	startErr map[string]error         // Start fails with it, by alloc ID
	// startGate, by alloc ID: Start waits until the channel is closed.
	startGate map[string]chan struct{}
	listErr   error
	// listGate, when set, makes List wait until it is closed.
	listGate chan struct{}
	nextID   int
	starts   []startCall
	stops    []stopCall
}

type startCall struct {
	task driver.Task
	at   time.Time // the fake clock's time, when the test gave one
}

type stopCall struct {
	allocID string
	grace   time.Duration
}

func newFakeDriver(name string) *fakeDriver {
	return &fakeDriver{name: name, tasks: map[string]driver.Status{}, startErr: map[string]error{}, startGate: map[string]chan struct{}{}}
}

func (d *fakeDriver) Name() string                        { return d.name }
func (d *fakeDriver) Available(ctx context.Context) error { return nil }

func (d *fakeDriver) Start(ctx context.Context, t *driver.Task) (driver.Status, error) {
	d.mu.Lock()
	gate := d.startGate[t.AllocID]
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return driver.Status{}, ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	call := startCall{task: *t}
	if d.clock != nil {
		call.at = d.clock()
	}
	d.starts = append(d.starts, call)
	delete(d.tasks, t.AllocID)
	if err := d.startErr[t.AllocID]; err != nil {
		return driver.Status{}, err
	}
	d.nextID++
	st := driver.Status{AllocID: t.AllocID, Service: t.Service, Index: t.Index, Version: t.Version,
		ID: fmt.Sprintf("task-%d", d.nextID), State: driver.StateRunning, IP: "10.42.1.7", StartedAt: call.at}
	d.tasks[t.AllocID] = st
	return st, nil
}

func (d *fakeDriver) Stop(ctx context.Context, allocID string, grace time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stops = append(d.stops, stopCall{allocID, grace})
	delete(d.tasks, allocID)
	return nil
}

func (d *fakeDriver) Inspect(ctx context.Context, allocID string) (driver.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.tasks[allocID]
	if !ok {
		return driver.Status{}, driver.ErrNotFound
	}
	return st, nil
}

func (d *fakeDriver) List(ctx context.Context) ([]driver.Status, error) {
	d.mu.Lock()
	gate := d.listGate
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.listErr != nil {
		return nil, d.listErr
	}
	var out []driver.Status
	for _, st := range d.tasks {
		out = append(out, st)
	}
	return out, nil
}

func (d *fakeDriver) Logs(ctx context.Context, allocID string, tail int, w io.Writer) error {
	return errors.ErrUnsupported
}

// put adds a task as an earlier agent would have left it.
func (d *fakeDriver) put(st driver.Status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks[st.AllocID] = st
}

// exit makes the allocation's task exit with code.
func (d *fakeDriver) exit(t *testing.T, allocID string, code int) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.tasks[allocID]
	if !ok {
		t.Fatalf("no task for %s to exit", allocID)
	}
	st.State, st.ExitCode = driver.StateExited, code
	d.tasks[allocID] = st
}

func (d *fakeDriver) startsOf(allocID string) []startCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []startCall
	for _, s := range d.starts {
		if s.task.AllocID == allocID {
			out = append(out, s)
		}
	}
	return out
}

func (d *fakeDriver) stopped() []stopCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.stops)
}

func (d *fakeDriver) running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, st := range d.tasks {
		if st.State == driver.StateRunning {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// fakeAttacher is a fakeDriver whose tasks can join the overlay.
type fakeAttacher struct{ *fakeDriver }

func (fakeAttacher) CheckSameNetNS(ctx context.Context) error                       { return nil }
func (fakeAttacher) EnsureNetwork(ctx context.Context, ns driver.NetworkSpec) error { return nil }
func (fakeAttacher) RemoveNetwork(ctx context.Context, name string) error           { return nil }

// fakeServer serves one node's allocations as a blocking query and records
// the reports.
type fakeServer struct {
	mu        sync.Mutex
	allocs    []*sched.Alloc
	index     uint64
	changed   chan struct{} // closed and replaced on every set
	updateErr error
	// allocsErr, when set, fails every NodeAllocs (no server reachable).
	allocsErr error
	reports   []sched.UpdateRequest
	reported  chan struct{} // receives after each accepted report
}

func newFakeServer() *fakeServer {
	return &fakeServer{changed: make(chan struct{}), reported: make(chan struct{}, 100)}
}

// set replaces the node's allocations at index.
func (s *fakeServer) set(index uint64, as ...*sched.Alloc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allocs, s.index = as, index
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *fakeServer) NodeAllocs(ctx context.Context, nodeID string, minIndex uint64) ([]*sched.Alloc, uint64, error) {
	for {
		s.mu.Lock()
		if err := s.allocsErr; err != nil {
			s.mu.Unlock()
			return nil, 0, err
		}
		if s.index > minIndex || minIndex == 0 {
			var out []*sched.Alloc
			for _, a := range s.allocs {
				if a.NodeID == nodeID {
					c := *a
					out = append(out, &c)
				}
			}
			idx := s.index
			s.mu.Unlock()
			return out, idx, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

func (s *fakeServer) UpdateAllocs(ctx context.Context, req sched.UpdateRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.updateErr != nil {
		return s.updateErr
	}
	s.reports = append(s.reports, req)
	// Apply them as the FSM does, so that the next read sees them.
	for _, u := range req.Updates {
		for i, a := range s.allocs {
			if a.ID == u.ID {
				c := *a
				c.ClientStatus, c.Healthy, c.IP, c.TaskID = u.ClientStatus, u.Healthy, u.IP, u.TaskID
				c.ExitCode, c.Restarts, c.ClientDescription, c.ClientTime = u.ExitCode, u.Restarts, u.ClientDescription, u.ClientTime
				s.allocs[i] = &c
			}
		}
	}
	s.index++
	close(s.changed)
	s.changed = make(chan struct{})
	select {
	case s.reported <- struct{}{}:
	default:
	}
	return nil
}

// updates returns every update reported so far, in order.
func (s *fakeServer) updates() []sched.ClientUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sched.ClientUpdate
	for _, r := range s.reports {
		out = append(out, r.Updates...)
	}
	return out
}

// last returns the last update reported for the allocation.
func (s *fakeServer) last(t *testing.T, allocID string) sched.ClientUpdate {
	t.Helper()
	var last *sched.ClientUpdate
	for _, u := range s.updates() {
		if u.ID == allocID {
			last = &u
		}
	}
	if last == nil {
		t.Fatalf("no report for %s", allocID)
	}
	return *last
}

// fakeRegistry is the local agent's registry as a map.
type fakeRegistry struct {
	mu        sync.Mutex
	instances map[string]Instance
	health    map[string]bool // by instance ID; absent: no check known
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{instances: map[string]Instance{}, health: map[string]bool{}}
}

func (r *fakeRegistry) Register(inst Instance) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[inst.ID] = inst
	return nil
}

func (r *fakeRegistry) Deregister(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.instances, id)
	return nil
}

func (r *fakeRegistry) Health(id string) (healthy, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.instances[id]; !ok {
		return false, false
	}
	h, ok := r.health[id]
	return h, ok
}

func (r *fakeRegistry) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range r.instances {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// fakeClock is the realiser's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// vanish removes the allocation's task as `docker rm -f` would, behind
// the realiser's back.
func (d *fakeDriver) vanish(allocID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.tasks, allocID)
}

// fakeWatcher is a fakeDriver that tells, through driver.Watcher, when a
// task exits or vanishes: the test sends the allocation and task IDs on
// events.
type fakeWatcher struct {
	*fakeDriver
	events chan [2]string
}

func (w fakeWatcher) Watch(ctx context.Context, changed func(allocID, taskID string)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-w.events:
			changed(e[0], e[1])
		}
	}
}
