package realiser

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

const testNode = "node-1"

// harness is a Realiser on fakes: drivers, the servers, the local registry
// and the clock. converge runs one pass the way Run does after the watch
// has read the node's allocations.
type harness struct {
	t     *testing.T
	r     *Realiser
	srv   *fakeServer
	reg   *fakeRegistry
	clock *fakeClock
	// overlay and unhealthy answer Config.Overlay and Config.Unhealthy.
	overlay   func() (string, []string, bool)
	unhealthy []string
}

func newHarness(t *testing.T, drivers ...*fakeDriver) *harness {
	h := &harness{t: t, srv: newFakeServer(), reg: newFakeRegistry(),
		clock: &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	ds := map[string]driver.Driver{}
	for _, d := range drivers {
		d.clock = h.clock.Now
		ds[d.name] = d
	}
	h.r = h.newRealiser(ds)
	return h
}

// withAttacher makes the docker driver one that joins the overlay.
func (h *harness) withAttacher(d *fakeDriver) {
	d.clock = h.clock.Now
	h.r = h.newRealiser(map[string]driver.Driver{d.name: fakeAttacher{d}})
}

func (h *harness) newRealiser(ds map[string]driver.Driver) *Realiser {
	r := New(Config{
		NodeID: testNode, NodeName: "n1", AdvertiseAddr: "192.0.2.10",
		Drivers: ds, Server: h.srv, Registry: h.reg, StopGrace: 7 * time.Second,
		Overlay: func() (string, []string, bool) {
			if h.overlay == nil {
				return "", nil, false
			}
			return h.overlay()
		},
		Unhealthy: func(ctx context.Context, names []string) ([]string, error) { return h.unhealthy, nil },
		Logger:    hclog.New(&hclog.LoggerOptions{Output: tWriter{h.t}, Level: hclog.Debug}),
	})
	r.now = h.clock.Now
	return r
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// converge reads the node's allocations from the fake server, as the
// watch does, and runs one pass.
// start runs the realiser until the returned stop, which waits for Run
// to return.
func (h *harness) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.r.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

func (h *harness) converge() {
	h.t.Helper()
	ctx := context.Background()
	as, idx, err := h.srv.NodeAllocs(ctx, testNode, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	h.r.mu.Lock()
	h.r.desired, h.r.index, h.r.known = as, idx, true
	h.r.mu.Unlock()
	h.r.converge(ctx)
}

// newAlloc returns a pending allocation of service web on the test node,
// its spec canonicalized after mutate.
func newAlloc(id string, index int, mutate func(*sched.Spec)) *sched.Alloc {
	s := &sched.Spec{Name: "web", Image: "shoal-test/hello", Network: sched.NetworkBridge,
		Ports: []sched.Port{{Name: "http", Container: 8080}}}
	if mutate != nil {
		mutate(s)
	}
	s.Canonicalize()
	ports := slices.Clone(s.Ports)
	for i := range ports {
		ports[i].Host = 20000 + index
	}
	return &sched.Alloc{
		Allocation: sched.Allocation{ID: id, Service: s.Name, Version: s.Version(), NodeID: testNode, Index: index,
			DesiredStatus: sched.DesiredRun, ClientStatus: sched.ClientPending, Ports: ports},
		Spec: s,
	}
}

const (
	idA = "aaaaaaaa-1111-2222-3333-444444444444"
	idB = "bbbbbbbb-1111-2222-3333-444444444444"
	idZ = "zzzzzzzz-1111-2222-3333-444444444444"
)

func allocIDs(calls []startCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.task.AllocID)
	}
	return out
}

// TestConverge checks one pass of the state machine for each situation
// an allocation can be in.
func TestConverge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness, d *fakeDriver)
		check func(t *testing.T, h *harness, d *fakeDriver)
	}{{
		name: "starts a new allocation, registers and reports it",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 2, nil))
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			starts := d.startsOf(idA)
			if len(starts) != 1 || starts[0].task.Service != "web" || starts[0].task.Index != 2 || starts[0].task.Network != "" {
				t.Fatalf("starts = %+v, want one of web.2", starts)
			}
			u := h.srv.last(t, idA)
			if u.ClientStatus != sched.ClientRunning || !u.Healthy || u.TaskID != "task-1" || u.ClientTime == 0 {
				t.Errorf("report %+v, want running, healthy (no check), task-1, stamped", u)
			}
			inst := h.reg.instances["web-2-aaaaaaaa"]
			if inst.Name != "web" || inst.Address != "192.0.2.10" || inst.Port != 20002 || inst.Meta["shoal-alloc"] != idA {
				t.Errorf("instance %+v, want web at 192.0.2.10:20002", inst)
			}
		},
	}, {
		name: "adopts a task an earlier agent left running",
		setup: func(h *harness, d *fakeDriver) {
			a := newAlloc(idA, 0, nil)
			h.srv.set(1, a)
			d.put(driver.Status{AllocID: idA, Service: "web", Version: a.Version, ID: "old-task", State: driver.StateRunning, IP: "172.17.0.2"})
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if starts := d.startsOf(idA); len(starts) != 0 {
				t.Errorf("started %d times, want the task adopted", len(starts))
			}
			if stops := d.stopped(); len(stops) != 0 {
				t.Errorf("stops %+v, want none", stops)
			}
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientRunning || u.TaskID != "old-task" || u.IP != "172.17.0.2" {
				t.Errorf("report %+v, want the adopted task running", u)
			}
			if ids := h.reg.ids(); !slices.Equal(ids, []string{"web-0-aaaaaaaa"}) {
				t.Errorf("registered %v", ids)
			}
		},
	}, {
		name: "stops a task no allocation wants",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, nil))
			d.put(driver.Status{AllocID: idZ, Service: "old", ID: "stale", State: driver.StateRunning})
			h.reg.Register(Instance{ID: instanceID("old", 0, idZ), Name: "old"})
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if stops := d.stopped(); !slices.Equal(stops, []stopCall{{idZ, 7 * time.Second}}) {
				t.Errorf("stops %+v, want the stale task with the stop grace", stops)
			}
			if ids := h.reg.ids(); !slices.Equal(ids, []string{"web-0-aaaaaaaa"}) {
				t.Errorf("registered %v, want the stale instance gone", ids)
			}
			for _, u := range h.srv.updates() {
				if u.ID == idZ {
					t.Errorf("reported the stale task: %+v", u)
				}
			}
		},
	}, {
		name: "stops an allocation the scheduler stopped",
		setup: func(h *harness, d *fakeDriver) {
			a := newAlloc(idA, 0, nil)
			a.DesiredStatus, a.DesiredDescription, a.ClientStatus = sched.DesiredStop, "replaced by v2", sched.ClientRunning
			h.srv.set(1, a)
			d.put(driver.Status{AllocID: idA, Service: "web", ID: "t", State: driver.StateRunning})
			h.reg.Register(Instance{ID: "web-0-aaaaaaaa", Name: "web"})
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if stops := d.stopped(); !slices.Equal(stops, []stopCall{{idA, 7 * time.Second}}) {
				t.Errorf("stops %+v", stops)
			}
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientComplete || u.Healthy || u.ClientDescription != "stopped: replaced by v2" {
				t.Errorf("report %+v, want complete, stopped: replaced by v2", u)
			}
			if ids := h.reg.ids(); len(ids) != 0 {
				t.Errorf("registered %v, want none", ids)
			}
		},
	}, {
		name: "leaves a finished allocation alone",
		setup: func(h *harness, d *fakeDriver) {
			a := newAlloc(idA, 0, nil)
			a.ClientStatus = sched.ClientFailed
			h.srv.set(1, a)
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if starts := d.startsOf(idA); len(starts) != 0 {
				t.Errorf("restarted a failed allocation %d times; the scheduler decides what next", len(starts))
			}
			if u := h.srv.updates(); len(u) != 0 {
				t.Errorf("reports %+v, want none", u)
			}
		},
	}, {
		name: "fails an allocation whose driver this node lacks",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.Driver, s.Command = sched.DriverExec, "/bin/true" }))
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientFailed || !strings.Contains(u.ClientDescription, `driver "exec" not available`) {
				t.Errorf("report %+v, want failed, driver not available", u)
			}
		},
	}, {
		name: "refuses a spec needing a permission this node does not allow",
		setup: func(h *harness, d *fakeDriver) {
			h.r.cfg.Allows = []sched.Permission{sched.AllowHostVolumes}
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.Privileged = true }))
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if starts := d.startsOf(idA); len(starts) != 0 {
				t.Errorf("started a privileged replica on a node that does not allow it")
			}
			want := "node n1 does not allow privileged containers (scheduler.allow_privileged)"
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientFailed || u.ClientDescription != want {
				t.Errorf("report %+v, want failed: %s", u, want)
			}
		},
	}, {
		name: "starts a spec whose permissions this node allows",
		setup: func(h *harness, d *fakeDriver) {
			h.r.cfg.Allows = []sched.Permission{sched.AllowPrivileged}
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.Privileged = true }))
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if u := h.srv.last(t, idA); len(d.startsOf(idA)) != 1 || u.ClientStatus != sched.ClientRunning {
				t.Errorf("starts %d, report %+v; want one start, running", len(d.startsOf(idA)), u)
			}
		},
	}, {
		name: "a missing image fails for good",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, nil))
			d.startErr[idA] = fmt.Errorf("docker: start: %w: shoal-test/hello", driver.ErrImageMissing)
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientFailed || !strings.Contains(u.ClientDescription, "shoal-test/hello") {
				t.Errorf("report %+v, want failed naming the image", u)
			}
		},
	}, {
		name: "another start error is retried",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, nil))
			d.startErr[idA] = errors.New("engine busy")
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientPending || u.ClientDescription != "engine busy" {
				t.Errorf("report %+v, want pending: engine busy", u)
			}
		},
	}, {
		name: "waits for unhealthy dependencies",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.DependsOn = []string{"db", "cache"} }))
			h.unhealthy = []string{"db"}
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if starts := d.startsOf(idA); len(starts) != 0 {
				t.Errorf("started before its dependency was healthy")
			}
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientPending || u.ClientDescription != "waiting for dependencies: db" {
				t.Errorf("report %+v, want pending, waiting for db", u)
			}
		},
	}, {
		name: "a driver without the overlay ignores it",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.Network = sched.NetworkOverlay }))
			h.overlay = func() (string, []string, bool) { return "shoal", []string{"10.42.1.1"}, false }
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if starts := d.startsOf(idA); len(starts) != 1 || starts[0].task.Network != "" || starts[0].task.DNS != nil {
				t.Errorf("starts %+v, want one without a network", starts)
			}
		},
	}, {
		name: "a failed driver listing acts on nothing",
		setup: func(h *harness, d *fakeDriver) {
			h.srv.set(1, newAlloc(idA, 0, nil))
			d.put(driver.Status{AllocID: idZ, ID: "stale", State: driver.StateRunning})
			d.listErr = errors.New("engine down")
		},
		check: func(t *testing.T, h *harness, d *fakeDriver) {
			if len(d.startsOf(idA)) != 0 || len(d.stopped()) != 0 || len(h.srv.updates()) != 0 {
				t.Errorf("acted on a partial picture: starts %v stops %v reports %v", allocIDs(d.starts), d.stopped(), h.srv.updates())
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDriver("docker")
			h := newHarness(t, d)
			tc.setup(h, d)
			h.converge()
			tc.check(t, h, d)
		})
	}
}

// TestOverlay: replicas on the overlay wait for it, then join its network
// and are registered at their own address.
func TestOverlay(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t)
	h.withAttacher(d)
	h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.Network = sched.NetworkOverlay }))
	h.overlay = func() (string, []string, bool) { return "", nil, true }
	h.converge()
	if starts := d.startsOf(idA); len(starts) != 0 {
		t.Fatalf("started before the overlay was up: %+v", starts)
	}
	if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientPending || u.ClientDescription != "waiting for the overlay network" {
		t.Errorf("report %+v, want pending, waiting for the overlay", u)
	}

	h.overlay = func() (string, []string, bool) { return "shoal", []string{"10.42.1.1"}, false }
	h.converge()
	starts := d.startsOf(idA)
	if len(starts) != 1 || starts[0].task.Network != "shoal" || !slices.Equal(starts[0].task.DNS, []string{"10.42.1.1"}) {
		t.Fatalf("starts %+v, want one on network shoal with DNS 10.42.1.1", starts)
	}
	if inst := h.reg.instances["web-0-aaaaaaaa"]; inst.Address != "10.42.1.7" || inst.Port != 8080 {
		t.Errorf("instance at %s:%d, want the task's own 10.42.1.7:8080", inst.Address, inst.Port)
	}
}

// TestRestartPolicy: what happens when a task exits, per restart policy.
func TestRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		name        string
		policy      sched.RestartMode
		maxAttempts int
		exits       []int // the task's exit codes, one per run
		wantStarts  int
		wantStatus  sched.ClientStatus
		wantDesc    string
	}{
		{"always restarts a success", sched.RestartAlways, 0, []int{0}, 2, sched.ClientRunning, ""},
		{"always restarts a failure", sched.RestartAlways, 0, []int{1}, 2, sched.ClientRunning, ""},
		{"on-failure completes a success", sched.RestartOnFailure, 0, []int{0}, 1, sched.ClientComplete, "exited with code 0 "},
		{"on-failure restarts a failure", sched.RestartOnFailure, 0, []int{3}, 2, sched.ClientRunning, ""},
		{"never fails a failure", sched.RestartNever, 0, []int{3}, 1, sched.ClientFailed, "exited with code 3 "},
		{"never completes a success", sched.RestartNever, 0, []int{0}, 1, sched.ClientComplete, "exited with code 0 "},
		{"max attempts reached fails", sched.RestartAlways, 2, []int{1, 1, 1}, 3, sched.ClientFailed, "exited with code 1 "},
		{"max attempts not yet reached", sched.RestartAlways, 3, []int{1, 1, 1}, 4, sched.ClientRunning, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDriver("docker")
			h := newHarness(t, d)
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) {
				s.Restart = sched.RestartPolicy{Policy: tc.policy, MaxAttempts: tc.maxAttempts, Delay: sched.Duration(time.Second)}
			}))
			h.converge()
			for _, code := range tc.exits {
				d.exit(t, idA, code)
				h.clock.Advance(time.Hour) // past any back-off
				h.converge()
			}
			if n := len(d.startsOf(idA)); n != tc.wantStarts {
				t.Errorf("started %d times, want %d", n, tc.wantStarts)
			}
			u := h.srv.last(t, idA)
			if u.ClientStatus != tc.wantStatus || u.ClientDescription != tc.wantDesc {
				t.Errorf("report %+v, want %s %q", u, tc.wantStatus, tc.wantDesc)
			}
			if wantRestarts := tc.wantStarts - 1; u.Restarts != wantRestarts {
				t.Errorf("reported %d restarts, want %d", u.Restarts, wantRestarts)
			}
			if tc.wantStatus.Terminal() {
				// The exited task is removed, and nothing restarts it.
				if stops := d.stopped(); !slices.Equal(stops, []stopCall{{idA, 0}}) {
					t.Errorf("stops %+v, want the exited task removed", stops)
				}
				h.clock.Advance(time.Hour)
				h.converge()
				if n := len(d.startsOf(idA)); n != tc.wantStarts {
					t.Errorf("started again after a terminal exit (%d starts)", n)
				}
			}
		})
	}
}

// TestRestartBackOff: a task that keeps failing is restarted after the
// spec's delay, doubled at each restart, at most a minute.
func TestRestartBackOff(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) {
		s.Restart = sched.RestartPolicy{Policy: sched.RestartAlways, Delay: sched.Duration(time.Second)}
	}))
	h.converge()
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		want[i] *= time.Second
	}
	var gaps []time.Duration
	for restarts := 1; restarts <= len(want); restarts++ {
		starts := d.startsOf(idA)
		last := starts[len(starts)-1].at
		d.exit(t, idA, 1)
		// Converge every 250ms until the task is started again.
		for len(d.startsOf(idA)) == len(starts) {
			h.clock.Advance(250 * time.Millisecond)
			h.converge()
			if h.clock.Now().Sub(last) > 2*time.Minute {
				t.Fatalf("not restarted within 2 minutes after restart %d", restarts-1)
			}
			if u := h.srv.last(t, idA); len(d.startsOf(idA)) == len(starts) &&
				(u.ClientStatus != sched.ClientPending || u.ClientDescription != "exited with code 1; restarting") {
				t.Fatalf("report while backing off: %+v, want pending, restarting", u)
			}
		}
		starts = d.startsOf(idA)
		gaps = append(gaps, starts[len(starts)-1].at.Sub(last))
		if u := h.srv.last(t, idA); u.Restarts != restarts || u.ClientStatus != sched.ClientRunning {
			t.Fatalf("report after restart %d: %+v", restarts, u)
		}
	}
	if !slices.Equal(gaps, want) {
		t.Errorf("restart gaps %v, want %v", gaps, want)
	}
}

// TestHealthyDeadline: a health-gated replica whose check never passes
// within the deadline is stopped and failed, so a bad update halts.
func TestHealthyDeadline(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gated      bool
		passesOnce bool
		wantFailed bool
	}{
		{"never healthy", true, false, true},
		{"healthy once", true, true, false},
		{"not health gated", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDriver("docker")
			h := newHarness(t, d)
			h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) {
				s.Check = &sched.Check{HTTP: "/health", Interval: sched.Duration(time.Second)}
				s.Update.HealthGated = tc.gated
				s.Update.HealthyDeadline = sched.Duration(10 * time.Second)
			}))
			h.converge()
			inst := "web-0-aaaaaaaa"
			h.reg.health[inst] = tc.passesOnce
			h.clock.Advance(5 * time.Second)
			h.converge()
			if u := h.srv.last(t, idA); u.ClientStatus != sched.ClientRunning || u.Healthy != tc.passesOnce {
				t.Fatalf("report within the deadline %+v, want running, healthy %v", u, tc.passesOnce)
			}
			h.reg.health[inst] = false
			h.clock.Advance(6 * time.Second)
			h.converge()
			u := h.srv.last(t, idA)
			if failed := u.ClientStatus == sched.ClientFailed; failed != tc.wantFailed {
				t.Fatalf("report after the deadline %+v, want failed %v", u, tc.wantFailed)
			}
			if tc.wantFailed {
				if u.ClientDescription != "not healthy within 10s" || len(d.running()) != 0 || len(h.reg.ids()) != 0 {
					t.Errorf("failed replica: %+v, running %v, registered %v; want stopped and deregistered", u, d.running(), h.reg.ids())
				}
			}
		})
	}
}

// TestReportsChangesOnly: a pass reports only what changed since the last
// accepted report, and a report the servers refused is sent again.
func TestReportsChangesOnly(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	h.srv.set(1, newAlloc(idA, 0, nil), newAlloc(idB, 1, nil))
	h.srv.updateErr = errors.New("no leader")
	h.converge()
	if n := len(h.srv.updates()); n != 0 {
		t.Fatalf("%d updates accepted while the server refuses", n)
	}
	h.srv.updateErr = nil
	h.converge()
	if got := h.srv.updates(); len(got) != 2 {
		t.Fatalf("after the server is back: %+v, want both allocations reported", got)
	}
	h.converge()
	h.converge()
	if got := h.srv.updates(); len(got) != 2 {
		t.Fatalf("unchanged passes reported again: %+v", got)
	}
	d.exit(t, idB, 1)
	h.converge()
	got := h.srv.updates()
	if len(got) != 3 || got[2].ID != idB || got[2].ClientStatus != sched.ClientPending || got[2].ExitCode != 1 {
		t.Fatalf("after B exited: %+v, want one more report, of B", got)
	}
}

// TestRun drives the realiser through Run: it follows the node's
// allocations with the blocking query, converges and reports, and StopAll
// clears the node.
func TestRun(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	h.r.cfg.Resync = 20 * time.Millisecond
	h.r.now = time.Now
	h.srv.set(1, newAlloc(idA, 0, nil), newAlloc(idB, 1, nil))
	// Another node's allocation is not this one's business.
	other := newAlloc(idZ, 0, nil)
	other.NodeID = "node-2"
	h.srv.set(2, newAlloc(idA, 0, nil), newAlloc(idB, 1, nil), other)

	stop := h.start()
	waitFor(t, "both replicas running and reported", func() bool {
		return slices.Equal(d.running(), []string{idA, idB}) && reportedStatus(h.srv, idA) == sched.ClientRunning &&
			reportedStatus(h.srv, idB) == sched.ClientRunning
	})

	// The scheduler stops A.
	stopA := newAlloc(idA, 0, nil)
	stopA.DesiredStatus, stopA.DesiredDescription, stopA.ClientStatus = sched.DesiredStop, "scaled down", sched.ClientRunning
	h.srv.set(10, stopA, newAlloc(idB, 1, nil), other)
	waitFor(t, "A stopped and reported complete", func() bool {
		return slices.Equal(d.running(), []string{idB}) && reportedStatus(h.srv, idA) == sched.ClientComplete
	})
	stop()
	if n := len(d.startsOf(idZ)); n != 0 {
		t.Errorf("started another node's allocation")
	}

	if err := h.r.StopAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if running, ids := d.running(), h.reg.ids(); len(running) != 0 || len(ids) != 0 {
		t.Errorf("after StopAll: running %v, registered %v; want none", running, ids)
	}
}

func reportedStatus(s *fakeServer, allocID string) sched.ClientStatus {
	var st sched.ClientStatus
	for _, u := range s.updates() {
		if u.ID == allocID {
			st = u.ClientStatus
		}
	}
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRunActsOnNothingUntilTheServersAnswer: a node that comes back acts on
// nothing before the servers have said what it runs. It neither stops the
// tasks an earlier run left (they may still be its own) nor starts anything;
// once the answer comes it adopts what is still its own and stops the rest
// before starting anything new.
func TestRunActsOnNothingUntilTheServersAnswer(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	h.r.cfg.Resync = 10 * time.Millisecond
	h.r.now = time.Now
	a := newAlloc(idA, 0, nil)
	d.put(driver.Status{AllocID: idA, Service: "web", Version: a.Version, ID: "kept", State: driver.StateRunning})
	d.put(driver.Status{AllocID: idZ, Service: "web", Version: a.Version, Index: 2, ID: "ghost", State: driver.StateRunning})
	h.srv.mu.Lock()
	h.srv.allocsErr = errors.New("no cluster leader")
	h.srv.mu.Unlock()

	defer h.start()()
	time.Sleep(300 * time.Millisecond) // about 30 resync ticks
	if stops := d.stopped(); len(stops) != 0 {
		t.Fatalf("stopped %+v before the servers answered, want nothing touched", stops)
	}
	if n := len(d.startsOf(idA)) + len(d.startsOf(idB)); n != 0 {
		t.Fatalf("%d starts before the servers answered", n)
	}

	// The servers' answer is set before they become reachable, so that the
	// first answer the realiser gets is this one.
	h.srv.set(5, a, newAlloc(idB, 1, nil))
	h.srv.mu.Lock()
	h.srv.allocsErr = nil
	h.srv.mu.Unlock()
	waitFor(t, "A adopted, B started, the ghost stopped", func() bool {
		return slices.Equal(d.running(), []string{idA, idB}) && reportedStatus(h.srv, idA) == sched.ClientRunning
	})
	if n := len(d.startsOf(idA)); n != 0 {
		t.Errorf("A started %d times, want it adopted", n)
	}
	if stops := d.stopped(); len(stops) != 1 || stops[0].allocID != idZ {
		t.Errorf("stops %+v, want only the ghost", stops)
	}
}

// waitReport waits up to timeout for a report of allocID that satisfies ok.
func waitReport(t *testing.T, srv *fakeServer, timeout time.Duration, allocID string, ok func(sched.ClientUpdate) bool) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, u := range srv.updates() {
			if u.ID == allocID && ok(u) {
				return true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// TestReplicaRunningIsReportedBeforeThePassEnds: a replica that runs is
// reported at once, not after every other start of the pass (a rolling
// update's next batch waits for that report).
func TestReplicaRunningIsReportedBeforeThePassEnds(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	gate := make(chan struct{})
	d.startGate[idB] = gate
	h.srv.set(1, newAlloc(idA, 0, nil), newAlloc(idB, 1, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.r.reporter(ctx)
	done := make(chan struct{})
	go func() {
		h.converge()
		close(done)
	}()
	running := func(u sched.ClientUpdate) bool { return u.ClientStatus == sched.ClientRunning }
	if !waitReport(t, h.srv, 5*time.Second, idA, running) {
		t.Error("the replica that runs was not reported while another one was still starting")
	}
	close(gate)
	<-done
	if !waitReport(t, h.srv, time.Second, idB, running) {
		t.Error("the slow replica was not reported by the end of the pass")
	}
}

// TestHealthGatedReplicaIsReportedHealthyAtOnce: while a health-gated
// replica waits for its first passing check, the realiser looks at it
// every healthPoll, so its health reaches the servers long before the
// resync period.
func TestHealthGatedReplicaIsReportedHealthyAtOnce(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	h.r.cfg.Resync = time.Hour
	h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) {
		s.Check = &sched.Check{HTTP: "/health"}
		s.Update.HealthGated = true
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.r.Run(ctx)
	if !waitReport(t, h.srv, 5*time.Second, idA, func(u sched.ClientUpdate) bool { return u.ClientStatus == sched.ClientRunning }) {
		t.Fatal("the replica was never reported running")
	}
	ids := h.reg.ids()
	if len(ids) != 1 {
		t.Fatalf("registered %v", ids)
	}
	h.reg.mu.Lock()
	h.reg.health[ids[0]] = true
	h.reg.mu.Unlock()
	if !waitReport(t, h.srv, 2*time.Second, idA, func(u sched.ClientUpdate) bool { return u.Healthy }) {
		t.Error("the replica's passing check was not reported within 2s (resync is an hour)")
	}
}

// TestVanishedTaskLeavesTheRegistryBeforeItsReplacementStarts: a task
// removed behind the agent's back (docker rm -f) is deregistered at once,
// not after its replacement has started (a second or more on a busy
// engine), so that the catalog, and with it the routing mesh, stop
// sending to the dead address meanwhile.
func TestVanishedTaskLeavesTheRegistryBeforeItsReplacementStarts(t *testing.T) {
	d := newFakeDriver("docker")
	h := newHarness(t, d)
	h.srv.set(1, newAlloc(idA, 0, nil))
	h.converge()
	if ids := h.reg.ids(); !slices.Equal(ids, []string{"web-0-aaaaaaaa"}) {
		t.Fatalf("registered %v after the first pass", ids)
	}
	h.clock.Advance(time.Minute) // past the restart back-off
	d.vanish(idA)
	gate := make(chan struct{})
	d.mu.Lock()
	d.startGate[idA] = gate
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.converge()
	}()
	deadline := time.Now().Add(2 * time.Second)
	for len(h.reg.ids()) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ids := h.reg.ids()
	close(gate)
	<-done
	if len(ids) != 0 {
		t.Errorf("while the replacement was starting, registered %v; want the vanished task's instance gone", ids)
	}
	if n := len(d.startsOf(idA)); n != 2 {
		t.Errorf("%d starts, want the replacement started", n)
	}
	if ids := h.reg.ids(); !slices.Equal(ids, []string{"web-0-aaaaaaaa"}) {
		t.Errorf("registered %v after the replacement started", ids)
	}
}

// TestDriverEventWakesTheRealiser: with a driver that reports its tasks'
// deaths (driver.Watcher), a task removed behind the agent's back is
// replaced at once, without waiting for the resync period.
func TestDriverEventWakesTheRealiser(t *testing.T) {
	d := newFakeDriver("docker")
	w := fakeWatcher{fakeDriver: d, events: make(chan [2]string)}
	h := newHarness(t, d)
	h.r = h.newRealiser(map[string]driver.Driver{"docker": w})
	h.r.cfg.Resync = time.Hour // only a wake runs a pass
	h.r.now = time.Now
	// No restart back-off: the replacement may start at once.
	h.srv.set(1, newAlloc(idA, 0, func(s *sched.Spec) { s.Restart.Delay = sched.Duration(time.Nanosecond) }))
	defer h.start()()
	waitFor(t, "the replica running", func() bool { return len(d.startsOf(idA)) == 1 && len(h.reg.ids()) == 1 })
	d.vanish(idA)
	select {
	case w.events <- [2]string{idA, "task-1"}:
	case <-time.After(5 * time.Second):
		t.Fatal("the realiser does not watch the driver's events")
	}
	waitFor(t, "the replacement started", func() bool { return len(d.startsOf(idA)) == 2 })
}

// TestDriverEventDeregistersTheDeadTaskAtOnce: the event of a registered
// task's death takes its instance out of the registry at once, even while
// the pass it wakes is still listing the tasks (a busy engine); the death
// of an older task of the same allocation leaves the current one alone.
func TestDriverEventDeregistersTheDeadTaskAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name, task string
		wantGone   bool
	}{
		{"the registered task died", "task-1", true},
		{"an older task of the allocation died", "task-0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDriver("docker")
			w := fakeWatcher{fakeDriver: d, events: make(chan [2]string)}
			h := newHarness(t, d)
			h.r = h.newRealiser(map[string]driver.Driver{"docker": w})
			h.r.cfg.Resync = time.Hour
			h.r.now = time.Now
			h.srv.set(1, newAlloc(idA, 0, nil))
			defer h.start()()
			waitFor(t, "the replica registered", func() bool { return len(h.reg.ids()) == 1 })
			gate := make(chan struct{})
			defer close(gate)
			d.mu.Lock()
			d.listGate = gate // every pass from now on waits in List
			d.mu.Unlock()
			select {
			case w.events <- [2]string{idA, tc.task}:
			case <-time.After(5 * time.Second):
				t.Fatal("the realiser does not watch the driver's events")
			}
			deadline := time.Now().Add(time.Second)
			for len(h.reg.ids()) != 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if gone := len(h.reg.ids()) == 0; gone != tc.wantGone {
				t.Errorf("instance gone %v, want %v", gone, tc.wantGone)
			}
		})
	}
}
