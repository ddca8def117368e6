package docker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/sched"
)

// helloImage is built by dockertest.BuildHello once per test binary.
const helloImage = "shoal-test/hello:driver"

// testLabel marks every container these tests create, for the final sweep.
const testLabel = "shoal.test"

func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// engine returns the engine's address with the hello image built on it,
// and registers a sweep of this test's containers.
func engine(t *testing.T) string {
	t.Helper()
	host := dockertest.Engine(t)
	dockertest.BuildHello(t, host, helloImage)
	t.Cleanup(func() { sweep(t, host, t.Name()) })
	return host
}

// sweep force-removes the containers a test left behind (found by label).
func sweep(t *testing.T, host, test string) {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", testLabel+"="+test)})
	if err != nil {
		t.Error(err)
		return
	}
	for _, ctr := range res.Items {
		if _, err := c.ContainerRemove(ctx, ctr.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("sweep %s: %v", ctr.ID, err)
		}
	}
}

func newDriver(t *testing.T, host string, opts Options) *Driver {
	t.Helper()
	opts.Host = host
	d, err := New(hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: tWriter{t}}), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTask returns a valid task of the hello image; mutate edits the spec
// before it is canonicalized and validated.
func newTask(t *testing.T, service string, mutate func(*sched.Spec)) *driver.Task {
	t.Helper()
	s := &sched.Spec{
		Name:      service,
		Image:     helloImage,
		Network:   sched.NetworkBridge,
		Labels:    map[string]string{testLabel: t.Name()},
		Resources: sched.Resources{MemoryMB: 64, CPU: 100},
	}
	if mutate != nil {
		mutate(s)
	}
	s.Canonicalize()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return &driver.Task{AllocID: allocID(t), Service: service, Index: 0, Version: s.Version(), Spec: s, Ports: s.Ports}
}

func allocID(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// get fetches url until it answers 2xx (the server may still be starting).
func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return string(body)
		}
		last = fmt.Errorf("%s", resp.Status)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// TestLifecycle checks what is particular to containers (the suite in
// driver/drivertest covers the rest): the task answers through its
// published host port and on its own IP, with its environment, and the
// container carries its name and labels.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	host := engine(t)
	d := newDriver(t, host, Options{})
	ctx := ctxT(t)
	if err := d.Available(ctx); err != nil {
		t.Fatalf("Available: %v", err)
	}
	t.Logf("negotiated Engine API version %s", d.cli.ClientVersion())

	hostPort := freePort(t)
	task := newTask(t, "web", func(s *sched.Spec) {
		s.Env = map[string]string{"VERSION": "7"}
		s.Labels["team"] = "blue"
		s.Labels[LabelAlloc] = "spoofed" // Shoal's own labels win
		s.Ports = []sched.Port{{Name: "http", Container: 8080, Host: hostPort}}
	})
	task.Index = 3
	st, err := d.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if st.State != driver.StateRunning || st.AllocID != task.AllocID || st.Service != "web" || st.Index != 3 || st.Version != task.Version {
		t.Fatalf("Start status = %+v", st)
	}
	if ip := net.ParseIP(st.IP); ip == nil || ip.To4() == nil {
		t.Fatalf("Start IP = %q, want an IPv4 address", st.IP)
	}
	if st.StartedAt.IsZero() || time.Since(st.StartedAt) > time.Minute {
		t.Errorf("StartedAt = %v", st.StartedAt)
	}

	// HTTP through the published host port, and straight to the container.
	for _, url := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/", hostPort),
		fmt.Sprintf("http://%s:8080/", st.IP),
	} {
		if body := get(t, url); !strings.HasPrefix(body, "hello from ") || !strings.HasSuffix(body, " v7\n") {
			t.Errorf("GET %s = %q, want hello from <hostname> v7", url, body)
		}
	}

	// Name and labels, as the engine has them.
	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.ContainerInspect(ctx, st.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantName := "/web.3." + task.AllocID[:8]
	if raw.Container.Name != wantName {
		t.Errorf("container name = %q, want %q", raw.Container.Name, wantName)
	}
	for k, want := range map[string]string{
		LabelAlloc: task.AllocID, LabelService: "web", LabelIndex: "3", LabelVersion: task.Version, "team": "blue",
	} {
		if got := raw.Container.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}

	if err := d.Stop(ctx, task.AllocID, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func findStatus(t *testing.T, d *Driver, allocID string) (driver.Status, bool) {
	t.Helper()
	all, err := d.List(ctxT(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, st := range all {
		if st.AllocID == allocID {
			return st, true
		}
	}
	return driver.Status{}, false
}

// TestOutOfMemory: a container killed at its memory limit says so.
func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	host := engine(t)
	d := newDriver(t, host, Options{})
	ctx := ctxT(t)
	task := newTask(t, "job", func(s *sched.Spec) { s.Env = map[string]string{"ALLOC_MB": "256"} })
	defer d.Stop(ctx, task.AllocID, 0)
	if _, err := d.Start(ctx, task); err != nil {
		t.Fatalf("Start: %v", err)
	}
	st := waitExited(t, d, task.AllocID)
	if want := "OOM killed (memory limit reached)"; st.ExitCode != 137 || st.Message != want {
		t.Errorf("exited: code %d message %q, want 137 %q", st.ExitCode, st.Message, want)
	}
}

func waitExited(t *testing.T, d *Driver, allocID string) driver.Status {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st, err := d.Inspect(ctxT(t), allocID)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if st.State == driver.StateExited {
			return st
		}
	}
	t.Fatalf("%s did not exit", allocID)
	return driver.Status{}
}

// TestHealth: the image's engine health check shows in Status.Healthy.
func TestHealth(t *testing.T) {
	t.Parallel()
	host := engine(t)
	d := newDriver(t, host, Options{})
	for _, tc := range []struct {
		name string
		fail string
		want bool
	}{
		{name: "healthy", want: true},
		{name: "unhealthy", fail: "1", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			task := newTask(t, "health", func(s *sched.Spec) {
				s.Env = map[string]string{"FAIL_HEALTH": tc.fail}
				s.Labels[testLabel] = "TestHealth"
			})
			defer d.Stop(ctx, task.AllocID, 0)
			st, err := d.Start(ctx, task)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if st.Healthy == nil || *st.Healthy {
				t.Errorf("Healthy right after Start = %v, want false (starting)", st.Healthy)
			}
			c, err := client.New(client.WithHost(host))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Wait for the engine's verdict, then compare.
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				raw, err := c.ContainerInspect(ctx, st.ID, client.ContainerInspectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if h := raw.Container.State.Health; h != nil && h.Status != "starting" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no health verdict from the engine")
				}
			}
			st, err = d.Inspect(ctx, task.AllocID)
			if err != nil {
				t.Fatal(err)
			}
			if st.Healthy == nil || *st.Healthy != tc.want {
				t.Errorf("Healthy = %v, want %v", st.Healthy, tc.want)
			}
		})
	}
}

func TestImageMissing(t *testing.T) {
	t.Parallel()
	host := engine(t)
	d := newDriver(t, host, Options{})
	ctx := ctxT(t)
	task := newTask(t, "ghost", func(s *sched.Spec) { s.Image, s.Pull = "shoal-test/absent:404", sched.PullNever })
	_, err := d.Start(ctx, task)
	if !errors.Is(err, driver.ErrImageMissing) || !strings.Contains(err.Error(), "shoal-test/absent:404") {
		t.Fatalf("Start: err = %v, want ErrImageMissing naming the image", err)
	}
	if _, err := d.Inspect(ctx, task.AllocID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Inspect: err = %v, want ErrNotFound", err)
	}
}

// TestHostConfig checks what Start asks of the engine: resources, mounts,
// capabilities, DNS and the network.
func TestHostConfig(t *testing.T) {
	t.Parallel()
	host := engine(t)
	d := newDriver(t, host, Options{CPUHardLimitMHz: 1000})
	ctx := ctxT(t)
	bindDir := t.TempDir()
	volume := "shoal-test-" + allocID(t)[:8]
	task := newTask(t, "conf", func(s *sched.Spec) {
		s.Resources = sched.Resources{MemoryMB: 48, CPU: 250, Cpuset: "0"}
		s.CapAdd = []string{"NET_ADMIN"}
		s.Volumes = []sched.Volume{
			{Source: bindDir, Target: "/data", ReadOnly: true},
			{Source: volume, Target: "/cache"},
		}
	})
	task.DNS = []string{"10.0.0.53"}
	st, err := d.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Cleanup(func() {
		d.Stop(context.Background(), task.AllocID, 0)
		if _, err := c.VolumeRemove(context.Background(), volume, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Errorf("remove volume %s: %v", volume, err)
		}
	})
	raw, err := c.ContainerInspect(ctx, st.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := raw.Container.HostConfig
	if hc.Memory != 48<<20 || hc.CPUShares != 250 || hc.NanoCPUs != 250_000_000 || hc.CpusetCpus != "0" {
		t.Errorf("resources: memory %d shares %d nanocpus %d cpuset %q; want %d 250 250000000 \"0\"", hc.Memory, hc.CPUShares, hc.NanoCPUs, hc.CpusetCpus, 48<<20)
	}
	if string(hc.NetworkMode) != "bridge" {
		t.Errorf("network mode %q, want bridge", hc.NetworkMode)
	}
	if len(hc.CapAdd) != 1 || !strings.HasSuffix(hc.CapAdd[0], "NET_ADMIN") {
		t.Errorf("cap_add %v, want NET_ADMIN", hc.CapAdd)
	}
	if len(hc.DNS) != 1 || hc.DNS[0].String() != "10.0.0.53" {
		t.Errorf("dns %v, want [10.0.0.53]", hc.DNS)
	}
	mounts := map[string]string{}
	for _, m := range raw.Container.Mounts {
		mounts[m.Destination] = fmt.Sprintf("%s %s rw=%v", m.Type, m.Name+m.Source, m.RW)
	}
	if got := mounts["/data"]; got != fmt.Sprintf("bind %s rw=false", bindDir) {
		t.Errorf("mount /data = %q", got)
	}
	if got := mounts["/cache"]; !strings.HasPrefix(got, "volume "+volume) || !strings.HasSuffix(got, "rw=true") {
		t.Errorf("mount /cache = %q", got)
	}
}

// TestEngineIsTheState: two drivers on one engine at the same time (the
// suite covers one after the other) see each other's work, since the
// engine is the only state.
func TestEngineIsTheState(t *testing.T) {
	t.Parallel()
	host := engine(t)
	d1, d2 := newDriver(t, host, Options{}), newDriver(t, host, Options{})
	ctx := ctxT(t)
	task := newTask(t, "shared", nil)
	st, err := d1.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got, err := d2.Inspect(ctx, task.AllocID); err != nil || got.ID != st.ID {
		t.Fatalf("second driver Inspect: %+v, %v; want %s", got, err, st.ID)
	}
	if err := d2.Stop(ctx, task.AllocID, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := d1.Inspect(ctx, task.AllocID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("first driver Inspect after the second's Stop: err = %v, want ErrNotFound", err)
	}
}

// TestNodeScoping: with Options.Node, drivers sharing an engine see only
// their own node's tasks.
func TestNodeScoping(t *testing.T) {
	t.Parallel()
	host := engine(t)
	a := newDriver(t, host, Options{Node: "node-a"})
	b := newDriver(t, host, Options{Node: "node-b"})
	all := newDriver(t, host, Options{})
	ctx := ctxT(t)
	task := newTask(t, "scoped", func(s *sched.Spec) { s.Labels[LabelNode] = "node-b" }) // Shoal's label wins
	st, err := a.Start(ctx, task)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, ok := findStatus(t, a, task.AllocID); !ok {
		t.Error("node-a does not list its own task")
	}
	if _, ok := findStatus(t, b, task.AllocID); ok {
		t.Error("node-b lists node-a's task")
	}
	if _, err := b.Inspect(ctx, task.AllocID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("node-b Inspect: err = %v, want ErrNotFound", err)
	}
	if err := b.Stop(ctx, task.AllocID, 0); err != nil {
		t.Errorf("node-b Stop: %v", err)
	}
	if got, err := all.Inspect(ctx, task.AllocID); err != nil || got.ID != st.ID || got.State != driver.StateRunning {
		t.Errorf("unscoped Inspect after node-b's Stop: %+v, %v; want %s running", got, err, st.ID)
	}
	if err := a.Stop(ctx, task.AllocID, 0); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	d, err := New(hclog.NewNullLogger(), Options{Host: "unix://" + t.TempDir() + "/none.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Available(context.Background()); !errors.Is(err, driver.ErrUnavailable) {
		t.Errorf("Available: err = %v, want ErrUnavailable", err)
	}
	if _, err := d.List(context.Background()); err == nil {
		t.Error("List on a missing engine: no error")
	}
}
