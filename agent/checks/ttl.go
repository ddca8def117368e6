package checks

import (
	"sync"
	"time"
)

// TTL is a check updated from outside (/v1/agent/check/pass|warn|fail|update):
// if no update arrives within TTL it turns critical.
type TTL struct {
	CheckID string
	TTL     time.Duration
	Notify  Notify

	mu         sync.Mutex
	timer      *time.Timer
	lastOutput string
	stopped    bool
}

// Start implements Runner: the TTL starts counting now.
func (c *TTL) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = false
	c.timer = time.AfterFunc(c.TTL, c.expire)
}

// Stop implements Runner.
func (c *TTL) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.timer != nil {
		c.timer.Stop()
	}
}

// SetStatus records an update and restarts the TTL. It returns the output
// as stored (truncated to DefaultOutputMaxSize).
func (c *TTL) SetStatus(status, output string) string {
	if len(output) > DefaultOutputMaxSize {
		output = truncate([]byte(output), len(output), DefaultOutputMaxSize)
	}
	c.Notify.UpdateCheck(c.CheckID, status, output)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastOutput = output
	if c.timer != nil && !c.stopped {
		c.timer.Reset(c.TTL)
	}
	return output
}

func (c *TTL) expire() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	out := "TTL expired"
	if c.lastOutput != "" {
		out = "TTL expired (last output before timeout follows): " + c.lastOutput
	}
	c.mu.Unlock()
	c.Notify.UpdateCheck(c.CheckID, Critical, out)
}
