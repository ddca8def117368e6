package checks

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TCP checks that a TCP connection to Address ("host:port") can be opened
// within Timeout: passing if so, critical otherwise.
type TCP struct {
	CheckID  string
	Address  string
	Interval time.Duration
	Timeout  time.Duration // default DefaultTimeout
	// AtOnce runs the first check as soon as it starts instead of after
	// a random stagger (a replica the scheduler has just started, whose
	// first passing check may gate a rolling update).
	AtOnce bool
	Notify Notify
	Logger hclog.Logger

	loop loop
}

// Start implements Runner.
func (c *TCP) Start() { c.loop.start(c.Interval, c.AtOnce, c.Check) }

// Stop implements Runner.
func (c *TCP) Stop() { c.loop.stop() }

// Check runs the check once and reports the result.
func (c *TCP) Check() {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	conn, err := net.DialTimeout("tcp", c.Address, timeout)
	if err != nil {
		logger(c.Logger).Debug("tcp check failed", "check", c.CheckID, "error", err)
		c.Notify.UpdateCheck(c.CheckID, Critical, err.Error())
		return
	}
	conn.Close()
	c.Notify.UpdateCheck(c.CheckID, Passing, fmt.Sprintf("TCP connect %s: Success", c.Address))
}
