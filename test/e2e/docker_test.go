package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

const helloImage = "shoal-test/hello:1"

// webSpec is the test service: the hello image, checked over HTTP.
func webSpec(replicas int, version string, failHealth bool) string {
	fail := ""
	if failHealth {
		fail = `, "FAIL_HEALTH": "1"`
	}
	return fmt.Sprintf(`{"name": "web", "image": %q, "replicas": %d,
  "ports": [{"name": "http", "container": 8080}],
  "env": {"VERSION": %q%s},
  "resources": {"cpu": 50, "memory": 32},
  "check": {"http": "/health", "interval": "1s", "timeout": "1s"},
  "restart": {"delay": "500ms"},
  "update": {"parallelism": 1, "health_gated": true, "on_failure": "rollback", "healthy_deadline": "5s"}}`, helloImage, replicas, version, fail)
}

// digA returns the sorted A records dig finds for name on the agent's DNS.
func digA(t *testing.T, port int, name string) []string {
	t.Helper()
	out, err := exec.Command("dig", "+short", "+tcp", "@127.0.0.1", "-p", fmt.Sprint(port), name).CombinedOutput()
	if err != nil {
		t.Fatalf("dig: %v %s", err, out)
	}
	var ips []string
	for _, l := range strings.Fields(string(out)) {
		ips = append(ips, l)
	}
	sort.Strings(ips)
	return ips
}

func dockerCmd(host string, args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestDockerServiceLifecycle deploys the hello image with the CLI on a dev
// agent backed by a real Docker engine and follows it: DNS answers with the
// replicas' addresses and HTTP answers through them; a killed container is
// restarted; scaling up and down; a rolling update to a version whose
// health check fails is rolled back; removal stops every container.
func TestDockerServiceLifecycle(t *testing.T) {
	if _, err := exec.LookPath("dig"); err != nil {
		testenv.Skip(t, "skipping: dig is missing (scripts/test.sh installs dnsutils)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Skip(t, "skipping: the docker CLI is missing (scripts/test.sh installs docker.io)")
	}
	host := dockertest.Engine(t)
	dockertest.BuildHello(t, host, helloImage)

	fp := testcluster.FreePorts(t, 4)
	dir := t.TempDir()
	agent := &proccluster.Proc{
		Name: "dev", Bin: shoalBin, Addr: "127.0.0.1", HTTP: fmt.Sprintf("127.0.0.1:%d", fp[0]),
		LogPath: filepath.Join(dir, "dev.log"), Env: []string{"DOCKER_HOST=" + host, "TMPDIR=" + dir},
		Args: []string{"agent", "-dev", "-node", "dev1", "-http-port", fmt.Sprint(fp[0]), "-serf-lan-port", fmt.Sprint(fp[1]),
			"-server-port", fmt.Sprint(fp[2]), "-dns-port", fmt.Sprint(fp[3])},
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Stop(20 * time.Second)
		if t.Failed() {
			t.Logf("---- agent log ----\n%s", agent.Log())
		}
		// Whatever the outcome, no container of this test may remain.
		ids, _ := dockerCmd(host, "ps", "-aq", "--filter", "label=shoal.service=web")
		for _, id := range strings.Fields(ids) {
			_, _ = dockerCmd(host, "rm", "-f", id)
		}
	})
	testcluster.Eventually(t, 10*time.Second, func() error { _, err := agent.Leader(); return err })
	svc := func(args ...string) (string, error) {
		cmd := exec.Command(shoalBin, append([]string{"svc"}, args...)...)
		cmd.Env = append(os.Environ(), "SHOAL_HTTP_ADDR="+agent.HTTP, "CONSUL_HTTP_ADDR=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	writeSpec := func(name, body string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, body)
		return p
	}

	// Deploy: converged, in DNS, answering HTTP.
	start := time.Now()
	out, err := svc("deploy", "-timeout", "60s", writeSpec("v1.json", webSpec(3, "1", false)))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	var ips []string
	testcluster.Eventually(t, 30*time.Second, func() error {
		if ips = digA(t, fp[3], "web.service.consul"); len(ips) != 3 {
			return fmt.Errorf("dig: %v", ips)
		}
		return nil
	})
	t.Logf("deploy of 3 replicas converged and in DNS after %v", time.Since(start).Round(time.Millisecond))
	for _, ip := range ips {
		body := httpGet(t, "http://"+ip+":8080/")
		if !strings.Contains(body, "hello from") || !strings.Contains(body, "v1") {
			t.Fatalf("GET %s: %q", ip, body)
		}
	}
	if out, err := svc("ls"); err != nil || !strings.Contains(out, "3/3") {
		t.Fatalf("svc ls: %v\n%s", err, out)
	}

	// The replicas' logs, fetched from the agent that runs them.
	if out, err := svc("logs", "-tail", "5", "web"); err != nil || strings.Count(out, "==> web.") != 3 ||
		!strings.Contains(out, "hello") {
		t.Fatalf("svc logs: %v\n%s", err, out)
	}

	// A killed container is restarted.
	ids, err := dockerCmd(host, "ps", "-q", "--filter", "label=shoal.service=web")
	if err != nil || len(strings.Fields(ids)) != 3 {
		t.Fatalf("docker ps: %v %q", err, ids)
	}
	victim := strings.Fields(ids)[0]
	if _, err := dockerCmd(host, "kill", victim); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		out, err := svc("ps", "web")
		if err != nil {
			return err
		}
		if strings.Count(out, "running") != 3 || !strings.Contains(out, " 1 ") {
			return fmt.Errorf("after kill:\n%s", out)
		}
		if ips := digA(t, fp[3], "web.service.consul"); len(ips) != 3 {
			return fmt.Errorf("dig after kill: %v", ips)
		}
		return nil
	})

	// Scale up and down.
	for _, n := range []int{5, 2} {
		if out, err := svc("scale", "-timeout", "60s", fmt.Sprintf("web=%d", n)); err != nil {
			t.Fatalf("scale to %d: %v\n%s", n, err, out)
		}
		testcluster.Eventually(t, 30*time.Second, func() error {
			if ips := digA(t, fp[3], "web.service.consul"); len(ips) != n {
				return fmt.Errorf("scaled to %d, dig: %v", n, ips)
			}
			ids, _ := dockerCmd(host, "ps", "-q", "--filter", "label=shoal.service=web")
			if got := len(strings.Fields(ids)); got != n {
				return fmt.Errorf("scaled to %d, %d containers", n, got)
			}
			return nil
		})
	}

	// A rolling update to a version that never turns healthy is rolled back.
	out, err = svc("deploy", "-timeout", "90s", writeSpec("v2.json", webSpec(2, "2", true)))
	if err == nil || !strings.Contains(out, "rolled back") {
		t.Fatalf("bad update: want a rollback, got %v\n%s", err, out)
	}
	testcluster.Eventually(t, 60*time.Second, func() error {
		ips := digA(t, fp[3], "web.service.consul")
		if len(ips) != 2 {
			return fmt.Errorf("after rollback, dig: %v", ips)
		}
		for _, ip := range ips {
			if body := httpGetErr(ip); !strings.Contains(body, "v1") {
				return fmt.Errorf("after rollback %s answers %q", ip, body)
			}
		}
		return nil
	})

	// Removal stops every container.
	if out, err := svc("rm", "-timeout", "60s", "web"); err != nil {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		ids, _ := dockerCmd(host, "ps", "-aq", "--filter", "label=shoal.service=web")
		if ids != "" {
			return fmt.Errorf("containers left: %s", ids)
		}
		return nil
	})
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func httpGetErr(ip string) string {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + ip + ":8080/")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
