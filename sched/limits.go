package sched

import "fmt"

// DefaultMaxReplicas is the default of Limits.MaxReplicas. A thousand
// replicas of one service is more than a cluster of Shoal's size runs, and
// bounds the work one spec can cause: a 1,000-replica plan takes about a
// millisecond to compute and, since every allocation carries its spec, about
// a megabyte in one Raft entry. Raise it per cluster (scheduler.max_replicas)
// up to MaxReplicas.
const DefaultMaxReplicas = 1000

// Limits bound what a spec may ask of the scheduler, so that one spec
// cannot slow the evaluation of every other. Spec.Validate enforces the
// absolute bounds (such as MaxReplicas); Limits are the cluster's own,
// configurable ones, checked at deploy and by every evaluation.
type Limits struct {
	// MaxReplicas is the most replicas a replicated spec may ask, in
	// 1..MaxReplicas. 0 means DefaultMaxReplicas.
	MaxReplicas int
}

// Validate reports whether the limits themselves are in range.
func (l Limits) Validate() error {
	if l.MaxReplicas < 0 || l.MaxReplicas > MaxReplicas {
		return fmt.Errorf("sched: max replicas must be in 1..%d, got %d", MaxReplicas, l.MaxReplicas)
	}
	return nil
}

// maxReplicas returns MaxReplicas with its default applied.
func (l Limits) maxReplicas() int {
	if l.MaxReplicas == 0 {
		return DefaultMaxReplicas
	}
	return l.MaxReplicas
}

// Check returns an error wrapping ErrLimit and ErrInvalidSpec (with a
// *ValidationError) when spec asks for more than l allows.
func (l Limits) Check(spec *Spec) error {
	if max := l.maxReplicas(); spec.Mode == ModeReplicated && spec.Count() > max {
		return fmt.Errorf("sched: %w: %w", ErrLimit, &ValidationError{Spec: spec.Name, Problems: []FieldError{{
			Field: "replicas", Message: fmt.Sprintf("must be <= %d (the scheduler's max_replicas), got %d", max, spec.Count())}}})
	}
	return nil
}
