// Package proccluster runs the real shoal binary as separate processes, so
// tests and tools can kill -9 them, restart them from their data dirs and
// drive them with the CLI. Processes are stopped by PID, never by name.
package proccluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Build compiles the shoal binary from the module root into dir and
// returns its path.
func Build(ctx context.Context, moduleRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "shoal")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("proccluster: build: %v\n%s", err, out)
	}
	return bin, nil
}

// BuildTemp builds the shoal binary into a new temporary directory, for a
// test package's TestMain; cleanup removes the directory.
func BuildTemp(moduleRoot string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "shoal-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("proccluster: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if bin, err = Build(ctx, moduleRoot, dir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Proc is one agent process.
type Proc struct {
	Name string
	Bin  string
	Args []string
	// Wrap, if set, prefixes the command (e.g. nsenter into a host's
	// network namespace); it must exec the binary in place, keeping the PID.
	Wrap []string
	// Env is added to the process's environment.
	Env     []string
	Addr    string // bind address
	HTTP    string // host:port of the HTTP API
	DataDir string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs the process; its output goes to LogPath.
func (p *Proc) Start() error {
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	argv := append(append(append([]string{}, p.Wrap...), p.Bin), p.Args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append(os.Environ(), p.Env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("proccluster: start %s: %w", p.Name, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return nil
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitCode is the exit status of a process that has exited: -1 while it
// runs, if it never started, or if a signal ended it.
func (p *Proc) ExitCode() int {
	if p.done == nil || p.Running() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Kill9 kills the process with SIGKILL and waits for it.
func (p *Proc) Kill9() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Signal sends sig to the process (SIGSTOP and SIGCONT pause and resume
// it); it returns an error if the process is not running.
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return fmt.Errorf("proccluster: %s is not running", p.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("proccluster: signal %s: %w", p.Name, err)
	}
	return nil
}

// PID returns the process's ID, or 0 if it was never started.
func (p *Proc) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop sends SIGTERM (a graceful leave) and waits up to timeout, then kills.
func (p *Proc) Stop(timeout time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill9()
	}
}

// Log returns what the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Get performs a GET on the process's HTTP API and returns the body.
func (p *Proc) Get(path string) (int, string, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + p.HTTP + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Put performs a PUT with body on the process's HTTP API.
func (p *Proc) Put(path, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPut, "http://"+p.HTTP+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Delete performs a DELETE on the process's HTTP API.
func (p *Proc) Delete(path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodDelete, "http://"+p.HTTP+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Leader returns the leader's RPC address as the process reports it.
func (p *Proc) Leader() (string, error) {
	code, body, err := p.Get("/v1/status/leader")
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", code, body)
	}
	return strings.Trim(strings.TrimSpace(body), `"`), nil
}

// Servers describes n servers on 127.0.0.1..127.0.0.n, each with the same
// ports (as on real hosts), joined through each other, under dir.
func Servers(bin, dir string, n int, ports Ports) []*Proc {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.%d", i+1)
	}
	return ServersOn(bin, dir, addrs, nil, ports)
}

// ServersOn describes one server per address (wraps[i], if given, is the
// command prefix of server i, an emulated host), all with the same ports,
// joined through each other, under dir.
func ServersOn(bin, dir string, addrs []string, wraps [][]string, ports Ports) []*Proc {
	var out []*Proc
	for i, addr := range addrs {
		p := &Proc{
			Name: fmt.Sprintf("s%d", i+1), Bin: bin, Addr: addr,
			HTTP:    net.JoinHostPort(addr, fmt.Sprint(ports.HTTP)),
			DataDir: filepath.Join(dir, fmt.Sprintf("s%d", i+1)),
			LogPath: filepath.Join(dir, fmt.Sprintf("s%d.log", i+1)),
		}
		if i < len(wraps) {
			p.Wrap = wraps[i]
		}
		p.Args = []string{"agent", "-server", "-bootstrap-expect", fmt.Sprint(len(addrs)),
			"-node", p.Name, "-bind", addr, "-client", addr, "-data-dir", p.DataDir,
			"-http-port", fmt.Sprint(ports.HTTP), "-serf-lan-port", fmt.Sprint(ports.Serf),
			"-server-port", fmt.Sprint(ports.Server), "-dns-port", "-1"}
		if len(p.Wrap) == 0 {
			p.Args = append(p.Args, "-overlay=false") // processes share this network namespace
		} else {
			// An emulated host must not use the machine's Docker engine
			// (inherited DOCKER_HOST or /var/run/docker.sock): the networks
			// it would create there, bridges and routes of the overlay,
			// would land in the machine's own namespace. A host that has an
			// engine of its own sets DOCKER_HOST to it in Env.
			p.Env = []string{"DOCKER_HOST=unix://" + filepath.Join(dir, p.Name+"-no-docker.sock")}
		}
		for j, other := range addrs {
			if j != i {
				p.Args = append(p.Args, "-retry-join", net.JoinHostPort(other, fmt.Sprint(ports.Serf)))
			}
		}
		p.Args = append(p.Args, "-retry-interval", "200ms")
		out = append(out, p)
	}
	return out
}

// Ports are the ports every process of a cluster uses on its own address.
type Ports struct{ HTTP, Serf, Server int }

// FindLeader returns the process whose RPC address the running processes
// agree is the leader.
func FindLeader(procs []*Proc, serverPort int) (*Proc, error) {
	var leader string
	for _, p := range procs {
		if !p.Running() {
			continue
		}
		l, err := p.Leader()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		if l == "" || (leader != "" && l != leader) {
			return nil, fmt.Errorf("%s reports leader %q (others %q)", p.Name, l, leader)
		}
		leader = l
	}
	for _, p := range procs {
		if net.JoinHostPort(p.Addr, fmt.Sprint(serverPort)) == leader && p.Running() {
			return p, nil
		}
	}
	return nil, fmt.Errorf("leader %q is not a running process", leader)
}

// Poll calls fn every interval until it returns nil, and returns nil; or,
// once timeout has passed, fn's last error.
func Poll(timeout, interval time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}
