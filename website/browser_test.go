package website

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/testenv"
)

// artifactDirVar names a directory where tests keep files for people to
// look at (CI uploads it); unset, they go to the test's temp dir.
const artifactDirVar = "SHOAL_ARTIFACT_DIR"

// TestHomePageRendersInChromium opens the built home page (from a folder,
// as a user who built the site would) in headless Chromium: the page must
// render to a screenshot that is not blank, and its DOM after scripts ran
// must hold the navigation and the quick start. The screenshot is kept as
// home.png in $SHOAL_ARTIFACT_DIR.
func TestHomePageRendersInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		testenv.Skip(t, "no chromium on PATH (apt-get install chromium)")
	}
	site := t.TempDir()
	if err := Write(site, build(t)); err != nil {
		t.Fatal(err)
	}
	out := os.Getenv(artifactDirVar)
	if out == "" {
		out = t.TempDir()
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(out, "home.png")
	home := "file://" + filepath.Join(site, "index.html")
	profile := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--user-data-dir=" + profile, "--window-size=1280,900"}, args...)
		cmd := exec.CommandContext(ctx, browser, args...)
		// Chromium forks helpers: run it in its own process group and stop
		// the whole group (only what this test started) if it hangs.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	run("--screenshot="+shot, home)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colors := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, bl, a}] = true
		}
	}
	if b.Dx() != 1280 || len(colors) < 20 {
		t.Fatalf("screenshot %v with %d colours: the page did not render", b, len(colors))
	}
	t.Logf("screenshot %s: %v, %d colours", shot, b, len(colors))

	t.Run("offline search", func(t *testing.T) {
		results := between(string(run("--dump-dom", home+"?q=peers.json+recovery")), `<ul id="results"`, "</ul>")
		if !strings.Contains(results, `href="guides/operating.html"`) {
			t.Fatalf("searching for peers.json recovery did not list the operating guide: %q", results)
		}
	})

	dom := string(run("--dump-dom", home))
	for _, want := range []string{`aria-current="page"`, `id="quick-start"`, "HTTP API reference", "Tutorial"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered home page lacks %q", want)
		}
	}
}

// between is the part of s from start up to the next end, for messages.
func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	in, _, _ := strings.Cut(rest, end)
	return in
}
