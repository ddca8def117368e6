// Package testenv decides what a test does when the machine lacks
// something it needs (root, a Docker engine, dig, VXLAN): skip with a
// message saying what is missing, or, in a run that must exercise
// everything (SHOAL_TEST_STRICT=1, which scripts/test.sh sets when it runs
// as root, as in CI), fail, so that a missing install step cannot turn CI
// green by skipping.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// StrictVar is the environment variable that turns skips into failures.
const StrictVar = "SHOAL_TEST_STRICT"

// Strict reports whether missing prerequisites fail the test.
func Strict() bool { return os.Getenv(StrictVar) == "1" }

// Skip skips t with the message, or fails it when Strict.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (%s=1: this run must not skip it)", msg, StrictVar)
	}
	t.Skip(msg)
}
