// Package checks runs the health checks an agent owns: HTTP, TCP, TTL,
// script (monitor) and gRPC health checks. Each runner reports results to a
// Notify; the agent's local state is the Notify and forwards changes to the
// catalog through anti-entropy.
//
// Runners are started with Start and stopped with Stop; Stop may be called
// more than once and returns after the runner's goroutine has exited.
package checks

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Health states, as Consul names them.
const (
	Passing  = "passing"
	Warning  = "warning"
	Critical = "critical"
)

// Limits and defaults, as Consul's.
const (
	// MinInterval is the shortest interval a check may run at; shorter
	// intervals are raised to it.
	MinInterval = time.Second
	// DefaultTimeout bounds one HTTP, TCP or gRPC attempt when no timeout
	// is given.
	DefaultTimeout = 10 * time.Second
	// DefaultScriptTimeout bounds one script run when no timeout is given.
	DefaultScriptTimeout = 30 * time.Second
	// DefaultOutputMaxSize is how much check output is kept (4 KiB).
	DefaultOutputMaxSize = 4 * 1024
	// UserAgent is sent by HTTP checks.
	UserAgent = "Consul Health Check"
)

// Notify receives check results. Implementations must be safe for
// concurrent use: every runner calls it from its own goroutine.
type Notify interface {
	UpdateCheck(checkID, status, output string)
}

// Runner is a started check.
type Runner interface {
	Start()
	Stop()
}

// loop runs fn after a random stagger (or at once) and then every interval
// until stop is closed. It is the skeleton of every periodic check.
type loop struct {
	stopOnce sync.Once
	stopCh   chan struct{}
	doneCh   chan struct{}
}

func (l *loop) start(interval time.Duration, atOnce bool, fn func()) {
	l.stopCh, l.doneCh = make(chan struct{}), make(chan struct{})
	first := stagger(interval)
	if atOnce {
		first = 0
	}
	go func() {
		defer close(l.doneCh)
		next := time.NewTimer(first)
		defer next.Stop()
		for {
			select {
			case <-next.C:
				fn()
				next.Reset(interval)
			case <-l.stopCh:
				return
			}
		}
	}()
}

func (l *loop) stop() {
	if l.stopCh == nil {
		return
	}
	l.stopOnce.Do(func() { close(l.stopCh) })
	<-l.doneCh
}

// stopped reports whether stop was called.
func (l *loop) stopped() bool {
	select {
	case <-l.stopCh:
		return true
	default:
		return false
	}
}

// stagger spreads the first run of many checks over their interval, as
// Consul does; it is at most 1 s so that new checks report promptly.
func stagger(interval time.Duration) time.Duration {
	d := min(interval, time.Second)
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// truncate keeps the last max bytes of out, prefixed with a note of how
// much was captured, as Consul does for check output.
func truncate(out []byte, total int, max int) string {
	if max <= 0 {
		max = DefaultOutputMaxSize
	}
	if total <= max && len(out) <= max {
		return string(out)
	}
	if len(out) > max {
		out = out[:max]
	}
	return "Captured " + itoa(len(out)) + " of " + itoa(total) + " bytes\n...\n" + string(out)
}

func itoa(n int) string {
	return formatInt(int64(n))
}

// logger returns l or a null logger.
func logger(l hclog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return l
}
