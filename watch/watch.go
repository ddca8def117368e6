// Package watch runs Consul's watches: a blocking query of one view of the
// data (a key, a key prefix, the services, the nodes, one service's
// instances, checks, or user events) and a handler run with the view, as
// JSON, now and every time it changes. The `shoal watch` command and the
// agent's `watches` setting both use it, as Consul's CLI and agent share
// its api/watch package.
package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"
)

// Params choose what a watch reads: Type, and the fields that type takes
// (Consul's watch parameters).
type Params struct {
	Type string
	// Key is the key of type "key"; Prefix the prefix of "keyprefix".
	Key, Prefix string
	// Service names the service of "service" (and, for "checks", that
	// service's checks); Tag and PassingOnly filter its instances.
	Service     string
	Tag         string
	PassingOnly bool
	// State is the check state of "checks": any, passing, warning or
	// critical.
	State string
	// Name is the event name of "event" ("" for every event).
	Name string
	// Stale lets any server answer (?stale), for every type but event.
	Stale bool
}

// ErrInvalid is what New's errors wrap: the parameters do not make a watch.
var ErrInvalid = errors.New("invalid watch")

// Plan is a validated watch: Params and the query their type runs.
type Plan struct {
	Params
	query func(c *api.Client, p *Params, opts *api.QueryOptions) (any, uint64, error)
}

// Types lists the watch types, sorted.
func Types() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for t := range types {
			if !yield(t) {
				return
			}
		}
	})
}

// New validates p and returns its plan. Its errors wrap ErrInvalid and say
// what is missing in Consul's words.
func New(p Params) (*Plan, error) {
	if p.Type == "" {
		return nil, fmt.Errorf("%w: Must specify watch type", ErrInvalid)
	}
	t, ok := types[p.Type]
	if !ok {
		return nil, fmt.Errorf("%w: Unsupported watch type: %s", ErrInvalid, p.Type)
	}
	if err := t.validate(&p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &Plan{Params: p, query: t.query}, nil
}

// Query runs one read with opts (a blocking one when opts.WaitIndex is
// set) and returns the view, ready to encode as JSON, and its index.
// (The view of type key is nil while the key is absent:
// JSON null, as in Consul.)
func (p *Plan) Query(c *api.Client, opts *api.QueryOptions) (any, uint64, error) {
	return p.query(c, &p.Params, opts)
}

// Error is what Run reports to its onErr: the step that failed, "query"
// (retried) or "handler" (run again at the next change), and its cause.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "watch " + e.Op + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Handler is run with each new view and its index.
type Handler func(ctx context.Context, view any, index uint64) error

// Run calls h with the current view, then blocks for changes and calls h
// with each changed view, until ctx ends (then it returns ctx's error).
// opts carries the datacenter and token; its WaitIndex and WaitTime are
// Run's own. A failed query is reported to onErr (an *Error) and retried
// with a backoff from 1 s to 30 s; a failed handler is reported to onErr
// and not retried (the next change runs it again). An index that goes
// backwards (a snapshot restore) starts over, as Consul's watches do.
func (p *Plan) Run(ctx context.Context, c *api.Client, opts api.QueryOptions, h Handler, onErr func(error)) error {
	var index uint64
	first := true
	retry := time.Second
	for {
		q := opts
		q.WaitIndex, q.WaitTime = index, 5*time.Minute
		q.AllowStale = q.AllowStale || p.Stale
		view, idx, err := p.Query(c, q.WithContext(ctx))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			onErr(&Error{Op: "query", Err: err})
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(retry):
			}
			retry = min(retry*2, 30*time.Second)
			continue
		}
		retry = time.Second
		idx = max(idx, 1) // ?index=0 never blocks: an index of 0 would spin, as Consul's clients guard too
		if idx < index {
			index = 0
			continue
		}
		if !first && idx == index {
			continue // woken without a change
		}
		first, index = false, idx
		if err := h(ctx, view, idx); err != nil {
			onErr(&Error{Op: "handler", Err: err})
		}
	}
}
