package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

func TestDevAgentAnswersLeaderQuickly(t *testing.T) {
	fp := testcluster.FreePorts(t, 3)
	p := &proccluster.Proc{
		Name: "dev", Bin: shoalBin, Addr: "127.0.0.1",
		HTTP:    fmt.Sprintf("127.0.0.1:%d", fp[0]),
		LogPath: filepath.Join(t.TempDir(), "dev.log"),
		// A dev agent keeps its exec driver's state in a temporary
		// directory it removes at shutdown; killed with -9 it cannot.
		Env: []string{"TMPDIR=" + t.TempDir()},
		Args: []string{"agent", "-dev", "-http-port", fmt.Sprint(fp[0]), "-serf-lan-port", fmt.Sprint(fp[1]),
			"-server-port", fmt.Sprint(fp[2]), "-dns-port", "-1"},
	}
	start := time.Now()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill9() })
	var ready time.Duration
	testcluster.Eventually(t, 10*time.Second, func() error {
		l, err := p.Leader()
		if err != nil || l == "" {
			return fmt.Errorf("leader %q: %v", l, err)
		}
		ready = time.Since(start)
		return nil
	})
	t.Logf("dev agent had a leader %v after exec", ready.Round(time.Millisecond))
	code, body, err := p.Put("/v1/kv/hello", "world")
	if err != nil || code != 200 {
		t.Fatalf("put: %d %s %v", code, body, err)
	}
	p.Stop(10 * time.Second)
	if p.Running() {
		t.Fatal("dev agent still running after SIGTERM")
	}
}

// TestAgentRejectsBadConfig checks that invalid combinations fail at start
// with one clear line and exit code 1.
func TestAgentRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	badHCL := filepath.Join(dir, "bad.hcl")
	writeFile(t, badHCL, "server = true\nports {\n  http = \n}\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"expect without server", []string{"-bootstrap-expect", "3", "-data-dir", dir}, "-bootstrap-expect requires -server"},
		{"no data dir", []string{"-server"}, "-data-dir is required"},
		{"unreadable config", []string{"-config-file", filepath.Join(dir, "missing.json"), "-data-dir", dir}, "missing.json"},
		{"bad hcl names path and line", []string{"-config-file", badHCL, "-data-dir", dir}, "bad.hcl:"},
		{"unknown flag", []string{"-no-such-flag"}, "no-such-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(shoalBin, append([]string{"agent"}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("want exit 1, got %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output %q lacks %q", out, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; lines != 1 && tc.name != "unknown flag" {
				t.Fatalf("want one line, got %d:\n%s", lines, out)
			}
		})
	}
}
