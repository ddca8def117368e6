// Package driver is the interface to what runs the replicas the scheduler
// places: a Driver starts, stops, inspects and lists the tasks of one node
// and shows their output. The agent's realiser converges a node's drivers to
// its allocations through it, and the overlay attaches its network through
// the optional NetworkAttacher.
//
// The package holds the interface and its shared types only; the
// implementations, with their edges (the Engine API, /proc, signals), live
// in subpackages: docker and exec. drivertest is the conformance suite they
// both pass. It sits beside sched, not under it, so that the scheduler's
// tree stays pure (sched's import test covers all of it), as Nomad keeps
// drivers/ apart from scheduler/.
package driver

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/shoalproject/shoal/sched"
)

// Errors every driver reports the same way.
var (
	// ErrNotFound means the driver runs no task for that allocation.
	ErrNotFound = errors.New("driver: task not found")
	// ErrUnavailable means the driver cannot run here (no engine, no permission).
	ErrUnavailable = errors.New("driver: unavailable")
	// ErrImageMissing means the docker image is not present on the node
	// and the spec's pull policy is "never" (the message names the image).
	ErrImageMissing = errors.New("driver: image not present")
	// ErrPullFailed means the image could not be pulled from its registry;
	// the message names the image and the registry's reason. Such a
	// replica is retried with back-off.
	ErrPullFailed = errors.New("driver: image pull failed")
)

// Preparer is an optional ability of a Driver: getting what a task needs
// (the docker driver pulls its image) in the background, so that the
// caller can report progress and Start does not block on a long download.
type Preparer interface {
	// Prepare starts, or follows, the preparation of t and returns at
	// once. ready reports that Start may be called; until then progress
	// says what is under way, such as "pulling example/web:1: 45 %". A
	// failed preparation returns its error once (ErrPullFailed or
	// ErrImageMissing wrapped); the next call starts over. Safe for
	// concurrent use.
	Prepare(ctx context.Context, t *Task) (ready bool, progress string, err error)
}

// Watcher is an optional ability of a Driver: telling at once that one of
// this node's tasks has exited or been removed (a container killed or
// removed behind the agent's back), so that the caller acts on it without
// waiting for its next poll of List.
type Watcher interface {
	// Watch calls changed with the task's allocation ID and task ID
	// (Status.ID) each time one of the driver's tasks exits or is removed,
	// from Watch's own goroutine, until ctx is done or the driver's event
	// stream fails. It always returns an error: ctx's when ctx is done,
	// else why the stream ended (the caller calls Watch again after a
	// pause). Safe for concurrent use.
	Watch(ctx context.Context, changed func(allocID, taskID string)) error
}

// Task is one allocation to run.
type Task struct {
	// AllocID identifies the task; drivers label what they create with it
	// (docker label shoal.alloc) so that an agent restarted later adopts
	// its tasks instead of starting duplicates.
	AllocID string
	// Service is the spec name (docker label shoal.service); Index the
	// replica slot. The task is named "<service>.<index>.<short alloc id>".
	Service string
	Index   int
	// Version is the spec version (label shoal.version).
	Version string
	// Spec is the service spec, canonicalized and valid.
	Spec *sched.Spec
	// Ports are the spec's ports with their assigned host ports.
	Ports []sched.Port
	// Network, when non-empty, is the docker network to attach to (the
	// overlay's); empty means the driver's default for Spec.Network.
	Network string
	// DNS servers for the task (the agent's DNS), empty for the default.
	DNS []string
}

// State of a task as the driver sees it.
type State string

// Task states.
const (
	StateRunning State = "running"
	StateExited  State = "exited"
	StateCreated State = "created" // created, not started
)

// Status describes one task.
type Status struct {
	AllocID   string
	Service   string
	Index     int
	Version   string
	ID        string // container ID or PID
	State     State
	ExitCode  int
	Message   string // why it exited or failed, when known
	IP        string // the task's IP address, when it has its own
	StartedAt time.Time
	Healthy   *bool // the engine's own health status, when it has one
}

// Driver runs tasks on one node. Methods are safe for concurrent use and
// return an error if and only if ctx is done or the operation failed.
type Driver interface {
	// Name is "docker" or "exec".
	Name() string
	// Available reports (ErrUnavailable-wrapped) why the driver cannot
	// run tasks on this node, or nil.
	Available(ctx context.Context) error
	// Start creates and starts a task and returns its status. Starting an
	// allocation that already has a task (running or not) first removes
	// the old one.
	Start(ctx context.Context, t *Task) (Status, error)
	// Stop stops the task (SIGTERM, then SIGKILL after grace) and removes
	// it. Stopping an unknown allocation returns nil.
	Stop(ctx context.Context, allocID string, grace time.Duration) error
	// Inspect returns the status of one task, ErrNotFound when absent.
	Inspect(ctx context.Context, allocID string) (Status, error)
	// List returns every task this driver runs for Shoal on this node
	// (found by label), running or exited.
	List(ctx context.Context) ([]Status, error)
	// Logs writes the last tail lines (all when tail <= 0) of the task's
	// stdout and stderr to w.
	Logs(ctx context.Context, allocID string, tail int, w io.Writer) error
}
