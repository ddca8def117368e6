package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/sched"
)

func newDriver(t *testing.T, dir string) *Driver {
	t.Helper()
	d, err := New(hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: tWriter{t}}), Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Leave no process behind, whatever the test did.
	t.Cleanup(func() {
		all, _ := d.List(context.Background())
		for _, st := range all {
			d.Stop(context.Background(), st.AllocID, 0)
		}
	})
	return d
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var nextID int

func newTask(t *testing.T, command string, args ...string) *driver.Task {
	t.Helper()
	s := &sched.Spec{Name: "job", Driver: sched.DriverExec, Command: command, Args: args}
	s.Canonicalize()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	nextID++
	return &driver.Task{AllocID: fmt.Sprintf("alloc-%d-%03d", os.Getpid(), nextID), Service: "job", Index: 1, Version: s.Version(), Spec: s}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pidOf(t *testing.T, st driver.Status) int {
	t.Helper()
	pid, err := strconv.Atoi(st.ID)
	if err != nil || pid <= 0 {
		t.Fatalf("status ID %q is not a PID", st.ID)
	}
	return pid
}

func processGone(pid int) bool {
	st, err := readProcStat(pid)
	return err != nil || st.state == 'Z'
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func waitExited(t *testing.T, d *Driver, allocID string) driver.Status {
	t.Helper()
	var st driver.Status
	waitFor(t, allocID+" to exit", func() bool {
		var err error
		st, err = d.Inspect(context.Background(), allocID)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		return st.State == driver.StateExited
	})
	return st
}

func TestNewNeedsStateDir(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New without StateDir: no error")
	}
}

// TestHello runs the hello server as a process (the suite in
// driver/drivertest covers the driver's contract): it runs in a process
// group of its own, answers on its port, and Stop ends it and removes its
// directory.
func TestHello(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir)
	ctx := ctxT(t)
	bin := dockertest.HelloBinary(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	task := newTask(t, bin)
	task.Spec.Env = map[string]string{"PORT": "127.0.0.1:" + strconv.Itoa(port), "VERSION": "3"}
	st, err := d.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	pid := pidOf(t, st)
	if st.State != driver.StateRunning || st.AllocID != task.AllocID || st.Service != "job" || st.Index != 1 || st.Version != task.Version || st.IP != "" || st.StartedAt.IsZero() {
		t.Errorf("Start status = %+v", st)
	}
	if ps, err := readProcStat(pid); err != nil || ps.pgid != pid {
		t.Errorf("process group of %d: %+v, %v; want its own group", pid, ps, err)
	}

	var body string
	waitFor(t, "hello to answer", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	if !strings.HasPrefix(body, "hello from ") || !strings.HasSuffix(body, " v3\n") {
		t.Errorf("GET / = %q", body)
	}

	start := time.Now()
	if err := d.Stop(ctx, task.AllocID, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Stop took %v: SIGTERM not honoured?", took)
	}
	if !processGone(pid) {
		t.Errorf("process %d still runs after Stop", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, task.AllocID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("task directory left after Stop: %v", err)
	}
}

// TestStopEscalates: a task that ignores SIGTERM is killed after grace,
// children included.
func TestStopEscalates(t *testing.T) {
	d := newDriver(t, t.TempDir())
	ctx := ctxT(t)
	task := newTask(t, "sh", "-c", `trap "" TERM; sleep 60 & echo $! > child.pid; while :; do sleep 0.05; done`)
	st, err := d.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	pid := pidOf(t, st)
	var child int
	waitFor(t, "child.pid", func() bool {
		b, _ := os.ReadFile(filepath.Join(d.dir, task.AllocID, "child.pid"))
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return child > 0
	})
	const grace = 300 * time.Millisecond
	start := time.Now()
	if err := d.Stop(ctx, task.AllocID, grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took < grace || took > 3*time.Second {
		t.Errorf("Stop took %v, want grace (%v) plus a little", took, grace)
	}
	for _, p := range []int{pid, child} {
		if !processGone(p) {
			t.Errorf("process %d survived Stop", p)
		}
	}
}

// TestStopStragglers: when the leader has exited, Stop still ends what
// remains of its process group.
func TestStopStragglers(t *testing.T) {
	d := newDriver(t, t.TempDir())
	ctx := ctxT(t)
	task := newTask(t, "sh", "-c", `sleep 60 & echo $! > child.pid; exit 0`)
	if _, err := d.Start(ctx, task); err != nil {
		t.Fatalf("Start: %v", err)
	}
	waitExited(t, d, task.AllocID)
	b, err := os.ReadFile(filepath.Join(d.dir, task.AllocID, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if child <= 0 || processGone(child) {
		t.Fatalf("straggler %q not running", b)
	}
	if err := d.Stop(ctx, task.AllocID, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !processGone(child) {
		t.Errorf("straggler %d survived Stop", child)
	}
}

// TestExit: how a process that a signal ended is reported, also after a
// restart (the suite covers exit codes).
func TestExit(t *testing.T) {
	d := newDriver(t, t.TempDir())
	for _, tc := range []struct {
		name    string
		command string
		args    []string
		code    int
		msg     string
	}{
		{name: "killed", command: "sh", args: []string{"-c", "kill -KILL $$"}, code: 137, msg: "terminated by signal 9 (killed)"},
		{name: "killed by SIGTERM", command: "sh", args: []string{"-c", "kill -TERM $$"}, code: 143, msg: "terminated by signal 15 (terminated)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			task := newTask(t, tc.command, tc.args...)
			st, err := d.Start(ctx, task)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer d.Stop(ctx, task.AllocID, 0)
			got := waitExited(t, d, task.AllocID)
			if got.ExitCode != tc.code || got.Message != tc.msg || got.ID != st.ID {
				t.Errorf("exited: %+v, want code %d message %q", got, tc.code, tc.msg)
			}
			// A restarted agent still knows how it exited.
			d2, err := New(nil, Options{StateDir: d.dir})
			if err != nil {
				t.Fatal(err)
			}
			if got2, err := d2.Inspect(ctx, task.AllocID); err != nil || got2.State != driver.StateExited || got2.ExitCode != tc.code || got2.Message != tc.msg {
				t.Errorf("after restart: %+v, %v", got2, err)
			}
		})
	}
}

// TestLogs: the tail of output.log counts lines as written, a last
// partial line included.
func TestLogs(t *testing.T) {
	d := newDriver(t, t.TempDir())
	ctx := ctxT(t)
	task := newTask(t, "sh", "-c", `echo "out1 $FOO"; echo err1 >&2; echo out2; printf partial; exec sleep 60`)
	task.Spec.Env = map[string]string{"FOO": "bar"}
	if _, err := d.Start(ctx, task); err != nil {
		t.Fatalf("Start: %v", err)
	}
	all := "out1 bar\nerr1\nout2\npartial"
	logs := func(n int) string {
		var b bytes.Buffer
		if err := d.Logs(ctx, task.AllocID, n, &b); err != nil {
			t.Fatalf("Logs(%d): %v", n, err)
		}
		return b.String()
	}
	waitFor(t, "output", func() bool { return logs(0) == all })
	for _, tc := range []struct {
		tail int
		want string
	}{
		{0, all}, {-1, all}, {1, "partial"}, {2, "out2\npartial"}, {4, all}, {10, all},
	} {
		if got := logs(tc.tail); got != tc.want {
			t.Errorf("Logs tail %d = %q, want %q", tc.tail, got, tc.want)
		}
	}
}

func TestTail(t *testing.T) {
	long := strings.Repeat("x", 40<<10) // longer than a read chunk
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\n", 1, "a\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\n\n\n", 2, "\n\n"},
		{"a\nb\n", 5, "a\nb\n"},
		{"a\n" + long + "\nb\n", 2, long + "\nb\n"},
		{long + "\n" + long + "\n", 1, long + "\n"},
	} {
		var b bytes.Buffer
		r := strings.NewReader(tc.in)
		if err := tail(r, int64(len(tc.in)), tc.n, &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("tail(%.20q, %d) = %.20q, want %.20q", tc.in, tc.n, b.String(), tc.want)
		}
	}
}

// TestAdoptedExitUnknown: a second driver on the same state dir, as after
// an agent restart, notices when an adopted task (not its child) exits, and
// says that its exit status is unknown.
func TestAdoptedExitUnknown(t *testing.T) {
	dir := t.TempDir()
	d1 := newDriver(t, dir)
	ctx := ctxT(t)
	task := newTask(t, "sleep", "60")
	st, err := d1.Start(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	d2 := newDriver(t, dir)
	if got, err := d2.Inspect(ctx, task.AllocID); err != nil || got.State != driver.StateRunning {
		t.Fatalf("adopted: %+v, %v; want running", got, err)
	}
	syscall.Kill(pidOf(t, st), syscall.SIGKILL)
	got := waitExited(t, d2, task.AllocID)
	if got.ExitCode != -1 || !strings.Contains(got.Message, "unknown") {
		t.Errorf("adopted task after death: %+v, want exit code -1, status unknown", got)
	}
}

// TestAdoptChecksStartTime: a recorded PID now used by another process is
// neither adopted nor signalled.
func TestAdoptChecksStartTime(t *testing.T) {
	dir := t.TempDir()
	other := osexec.Command("sleep", "60")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group that exists
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	ps, err := readProcStat(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := "alloc-reused"
	if err := os.MkdirAll(filepath.Join(dir, id), 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(taskState{AllocID: id, Service: "job", PID: other.Process.Pid, StartTicks: ps.startTicks + 1, StartedAt: time.Now()})
	if err := os.WriteFile(filepath.Join(dir, id, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, dir)
	st, err := d.Inspect(context.Background(), id)
	if err != nil || st.State != driver.StateExited || st.ExitCode != -1 {
		t.Fatalf("Inspect = %+v, %v; want exited, status unknown", st, err)
	}
	if err := d.Stop(context.Background(), id, time.Second); err != nil {
		t.Fatal(err)
	}
	if processGone(other.Process.Pid) {
		t.Fatal("Stop signalled a process that only reused the PID")
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may contain spaces and parentheses.
	line := "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' || st.pgid != 4242 || st.startTicks != 987654 {
		t.Errorf("parseProcStat = %+v", st)
	}
	if _, err := parseProcStat([]byte("1 (x) S 1")); err == nil {
		t.Error("short line: no error")
	}
}

// watchExits runs d.Watch until the test ends and returns its events.
func watchExits(t *testing.T, d *Driver) <-chan [2]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan [2]string, 16)
	done := make(chan error, 1)
	go func() {
		done <- d.Watch(ctx, func(allocID, taskID string) { events <- [2]string{allocID, taskID} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch ended with %v, want context.Canceled", err)
		}
	})
	return events
}

// waitWatching waits until one Watch call is registered with d.
func waitWatching(t *testing.T, d *Driver) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d.watchMu.Lock()
		n := len(d.watchers)
		d.watchMu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch never registered")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatchReportsExits: a task killed behind the agent's back is reported
// at once (in milliseconds; the bound allows for a slow fsync of its
// state, and is still under the realiser's 1 s resync), with its task ID, and
// after its exit is recorded; a task adopted from an earlier agent is
// reported by its poll. Without Watch, the agent would learn of either
// only at its next resync.
func TestWatchReportsExits(t *testing.T) {
	cases := []struct {
		name    string
		adopted bool
		within  time.Duration
	}{
		{"child of this driver", false, 900 * time.Millisecond},
		{"adopted from an earlier driver", true, pollInterval + 900*time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := newDriver(t, dir)
			ctx := ctxT(t)
			task := newTask(t, "sleep", "60")
			st, err := d.Start(ctx, task)
			if err != nil {
				t.Fatal(err)
			}
			if tc.adopted {
				d = newDriver(t, dir)
			}
			events := watchExits(t, d)
			waitWatching(t, d)
			killed := time.Now()
			if err := syscall.Kill(pidOf(t, st), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-events:
				if took := time.Since(killed); took > tc.within {
					t.Errorf("exit reported after %v, want within %v", took, tc.within)
				}
				if e != [2]string{task.AllocID, st.ID} {
					t.Fatalf("event %v, want [%s %s]", e, task.AllocID, st.ID)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no exit reported within 5 s")
			}
			if got, err := d.Inspect(ctx, task.AllocID); err != nil || got.State != driver.StateExited {
				t.Fatalf("Inspect after the event: %+v, %v; want exited", got, err)
			}
		})
	}
}

// TestWatchEndsWhenItFallsBehind: a watcher that does not keep up is told
// so (its Watch returns errEventsLost after delivering what it holds)
// instead of silently missing exits.
func TestWatchEndsWhenItFallsBehind(t *testing.T) {
	d := newDriver(t, t.TempDir())
	entered, block := make(chan struct{}), make(chan struct{})
	got := 0
	done := make(chan error, 1)
	go func() {
		done <- d.Watch(context.Background(), func(string, string) {
			if got == 0 {
				close(entered)
				<-block
			}
			got++
		})
	}()
	waitWatching(t, d)
	d.notify("first", "1")
	select {
	case <-entered: // the callback now blocks on the first exit
	case <-time.After(5 * time.Second):
		t.Fatal("the first exit was never delivered")
	}
	for i := range watchBuffer + 10 {
		d.notify(fmt.Sprint("alloc-", i), "2")
	}
	close(block)
	select {
	case err := <-done:
		if !errors.Is(err, errEventsLost) {
			t.Fatalf("Watch = %v, want errEventsLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch went on after losing exits")
	}
	if want := 1 + watchBuffer; got != want {
		t.Fatalf("delivered %d exits before ending, want %d", got, want)
	}
}
