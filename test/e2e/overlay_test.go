package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

type leaseView struct {
	Node, Subnet, VTEP, MAC, State string
}

// TestOverlayAcrossHosts runs three agents on three emulated hosts with
// the overlay on, attaches a namespace "container" to each host's overlay
// bridge, and checks that a container on host 1 reaches one on host 3 over
// VXLAN; that cutting host 3 off removes its routes on the others; and
// that its return restores them.
func TestOverlayAcrossHosts(t *testing.T) {
	lab := newLab(t, "o", 79, 3)
	if _, err := os.Stat("/sys/module/vxlan"); err != nil {
		if out, err := runCmd("modprobe", "vxlan"); err != nil {
			testenv.Skip(t, "skipping: the kernel has no VXLAN module: %v %s", err, out)
		}
	}
	procs, ports := labServers(lab, t.TempDir()), labPorts
	runProcs(t, procs)
	waitLeader(t, procs, ports, 30*time.Second)

	// Every node leases a distinct /24 and sees all three alive.
	subnets := map[string]netip.Prefix{}
	testcluster.Eventually(t, 30*time.Second, func() error {
		var ls []leaseView
		if err := getJSON(procs[0], "/v1/shoal/overlay", &ls); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, l := range ls {
			if l.State != "alive" {
				return fmt.Errorf("%s is %s", l.Node, l.State)
			}
			if seen[l.Subnet] {
				return fmt.Errorf("subnet %s leased twice", l.Subnet)
			}
			seen[l.Subnet] = true
			subnets[l.Node] = netip.MustParsePrefix(l.Subnet)
		}
		if len(ls) != 3 {
			return fmt.Errorf("%d leases", len(ls))
		}
		return nil
	})
	out, err := cli(t, procs[0], "overlay", "ls")
	if err != nil || strings.Count(out, "alive") != 3 {
		t.Fatalf("overlay ls: %v\n%s", err, out)
	}

	// A "container" on each host, on its node's subnet.
	ctrs := map[string]*netlab.Container{}
	for i, h := range lab.Hosts {
		sub := subnets[procs[i].Name]
		ip := sub.Addr().Next().Next().Next().Next().Next().Next().Next().Next().Next().Next() // .10
		gw := sub.Addr().Next()
		c, err := h.AddContainer(fmt.Sprintf("c%d", i+1), "shoal0", ip.String(), sub.Bits(), gw.String())
		if err != nil {
			t.Fatal(err)
		}
		ctrs[procs[i].Name] = c
	}
	// A TCP echo server in the container on host 3.
	var ln net.Listener
	if err := netlab.InNS(ctrs["s3"].NS, func() (err error) {
		ln, err = net.Listen("tcp", ctrs["s3"].Addr+":7000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	dial := func() error {
		return netlab.InNS(ctrs["s1"].NS, func() error {
			c, err := net.DialTimeout("tcp", ctrs["s3"].Addr+":7000", time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write([]byte("over the overlay\n")); err != nil {
				return err
			}
			buf := make([]byte, 17)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "over the overlay\n" {
				return fmt.Errorf("echo %q: %v", buf, err)
			}
			return nil
		})
	}
	testcluster.Eventually(t, 20*time.Second, dial)

	// Someone deletes host 1's VXLAN device (its routes go with it): the
	// agent sets the data plane up again.
	if out, err := runCmd("ip", "-n", lab.Hosts[0].NS, "link", "del", "shoal-vx"); err != nil {
		t.Fatalf("delete shoal-vx: %v %s", err, out)
	}
	testcluster.Eventually(t, 20*time.Second, dial)

	// Host 3 drops off: the others remove its routes; back: restored.
	route3 := subnets["s3"].String()
	hasRoute := func(host *netlab.Host) (bool, error) {
		out, err := runCmd("ip", "-n", host.NS, "route", "show", route3)
		return strings.Contains(out, "shoal-vx"), err
	}
	if ok, err := hasRoute(lab.Hosts[0]); !ok || err != nil {
		t.Fatalf("host 1 has no route to %s: %v", route3, err)
	}
	if err := lab.Hosts[2].Cut(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		if ok, _ := hasRoute(lab.Hosts[0]); ok {
			return fmt.Errorf("host 1 still routes %s to a departed host", route3)
		}
		return nil
	})
	// While it is away, an operator force-leaves it: it has left for
	// good, so the leader releases its lease.
	if out, err := cli(t, procs[0], "force-leave", "s3"); err != nil {
		t.Fatalf("force-leave s3: %v\n%s", err, out)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		l, err := leaseOf(procs[0], "s3")
		if err != nil || l != nil {
			return fmt.Errorf("s3's lease not released after force-leave: %+v %v", l, err)
		}
		return nil
	})
	// It comes back after all: it claims its subnet again (its containers
	// keep their addresses), and the route and the exchange return.
	if err := lab.Hosts[2].Heal(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 60*time.Second, func() error {
		l, err := leaseOf(procs[0], "s3")
		if err != nil || l == nil || l.Subnet != route3 || l.State != "alive" {
			return fmt.Errorf("s3 has not reclaimed %s: %+v %v", route3, l, err)
		}
		if ok, _ := hasRoute(lab.Hosts[0]); !ok {
			return fmt.Errorf("host 1 has not restored its route to %s", route3)
		}
		return dial()
	})

	// Host 3 leaves gracefully: its devices and firewall rules go, its
	// lease is released, and the others drop their route to it.
	procs[2].Stop(30 * time.Second)
	if out, err := runCmd("ip", "-n", lab.Hosts[2].NS, "link", "show", "shoal-vx"); err == nil {
		t.Fatalf("after leave, host 3 still has shoal-vx: %s", out)
	}
	if out, _ := runCmd("ip", "netns", "exec", lab.Hosts[2].NS, "iptables", "-S"); strings.Contains(out, "shoal overlay") {
		t.Fatalf("after leave, host 3 keeps overlay rules:\n%s", out)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		if l, err := leaseOf(procs[0], "s3"); err != nil || l != nil {
			return fmt.Errorf("s3's lease not released: %+v %v", l, err)
		}
		if ok, _ := hasRoute(lab.Hosts[0]); ok {
			return fmt.Errorf("host 1 still routes to the departed s3")
		}
		return nil
	})
}

// leaseOf is node's lease as /v1/shoal/overlay reports it (nil: none).
func leaseOf(p *proccluster.Proc, node string) (*leaseView, error) {
	var ls []leaseView
	if err := getJSON(p, "/v1/shoal/overlay", &ls); err != nil {
		return nil, err
	}
	for _, l := range ls {
		if l.Node == node {
			return &l, nil
		}
	}
	return nil, nil
}

func getJSON(p *proccluster.Proc, path string, out any) error {
	code, body, err := p.Get(path)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return json.Unmarshal([]byte(body), out)
}

// TestOverlayOffWithoutRoot runs a server agent, overlay on (the default),
// as an unprivileged user: the agent runs, says why the overlay is off, and
// leases no subnet (peers would otherwise route one to it).
func TestOverlayOffWithoutRoot(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	bin, wrap := shoalBin, []string(nil)
	if os.Geteuid() == 0 {
		// As root (CI), drop to nobody: copy the binary where nobody can
		// run it, next to a data directory nobody owns.
		if _, err := exec.LookPath("setpriv"); err != nil {
			testenv.Skip(t, "skipping: setpriv is missing (scripts/test.sh installs util-linux)")
		}
		pub, err := os.MkdirTemp("", "shoal-e2e-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(pub) })
		bin = filepath.Join(pub, "shoal")
		if out, err := runCmd("cp", shoalBin, bin); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		if err := os.Chmod(pub, 0o755); err != nil {
			t.Fatal(err)
		}
		dataDir = filepath.Join(pub, "data")
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dataDir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		wrap = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	}
	fp := testcluster.FreePorts(t, 3)
	p := &proccluster.Proc{
		Name: "nobody", Bin: bin, Addr: "127.0.0.1", Wrap: wrap,
		HTTP:    fmt.Sprintf("127.0.0.1:%d", fp[0]),
		LogPath: filepath.Join(t.TempDir(), "agent.log"),
		Args: []string{"agent", "-server", "-bootstrap-expect", "1", "-node", "nobody", "-bind", "127.0.0.1",
			"-client", "127.0.0.1", "-data-dir", dataDir, "-http-port", fmt.Sprint(fp[0]),
			"-serf-lan-port", fmt.Sprint(fp[1]), "-server-port", fmt.Sprint(fp[2]), "-dns-port", "-1"},
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill9()
		if t.Failed() {
			t.Logf("---- agent log ----\n%s", p.Log())
		}
	})
	testcluster.Eventually(t, 20*time.Second, func() error {
		if code, body, err := p.Put("/v1/kv/still-serving", "yes"); err != nil || code != 200 {
			return fmt.Errorf("put: %d %s %v", code, body, err)
		}
		if !strings.Contains(p.Log(), "overlay disabled") {
			return errors.New("the log does not say the overlay is disabled yet")
		}
		return nil
	})
	if log := p.Log(); !strings.Contains(log, "needs root") {
		t.Fatalf("the log does not say why the overlay is off:\n%s", log)
	}
	var ls []leaseView
	if err := getJSON(p, "/v1/shoal/overlay", &ls); err != nil || len(ls) != 0 {
		t.Fatalf("an agent without the overlay leased a subnet: %+v %v", ls, err)
	}
}
