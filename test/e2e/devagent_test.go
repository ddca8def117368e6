package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// TestDevAgentLeavesHostAsFound runs "shoal agent -dev" as a new user
// would, on an emulated host: without -overlay it touches no device or
// firewall rule; with -overlay, a run killed with -9 leaves its devices
// (they are reused), the next run keeps only its own subnet's address
// and rules (an in-memory dev server leases a new subnet each run), and a
// run stopped with a signal removes everything.
func TestDevAgentLeavesHostAsFound(t *testing.T) {
	lab := newLab(t, "d", 77, 1)
	if _, err := os.Stat("/sys/module/vxlan"); err != nil {
		if out, err := runCmd("modprobe", "vxlan"); err != nil {
			testenv.Skip(t, "skipping: the kernel has no VXLAN module: %v %s", err, out)
		}
	}
	h := lab.Hosts[0]
	dir := t.TempDir()
	run := 0
	start := func(extra ...string) *proccluster.Proc {
		run++
		p := &proccluster.Proc{Name: fmt.Sprintf("dev%d", run), Bin: shoalBin, Wrap: h.Wrap(), Addr: h.Addr,
			HTTP: h.Addr + ":8500", LogPath: filepath.Join(dir, fmt.Sprintf("dev%d.log", run)),
			// The dev agent's temporary exec state dir, which a kill -9
			// leaves behind, goes with the test's dir.
			Env:  []string{"TMPDIR=" + dir},
			Args: append([]string{"agent", "-dev", "-bind", h.Addr, "-client", h.Addr, "-dns-port", "-1"}, extra...)}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Kill9()
			if t.Failed() {
				t.Logf("---- %s log ----\n%s", p.Name, p.Log())
			}
		})
		testcluster.Eventually(t, 20*time.Second, func() error {
			code, body, err := p.Put("/v1/kv/dev", "up")
			if err != nil || code != 200 {
				return fmt.Errorf("put: %d %s %v", code, body, err)
			}
			return nil
		})
		return p
	}
	// state is what the host holds of Shoal's: overlay devices, the
	// bridge's addresses and the firewall rules.
	state := func() (links, addrs []string, rules int) {
		out, _ := runCmd("ip", "-n", h.NS, "-br", "link")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "shoal") {
				links = append(links, f[0])
			}
		}
		out, err := runCmd("ip", "-n", h.NS, "-4", "-br", "addr", "show", "dev", "shoal0")
		if f := strings.Fields(out); err == nil && len(f) > 2 {
			addrs = f[2:]
		}
		out, _ = runCmd("ip", "netns", "exec", h.NS, "iptables-save")
		return links, addrs, strings.Count(out, "shoal overlay")
	}
	overlayUp := func(p *proccluster.Proc) {
		testcluster.Eventually(t, 20*time.Second, func() error {
			if !strings.Contains(p.Log(), "overlay up") {
				return fmt.Errorf("%s: overlay not up yet", p.Name)
			}
			return nil
		})
	}

	// -dev alone: nothing of the host's networking changes.
	p := start()
	if links, addrs, rules := state(); len(links)+len(addrs)+rules != 0 {
		t.Errorf("-dev without -overlay changed the host: links %v addrs %v rules %d", links, addrs, rules)
	}
	p.Stop(30 * time.Second)

	// -dev -overlay, killed: devices and rules stay (a crash).
	p = start("-overlay")
	overlayUp(p)
	p.Kill9()
	_, addrs1, rules1 := state()
	if len(addrs1) != 1 || rules1 != 4 {
		t.Fatalf("after the first run: addrs %v, %d rules; want 1 and 4", addrs1, rules1)
	}
	// The next run reuses the devices and keeps only its own subnet.
	p = start("-overlay")
	overlayUp(p)
	links, addrs2, rules2 := state()
	if len(links) != 2 || len(addrs2) != 1 || rules2 != 4 {
		t.Errorf("second run: links %v addrs %v (first run %v), %d rules; want 2 devices, 1 address, 4 rules", links, addrs2, addrs1, rules2)
	}
	// Stopped with a signal (a graceful leave): nothing remains.
	if err := p.Signal(syscall.SIGINT); err != nil { // as Ctrl-C
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		if p.Running() {
			return fmt.Errorf("%s still running", p.Name)
		}
		return nil
	})
	if links, addrs, rules := state(); len(links)+len(addrs)+rules != 0 {
		t.Errorf("after SIGINT the host keeps links %v addrs %v and %d rules", links, addrs, rules)
	}
}
