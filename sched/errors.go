package sched

import (
	"errors"
	"strings"
)

// Sentinel errors. Test for them with errors.Is; the messages that wrap them
// carry the detail.
var (
	// ErrInvalidSpec is matched by every error from ParseSpec, Spec.Validate,
	// Plan and Rebalance that is caused by a spec breaking a rule (a
	// *ValidationError) or by a document that is not a spec at all.
	ErrInvalidSpec = errors.New("invalid service spec")

	// ErrInvalidConstraint is wrapped by ParseConstraint when a constraint
	// expression cannot be parsed.
	ErrInvalidConstraint = errors.New("invalid constraint")

	// ErrInvalidInput is wrapped by Plan and Rebalance when the cluster view
	// they were given is inconsistent: a nil spec, node or allocation, or two
	// nodes or two allocations sharing an ID.
	ErrInvalidInput = errors.New("invalid scheduler input")

	// ErrDependencyCycle is wrapped by Evaluate's error for each service
	// whose depends_on closes a cycle (a -> b -> a): their agents would
	// wait for each other forever, so none of them is placed.
	ErrDependencyCycle = errors.New("depends_on cycle")

	// ErrLimit is wrapped by Limits.Check when a spec asks for more than
	// the scheduler allows.
	ErrLimit = errors.New("spec exceeds a scheduler limit")
)

// FieldError is one broken rule in a spec: the field's JSON path (such as
// "replicas" or "ports[1].host") and what is wrong with it.
type FieldError struct {
	// Field is the JSON path, such as "constraints[0]".
	Field string
	// Message says what is wrong, such as "must be >= 0, got -1".
	Message string
}

// Error returns "field: message".
func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every rule a spec breaks, in field order. It matches
// ErrInvalidSpec under errors.Is.
type ValidationError struct {
	// Spec is the spec's name as written, possibly empty or invalid.
	Spec string
	// Problems is never empty.
	Problems []FieldError
}

// Error formats the problems as `spec "web": replicas: must be >= 0, got -1`,
// joining several with "; ".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("spec ")
	b.WriteString(quote(e.Spec))
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidSpec.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidSpec }
