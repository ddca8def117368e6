// Package exec is the driver that runs tasks as plain processes on the
// node: spec.command with spec.args, in host networking, in a process group
// of its own (so that Stop reaches its children too).
//
// State lives in memory and in Options.StateDir, one directory per task:
//
//	<StateDir>/<alloc ID>/task.json   PID, start time, identity, exit status
//	<StateDir>/<alloc ID>/output.log  stdout and stderr, interleaved
//
// The process writes output.log itself (no pipe through the agent), so an
// agent that restarts loses no output and does not kill its tasks. A new
// Driver on the same StateDir adopts the tasks still running: it trusts a
// PID only when /proc/<pid>/stat shows the start time recorded at launch,
// so a PID reused by another process is never adopted nor signalled. An
// adopted process is not the new agent's child: when it exits, its exit
// status cannot be known (ExitCode -1). Tasks that exited while the driver
// watched keep their status in task.json until Stop removes the directory.
// Every exit is also reported to Watch callers (driver.Watcher), so that
// the agent acts on it at once rather than at its next poll.
package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shoalproject/shoal/driver"
)

// Name is the driver's name.
const Name = "exec"

// Files in a task's directory.
const (
	stateFile = "task.json"
	logFile   = "output.log"
)

// pollInterval is how often the driver checks an adopted process.
const pollInterval = 250 * time.Millisecond

// killWait bounds the wait for a process group after SIGKILL.
const killWait = 5 * time.Second

// defaultPath is the task's PATH when the agent has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options configure the driver.
type Options struct {
	// StateDir holds a directory per task (see the package comment).
	// Required; created (mode 0700) when missing.
	StateDir string
}

// Driver runs tasks as local processes. It is safe for concurrent use;
// calls for one allocation are serialised.
type Driver struct {
	logger hclog.Logger
	dir    string
	locks  driver.AllocLocks

	mu    sync.Mutex
	tasks map[string]*task // by allocation ID

	watchMu  sync.Mutex
	watchers map[*watcher]struct{}
}

var (
	_ driver.Driver  = (*Driver)(nil)
	_ driver.Watcher = (*Driver)(nil)
)

// watchBuffer is how many exits a watcher may fall behind by before its
// Watch call ends (errEventsLost).
const watchBuffer = 256

// errEventsLost ends a Watch whose caller fell more than watchBuffer exits
// behind: it must list the tasks again, then watch again.
var errEventsLost = errors.New("exec: watcher fell behind; exits were lost")

// watcher is one Watch call's queue of exits.
type watcher struct {
	exits    chan [2]string // allocation ID, task ID
	lost     chan struct{}  // closed when an exit did not fit in exits
	lostOnce sync.Once
}

// taskState is task.json.
type taskState struct {
	AllocID    string    `json:"alloc_id"`
	Service    string    `json:"service"`
	Index      int       `json:"index"`
	Version    string    `json:"version"`
	Command    string    `json:"command"`
	Args       []string  `json:"args,omitempty"`
	PID        int       `json:"pid"`
	StartTicks uint64    `json:"start_ticks"` // /proc/<pid>/stat field 22
	StartedAt  time.Time `json:"started_at"`
	// Set once the driver has seen the process exit.
	Exited     bool      `json:"exited,omitempty"`
	ExitCode   int       `json:"exit_code,omitempty"`
	Message    string    `json:"message,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// task is one task in memory. st is guarded by Driver.mu.
type task struct {
	dir     string
	st      taskState
	adopted bool          // not this process's child: polled, not waited for
	done    chan struct{} // closed when the process has exited
	removed chan struct{} // closed by Stop; ends the poller
}

// New returns a driver keeping its state in opts.StateDir and adopts the
// tasks recorded there (see the package comment).
func New(logger hclog.Logger, opts Options) (*Driver, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if opts.StateDir == "" {
		return nil, errors.New("exec: Options.StateDir is required")
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("exec: state dir: %w", err)
	}
	d := &Driver{logger: logger.Named(Name), dir: opts.StateDir, tasks: make(map[string]*task), watchers: make(map[*watcher]struct{})}
	if err := d.adopt(); err != nil {
		return nil, err
	}
	return d, nil
}

// adopt loads the task directories of the state dir.
func (d *Driver) adopt() error {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("exec: state dir: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || !validID(e.Name()) {
			continue
		}
		dir := filepath.Join(d.dir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, stateFile))
		if err != nil {
			d.logger.Warn("skipping a task directory without state", "dir", dir, "error", err)
			continue
		}
		var st taskState
		if err := json.Unmarshal(b, &st); err != nil || st.AllocID != e.Name() {
			d.logger.Warn("skipping a task directory with bad state", "dir", dir, "error", err)
			continue
		}
		t := &task{dir: dir, st: st, adopted: true, done: make(chan struct{}), removed: make(chan struct{})}
		switch {
		case st.Exited:
			close(t.done)
		case st.PID > 0 && alive(st.PID, st.StartTicks):
			d.logger.Info("adopted a running task", "alloc", st.AllocID, "pid", st.PID)
			go d.poll(t)
		default:
			d.exited(t, -1, "exited while the driver was not running; exit status unknown")
		}
		d.tasks[st.AllocID] = t
	}
	return nil
}

// Name returns "exec".
func (d *Driver) Name() string { return Name }

// Available reports nil on Linux, which the driver needs for /proc;
// elsewhere driver.ErrUnavailable.
func (d *Driver) Available(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("exec: %w: needs Linux, this is %s", driver.ErrUnavailable, runtime.GOOS)
	}
	return nil
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validID reports whether an allocation ID can name a directory.
func validID(id string) bool { return idRE.MatchString(id) }

// Start removes the allocation's old task (SIGKILL) if any, then starts
// spec.command with spec.args in the task's directory, with PATH, the
// spec's env and SHOAL_ALLOC_ID, SHOAL_SERVICE and SHOAL_INDEX.
func (d *Driver) Start(ctx context.Context, t *driver.Task) (driver.Status, error) {
	if t == nil || t.Spec == nil || !validID(t.AllocID) {
		return driver.Status{}, errors.New("exec: start: task without a valid allocation ID or spec")
	}
	if t.Spec.Command == "" {
		return driver.Status{}, fmt.Errorf("exec: start %s: the spec has no command", t.AllocID)
	}
	if err := ctx.Err(); err != nil {
		return driver.Status{}, err
	}
	unlock := d.locks.Lock(t.AllocID)
	defer unlock()
	if err := d.stop(ctx, t.AllocID, 0); err != nil {
		return driver.Status{}, fmt.Errorf("exec: start %s: remove the old task: %w", t.AllocID, err)
	}

	dir := filepath.Join(d.dir, t.AllocID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return driver.Status{}, fmt.Errorf("exec: start %s: %w", t.AllocID, err)
	}
	out, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return driver.Status{}, fmt.Errorf("exec: start %s: %w", t.AllocID, err)
	}
	defer out.Close() // the child has its own descriptors

	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path}
	keys := make([]string, 0, len(t.Spec.Env))
	for k := range t.Spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+t.Spec.Env[k])
	}
	env = append(env, "SHOAL_ALLOC_ID="+t.AllocID, "SHOAL_SERVICE="+t.Service, "SHOAL_INDEX="+strconv.Itoa(t.Index))

	cmd := osexec.Command(t.Spec.Command, t.Spec.Args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group (PGID = PID): Stop signals the group, and a
	// ^C or SIGTERM to the agent's group does not reach the task.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return driver.Status{}, fmt.Errorf("exec: start %s: %w", t.AllocID, err)
	}
	pid := cmd.Process.Pid
	// Not yet reaped, so /proc/<pid> exists even if it already exited.
	ps, err := readProcStat(pid)
	if err != nil {
		d.logger.Warn("cannot read the start time of a new task: it will not be adopted after a restart", "alloc", t.AllocID, "pid", pid, "error", err)
	}
	tk := &task{
		dir: dir,
		st: taskState{
			AllocID: t.AllocID, Service: t.Service, Index: t.Index, Version: t.Version,
			Command: t.Spec.Command, Args: t.Spec.Args,
			PID: pid, StartTicks: ps.startTicks, StartedAt: time.Now().UTC(),
		},
		done:    make(chan struct{}),
		removed: make(chan struct{}),
	}
	d.mu.Lock()
	d.tasks[t.AllocID] = tk
	st := tk.st
	d.mu.Unlock()
	if err := writeState(dir, st); err != nil {
		d.logger.Warn("cannot write task state: it will not be adopted after a restart", "alloc", t.AllocID, "error", err)
	}
	go d.wait(tk, cmd)
	d.logger.Debug("started", "alloc", t.AllocID, "pid", pid, "command", t.Spec.Command)
	return d.status(tk), nil
}

// wait reaps a child and records how it exited.
func (d *Driver) wait(t *task, cmd *osexec.Cmd) {
	_ = cmd.Wait()
	code, msg := -1, "exit status unknown"
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Signaled():
			code = 128 + int(ws.Signal())
			msg = fmt.Sprintf("terminated by signal %d (%v)", int(ws.Signal()), ws.Signal())
		case ws.Exited():
			code, msg = ws.ExitStatus(), "" // the code says it all
		}
	}
	d.exited(t, code, msg)
}

// poll watches an adopted process until it exits or the task is removed.
func (d *Driver) poll(t *task) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.removed:
			return
		case <-tick.C:
		}
		d.mu.Lock()
		pid, ticks := t.st.PID, t.st.StartTicks
		d.mu.Unlock()
		if !alive(pid, ticks) {
			d.exited(t, -1, "exited after the driver adopted it; exit status unknown")
			return
		}
	}
}

// exited records the end of t's process, in memory and in task.json (unless
// Stop removed the directory meanwhile).
//
// The file is written first, so that whoever sees the exit in memory also
// finds it on disk.
func (d *Driver) exited(t *task, code int, msg string) {
	d.mu.Lock()
	st := t.st
	d.mu.Unlock()
	st.Exited, st.ExitCode, st.Message, st.FinishedAt = true, code, msg, time.Now().UTC()
	select {
	case <-t.removed:
	default:
		if err := writeState(t.dir, st); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.logger.Warn("cannot write task state", "alloc", st.AllocID, "error", err)
		}
	}
	d.mu.Lock()
	t.st = st
	d.mu.Unlock()
	select {
	case <-t.done:
	default:
		close(t.done)
	}
	d.logger.Debug("task exited", "alloc", st.AllocID, "pid", st.PID, "exit_code", code, "message", msg)
	d.notify(st.AllocID, strconv.Itoa(st.PID))
}

// Watch implements driver.Watcher: it reports each task of this driver
// whose process exits — reaped by the driver at once, or, for a process
// adopted from an earlier agent, found gone by its poll (pollInterval) —
// after the exit is recorded, so that Inspect and List already show it.
// It returns ctx's error when ctx is done, or errEventsLost when the
// caller fell more than watchBuffer exits behind.
func (d *Driver) Watch(ctx context.Context, changed func(allocID, taskID string)) error {
	w := &watcher{exits: make(chan [2]string, watchBuffer), lost: make(chan struct{})}
	d.watchMu.Lock()
	d.watchers[w] = struct{}{}
	d.watchMu.Unlock()
	defer func() {
		d.watchMu.Lock()
		delete(d.watchers, w)
		d.watchMu.Unlock()
	}()
	for {
		select {
		case e := <-w.exits:
			changed(e[0], e[1])
		case <-w.lost:
			for {
				select {
				case e := <-w.exits:
					changed(e[0], e[1])
				default:
					return errEventsLost
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify hands an exit to every Watch call without blocking.
func (d *Driver) notify(allocID, taskID string) {
	d.watchMu.Lock()
	defer d.watchMu.Unlock()
	for w := range d.watchers {
		select {
		case w.exits <- [2]string{allocID, taskID}:
		default:
			w.lostOnce.Do(func() { close(w.lost) })
		}
	}
}

// writeState replaces dir/task.json atomically. It does not create dir.
func writeState(dir string, st taskState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: ENOENT, ignored
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
}

// Stop sends SIGTERM to the task's process group, SIGKILL after grace if
// any of it remains, and removes the task's directory. An unknown
// allocation is not an error. When ctx ends during the grace period the
// group is killed at once and ctx's error returned.
func (d *Driver) Stop(ctx context.Context, allocID string, grace time.Duration) error {
	if !validID(allocID) {
		return nil // could not have been started
	}
	unlock := d.locks.Lock(allocID)
	defer unlock()
	if err := d.stop(ctx, allocID, grace); err != nil {
		return fmt.Errorf("exec: stop %s: %w", allocID, err)
	}
	return nil
}

// stop is Stop for a caller that holds the allocation's lock.
func (d *Driver) stop(ctx context.Context, allocID string, grace time.Duration) error {
	d.mu.Lock()
	t := d.tasks[allocID]
	d.mu.Unlock()
	if t == nil {
		// A directory without usable state is removed too.
		return os.RemoveAll(filepath.Join(d.dir, allocID))
	}
	var ctxErr error
	if pgid, ok := d.signalable(t); ok {
		ctxErr = terminate(ctx, pgid, grace)
	}
	// The leader's exit is recorded promptly once the group is gone.
	select {
	case <-t.done:
	case <-time.After(killWait):
		d.logger.Warn("task still not reaped after SIGKILL", "alloc", allocID)
	}
	d.mu.Lock()
	if d.tasks[allocID] == t {
		delete(d.tasks, allocID)
	}
	d.mu.Unlock()
	close(t.removed)
	if err := os.RemoveAll(t.dir); err != nil {
		return err
	}
	d.logger.Debug("stopped", "alloc", allocID)
	return ctxErr
}

// signalable returns the task's process group (PGID = the leader's PID)
// when it still has live members that are the task's: the leader, when
// /proc shows the start time recorded at launch, or, once the leader is
// gone, what remains of its group. A process with the leader's PID but
// another start time means the PID was reused: nothing is signalled.
func (d *Driver) signalable(t *task) (int, bool) {
	d.mu.Lock()
	st, adopted := t.st, t.adopted
	d.mu.Unlock()
	if st.PID <= 0 || !groupExists(st.PID) {
		return 0, false
	}
	ps, err := readProcStat(st.PID)
	switch {
	case err != nil:
		return st.PID, true // the leader is gone; its group remains
	case st.StartTicks == 0:
		return st.PID, !adopted // start time unknown: trust only our own child
	default:
		return st.PID, ps.startTicks == st.StartTicks
	}
}

// terminate sends SIGTERM to the process group, waits up to grace for all
// of it to exit, then sends SIGKILL and waits again (bounded by killWait).
// It returns ctx's error when ctx ended the grace period early.
func terminate(ctx context.Context, pgid int, grace time.Duration) error {
	var ctxErr error
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		ctxErr = waitGroup(ctx, pgid, grace)
		if ctxErr == nil && !groupExists(pgid) {
			return nil
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = waitGroup(context.Background(), pgid, killWait)
	return ctxErr
}

// waitGroup polls until no process of the group remains, d passes (nil) or
// ctx ends (its error).
func waitGroup(ctx context.Context, pgid int, d time.Duration) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for groupExists(pgid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// groupExists reports whether a process group still has a member that has
// not exited. Zombies do not count: orphans are reaped by init, which may
// take its time (the PID numbers stay taken meanwhile).
func groupExists(pgid int) bool {
	if syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.pgid == pgid && st.state != 'Z' && st.state != 'X' {
			return true
		}
	}
	return false
}

// Inspect returns the task's status, driver.ErrNotFound when absent.
func (d *Driver) Inspect(ctx context.Context, allocID string) (driver.Status, error) {
	if err := ctx.Err(); err != nil {
		return driver.Status{}, err
	}
	d.mu.Lock()
	t := d.tasks[allocID]
	d.mu.Unlock()
	if t == nil {
		return driver.Status{}, fmt.Errorf("exec: inspect %s: %w", allocID, driver.ErrNotFound)
	}
	return d.status(t), nil
}

// List returns every task, running or exited, sorted by allocation ID.
func (d *Driver) List(ctx context.Context) ([]driver.Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	ts := make([]*task, 0, len(d.tasks))
	for _, t := range d.tasks {
		ts = append(ts, t)
	}
	d.mu.Unlock()
	out := make([]driver.Status, 0, len(ts))
	for _, t := range ts {
		out = append(out, d.status(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AllocID < out[j].AllocID })
	return out, nil
}

func (d *Driver) status(t *task) driver.Status {
	d.mu.Lock()
	st := t.st
	d.mu.Unlock()
	s := driver.Status{
		AllocID:   st.AllocID,
		Service:   st.Service,
		Index:     st.Index,
		Version:   st.Version,
		ID:        strconv.Itoa(st.PID),
		State:     driver.StateRunning,
		StartedAt: st.StartedAt,
	}
	if st.Exited {
		s.State, s.ExitCode, s.Message = driver.StateExited, st.ExitCode, st.Message
	}
	return s
}

// Logs writes the last tail lines (all when tail <= 0) of the task's
// output, stdout and stderr interleaved as written, to w.
func (d *Driver) Logs(ctx context.Context, allocID string, tailLines int, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	t := d.tasks[allocID]
	d.mu.Unlock()
	if t == nil {
		return fmt.Errorf("exec: logs %s: %w", allocID, driver.ErrNotFound)
	}
	f, err := os.Open(filepath.Join(t.dir, logFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("exec: logs %s: %w", allocID, driver.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("exec: logs %s: %w", allocID, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("exec: logs %s: %w", allocID, err)
	}
	if tailLines <= 0 {
		_, err = io.Copy(w, io.NewSectionReader(f, 0, fi.Size()))
	} else {
		err = tail(f, fi.Size(), tailLines, w)
	}
	if err != nil {
		return fmt.Errorf("exec: logs %s: %w", allocID, err)
	}
	return nil
}
