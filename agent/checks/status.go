package checks

import "sync"

// StatusHandler sits between a runner and its Notify and applies
// success_before_passing, failures_before_warning and
// failures_before_critical: a status change is reported only after that
// many consecutive results. Zero thresholds report at once.
type StatusHandler struct {
	inner                  Notify
	successBeforePassing   int
	failuresBeforeWarning  int
	failuresBeforeCritical int

	mu        sync.Mutex
	successes int
	failures  int
}

// NewStatusHandler wraps inner. failuresBeforeWarning defaults to
// failuresBeforeCritical when zero, so a failing check stays at its last
// reported status until critical.
func NewStatusHandler(inner Notify, successBeforePassing, failuresBeforeWarning, failuresBeforeCritical int) *StatusHandler {
	if failuresBeforeWarning == 0 {
		failuresBeforeWarning = failuresBeforeCritical
	}
	return &StatusHandler{inner: inner, successBeforePassing: successBeforePassing,
		failuresBeforeWarning: failuresBeforeWarning, failuresBeforeCritical: failuresBeforeCritical}
}

// UpdateCheck implements Notify.
func (h *StatusHandler) UpdateCheck(id, status, output string) {
	h.mu.Lock()
	if status == Passing || status == Warning {
		h.successes++
		h.failures = 0
		report := h.successes >= h.successBeforePassing
		h.mu.Unlock()
		if report {
			h.inner.UpdateCheck(id, status, output)
		}
		return
	}
	h.successes = 0
	h.failures++
	n := h.failures
	h.mu.Unlock()
	switch {
	case n >= h.failuresBeforeCritical:
		h.inner.UpdateCheck(id, Critical, output)
	case n >= h.failuresBeforeWarning:
		h.inner.UpdateCheck(id, Warning, output)
	}
}
