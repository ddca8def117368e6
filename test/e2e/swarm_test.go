package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/registrytest"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// helloFrom matches the hello image's answer, naming the replica (its
// container's hostname).
var helloFrom = regexp.MustCompile(`hello from (\S+)`)

// TestSwarmDemo is Docker Swarm's demo on three emulated hosts, each with
// its own network namespace, dockerd and shoal server: an image pushed to
// a registry behind htpasswd auth (Debian's docker-registry) is pulled by
// the hosts that run it, with the credential named in the spec and held
// in the agents' config; "svc create -p 5001:8080" with 3 replicas kept
// off host 1 answers on port 5001 of every host (host 1 included),
// balanced over every replica; a killed replica leaves the rotation;
// scaling to 5 adds the new replicas; a container on host 1 reaches the
// service by its VIP, web.virtual.consul; "svc rm" removes every rule and
// the VIP. It logs the timings the issue asks for.
func TestSwarmDemo(t *testing.T) {
	for _, bin := range []string{"dockerd", "docker", registrytest.Binary} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Skip(t, "skipping: %s is missing (scripts/test.sh installs docker.io and docker-registry)", bin)
		}
	}
	lab := newLab(t, "w", 76, 3)
	base := t.TempDir()
	reg := registrytest.Start(t, registrytest.Options{Host: lab.GatewayAddr, Username: "demo", Password: "s3cret"})
	var engines []*netlab.Dockerd
	t.Cleanup(func() {
		for _, d := range engines {
			d.Stop()
		}
	})
	for i, h := range lab.Hosts {
		d, err := h.StartDockerd(filepath.Join(base, h.Name), fmt.Sprintf("172.31.%d.1/24", 20+i), "--insecure-registry", reg.Addr)
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, d)
	}
	// Only host 1's engine has the image (for the client container); the
	// service's image is in the registry alone.
	dockertest.BuildHello(t, engines[0].Sock, helloImage)
	image := reg.Ref("demo/hello:1")
	reg.Push(t, engines[0].Sock, helloImage, image)

	pwFile := filepath.Join(base, "registry-password")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(base, "registry.json")
	cfg := fmt.Sprintf(`{"registry_auth": {"lab": {"server": %q, "username": "demo", "password_file": %q}}}`, reg.Addr, pwFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	agentsDir := filepath.Join(base, "agents")
	if err := os.MkdirAll(agentsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	procs := labServers(lab, agentsDir)
	for i, p := range procs {
		p.Env = []string{"DOCKER_HOST=" + engines[i].Sock}
		for j, a := range p.Args {
			if a == "-dns-port" {
				p.Args[j+1] = "8600"
			}
		}
		p.Args = append(p.Args, "-config-file", cfgFile)
	}
	runProcs(t, procs)
	leader := waitLeader(t, procs, labPorts, 30*time.Second)
	gateways := overlayGateways(t, leader, 3)

	// The demo's command. It waits until the replicas run and are healthy.
	created := time.Now()
	out, err := cli(t, leader, "svc", "create", "-name", "web", "-replicas", "3", "-p", "5001:8080",
		"-constraint", "node.name!=s1", "-registry-auth", "lab", "-health-http", "/health", "-health-interval", "1s",
		"-limit-memory", "32M", "-limit-cpu", "0.05", "-restart-delay", "500ms", image)
	if err != nil || !strings.Contains(out, "converged: 3/3") {
		t.Fatalf("svc create: %v\n%s", err, out)
	}
	t.Logf("svc create printed:\n%s", out)
	for _, p := range procs[1:] {
		if !strings.Contains(p.Log(), "pulled image: image="+image) {
			t.Errorf("%s's log does not say it pulled %s", p.Name, image)
		}
	}

	// Port 5001 of every host, host 1 (no replica) included, answers, and
	// every replica answers.
	urls := make([]string, len(lab.Hosts))
	for i, h := range lab.Hosts {
		urls[i] = "http://" + h.Addr + ":5001/"
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// fetch asks url through c for the replica's name.
	fetch := func(c *http.Client, url string) (string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			return "", fmt.Errorf("%s: %d %v", url, resp.StatusCode, err)
		}
		m := helloFrom.FindStringSubmatch(string(b))
		if m == nil {
			return "", fmt.Errorf("%s answered %q", url, b)
		}
		return m[1], nil
	}
	get := func(url string) (string, error) { return fetch(client, url) }
	// spread sends n requests to url and returns the replicas that
	// answered, with how many each, and the failures.
	spread := func(url string, n int) (map[string]int, []error) {
		seen := map[string]int{}
		var errs []error
		for range n {
			id, err := get(url)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			seen[id]++
		}
		return seen, errs
	}
	testcluster.Eventually(t, 60*time.Second, func() error {
		for _, u := range urls {
			seen, errs := spread(u, 30)
			if len(errs) > 0 || len(seen) != 3 {
				return fmt.Errorf("%s: replicas %v, errors %v", u, seen, errs)
			}
		}
		return nil
	})
	t.Logf("svc create to all 3 replicas answering on port 5001 of every host: %v", time.Since(created).Round(time.Millisecond))
	for _, u := range urls {
		seen, errs := spread(u, 200)
		if len(errs) > 0 || len(seen) != 3 {
			t.Errorf("200 requests to %s: %d failed (%v), replicas %v", u, len(errs), firstErr(errs), seen)
		}
		t.Logf("200 requests to %s: %v", u, seen)
	}

	// Requests per second from host 1 (no local replica) through its mesh
	// (port 5001 of its own address) and directly to one replica (its
	// overlay address and container port, which the mesh translates to):
	// same client, same path over the overlay, same run, so that the
	// difference is the mesh's NAT. The replicas publish no host port
	// (mode ingress), and the overlay is reachable from the hosts only, so
	// the client dials from inside host 1's network namespace.
	rs := replicaList(t, leader, "web")
	inHost1 := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: newNSDialer(t, lab.Hosts[0].NS, 4).DialContext}}
	getInHost1 := func(url string) (string, error) { return fetch(inHost1, url) }
	direct := fmt.Sprintf("http://%s:8080/", rs[0].IP)
	if _, err := getInHost1(direct); err != nil {
		t.Fatalf("host 1 cannot reach a replica directly: %v", err)
	}
	meshRate, meshFail := rate(urls[0], 2*time.Second, getInHost1)
	directRate, directFail := rate(direct, 2*time.Second, getInHost1)
	t.Logf("requests/s from host 1 (4 clients, a new connection each): through the mesh %.0f (%d failed), direct to replica %s %.0f (%d failed)",
		meshRate, meshFail, rs[0].IP, directRate, directFail)
	if meshFail > 0 || directFail > 0 || meshRate == 0 || directRate == 0 {
		t.Errorf("requests from host 1 failed: %d through the mesh, %d direct", meshFail, directFail)
	}

	// Kill a replica's container: it leaves host 1's rotation.
	victim := rs[0]
	vi := hostIndex(procs, victim.NodeName)
	// Meanwhile a client sends a request to host 1 every 10 ms and
	// records when requests fail.
	stopLoad := make(chan struct{})
	var failMu sync.Mutex
	var failures []time.Time // when each failed request ended
	var failLog []string     // each one's start, end and error
	loadDone := make(chan struct{})
	killed := time.Now() // the kill follows at once
	go func() {
		defer close(loadDone)
		for {
			select {
			case <-stopLoad:
				return
			case <-time.After(10 * time.Millisecond):
			}
			sent := time.Now()
			if _, err := get(urls[0]); err != nil {
				failMu.Lock()
				failures = append(failures, time.Now())
				failLog = append(failLog, fmt.Sprintf("sent %v, failed %v after the kill: %v",
					sent.Sub(killed).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), err))
				failMu.Unlock()
			}
		}
	}()
	if out, err := exec.Command("docker", "-H", engines[vi].Sock, "rm", "-f", victim.TaskID).CombinedOutput(); err != nil {
		t.Fatalf("docker rm -f %s: %v %s", victim.TaskID, err, out)
	}
	// The agent sees the container die (the engine's events), takes its
	// instance out of the catalog and so out of every host's rotation, and
	// starts a replacement (the engine may hand it the same address), which
	// joins the rotation once its check passes. Only requests in flight to
	// the dying replica may fail (a connection attempt that was on its way
	// to it is retried by the client's TCP and reaches a live one), so
	// failures must not span more than one check interval. Back to three
	// live replicas, each answering, the rotation is whole again.
	victimID := victim.TaskID
	if len(victimID) > 12 {
		victimID = victimID[:12]
	}
	var back time.Duration
	testcluster.Eventually(t, 60*time.Second, func() error {
		seen, errs := spread(urls[0], 30)
		if len(errs) > 0 || len(seen) != 3 || seen[victimID] > 0 {
			return fmt.Errorf("after the kill: replicas %v, errors %v", seen, firstErr(errs))
		}
		back = time.Since(killed)
		return nil
	})
	close(stopLoad)
	<-loadDone
	t.Logf("killed a replica: three live replicas answer on host 1 again %v after the kill", back.Round(time.Millisecond))
	failMu.Lock()
	if n := len(failures); n > 0 {
		span := failures[n-1].Sub(failures[0])
		t.Logf("while it was replaced: %d requests to host 1 failed, from %v to %v after the kill:\n%s", n,
			failures[0].Sub(killed).Round(time.Millisecond), failures[n-1].Sub(killed).Round(time.Millisecond),
			strings.Join(failLog, "\n"))
		if span > time.Second {
			t.Errorf("requests failed for %v after the kill, more than one check interval (1s)", span)
		}
	} else {
		t.Logf("while it was replaced: no request to host 1 failed")
	}
	failMu.Unlock()

	// Scale to 5: the new replicas (and the killed one's replacement) join.
	out, err = cli(t, leader, "svc", "scale", "web=5")
	if err != nil {
		t.Fatalf("svc scale: %v\n%s", err, out)
	}
	testcluster.Eventually(t, 60*time.Second, func() error {
		seen, errs := spread(urls[0], 100)
		if len(errs) > 0 || len(seen) != 5 {
			return fmt.Errorf("after scale to 5: replicas %v, errors %v", seen, firstErr(errs))
		}
		return nil
	})

	// A replica whose check turns critical (its container paused: the
	// HTTP check times out) leaves the rotation; back to passing, it
	// returns.
	sick := replicaList(t, leader, "web")[0]
	si := hostIndex(procs, sick.NodeName)
	inRotation := func() bool {
		out, _ := runCmd("ip", "netns", "exec", lab.Hosts[0].NS, "iptables-save", "-t", "nat")
		return strings.Contains(out, sick.IP+":8080")
	}
	if out, err := exec.Command("docker", "-H", engines[si].Sock, "pause", sick.TaskID).CombinedOutput(); err != nil {
		t.Fatalf("docker pause: %v %s", err, out)
	}
	var critical, gone time.Time
	testcluster.Eventually(t, 30*time.Second, func() error {
		if critical.IsZero() {
			var entries []struct {
				Service struct{ Address string }
				Checks  []struct{ Status string }
			}
			if err := getJSON(leader, "/v1/health/service/web", &entries); err != nil {
				return err
			}
			for _, e := range entries {
				for _, c := range e.Checks {
					if e.Service.Address == sick.IP && c.Status == "critical" {
						critical = time.Now()
					}
				}
			}
		}
		if !critical.IsZero() && !inRotation() {
			gone = time.Now()
			return nil
		}
		return fmt.Errorf("critical at %v, still in rotation", critical)
	})
	t.Logf("a replica whose check turned critical in the catalog left host 1's rotation %v later", gone.Sub(critical).Round(time.Millisecond))
	if d := gone.Sub(critical); d > time.Second {
		t.Errorf("a critical replica left the rotation %v after its check changed, want within 1s", d)
	}
	if out, err := exec.Command("docker", "-H", engines[si].Sock, "unpause", sick.TaskID).CombinedOutput(); err != nil {
		t.Fatalf("docker unpause: %v %s", err, out)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		if !inRotation() {
			return errors.New("the recovered replica has not rejoined the rotation")
		}
		return nil
	})
	if out, err := cli(t, leader, "svc", "ps", "web"); err == nil {
		t.Logf("svc ps web:\n%s", out)
	}

	// A container on host 1 reaches the service by its VIP.
	testcluster.Eventually(t, 60*time.Second, func() error {
		out, err := exec.Command("docker", "-H", engines[0].Sock, "run", "--rm", "--network", "shoal",
			"--dns", gateways["s1"], helloImage, "-get", "http://web.virtual.consul:8080/").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "hello from") {
			return fmt.Errorf("host 1 container → web.virtual.consul: %v %s", err, out)
		}
		return nil
	})

	// A node that stops removes its rules; started again (a node that
	// joins), it writes them and answers on port 5001.
	ri := 0
	for ri < len(procs) && procs[ri] == leader {
		ri++
	}
	procs[ri].Stop(60 * time.Second)
	if out, _ := runCmd("ip", "netns", "exec", lab.Hosts[ri].NS, "iptables-save", "-t", "nat"); strings.Contains(out, "SHOAL-") {
		t.Errorf("%s stopped and keeps mesh rules:\n%s", procs[ri].Name, out)
	}
	if err := procs[ri].Start(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 90*time.Second, func() error {
		seen, errs := spread(urls[ri], 50)
		if len(errs) > 0 || len(seen) < 3 {
			return fmt.Errorf("%s after its restart: replicas %v, errors %v", procs[ri].Name, seen, firstErr(errs))
		}
		return nil
	})

	// svc rm: no rule of the mesh and no VIP is left on any host.
	if out, err := cli(t, leader, "svc", "rm", "web"); err != nil {
		t.Fatalf("svc rm: %v\n%s", err, out)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		for _, h := range lab.Hosts {
			out, _ := runCmd("ip", "netns", "exec", h.NS, "iptables-save", "-t", "nat")
			if strings.Contains(out, "SHOAL-FE-") || strings.Contains(out, "--dport 5001") {
				return fmt.Errorf("%s keeps mesh rules:\n%s", h.Name, out)
			}
		}
		code, body, err := leader.Get("/v1/kv/shoal/overlay/vip?recurse")
		if err != nil || code != 404 {
			return fmt.Errorf("VIP keys left: %d %s %v", code, body, err)
		}
		return nil
	})
}

// overlayGateways waits for n alive overlay leases and returns each
// node's bridge address (the containers' gateway and DNS server).
func overlayGateways(t *testing.T, leader *proccluster.Proc, n int) map[string]string {
	t.Helper()
	gateways := map[string]string{}
	testcluster.Eventually(t, 60*time.Second, func() error {
		var ls []leaseView
		if err := getJSON(leader, "/v1/shoal/overlay", &ls); err != nil {
			return err
		}
		for _, l := range ls {
			if l.State == "alive" {
				a := strings.Split(strings.TrimSuffix(l.Subnet, "/24"), ".")
				gateways[l.Node] = fmt.Sprintf("%s.%s.%s.1", a[0], a[1], a[2])
			}
		}
		if len(gateways) != n {
			return fmt.Errorf("%d alive leases", len(gateways))
		}
		return nil
	})
	return gateways
}

type replicaView struct {
	NodeName, DesiredStatus, ClientStatus, IP, TaskID string
	Healthy                                           bool
	Ports                                             []struct{ Host int }
}

// replicaList returns the running replicas of a service.
func replicaList(t *testing.T, leader *proccluster.Proc, name string) []replicaView {
	t.Helper()
	var s struct{ Allocs []replicaView }
	if err := getJSON(leader, "/v1/shoal/services/"+name, &s); err != nil {
		t.Fatal(err)
	}
	var out []replicaView
	for _, a := range s.Allocs {
		if a.DesiredStatus == "run" && a.ClientStatus == "running" && a.IP != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no running replica", name)
	}
	return out
}

func hostIndex(procs []*proccluster.Proc, node string) int {
	for i, p := range procs {
		if p.Name == node {
			return i
		}
	}
	return -1
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// rate sends requests to url from 4 goroutines for d (a new connection
// each) and returns the successful ones per second and the failures.
func rate(url string, d time.Duration, get func(string) (string, error)) (float64, int) {
	var ok, failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := get(url); err != nil {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / d.Seconds(), int(failed.Load())
}

// nsDialer dials from inside a network namespace: a few goroutines, each
// locked to an OS thread switched into the namespace, create the sockets.
type nsDialer struct {
	reqs chan nsDial
}

type nsDial struct {
	ctx           context.Context
	network, addr string
	res           chan nsDialed
}

type nsDialed struct {
	conn net.Conn
	err  error
}

// newNSDialer starts n dialing goroutines in the namespace ns, stopped
// when the test ends.
func newNSDialer(t *testing.T, ns string, n int) *nsDialer {
	d := &nsDialer{reqs: make(chan nsDial)}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	for range n {
		go func() {
			err := netlab.InNS(ns, func() error {
				var dialer net.Dialer
				for {
					select {
					case <-stop:
						return nil
					case r := <-d.reqs:
						c, err := dialer.DialContext(r.ctx, r.network, r.addr)
						r.res <- nsDialed{c, err}
					}
				}
			})
			if err != nil {
				t.Errorf("dialer in %s: %v", ns, err)
			}
		}()
	}
	return d
}

// DialContext is http.Transport's DialContext, from inside the namespace.
func (d *nsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	r := nsDial{ctx: ctx, network: network, addr: addr, res: make(chan nsDialed, 1)}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-r.res
	return res.conn, res.err
}
