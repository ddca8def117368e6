package command

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// lockCommand implements "shoal lock": it runs a child process while
// holding a lock (or, with -n > 1, a semaphore slot) under a KV prefix,
// and kills the child if the lock is lost.
type lockCommand struct {
	baseCommand
	limit         int
	name          string
	shell         bool
	timeout       time.Duration
	try           time.Duration
	monitorRetry  int
	childExitCode bool
	passStdin     bool
	verbose       bool
}

func newLockCommand(ui cli.Ui) *lockCommand {
	c := &lockCommand{}
	c.init(ui, "lock", "Execute a command holding a lock", `
Usage: shoal lock [options] prefix child...

  Acquires the lock at prefix/.lock (or, with -n above 1, a slot of the
  semaphore at prefix), runs child, and releases the lock when child exits.
  If the lock is lost — its session invalidated — child is killed.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.IntVar(&c.limit, "n", 1, "How many holders may hold the lock at once: above 1 it is a semaphore.")
		fs.StringVar(&c.name, "name", "", "The session `name`. Default: \"Shoal lock for <child> at <prefix>\".")
		fs.BoolVar(&c.shell, "shell", true, "Run the child with \"sh -c\".")
		fs.DurationVar(&c.timeout, "timeout", 0, "Give up acquiring after this `duration` (0: wait forever).")
		fs.DurationVar(&c.try, "try", 0, "Try to acquire once, for at most this `duration`.")
		fs.IntVar(&c.monitorRetry, "monitor-retry", 3, "How many `times` to retry transient errors while monitoring the lock.")
		fs.BoolVar(&c.childExitCode, "child-exit-code", false, "Exit with the child's exit code instead of 1 when it fails.")
		fs.BoolVar(&c.passStdin, "pass-stdin", false, "Pass this command's stdin to the child.")
		fs.BoolVar(&c.verbose, "verbose", false, "Print what the command does.")
	})
	return c
}

// locker is what api.Lock and api.Semaphore have in common.
type locker interface {
	acquire(stop <-chan struct{}) (<-chan struct{}, error)
	release() error
	destroy() error
}

type apiLock struct{ *api.Lock }

func (l apiLock) acquire(stop <-chan struct{}) (<-chan struct{}, error) { return l.Lock.Lock(stop) }
func (l apiLock) release() error                                        { return l.Unlock() }
func (l apiLock) destroy() error                                        { return l.Destroy() }

type apiSemaphore struct{ *api.Semaphore }

func (s apiSemaphore) acquire(stop <-chan struct{}) (<-chan struct{}, error) { return s.Acquire(stop) }
func (s apiSemaphore) release() error                                        { return s.Release() }
func (s apiSemaphore) destroy() error                                        { return s.Destroy() }

func (c *lockCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	if c.flags.NArg() < 2 {
		return c.usageError("Key prefix and child command must be specified")
	}
	if c.limit < 1 {
		return c.usageError("Lock holder limit must be positive")
	}
	prefix := kvKeyArg(c.flags.Arg(0))
	child := c.flags.Args()[1:]
	name := c.name
	if name == "" {
		name = fmt.Sprintf("Shoal lock for '%s' at '%s'", strings.Join(child, " "), prefix)
	}
	client := c.client()
	if client == nil {
		return 1
	}
	var l locker
	if c.limit == 1 {
		key := path.Join(prefix, api.DefaultSemaphoreKey)
		opts := &api.LockOptions{Key: key, SessionName: name, MonitorRetries: c.monitorRetry}
		if c.try > 0 {
			opts.LockTryOnce, opts.LockWaitTime = true, c.try
		}
		lk, err := client.LockOpts(opts)
		if err != nil {
			return c.fail("setting up lock", err)
		}
		l = apiLock{lk}
	} else {
		opts := &api.SemaphoreOptions{Prefix: prefix, Limit: c.limit, SessionName: name, MonitorRetries: c.monitorRetry}
		if c.try > 0 {
			opts.SemaphoreTryOnce, opts.SemaphoreWaitTime = true, c.try
		}
		sem, err := client.SemaphoreOpts(opts)
		if err != nil {
			return c.fail("setting up semaphore", err)
		}
		l = apiSemaphore{sem}
	}

	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigCh)
	stop := make(chan struct{})
	go func() {
		var timeout <-chan time.Time
		if c.timeout > 0 {
			timeout = time.After(c.timeout)
		}
		select {
		case <-sigCh:
		case <-timeout:
		}
		close(stop)
	}()

	if c.verbose {
		c.ui.Info(fmt.Sprintf("Attempting lock acquisition at %s", prefix))
	}
	lost, err := l.acquire(stop)
	if err != nil {
		c.ui.Error(fmt.Sprintf("Lock acquisition failed: %s", err))
		return 1
	}
	if lost == nil {
		c.ui.Error("Shutdown triggered or timeout during lock acquisition")
		return 1
	}
	if c.verbose {
		c.ui.Info("Lock acquired, starting child")
	}
	code := c.runChild(child, lost, stop)
	if err := l.release(); err != nil && !errors.Is(err, api.ErrLockNotHeld) && !errors.Is(err, api.ErrSemaphoreNotHeld) {
		c.ui.Error(fmt.Sprintf("Lock release failed: %s", err))
		return 1
	}
	_ = l.destroy() // fails harmlessly while other contenders use it
	if c.verbose {
		c.ui.Info("Lock released")
	}
	return code
}

// runChild runs the child until it exits, killing it if the lock is lost
// or the command is interrupted, and returns the command's exit code.
func (c *lockCommand) runChild(args []string, lost <-chan struct{}, stop <-chan struct{}) int {
	var cmd *exec.Cmd
	if c.shell {
		cmd = exec.Command("/bin/sh", "-c", strings.Join(args, " "))
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if c.passStdin {
		cmd.Stdin = os.Stdin
	}
	cmd.Env = append(os.Environ(), "CONSUL_LOCK_HELD=true", "SHOAL_LOCK_HELD=true")
	if err := cmd.Start(); err != nil {
		c.ui.Error(fmt.Sprintf("Error starting handler: %s", err))
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-lost:
		c.ui.Error("Lock lost, killing child")
		_ = cmd.Process.Kill()
		<-done
		return 1
	case <-stop:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return 1
	}
	if err != nil {
		var ee *exec.ExitError
		if c.childExitCode && errors.As(err, &ee) {
			return ee.ExitCode()
		}
		c.ui.Error(fmt.Sprintf("Child exited with error: %s", err))
		return 1
	}
	return 0
}
