package checks

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Script runs a command (Args, no shell): exit 0 is passing, 1 is warning,
// anything else — including a timeout — is critical. The combined output
// is captured and truncated to OutputMaxSize.
type Script struct {
	CheckID       string
	Args          []string
	Interval      time.Duration
	Timeout       time.Duration // default DefaultScriptTimeout
	OutputMaxSize int
	Notify        Notify
	Logger        hclog.Logger

	loop loop
}

// Start implements Runner.
func (c *Script) Start() { c.loop.start(c.Interval, false, c.Check) }

// Stop implements Runner.
func (c *Script) Stop() { c.loop.stop() }

// Check runs the script once and reports the result.
func (c *Script) Check() {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultScriptTimeout
	}
	if len(c.Args) == 0 {
		c.Notify.UpdateCheck(c.CheckID, Critical, "no script arguments")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	output := truncate(out.Bytes(), out.Len(), c.OutputMaxSize)
	if ctx.Err() != nil {
		c.Notify.UpdateCheck(c.CheckID, Critical, "Timed out ("+timeout.String()+") running check")
		return
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		c.Notify.UpdateCheck(c.CheckID, Passing, output)
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		c.Notify.UpdateCheck(c.CheckID, Warning, output)
	case errors.As(err, &ee):
		c.Notify.UpdateCheck(c.CheckID, Critical, output)
	default:
		logger(c.Logger).Debug("script check failed to run", "check", c.CheckID, "error", err)
		c.Notify.UpdateCheck(c.CheckID, Critical, err.Error())
	}
}
