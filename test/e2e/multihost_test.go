package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// TestThreeHostsDockerOverlay runs three emulated hosts, each with its own
// network namespace, Docker engine and shoal server, with the overlay on:
// replicas are spread over the hosts on overlay addresses; a container on
// host 1 reaches the replica on host 3 by its DNS name; killing host 2's
// agent moves its replica to the others; when it returns, its stale
// container is removed and no replica runs twice.
func TestThreeHostsDockerOverlay(t *testing.T) {
	for _, bin := range []string{"dockerd", "docker"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Skip(t, "skipping: %s is missing (scripts/test.sh installs docker.io)", bin)
		}
	}
	lab := newLab(t, "m", 81, 3)
	base := t.TempDir()
	var engines []*netlab.Dockerd
	t.Cleanup(func() {
		for _, d := range engines {
			d.Stop()
		}
	})
	for i, h := range lab.Hosts {
		d, err := h.StartDockerd(filepath.Join(base, h.Name), fmt.Sprintf("172.31.%d.1/24", 10+i))
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, d)
		dockertest.BuildHello(t, d.Sock, helloImage)
	}

	ports := labPorts
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
	}
	runProcs(t, procs)
	leader := waitLeader(t, procs, ports, 30*time.Second)
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
		if len(gateways) != 3 {
			return fmt.Errorf("%d alive leases", len(gateways))
		}
		return nil
	})

	deploy := func(name, extra string, replicas int) {
		spec := fmt.Sprintf(`{"name": %q, "image": %q, "replicas": %d, "ports": [{"name": "http", "container": 8080}],
			"env": {"VERSION": "1"}, "resources": {"cpu": 50, "memory": 32}, "restart": {"delay": "500ms"},
			"check": {"http": "/health", "interval": "1s"}%s}`, name, helloImage, replicas, extra)
		code, body, err := leader.Put("/v1/kv/shoal/services/"+name, spec)
		if err != nil || code != 200 {
			t.Fatalf("deploy %s: %d %s %v", name, code, body, err)
		}
	}
	deploy("web", "", 3)
	deploy("web3", `, "constraints": ["node.name == s3"]`, 1)
	type alloc struct {
		NodeName, DesiredStatus, ClientStatus, IP string
		Index                                     int
		Healthy                                   bool
	}
	type svc struct {
		Running, Desired int
		Allocs           []alloc
	}
	running := func(name string, want int, exclude string) (map[string]int, error) {
		var s svc
		if err := getJSON(leader, "/v1/shoal/services/"+name, &s); err != nil {
			return nil, err
		}
		per := map[string]int{}
		for _, a := range s.Allocs {
			if a.DesiredStatus != "run" {
				continue
			}
			if a.ClientStatus != "running" || !a.Healthy || !strings.HasPrefix(a.IP, "10.42.") {
				return nil, fmt.Errorf("%s.%d on %s: %s healthy=%v ip=%q", name, a.Index, a.NodeName, a.ClientStatus, a.Healthy, a.IP)
			}
			if a.NodeName == exclude {
				return nil, fmt.Errorf("%s.%d still placed on %s", name, a.Index, exclude)
			}
			per[a.NodeName]++
		}
		if s.Running != want {
			return nil, fmt.Errorf("%s: %d/%d running, want %d", name, s.Running, s.Desired, want)
		}
		return per, nil
	}
	testcluster.Eventually(t, 90*time.Second, func() error {
		per, err := running("web", 3, "")
		if err == nil && len(per) != 3 {
			return fmt.Errorf("web spread over %d hosts: %v", len(per), per)
		}
		if err != nil {
			return err
		}
		_, err = running("web3", 1, "")
		return err
	})

	// From a container on host 1, by name, to the replica on host 3.
	curl := func(url string) (string, error) {
		out, err := exec.Command("docker", "-H", engines[0].Sock, "run", "--rm", "--network", "shoal",
			"--dns", gateways["s1"], helloImage, "-get", url).CombinedOutput()
		return string(out), err
	}
	testcluster.Eventually(t, 60*time.Second, func() error {
		out, err := curl("http://web3.service.consul:8080/")
		if err != nil || !strings.Contains(out, "hello from") {
			return fmt.Errorf("host 1 → web3 on host 3: %v %s", err, out)
		}
		return nil
	})

	// Kill -9 the agent of a host that is not the leader's: its replica
	// moves to the other hosts.
	var victim *proccluster.Proc
	for _, p := range procs {
		if p != leader && p.Name != "s3" {
			victim = p
		}
	}
	if victim == nil {
		victim = procs[1]
		if victim == leader {
			victim = procs[0]
		}
	}
	start := time.Now()
	victim.Kill9()
	testcluster.Eventually(t, 60*time.Second, func() error {
		_, err := running("web", 3, victim.Name)
		return err
	})
	t.Logf("kill -9 of %s's agent: web back to 3 healthy replicas after %v", victim.Name, time.Since(start).Round(time.Millisecond))

	// It returns: its stale container goes, nothing runs twice.
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	vi := 0
	for i, p := range procs {
		if p == victim {
			vi = i
		}
	}
	testcluster.Eventually(t, 60*time.Second, func() error {
		out, err := exec.Command("docker", "-H", engines[vi].Sock, "ps", "-q", "--filter", "label=shoal.service=web").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v %s", err, out)
		}
		var s svc
		if err := getJSON(leader, "/v1/shoal/services/web", &s); err != nil {
			return err
		}
		want := 0
		for _, a := range s.Allocs {
			if a.DesiredStatus == "run" && a.NodeName == victim.Name {
				want++
			}
		}
		if got := len(strings.Fields(string(out))); got != want {
			return fmt.Errorf("%s runs %d web containers, holds %d allocations", victim.Name, got, want)
		}
		_, err = running("web", 3, "")
		return err
	})
}
