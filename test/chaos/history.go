package chaos

import (
	"sync"
	"time"
)

// Kind is the kind of an operation.
type Kind string

// Operation kinds.
const (
	KindRead    Kind = "read"
	KindWrite   Kind = "write"
	KindCAS     Kind = "cas"
	KindAcquire Kind = "acquire"
	KindRelease Kind = "release"
	// KindDestroy destroys a lock client's session, releasing the lock if
	// the session holds it.
	KindDestroy Kind = "destroy"
)

// Outcome is what the client knows about an operation's effect.
type Outcome string

// Outcomes.
const (
	// OK: the server answered 200; Result (CAS, acquire, release) or Value
	// (read) is its answer.
	OK Outcome = "ok"
	// Failed: definitely not applied (a 4xx answer); dropped from checks.
	Failed Outcome = "failed"
	// Unknown: timeout, connection error or 5xx; the operation may take
	// effect at any time after its call.
	Unknown Outcome = "unknown"
)

// Op is one operation of the history. Times are since the run's start.
type Op struct {
	Process int // client process; a new one after an Unknown outcome, as in Jepsen
	Client  int
	Kind    Kind
	Key     string
	// Value: the value written (write, CAS) or read; "" is absent. For
	// the lock key, Value of a read is the holding session.
	Value   string
	Expect  string // CAS: the value the CAS expects (read just before)
	Session string // acquire, release
	Result  bool   // CAS, acquire, release answer when OK
	Outcome Outcome
	Server  string
	Call    time.Duration
	Return  time.Duration
	// Checked is false for reads whose order is not checked (default
	// mode); they still count in the report.
	Checked bool
	Final   bool // a read of the final check
	Err     string
}

// Recorder collects the history; it is safe for concurrent use.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewRecorder starts the clock of a history.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Now is the time since the history's start.
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// Add appends op.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops returns a copy of the history.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}
