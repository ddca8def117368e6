package docker

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// TestCreateOptions checks the translation of tasks to create requests;
// it needs no engine.
func TestCreateOptions(t *testing.T) {
	spec := func(mutate func(*sched.Spec)) *sched.Spec {
		s := &sched.Spec{Name: "web", Image: "img:1"}
		if mutate != nil {
			mutate(s)
		}
		s.Canonicalize()
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tcp8080 := network.MustParsePort("8080/tcp")
	udp53 := network.MustParsePort("53/udp")
	for _, tc := range []struct {
		name  string
		task  driver.Task
		opts  Options
		check func(t *testing.T, cfg *container.Config, hc *container.HostConfig)
	}{
		{
			name: "overlay without network uses bridge",
			task: driver.Task{Spec: spec(nil)},
			check: func(t *testing.T, _ *container.Config, hc *container.HostConfig) {
				if hc.NetworkMode != "bridge" {
					t.Errorf("network mode %q", hc.NetworkMode)
				}
			},
		},
		{
			name: "task network wins",
			task: driver.Task{Spec: spec(nil), Network: "shoal-overlay"},
			check: func(t *testing.T, _ *container.Config, hc *container.HostConfig) {
				if hc.NetworkMode != "shoal-overlay" {
					t.Errorf("network mode %q", hc.NetworkMode)
				}
			},
		},
		{
			name: "host network publishes nothing",
			task: driver.Task{Spec: spec(func(s *sched.Spec) {
				s.Network = sched.NetworkHost
				s.Ports = []sched.Port{{Name: "http", Container: 8080}}
			}), Ports: []sched.Port{{Name: "http", Container: 8080, Host: 8080, Protocol: "tcp"}}},
			check: func(t *testing.T, cfg *container.Config, hc *container.HostConfig) {
				if hc.NetworkMode != "host" || len(hc.PortBindings) != 0 {
					t.Errorf("network mode %q, bindings %v", hc.NetworkMode, hc.PortBindings)
				}
			},
		},
		{
			name: "ports tcp and udp",
			task: driver.Task{Spec: spec(nil), Ports: []sched.Port{
				{Name: "http", Container: 8080, Host: 20001, Protocol: "tcp"},
				{Name: "dns", Container: 53, Host: 20002, Protocol: "udp"},
			}},
			check: func(t *testing.T, cfg *container.Config, hc *container.HostConfig) {
				want := network.PortMap{
					tcp8080: {{HostPort: "20001"}},
					udp53:   {{HostPort: "20002"}},
				}
				if !reflect.DeepEqual(hc.PortBindings, want) {
					t.Errorf("bindings %v, want %v", hc.PortBindings, want)
				}
				if len(cfg.ExposedPorts) != 2 {
					t.Errorf("exposed %v", cfg.ExposedPorts)
				}
			},
		},
		{
			name: "command replaces the entrypoint",
			task: driver.Task{Spec: spec(func(s *sched.Spec) { s.Command = "/bin/app"; s.Args = []string{"-v"} })},
			check: func(t *testing.T, cfg *container.Config, _ *container.HostConfig) {
				if !reflect.DeepEqual([]string(cfg.Entrypoint), []string{"/bin/app"}) || !reflect.DeepEqual([]string(cfg.Cmd), []string{"-v"}) {
					t.Errorf("entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
				}
			},
		},
		{
			name: "args alone go to the image's entrypoint",
			task: driver.Task{Spec: spec(func(s *sched.Spec) { s.Args = []string{"-v"} })},
			check: func(t *testing.T, cfg *container.Config, _ *container.HostConfig) {
				if cfg.Entrypoint != nil || !reflect.DeepEqual([]string(cfg.Cmd), []string{"-v"}) {
					t.Errorf("entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
				}
			},
		},
		{
			name: "resources, devices, env, dns",
			opts: Options{CPUHardLimitMHz: 2000},
			task: driver.Task{Spec: spec(func(s *sched.Spec) {
				s.Resources = sched.Resources{CPU: 1, MemoryMB: 10, Cpuset: "1-2"}
				s.Devices = []string{"/dev/fuse", "/dev/a:/dev/b", "/dev/d:/dev/e:rw"}
				s.Env = map[string]string{"B": "2", "A": "1"}
				s.Privileged = true
			}), DNS: []string{"10.1.2.3"}},
			check: func(t *testing.T, cfg *container.Config, hc *container.HostConfig) {
				if hc.Memory != 10<<20 || hc.MemorySwap != 10<<20 || hc.CPUShares != minCPUShares || hc.NanoCPUs != 500_000 || hc.CpusetCpus != "1-2" || !hc.Privileged {
					t.Errorf("resources %+v privileged %v", hc.Resources, hc.Privileged)
				}
				wantDev := []container.DeviceMapping{
					{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"},
					{PathOnHost: "/dev/a", PathInContainer: "/dev/b", CgroupPermissions: "rwm"},
					{PathOnHost: "/dev/d", PathInContainer: "/dev/e", CgroupPermissions: "rw"},
				}
				if !reflect.DeepEqual(hc.Devices, wantDev) {
					t.Errorf("devices %+v", hc.Devices)
				}
				if !reflect.DeepEqual(cfg.Env, []string{"A=1", "B=2"}) {
					t.Errorf("env %v", cfg.Env)
				}
				if !reflect.DeepEqual(hc.DNS, []netip.Addr{netip.MustParseAddr("10.1.2.3")}) {
					t.Errorf("dns %v", hc.DNS)
				}
				if hc.RestartPolicy.Name != container.RestartPolicyDisabled {
					t.Errorf("restart policy %v", hc.RestartPolicy)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.task.AllocID = "0123456789abcdef"
			tc.task.Service = "web"
			tc.task.Index = 2
			tc.task.Version = "v1"
			d := &Driver{opts: tc.opts}
			got, err := d.createOptions(&tc.task)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != "web.2.01234567" {
				t.Errorf("name %q", got.Name)
			}
			if l := got.Config.Labels; l[LabelAlloc] != "0123456789abcdef" || l[LabelService] != "web" || l[LabelIndex] != "2" || l[LabelVersion] != "v1" {
				t.Errorf("labels %v", l)
			}
			tc.check(t, got.Config, got.HostConfig)
		})
	}
}

func TestParseDeviceErrors(t *testing.T) {
	for _, s := range []string{"", "dev/x", "/dev/x:y", "/dev/x:/dev/y:rwx", "/a:/b:r:w"} {
		if _, err := parseDevice(s); err == nil {
			t.Errorf("parseDevice(%q): no error", s)
		}
	}
}

// TestStatus checks the mapping of engine states to driver states.
func TestStatus(t *testing.T) {
	labels := map[string]string{LabelAlloc: "a1", LabelService: "web", LabelIndex: "4", LabelVersion: "v9"}
	bridge := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
		"bridge": {IPAddress: netip.MustParseAddr("172.31.250.2")},
	}}
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		state   container.State
		mode    string
		nets    *container.NetworkSettings
		want    driver.State
		code    int
		msg     string
		ip      string
		healthy *bool
	}{
		{name: "running", state: container.State{Status: "running", StartedAt: "2026-01-02T03:04:05.123456789Z"}, mode: "bridge", nets: bridge, want: driver.StateRunning, ip: "172.31.250.2"},
		{name: "created", state: container.State{Status: "created"}, want: driver.StateCreated},
		{name: "exited", state: container.State{Status: "exited", ExitCode: 1}, want: driver.StateExited, code: 1},
		{name: "oom", state: container.State{Status: "exited", ExitCode: 137, OOMKilled: true}, want: driver.StateExited, code: 137, msg: "OOM killed (memory limit reached)"},
		{name: "error", state: container.State{Status: "exited", ExitCode: 127, Error: "exec failed"}, want: driver.StateExited, code: 127, msg: "exec failed"},
		{name: "dead", state: container.State{Status: "dead", ExitCode: 0}, want: driver.StateExited},
		{name: "healthy", state: container.State{Status: "running", Health: &container.Health{Status: container.Healthy}}, want: driver.StateRunning, healthy: &yes},
		{name: "unhealthy", state: container.State{Status: "running", Health: &container.Health{Status: container.Unhealthy}}, want: driver.StateRunning, healthy: &no},
		{name: "health starting", state: container.State{Status: "running", Health: &container.Health{Status: container.Starting}}, want: driver.StateRunning, healthy: &no},
		{name: "host network has no IP", state: container.State{Status: "running"}, mode: "host", nets: bridge, want: driver.StateRunning},
		{name: "other network", state: container.State{Status: "running"}, mode: "ov", nets: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"ov": {IPAddress: netip.MustParseAddr("10.9.0.3")},
		}}, want: driver.StateRunning, ip: "10.9.0.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &container.InspectResponse{
				ID:              "c1",
				State:           &tc.state,
				Config:          &container.Config{Labels: labels},
				HostConfig:      &container.HostConfig{NetworkMode: container.NetworkMode(tc.mode)},
				NetworkSettings: tc.nets,
			}
			st := status(c)
			if st.AllocID != "a1" || st.Service != "web" || st.Index != 4 || st.Version != "v9" || st.ID != "c1" {
				t.Errorf("identity %+v", st)
			}
			if st.State != tc.want || st.ExitCode != tc.code || st.Message != tc.msg || st.IP != tc.ip {
				t.Errorf("got state %q code %d msg %q ip %q; want %q %d %q %q", st.State, st.ExitCode, st.Message, st.IP, tc.want, tc.code, tc.msg, tc.ip)
			}
			if (st.Healthy == nil) != (tc.healthy == nil) || (st.Healthy != nil && *st.Healthy != *tc.healthy) {
				t.Errorf("healthy %v, want %v", st.Healthy, tc.healthy)
			}
			if tc.state.StartedAt != "" && !st.StartedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)) {
				t.Errorf("started at %v", st.StartedAt)
			}
		})
	}
}
