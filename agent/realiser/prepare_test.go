package realiser

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// fakePreparer is a fakeDriver with the Preparer ability: each Prepare
// call takes the next scripted answer.
type fakePreparer struct {
	*fakeDriver
	mu      sync.Mutex
	answers []prepareAnswer
	calls   int
}

type prepareAnswer struct {
	ready    bool
	progress string
	err      error
}

func (p *fakePreparer) Prepare(ctx context.Context, t *driver.Task) (bool, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if len(p.answers) == 0 {
		return true, "", nil
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return a.ready, a.progress, a.err
}

// TestPrepare checks that a replica whose image is being pulled reports the
// pull's progress with the node's name, that a failed pull keeps it pending
// (naming image, node and reason) and is retried with a doubling back-off,
// and that it starts once the image is there.
func TestPrepare(t *testing.T) {
	d := newFakeDriver("docker")
	pullErr := fmt.Errorf("docker: %w: reg:5000/web:1: unauthorized", driver.ErrPullFailed)
	p := &fakePreparer{fakeDriver: d, answers: []prepareAnswer{
		{progress: "pulling reg:5000/web:1: 45 %"},
		{err: pullErr},
		{err: pullErr},
		{ready: true},
	}}
	h := newHarness(t)
	d.clock = h.clock.Now
	h.r = h.newRealiser(map[string]driver.Driver{"docker": p})
	h.srv.set(1, newAlloc(idA, 0, nil))

	steps := []struct {
		name      string
		advance   time.Duration
		wantCalls int
		wantDesc  []string // in the last report
		wantState sched.ClientStatus
		wantStart bool
	}{
		{"progress", 0, 1, []string{"pulling reg:5000/web:1: 45 % on n1"}, sched.ClientPending, false},
		{"failure", 0, 2, []string{"reg:5000/web:1", "unauthorized", "on n1", "retrying in 1s"}, sched.ClientPending, false},
		{"backs off", 500 * time.Millisecond, 2, []string{"retrying in 1s"}, sched.ClientPending, false},
		{"retried, fails again", 600 * time.Millisecond, 3, []string{"retrying in 2s"}, sched.ClientPending, false},
		{"still backing off", time.Second, 3, []string{"retrying in 2s"}, sched.ClientPending, false},
		{"pulled, starts", time.Second, 4, nil, sched.ClientRunning, true},
	}
	for _, s := range steps {
		h.clock.Advance(s.advance)
		h.converge()
		p.mu.Lock()
		calls := p.calls
		p.mu.Unlock()
		if calls != s.wantCalls {
			t.Errorf("%s: Prepare called %d times, want %d", s.name, calls, s.wantCalls)
		}
		u := h.srv.last(t, idA)
		if u.ClientStatus != s.wantState {
			t.Errorf("%s: status %s, want %s (%q)", s.name, u.ClientStatus, s.wantState, u.ClientDescription)
		}
		for _, w := range s.wantDesc {
			if !strings.Contains(u.ClientDescription, w) {
				t.Errorf("%s: description %q does not say %q", s.name, u.ClientDescription, w)
			}
		}
		if started := len(d.startsOf(idA)) > 0; started != s.wantStart {
			t.Errorf("%s: started = %v, want %v", s.name, started, s.wantStart)
		}
	}
}
