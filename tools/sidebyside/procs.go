package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// errStopped is returned by supervisor.start once stopAll has begun: a
// server started after the clean-up would be left behind.
var errStopped = errors.New("sidebyside: stopping, no new servers")

// defaultGrace is how long a server has to exit after SIGTERM before it
// gets SIGKILL.
const defaultGrace = 10 * time.Second

// proc is a started server process; exited is closed once it has been
// waited for.
type proc struct {
	name   string
	log    string // path of its output
	cmd    *exec.Cmd
	exited chan struct{}
}

// logTail returns up to the last n bytes of the process's output.
func (p *proc) logTail(n int64) string {
	f, err := os.Open(p.log)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// supervisor owns every server process the tool starts, so that each is
// stopped, by its PID, on every way out of a run: the end, an error, or a
// signal. Its methods are safe for concurrent use.
type supervisor struct {
	// grace is the time between SIGTERM and SIGKILL; zero means
	// defaultGrace.
	grace time.Duration

	mu      sync.Mutex
	procs   []*proc
	stopped bool
}

// start runs bin with args, its output in dir/name.log, and registers the
// process before returning it. It returns errStopped once stopAll has
// begun.
func (s *supervisor) start(dir, name, bin string, args ...string) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, errStopped
	}
	logPath := filepath.Join(dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Should the tool itself be killed (SIGKILL: no clean-up runs), the
	// kernel kills its servers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.exited) }()
	s.procs = append(s.procs, p)
	return p, nil
}

// stopAll sends SIGTERM to every process started and not yet exited,
// SIGKILL to those still running after the grace, and returns once all
// have been waited for. Later calls (and concurrent ones) return once the
// first has finished; start fails from then on.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	grace := s.grace
	if grace == 0 {
		grace = defaultGrace
	}
	for _, p := range s.procs {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	expired := false
	for _, p := range s.procs {
		if !expired {
			select {
			case <-p.exited:
				continue
			case <-timer.C:
				expired = true
			}
		}
		_ = p.cmd.Process.Kill() // an error only says it has exited meanwhile
		<-p.exited
	}
}
