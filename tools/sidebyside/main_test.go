package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the tool (SIDEBYSIDE_FAKE=main runs main)
// and as a fake server (SIDEBYSIDE_FAKE=<mode>, see fakeServer), started
// by the tool's own start code through a script from fakeBin.
func TestMain(m *testing.M) {
	switch mode := os.Getenv("SIDEBYSIDE_FAKE"); mode {
	case "":
		os.Exit(m.Run())
	case "main":
		main()
		os.Exit(0)
	default:
		fakeServer(mode, os.Args[1:])
	}
}

// fakeServer stands for one Shoal or Consul server started with agent
// flags. It records its PID as a file in $SIDEBYSIDE_PIDS, then by mode:
// "leader" serves /v1/status/leader and KV writes on -client:-http-port;
// "noleader" never answers; "stubborn" never answers and ignores SIGTERM;
// "exit" exits at once with status 1.
func fakeServer(mode string, args []string) {
	switch mode {
	case "exit":
		os.Exit(1)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM) // before its PID is seen
	}
	pids := os.Getenv("SIDEBYSIDE_PIDS")
	if err := os.WriteFile(filepath.Join(pids, strconv.Itoa(os.Getpid())), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flagVal := func(name string) string {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == name {
				return args[i+1]
			}
		}
		return ""
	}
	if mode == "leader" {
		addr := net.JoinHostPort(flagVal("-client"), flagVal("-http-port"))
		mux := http.NewServeMux()
		mux.HandleFunc("GET /v1/status/leader", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%q", addr)
		})
		mux.HandleFunc("PUT /v1/kv/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "true")
		})
		fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, mux))
		os.Exit(1)
	}
	for {
		time.Sleep(time.Hour)
	}
}

// fakeBin writes a script that runs this test binary as a fake server in
// mode, recording PIDs in pids, and returns its path.
func fakeBin(t *testing.T, mode, pids string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fake-"+mode)
	script := fmt.Sprintf("#!/bin/sh\nSIDEBYSIDE_FAKE=%s SIDEBYSIDE_PIDS=%s exec %s \"$@\"\n", mode, pids, self)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// recordedPIDs returns the PIDs the fake servers recorded in dir.
func recordedPIDs(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pid)
	}
	return out
}

// running reports whether pid is a process that has not exited (a zombie
// has).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// pidDir returns a directory for fake servers' PIDs; at the end of the
// test any fake still running is killed, so that a failing test leaves
// nothing behind either.
func pidDir(t *testing.T) string {
	dir := t.TempDir()
	t.Cleanup(func() {
		for _, pid := range recordedPIDs(t, dir) {
			if running(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return dir
}

// tool returns the command running this test binary as sidebyside with
// args, its temporary directory under tmp.
func tool(t *testing.T, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "SIDEBYSIDE_FAKE=main", "TMPDIR="+tmp)
	return cmd
}

// assertCleanedUp fails the test for every recorded PID still running and
// for anything left in the tool's temporary directory.
func assertCleanedUp(t *testing.T, pids, tmp string, wantPIDs int) {
	t.Helper()
	got := recordedPIDs(t, pids)
	if len(got) != wantPIDs {
		t.Errorf("%d fake servers recorded, want %d", len(got), wantPIDs)
	}
	for _, pid := range got {
		if running(pid) {
			t.Errorf("server %d still running after the tool exited", pid)
		}
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("temporary directory: %v left, err %v", ents, err)
	}
}

// A target that fails to start ends the run with an error, and the
// servers of the targets started before it are stopped.
func TestRunStopsServersWhenATargetFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		consul func(t *testing.T, pids string) string
	}{
		{"binary missing", func(t *testing.T, _ string) string { return filepath.Join(t.TempDir(), "no-consul") }},
		{"server exits", func(t *testing.T, pids string) string { return fakeBin(t, "exit", pids) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pids, tmp := pidDir(t), t.TempDir()
			cmd := tool(t, tmp, "-shoal", fakeBin(t, "leader", pids), "-consul", tc.consul(t, pids),
				"-workloads", "put", "-rounds", "1", "-duration", "1s")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("tool: %v, want exit status 1; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), "consul") {
				t.Errorf("error does not name consul:\n%s", out)
			}
			assertCleanedUp(t, pids, tmp, 3)
		})
	}
}

// SIGTERM (or ctrl-C) to the tool stops every server it started,
// including those of a target still starting, and removes its temporary
// directory.
func TestRunStopsServersOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			pids, tmp := pidDir(t), t.TempDir()
			var out strings.Builder
			cmd := startWithSixServers(t, pids, tmp, &out)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(out.String(), "interrupted") {
					t.Errorf("tool: %v after %v, want an error saying it was interrupted; output:\n%s", err, sig, out.String())
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("tool still running 20 s after %v; output:\n%s", sig, out.String())
			}
			assertCleanedUp(t, pids, tmp, 6)
		})
	}
}

// TestServersDieWithTheTool: a tool killed with SIGKILL runs no clean-up,
// so its servers must not outlive it on their own.
func TestServersDieWithTheTool(t *testing.T) {
	pids, tmp := pidDir(t), t.TempDir()
	var out strings.Builder
	cmd := startWithSixServers(t, pids, tmp, &out)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range recordedPIDs(t, pids) {
		for running(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("server %d still running 5 s after the tool was killed", pid) // pidDir kills it
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// startWithSixServers starts the tool with a Shoal target that leads and a
// Consul target that never does, its output in out, and returns once all
// six fake servers run (the tool then waits for Consul's leader).
func startWithSixServers(t *testing.T, pids, tmp string, out *strings.Builder) *exec.Cmd {
	t.Helper()
	cmd := tool(t, tmp, "-shoal", fakeBin(t, "leader", pids), "-consul", fakeBin(t, "noleader", pids),
		"-workloads", "put", "-rounds", "1", "-duration", "1s")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(recordedPIDs(t, pids)) < 6 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("6 servers not started within 30 s; output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd
}

// -telemetry-filter gives Shoal and Consul the same prefix_filter; an
// unsigned rule is refused here, since the two products treat it
// differently (Shoal refuses the file, Consul drops the rule).
func TestFilterRules(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"-consul.raft", `["-consul.raft"]`, true},
		{"-consul.raft, +consul.raft.apply,-consul.api.http", `["-consul.raft", "+consul.raft.apply", "-consul.api.http"]`, true},
		{"consul.raft", "", false},
		{"-consul.raft,", "", false},
		{"-", "", false},
		{`-a"b`, "", false},
	} {
		got, err := filterRules(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("filterRules(%q) = %q, %v; want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// -variant adds named shoal targets; a name may not shadow another
// target, and a malformed flag is a usage error.
func TestVariantFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []variant
		ok   bool
	}{
		{[]string{"nofsm=/tmp/a"}, []variant{{"nofsm", "/tmp/a"}}, true},
		{[]string{"a=/x", "b=/y=z"}, []variant{{"a", "/x"}, {"b", "/y=z"}}, true},
		{[]string{"a=/x", "a=/y"}, nil, false},
		{[]string{"consul=/x"}, nil, false},
		{[]string{"shoal=/x"}, nil, false},
		{[]string{"nobinary="}, nil, false},
		{[]string{"=/x"}, nil, false},
		{[]string{"/x"}, nil, false},
		{[]string{"../up=/x"}, nil, false},
		{[]string{"a b=/x"}, nil, false},
		{[]string{"No_fsync-2=/x"}, []variant{{"No_fsync-2", "/x"}}, true},
	} {
		var f variantFlag
		var err error
		for _, a := range tc.args {
			if err = f.Set(a); err != nil {
				break
			}
		}
		if (err == nil) != tc.ok || (tc.ok && !slices.Equal(f, tc.want)) {
			t.Errorf("Set(%q) = %v, %v; want %v (ok %v)", tc.args, f, err, tc.want, tc.ok)
		}
	}
	var f variantFlag
	for i := range 20 {
		if err := f.Set(fmt.Sprintf("v%d=/x", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Set("v20=/x"); err == nil {
		t.Error("a 21st variant was accepted; targets would run out of 127.0.0.x addresses")
	}
}
