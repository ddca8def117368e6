// Package drivertest is the conformance suite of driver.Driver: what the
// agent's realiser relies on from every driver, run against each
// implementation from its own tests (driver/docker and driver/exec call
// Run). A driver passes when it starts a task and reports it, shows its
// output, stops it within the grace period, reports how it exited, lets a
// new instance (an agent restart) adopt what an earlier one started, and
// replaces a task when its allocation is started again (the realiser's
// restart of a failed replica).
//
// The tasks run testdata/hello (in an image for docker, as a process for
// exec), listening on an ephemeral loopback port so that tasks of host
// networking never collide.
package drivertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// Config says how to run the suite against one driver.
type Config struct {
	// Node prepares an empty node for one test (a state directory, a node
	// scope on an engine) and returns the function that opens a Driver on
	// it. Each call of open returns a new instance, as an agent restart
	// does, which must see the tasks the earlier instances left. The suite
	// runs its tests in parallel, each on its own node.
	Node func(t *testing.T) (open func() driver.Driver)
	// Spec returns a spec, not yet canonicalized, that runs the hello
	// program on this driver. The suite sets its Env and may replace its
	// Command by a path that does not exist.
	Spec func(t *testing.T) *sched.Spec
	// Alive reports whether the task with the status ID id (a container,
	// a process) still runs, looked at from outside the driver (the
	// engine, /proc): a task the driver forgot but left running fails
	// the suite.
	Alive func(t *testing.T, id string) bool
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, cfg Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"Identity", testIdentity},
		{"Lifecycle", testLifecycle},
		{"Unknown", testUnknown},
		{"ExitCodes", testExitCodes},
		{"StartFailure", testStartFailure},
		{"Adopt", testAdopt},
		{"RestartExited", testRestartExited},
		{"StartReplacesRunning", testStartReplacesRunning},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			open := cfg.Node(t)
			s := &suite{cfg: cfg, open: open, d: open()}
			t.Cleanup(func() { s.stopAll(t) })
			tc.fn(t, s)
		})
	}
}

// suite is one test's node and its first driver instance.
type suite struct {
	cfg  Config
	open func() driver.Driver
	d    driver.Driver
}

// stopAll stops what a test left on its node, through a fresh instance.
func (s *suite) stopAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := s.open()
	all, err := d.List(ctx)
	if err != nil {
		t.Errorf("cleanup: List: %v", err)
		return
	}
	for _, st := range all {
		if err := d.Stop(ctx, st.AllocID, 0); err != nil {
			t.Errorf("cleanup: Stop %s: %v", st.AllocID, err)
		}
	}
}

// task returns a valid task of the hello program with env (PORT set to an
// ephemeral loopback port unless env sets it).
func (s *suite) task(t *testing.T, service string, env map[string]string) *driver.Task {
	t.Helper()
	spec := s.cfg.Spec(t)
	spec.Name = service
	spec.Env = map[string]string{"PORT": "127.0.0.1:0"}
	for k, v := range env {
		spec.Env[k] = v
	}
	spec.Canonicalize()
	if err := spec.Validate(); err != nil {
		t.Fatalf("the driver's hello spec is invalid: %v", err)
	}
	return &driver.Task{AllocID: NewAllocID(t), Service: service, Version: spec.Version(), Spec: spec, Ports: spec.Ports}
}

// NewAllocID returns a random allocation ID shaped like the scheduler's.
func NewAllocID(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, d driver.Driver, task *driver.Task) driver.Status {
	t.Helper()
	st, err := d.Start(ctxT(t), task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return st
}

// list returns the driver's tasks by allocation ID.
func list(t *testing.T, d driver.Driver) map[string]driver.Status {
	t.Helper()
	all, err := d.List(ctxT(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := map[string]driver.Status{}
	for _, st := range all {
		if _, dup := out[st.AllocID]; dup {
			t.Errorf("List has %s twice: %+v", st.AllocID, all)
		}
		out[st.AllocID] = st
	}
	return out
}

func logs(t *testing.T, d driver.Driver, allocID string, tail int) string {
	t.Helper()
	var b bytes.Buffer
	if err := d.Logs(ctxT(t), allocID, tail, &b); err != nil {
		t.Fatalf("Logs(%d): %v", tail, err)
	}
	return b.String()
}

// waitFor polls cond until it holds (10 ms to 20 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func waitExited(t *testing.T, d driver.Driver, allocID string) driver.Status {
	t.Helper()
	var st driver.Status
	waitFor(t, allocID+" to exit", func() bool {
		var err error
		if st, err = d.Inspect(ctxT(t), allocID); err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		return st.State == driver.StateExited
	})
	return st
}

// sameTask reports how got differs from want in the task's identity.
func sameTask(got, want driver.Status) string {
	switch {
	case got.AllocID != want.AllocID, got.ID != want.ID, got.Service != want.Service, got.Index != want.Index,
		got.Version != want.Version:
		return fmt.Sprintf("got %+v, want the task %+v", got, want)
	case !got.StartedAt.Equal(want.StartedAt):
		return fmt.Sprintf("StartedAt %v, want %v", got.StartedAt, want.StartedAt)
	}
	return ""
}

func testIdentity(t *testing.T, s *suite) {
	if s.d.Name() == "" {
		t.Error("Name is empty")
	}
	if err := s.d.Available(ctxT(t)); err != nil {
		t.Errorf("Available: %v", err)
	}
}

// testLifecycle: start, status, output, stop within the grace period.
func testLifecycle(t *testing.T, s *suite) {
	ctx := ctxT(t)
	task := s.task(t, "web", map[string]string{"VERSION": "7"})
	task.Index = 3
	st := start(t, s.d, task)
	if st.State != driver.StateRunning || st.AllocID != task.AllocID || st.Service != "web" || st.Index != 3 ||
		st.Version != task.Version || st.ID == "" {
		t.Fatalf("Start status = %+v", st)
	}
	if st.StartedAt.IsZero() || time.Since(st.StartedAt) > time.Minute || time.Until(st.StartedAt) > time.Minute {
		t.Errorf("StartedAt = %v, want about now", st.StartedAt)
	}
	got, err := s.d.Inspect(ctx, task.AllocID)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if diff := sameTask(got, st); diff != "" || got.State != driver.StateRunning {
		t.Errorf("Inspect after Start: %s (state %s)", diff, got.State)
	}
	if all := list(t, s.d); len(all) != 1 || sameTask(all[task.AllocID], st) != "" {
		t.Errorf("List = %+v, want only %s", all, task.AllocID)
	}

	// Output: stdout and stderr, with the task's environment; the tail.
	var out string
	waitFor(t, "both output lines", func() bool {
		out = logs(t, s.d, task.AllocID, 0)
		return strings.Contains(out, "stderr is here") && strings.Contains(out, "listening on")
	})
	if !strings.Contains(out, `(version "7")`) {
		t.Errorf("Logs = %q, want the VERSION of the task's environment", out)
	}
	if tail := logs(t, s.d, task.AllocID, 1); strings.Count(tail, "\n") != 1 || !strings.HasSuffix(out, tail) {
		t.Errorf("Logs tail 1 = %q, want the last line of %q", tail, out)
	}

	// Stop: SIGTERM is honoured (hello exits at once), the task is gone.
	begin := time.Now()
	if err := s.d.Stop(ctx, task.AllocID, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(begin); took > 4*time.Second {
		t.Errorf("Stop took %v: SIGTERM was not honoured", took)
	}
	if s.cfg.Alive(t, st.ID) {
		t.Errorf("task %s still runs after Stop", st.ID)
	}
	if _, err := s.d.Inspect(ctx, task.AllocID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Inspect after Stop: err = %v, want ErrNotFound", err)
	}
	if all := list(t, s.d); len(all) != 0 {
		t.Errorf("List after Stop = %+v, want none", all)
	}
	if err := s.d.Stop(ctx, task.AllocID, time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := s.d.Logs(ctx, task.AllocID, 0, io.Discard); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Logs after Stop: err = %v, want ErrNotFound", err)
	}
}

// testUnknown: an allocation the driver never ran.
func testUnknown(t *testing.T, s *suite) {
	ctx := ctxT(t)
	id := NewAllocID(t)
	if _, err := s.d.Inspect(ctx, id); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Inspect: err = %v, want ErrNotFound", err)
	}
	if err := s.d.Logs(ctx, id, 0, io.Discard); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Logs: err = %v, want ErrNotFound", err)
	}
	if err := s.d.Stop(ctx, id, time.Second); err != nil {
		t.Errorf("Stop: %v, want nil", err)
	}
	if all := list(t, s.d); len(all) != 0 {
		t.Errorf("List on an empty node = %+v", all)
	}
}

// testExitCodes: a task that exits is reported exited with its code, still
// listed until stopped, and a restarted driver knows how it exited.
func testExitCodes(t *testing.T, s *suite) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		code int
	}{
		{"code 0", map[string]string{"EXIT_AFTER": "0.2"}, 0},
		{"code 3", map[string]string{"EXIT_AFTER": "0.2", "EXIT_CODE": "3"}, 3},
		{"bad environment", map[string]string{"EXIT_AFTER": "soon"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			task := s.task(t, "job", tc.env)
			first := start(t, s.d, task)
			st := waitExited(t, s.d, task.AllocID)
			if st.ExitCode != tc.code || st.ID != first.ID {
				t.Errorf("exited: %+v, want code %d of task %s", st, tc.code, first.ID)
			}
			if got, ok := list(t, s.d)[task.AllocID]; !ok || got.State != driver.StateExited || got.ExitCode != tc.code {
				t.Errorf("List: %+v, %v; want exited with code %d", got, ok, tc.code)
			}
			restarted := s.open()
			if got, err := restarted.Inspect(ctx, task.AllocID); err != nil || got.State != driver.StateExited ||
				got.ExitCode != tc.code || got.ID != first.ID {
				t.Errorf("a restarted driver's Inspect: %+v, %v; want exited with code %d", got, err, tc.code)
			}
			if err := restarted.Stop(ctx, task.AllocID, time.Second); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if _, err := restarted.Inspect(ctx, task.AllocID); !errors.Is(err, driver.ErrNotFound) {
				t.Errorf("Inspect after Stop: err = %v, want ErrNotFound", err)
			}
		})
	}
}

// testStartFailure: a task that cannot start fails Start with an error
// naming the cause, and leaves nothing behind.
func testStartFailure(t *testing.T, s *suite) {
	const missing = "/nonexistent/shoal-cmd"
	task := s.task(t, "broken", nil)
	task.Spec.Command, task.Spec.Args = missing, nil
	_, err := s.d.Start(ctxT(t), task)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Start: err = %v, want one naming %s", err, missing)
	}
	if _, err := s.d.Inspect(ctxT(t), task.AllocID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Inspect after a failed Start: err = %v, want ErrNotFound", err)
	}
	if all := list(t, s.d); len(all) != 0 {
		t.Errorf("List after a failed Start = %+v, want none", all)
	}
}

// testAdopt: a new instance, as after an agent restart, sees the running
// tasks of the first as they are and stops them, one at a time.
func testAdopt(t *testing.T, s *suite) {
	ctx := ctxT(t)
	a, b := s.task(t, "adopt", nil), s.task(t, "adopt", nil)
	b.Index = 1
	stA, stB := start(t, s.d, a), start(t, s.d, b)

	d2 := s.open()
	all := list(t, d2)
	if len(all) != 2 {
		t.Fatalf("restarted driver's List = %+v, want %s and %s", all, a.AllocID, b.AllocID)
	}
	for _, want := range []driver.Status{stA, stB} {
		got := all[want.AllocID]
		if diff := sameTask(got, want); diff != "" || got.State != driver.StateRunning {
			t.Errorf("adopted %s: %s (state %s)", want.AllocID, diff, got.State)
		}
	}
	if err := d2.Stop(ctx, a.AllocID, 5*time.Second); err != nil {
		t.Fatalf("Stop through the restarted driver: %v", err)
	}
	if s.cfg.Alive(t, stA.ID) {
		t.Errorf("adopted task %s still runs after Stop", stA.ID)
	}
	d3 := s.open()
	if _, err := d3.Inspect(ctx, a.AllocID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Inspect of the stopped task after another restart: err = %v, want ErrNotFound", err)
	}
	if got, err := d3.Inspect(ctx, b.AllocID); err != nil || got.State != driver.StateRunning || got.ID != stB.ID {
		t.Errorf("the other task after another restart: %+v, %v; want %s running", got, err, stB.ID)
	}
}

// testRestartExited: starting an exited allocation again (the realiser's
// restart of a failed replica) replaces the exited task with a running one.
func testRestartExited(t *testing.T, s *suite) {
	task := s.task(t, "flaky", map[string]string{"EXIT_AFTER": "0.2", "EXIT_CODE": "1"})
	first := start(t, s.d, task)
	if st := waitExited(t, s.d, task.AllocID); st.ExitCode != 1 {
		t.Fatalf("exited with %d, want 1", st.ExitCode)
	}
	task.Spec.Env = map[string]string{"PORT": "127.0.0.1:0"} // runs on this time
	second := start(t, s.d, task)
	if second.State != driver.StateRunning || second.ID == first.ID || second.AllocID != task.AllocID {
		t.Fatalf("restart: %+v, want a new running task (the first was %s)", second, first.ID)
	}
	all := list(t, s.d)
	if got := all[task.AllocID]; len(all) != 1 || got.ID != second.ID || got.State != driver.StateRunning || got.ExitCode != 0 {
		t.Errorf("List after the restart = %+v, want only %s running", all, second.ID)
	}
}

// testStartReplacesRunning: starting a running allocation again leaves one
// task, the new one.
func testStartReplacesRunning(t *testing.T, s *suite) {
	task := s.task(t, "again", nil)
	first := start(t, s.d, task)
	second := start(t, s.d, task)
	if second.ID == first.ID || second.State != driver.StateRunning {
		t.Fatalf("second Start: %+v, want a new running task (the first was %s)", second, first.ID)
	}
	if s.cfg.Alive(t, first.ID) {
		t.Errorf("the replaced task %s still runs", first.ID)
	}
	if !s.cfg.Alive(t, second.ID) {
		t.Errorf("the new task %s does not run", second.ID)
	}
	if all := list(t, s.d); len(all) != 1 || all[task.AllocID].ID != second.ID {
		t.Errorf("List = %+v, want only %s", all, second.ID)
	}
	if got, err := s.open().Inspect(ctxT(t), task.AllocID); err != nil || got.ID != second.ID {
		t.Errorf("a restarted driver's Inspect: %+v, %v; want %s", got, err, second.ID)
	}
}

// testConcurrent: the realiser acts on several allocations at once.
func testConcurrent(t *testing.T, s *suite) {
	ctx := ctxT(t)
	const n = 4
	tasks := make([]*driver.Task, n)
	for i := range tasks {
		tasks[i] = s.task(t, "many", nil)
		tasks[i].Index = i
	}
	run := func(op func(*driver.Task) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, task := range tasks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = op(task)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	run(func(task *driver.Task) error { _, err := s.d.Start(ctx, task); return err })
	all := list(t, s.d)
	for _, task := range tasks {
		if st, ok := all[task.AllocID]; !ok || st.State != driver.StateRunning || st.Index != task.Index {
			t.Errorf("%s: %+v, %v; want running with index %d", task.AllocID, st, ok, task.Index)
		}
	}
	run(func(task *driver.Task) error { return s.d.Stop(ctx, task.AllocID, 5*time.Second) })
	if all := list(t, s.d); len(all) != 0 {
		t.Errorf("List after stopping all = %+v", all)
	}
	for _, st := range all {
		if s.cfg.Alive(t, st.ID) {
			t.Errorf("task %s still runs after Stop", st.ID)
		}
	}
}
