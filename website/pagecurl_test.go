package website

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// statusCodes finds HTTP statuses named in a comment ("200 passing, 503 critical").
var statusCodes = regexp.MustCompile(`\b[1-5][0-9][0-9]\b`)

// agentAddr matches the agent address a page's curl command uses.
var agentAddr = regexp.MustCompile(`(?:https?://)?(?:localhost|127\.0\.0\.1):8500`)

// TestPageCurlCommandsRun runs, with the real curl, every self-contained
// curl command of the hand-written pages (website/content) against a real
// agent, page by page in the page's order: each must succeed, and where the
// line ends in a one-word comment ("# true"), print exactly that. Commands
// that read a file (@file) are left to the static check.
func TestPageCurlCommandsRun(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		testenv.Skip(t, "no curl on PATH (apt-get install curl)")
	}
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
	}})
	addr := c.WaitForLeader(15 * time.Second).HTTPAddr()
	root := moduleRoot(t)
	ran := 0
	for _, p := range Pages() {
		if p.Source == "" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, p.Source))
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range codeBlocks(string(src)) {
			block = strings.ReplaceAll(block, "\\\n", " ")
			for _, line := range strings.Split(block, "\n") {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "curl ") || strings.Contains(line, "@") || !agentAddr.MatchString(line) {
					continue
				}
				cmdline, comment, _ := strings.Cut(line, " # ")
				cmdline = agentAddr.ReplaceAllString(cmdline, addr)
				want := strings.TrimSpace(comment)
				// -sS: no progress, but errors; --fail-with-body: 4xx/5xx
				// fail, unless the comment lists the statuses to expect.
				opts := " -sS --fail-with-body "
				codes := statusCodes.FindAllString(want, -1)
				if len(codes) > 0 {
					opts = " -sS -o /dev/null -w %{http_code} "
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				out, err := exec.CommandContext(ctx, "sh", "-c", strings.Replace(cmdline, "curl ", curl+opts, 1)).CombinedOutput()
				cancel()
				ran++
				if err != nil {
					t.Errorf("%s: %s: %v: %s", p.Source, line, err, out)
					continue
				}
				if len(codes) > 0 && !slices.Contains(codes, strings.TrimSpace(string(out))) {
					t.Errorf("%s: %s: status %s, the page says one of %v", p.Source, line, out, codes)
				}
				if len(codes) == 0 && want != "" && !strings.Contains(want, " ") && strings.TrimSpace(string(out)) != want {
					t.Errorf("%s: %s: printed %q, the page says %q", p.Source, line, out, want)
				}
			}
		}
	}
	if ran < 5 {
		t.Fatalf("only %d curl commands ran", ran)
	}
	t.Logf("%d curl commands of the pages ran against a real agent", ran)
}
