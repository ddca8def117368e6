package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSkip runs a child test that calls Skip, with and without the strict
// variable, and checks that it skips or fails.
func TestSkip(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Skip(t, "no widget here")
		return
	}
	for _, tc := range []struct {
		strict   string
		wantFail bool
		wantOut  string
	}{
		{"", false, "--- SKIP: TestSkip"},
		{"1", true, "--- FAIL: TestSkip"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkip$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", StrictVar+"="+tc.strict)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail {
			t.Errorf("%s=%q: err = %v, want failure %v\n%s", StrictVar, tc.strict, err, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.wantOut) || !strings.Contains(string(out), "no widget here") {
			t.Errorf("%s=%q: output lacks %q and the message:\n%s", StrictVar, tc.strict, tc.wantOut, out)
		}
	}
}
