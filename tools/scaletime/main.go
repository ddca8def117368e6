// Command scaletime measures how fast a single agent deploys and scales a
// service: it starts `shoal agent -dev` (using the Docker engine of
// DOCKER_HOST with -driver docker), deploys -from replicas and times until
// all run, then scales to -to and times until all of those run, then
// removes the service. -n rounds; medians printed.
//
//	docker build -t shoal-test/hello:1 ...   # see docs/performance.md
//	go build -o /tmp/shoal . && go run ./tools/scaletime -bin /tmp/shoal -driver docker -image shoal-test/hello:1
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
)

func main() {
	bin := flag.String("bin", "", "path to the shoal binary (required)")
	driver := flag.String("driver", "docker", `"docker" or "exec"`)
	image := flag.String("image", "shoal-test/hello:1", "image for the docker driver (must be present)")
	from := flag.Int("from", 3, "replicas of the first deploy")
	to := flag.Int("to", 30, "replicas after scaling")
	n := flag.Int("n", 3, "rounds")
	port := flag.Int("port-base", 18700, "HTTP port; +1 Serf, +2 RPC")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "scaletime: -bin is required")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "shoal-scaletime-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agent := &proccluster.Proc{Name: "dev", Bin: *bin, Addr: "127.0.0.1", HTTP: fmt.Sprintf("127.0.0.1:%d", *port),
		LogPath: filepath.Join(dir, "agent.log"),
		Args: []string{"agent", "-dev", "-http-port", fmt.Sprint(*port), "-serf-lan-port", fmt.Sprint(*port + 1),
			"-server-port", fmt.Sprint(*port + 2), "-dns-port", "-1"}}
	if err := agent.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		agent.Stop(30 * time.Second)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if err := wait(10*time.Second, func() error { _, err := agent.Leader(); return err }); err != nil {
		fail("no leader: %v", err)
	}
	var deploys, scales []time.Duration
	for r := 1; r <= *n; r++ {
		d, s, err := round(agent, *driver, *image, *from, *to)
		if err != nil {
			fail("round %d: %v\n%s", r, err, agent.Log())
		}
		fmt.Printf("round %d: deploy of %d running after %v; scale %d -> %d running after %v\n",
			r, *from, d.Round(time.Millisecond), *from, *to, s.Round(time.Millisecond))
		deploys, scales = append(deploys, d), append(scales, s)
	}
	fmt.Printf("median over %d rounds: deploy %v, scale %v\n", *n, median(deploys).Round(time.Millisecond),
		median(scales).Round(time.Millisecond))
	agent.Stop(30 * time.Second)
}

func spec(driver, image string, replicas int) string {
	if driver == "exec" {
		return fmt.Sprintf(`{"name": "scale", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": %d,
			"resources": {"cpu": 10, "memory": 10}}`, replicas)
	}
	return fmt.Sprintf(`{"name": "scale", "image": %q, "replicas": %d, "ports": [{"name": "http", "container": 8080}],
		"resources": {"cpu": 10, "memory": 16}}`, image, replicas)
}

func round(agent *proccluster.Proc, driver, image string, from, to int) (deploy, scale time.Duration, err error) {
	start := time.Now()
	if code, body, err := agent.Put("/v1/kv/shoal/services/scale", spec(driver, image, from)); err != nil || code != 200 {
		return 0, 0, fmt.Errorf("deploy: %d %s %v", code, body, err)
	}
	if err := wait(2*time.Minute, func() error { return running(agent, from) }); err != nil {
		return 0, 0, err
	}
	deploy = time.Since(start)
	start = time.Now()
	if code, body, err := agent.Put("/v1/kv/shoal/services/scale", spec(driver, image, to)); err != nil || code != 200 {
		return 0, 0, fmt.Errorf("scale: %d %s %v", code, body, err)
	}
	if err := wait(5*time.Minute, func() error { return running(agent, to) }); err != nil {
		return 0, 0, err
	}
	scale = time.Since(start)
	if _, _, err := agent.Delete("/v1/kv/shoal/services/scale"); err != nil {
		return 0, 0, err
	}
	err = wait(2*time.Minute, func() error {
		code, _, err := agent.Get("/v1/shoal/services/scale")
		if err == nil && code != 404 {
			return fmt.Errorf("still listed")
		}
		return err
	})
	return deploy, scale, err
}

func running(agent *proccluster.Proc, want int) error {
	code, body, err := agent.Get("/v1/shoal/services/scale")
	if err != nil || code != 200 {
		return fmt.Errorf("%d %v", code, err)
	}
	var s struct{ Running, Desired int }
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		return err
	}
	if s.Running != want || s.Desired != want {
		return fmt.Errorf("%d/%d running", s.Running, s.Desired)
	}
	return nil
}

// wait polls fn until it succeeds or timeout passes.
func wait(timeout time.Duration, fn func() error) error {
	return proccluster.Poll(timeout, 20*time.Millisecond, fn)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
