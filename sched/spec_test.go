package sched

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fullSpecJSON = `{
  "name": "web",
  "image": "nginx:1.27",
  "command": "nginx",
  "args": ["-g", "daemon off;"],
  "env": {"MODE": "prod"},
  "labels": {"team": "edge"},
  "replicas": 3,
  "mode": "replicated",
  "ports": [
    {"name": "http", "container": 80, "host": 8080},
    {"name": "metrics", "container": 9100, "protocol": "tcp"}
  ],
  "resources": {"cpu": 250, "memory": 128, "cpuset": "0-1"},
  "constraints": ["node.meta.storage == ssd", "node.role != server", "node.name in (a, b)", "node.meta.zone regexp ^eu-"],
  "strategy": "spread",
  "restart": {"policy": "on-failure", "max_attempts": 3, "delay": "10s"},
  "update": {"parallelism": 2, "delay": "30s", "health_gated": true, "on_failure": "rollback", "max_failures": 1},
  "check": {"http": "/health", "port": "http", "interval": "5s", "timeout": "1s"},
  "network": "overlay",
  "depends_on": ["db"],
  "privileged": false,
  "cap_add": ["NET_ADMIN"],
  "devices": ["/dev/fuse"],
  "volumes": [{"source": "/srv/www", "target": "/usr/share/nginx/html", "read_only": true},
              {"source": "cache", "target": "/var/cache/nginx"}],
  "rebalance": true,
  "driver": "docker"
}`

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; "" means success
		check   func(t *testing.T, s *Spec)
	}{
		{
			name: "full",
			json: fullSpecJSON,
			check: func(t *testing.T, s *Spec) {
				if s.Count() != 3 || s.Restart.Delay.Std() != 10*time.Second || s.Update.Parallelism != 2 {
					t.Errorf("fields not decoded: %+v", s)
				}
				if s.Volumes[0].Type != VolumeHost || s.Volumes[1].Type != VolumeNamed {
					t.Errorf("volume types = %q, %q", s.Volumes[0].Type, s.Volumes[1].Type)
				}
				if s.Ports[0].Protocol != ProtocolTCP {
					t.Errorf("port protocol default = %q", s.Ports[0].Protocol)
				}
			},
		},
		{
			name: "minimal gets defaults",
			json: `{"name": "api", "image": "api:1"}`,
			check: func(t *testing.T, s *Spec) {
				want := &Spec{
					Name: "api", Image: "api:1", Replicas: intPtr(1), Mode: ModeReplicated,
					Resources: Resources{CPU: DefaultCPU, MemoryMB: DefaultMemoryMB},
					Strategy:  StrategySpread,
					Restart:   RestartPolicy{Policy: RestartAlways, Delay: DefaultRestartDelay},
					Update:    UpdatePolicy{Parallelism: 1, OnFailure: FailurePause, HealthyDeadline: DefaultHealthyDeadline},
					Network:   NetworkOverlay, Driver: DriverDocker, Pull: PullIfNotPresent,
				}
				if !reflect.DeepEqual(s, want) {
					t.Errorf("got  %+v\nwant %+v", s, want)
				}
			},
		},
		{
			name: "global exec",
			json: `{"name": "node-exporter", "driver": "exec", "command": "/usr/bin/node_exporter", "mode": "global",
			        "ports": [{"name": "metrics", "container": 9100}], "check": {"tcp": true}}`,
			check: func(t *testing.T, s *Spec) {
				if s.Replicas != nil || s.Network != NetworkHost || s.Ports[0].Host != 9100 || s.Check.Port != "metrics" {
					t.Errorf("defaults wrong: %+v", s)
				}
			},
		},
		{name: "unknown field", json: `{"name": "web", "image": "x", "replica": 3}`, wantErr: `unknown field "replica"`},
		{name: "unknown nested field", json: `{"name": "web", "image": "x", "update": {"paralel": 3}}`, wantErr: `unknown field "paralel"`},
		{name: "trailing data", json: `{"name": "web", "image": "x"} {}`, wantErr: "trailing data"},
		{name: "not an object", json: `[1]`, wantErr: "cannot unmarshal"},
		{name: "numeric duration", json: `{"name": "web", "image": "x", "restart": {"delay": 5}}`, wantErr: `cannot unmarshal 5 (a duration is a string such as "5s") into Go struct field RestartPolicy.restart.delay`},
		{name: "bad duration", json: `{"name": "web", "image": "x", "restart": {"delay": "5 s"}}`, wantErr: `cannot unmarshal "5 s" (time: unknown unit " s" in duration "5 s") into Go struct field RestartPolicy.restart.delay`},
		{name: "invalid", json: `{"name": "web", "replicas": -1}`, wantErr: `sched: spec "web": image: required for the docker driver; replicas: must be >= 0, got -1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSpec([]byte(tc.json))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalidSpec) {
					t.Errorf("err %v does not match ErrInvalidSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			tc.check(t, s)
		})
	}
}

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name string
		mod  func(s *Spec)
		want string // the whole message
	}{
		{"negative replicas", func(s *Spec) { s.Replicas = intPtr(-1) }, `spec "web": replicas: must be >= 0, got -1`},
		{"unknown operator", func(s *Spec) { s.Constraints = []string{"node.meta.zone =~ eu"} },
			`spec "web": constraints[0]: unknown operator "=~" (use ==, !=, in, regexp)`},
		{"invalid regexp", func(s *Spec) { s.Constraints = []string{"node.role == client", "node.meta.zone regexp (eu"} },
			"spec \"web\": constraints[1]: invalid regexp \"(eu\": error parsing regexp: missing closing ): `(eu`"},
		{"unknown attribute", func(s *Spec) { s.Constraints = []string{"node.zone == a"} },
			`spec "web": constraints[0]: unknown attribute "node.zone" (use node.name, node.id, node.role, node.datacenter, node.meta.<key>)`},
		{"missing value", func(s *Spec) { s.Constraints = []string{"node.role =="} }, `spec "web": constraints[0]: missing value after "=="`},
		{"in without list", func(s *Spec) { s.Constraints = []string{"node.name in a,b"} },
			`spec "web": constraints[0]: "in" needs a list in parentheses such as "(a, b)", got "a,b"`},
		{"duplicate port name", func(s *Spec) {
			s.Ports = []Port{{Name: "http", Container: 80}, {Name: "http", Container: 81}}
		}, `spec "web": ports[1].name: duplicate port name "http" (also ports[0])`},
		{"duplicate host port", func(s *Spec) {
			s.Ports = []Port{{Name: "a", Container: 80, Host: 8080}, {Name: "b", Container: 81, Host: 8080}}
		}, `spec "web": ports[1].host: duplicate host port 8080/tcp (also ports[0])`},
		{"same host port other protocol ok", func(s *Spec) {
			s.Ports = []Port{{Name: "a", Container: 53, Host: 53}, {Name: "b", Container: 53, Host: 53, Protocol: ProtocolUDP}}
		}, ""},
		{"published ingress ok", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 80, Published: 5001}} }, ""},
		{"published host ok", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 80, Published: 5001, Mode: PortHost}} }, ""},
		{"published out of range", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 80, Published: 70000}} },
			`spec "web": ports[0].published: must be in 1-65535 (0 = not published), got 70000`},
		{"port mode without published", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 80, Mode: PortIngress}} },
			`spec "web": ports[0].mode: only applies to a published port`},
		{"unknown port mode", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 80, Published: 81, Mode: "vip"}} },
			`spec "web": ports[0].mode: unknown mode "vip" (use ingress, host)`},
		{"host mode host port differs", func(s *Spec) {
			s.Ports = []Port{{Name: "a", Container: 80, Published: 5001, Host: 5002, Mode: PortHost}}
		}, `spec "web": ports[0].host: must equal published (5001) in mode host, got 5002`},
		{"ingress on bridge", func(s *Spec) {
			s.Network = NetworkBridge
			s.Ports = []Port{{Name: "a", Container: 80, Published: 5001}}
		}, `spec "web": ports[0].mode: ingress needs the overlay or host network (the routing mesh cannot reach bridge replicas); use mode host`},
		{"duplicate ingress port", func(s *Spec) {
			s.Ports = []Port{{Name: "a", Container: 80, Published: 5001}, {Name: "b", Container: 81, Published: 5001}}
		}, `spec "web": ports[1].published: duplicate published port 5001/tcp (also ports[0])`},
		{"bad container port", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 0}} }, `spec "web": ports[0].container: must be in 1-65535, got 0`},
		{"bad protocol", func(s *Spec) { s.Ports = []Port{{Name: "a", Container: 1, Protocol: "sctp"}} },
			`spec "web": ports[0].protocol: unknown protocol "sctp" (use tcp, udp)`},
		{"host network port mismatch", func(s *Spec) {
			s.Network = NetworkHost
			s.Ports = []Port{{Name: "a", Container: 80, Host: 8080}}
		}, `spec "web": ports[0].host: must equal container (80) in host networking, got 8080`},
		{"too many replicas", func(s *Spec) { s.Replicas = intPtr(MaxReplicas + 1) }, `spec "web": replicas: must be <= 100000, got 100001`},
		{"global with replicas", func(s *Spec) { s.Mode = ModeGlobal }, `spec "web": replicas: must not be set in global mode (one replica runs on every eligible node)`},
		{"uppercase name", func(s *Spec) { s.Name = "Web" }, `spec "Web": name: must be a valid DNS label: "Web" has 'W' (use a-z, 0-9, '-')`},
		{"name with dot", func(s *Spec) { s.Name = "web.1" }, `spec "web.1": name: must be a valid DNS label: "web.1" has '.' (use a-z, 0-9, '-')`},
		{"name hyphen", func(s *Spec) { s.Name = "-web" }, `spec "-web": name: must be a valid DNS label: "-web" starts or ends with '-'`},
		{"name too long", func(s *Spec) { s.Name = strings.Repeat("a", 64) }, `spec "` + strings.Repeat("a", 64) + `": name: must be a valid DNS label: 64 characters, at most 63`},
		{"no name", func(s *Spec) { s.Name = "" }, `spec "": name: required`},
		{"docker without image", func(s *Spec) { s.Image = "" }, `spec "web": image: required for the docker driver`},
		{"exec without command", func(s *Spec) { s.Driver, s.Image = DriverExec, "" }, `spec "web": command: required for the exec driver`},
		{"exec with overlay", func(s *Spec) { s.Driver, s.Image, s.Command, s.Network = DriverExec, "", "/bin/app", NetworkOverlay },
			`spec "web": network: the exec driver supports only "host", got "overlay"`},
		{"exec with privileged", func(s *Spec) { s.Driver, s.Image, s.Command, s.Privileged = DriverExec, "", "/bin/app", true },
			`spec "web": privileged: not supported by the exec driver`},
		{"unknown driver", func(s *Spec) { s.Driver = "qemu" }, `spec "web": driver: unknown driver "qemu" (use docker, exec)`},
		{"unknown mode", func(s *Spec) { s.Mode = "batch" }, `spec "web": mode: unknown mode "batch" (use replicated, global)`},
		{"unknown strategy", func(s *Spec) { s.Strategy = "random" }, `spec "web": strategy: unknown strategy "random" (use spread, binpack)`},
		{"unknown network", func(s *Spec) { s.Network = "macvlan" }, `spec "web": network: unknown network "macvlan" (use overlay, bridge, host)`},
		{"negative memory", func(s *Spec) { s.Resources.MemoryMB = -5 }, `spec "web": resources.memory: must be >= 0, got -5`},
		{"bad cpuset", func(s *Spec) { s.Resources.Cpuset = "3-1" }, `spec "web": resources.cpuset: invalid cpuset "3-1": bad range "3-1"`},
		{"restart policy", func(s *Spec) { s.Restart.Policy = "sometimes" },
			`spec "web": restart.policy: unknown policy "sometimes" (use always, on-failure, never)`},
		{"negative attempts", func(s *Spec) { s.Restart.MaxAttempts = -1 }, `spec "web": restart.max_attempts: must be >= 0 (0 = unlimited), got -1`},
		{"negative parallelism", func(s *Spec) { s.Update.Parallelism = -2 }, `spec "web": update.parallelism: must be >= 1, got -2`},
		{"on_failure", func(s *Spec) { s.Update.OnFailure = "retry" }, `spec "web": update.on_failure: unknown action "retry" (use pause, rollback)`},
		{"health gated without check", func(s *Spec) { s.Update.HealthGated = true }, `spec "web": update.health_gated: requires a check`},
		{"check two kinds", func(s *Spec) {
			s.Ports = []Port{{Name: "http", Container: 80}}
			s.Check = &Check{HTTP: "/", TCP: true}
		}, `spec "web": check: set exactly one of http, tcp, script; got 2`},
		{"check unknown port", func(s *Spec) {
			s.Ports = []Port{{Name: "http", Container: 80}}
			s.Check = &Check{TCP: true, Port: "admin"}
		}, `spec "web": check.port: no port named "admin" in ports`},
		{"http check path", func(s *Spec) {
			s.Ports = []Port{{Name: "http", Container: 80}}
			s.Check = &Check{HTTP: "health"}
		}, `spec "web": check.http: must be a path starting with "/", got "health"`},
		{"tcp check without ports", func(s *Spec) { s.Check = &Check{TCP: true} }, `spec "web": check.port: http and tcp checks need a port in ports`},
		{"depends on self", func(s *Spec) { s.DependsOn = []string{"db", "web"} }, `spec "web": depends_on[1]: a service cannot depend on itself`},
		{"capability", func(s *Spec) { s.CapAdd = []string{"net_admin"} }, `spec "web": cap_add[0]: invalid capability "net_admin" (such as NET_ADMIN)`},
		{"device", func(s *Spec) { s.Devices = []string{"/dev/fuse:/dev/fuse:rwx"} }, `spec "web": devices[0]: permissions must be letters of "rwm", got "rwx"`},
		{"relative volume target", func(s *Spec) { s.Volumes = []Volume{{Source: "data", Target: "data"}} },
			`spec "web": volumes[0].target: must be an absolute path, got "data"`},
		{"volume name with slash", func(s *Spec) { s.Volumes = []Volume{{Source: "a/b", Target: "/d", Type: VolumeNamed}} },
			`spec "web": volumes[0].source: must be a volume name for type volume, got "a/b"`},
		{"unknown pull policy", func(s *Spec) { s.Pull = "sometimes" }, `spec "web": pull: unknown policy "sometimes" (use if_not_present, always, never)`},
		{"pull always ok", func(s *Spec) { s.Pull = PullAlways }, ""},
		{"exec with pull", func(s *Spec) { s.Driver, s.Image, s.Command, s.Pull = DriverExec, "", "/bin/app", PullAlways },
			`spec "web": pull: not supported by the exec driver`},
		{"registry auth name", func(s *Spec) { s.RegistryAuth = "My Registry" },
			`spec "web": registry_auth: must name a credential of the agent config (a DNS label): "My Registry" has 'M' (use a-z, 0-9, '-')`},
		{"rebalance binpack", func(s *Spec) { s.Rebalance, s.Strategy = true, StrategyBinpack }, `spec "web": rebalance: only applies to the spread strategy`},
		{"several problems", func(s *Spec) { s.Replicas = intPtr(-1); s.Strategy = "x" },
			`spec "web": replicas: must be >= 0, got -1; strategy: unknown strategy "x" (use spread, binpack)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Spec{Name: "web", Image: "nginx", Replicas: intPtr(2)}
			tc.mod(s)
			before := s.Copy()
			err := s.Validate()
			if !reflect.DeepEqual(s, before) {
				t.Errorf("Validate modified the spec")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Validate =\n  %s\nwant\n  %s", err, tc.want)
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %T is not a *ValidationError matching ErrInvalidSpec", err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	base := func() *Spec {
		return &Spec{Name: "web", Image: "nginx:1", Replicas: intPtr(3), Env: map[string]string{"A": "1", "B": "2"},
			Restart: RestartPolicy{Delay: Duration(90 * time.Second)}}
	}
	v0 := base().Version()
	tests := []struct {
		name string
		mod  func(*Spec)
		same bool
	}{
		{"identical", func(*Spec) {}, true},
		{"replicas", func(s *Spec) { s.Replicas = intPtr(10) }, true},
		{"constraints", func(s *Spec) { s.Constraints = []string{"node.role == client"} }, true},
		{"strategy", func(s *Spec) { s.Strategy = StrategyBinpack }, true},
		{"update policy", func(s *Spec) { s.Update.Parallelism = 5 }, true},
		{"defaults spelled out", func(s *Spec) { s.Driver, s.Network, s.Resources.CPU = DriverDocker, NetworkOverlay, DefaultCPU }, true},
		{"canonicalized", func(s *Spec) { s.Canonicalize() }, true},
		{"env map rebuilt", func(s *Spec) { s.Env = map[string]string{"B": "2", "A": "1"} }, true},
		{"empty slices", func(s *Spec) { s.Args = []string{} }, true},
		{"image", func(s *Spec) { s.Image = "nginx:2" }, false},
		{"env value", func(s *Spec) { s.Env["A"] = "x" }, false},
		{"memory", func(s *Spec) { s.Resources.MemoryMB = 512 }, false},
		{"port", func(s *Spec) { s.Ports = []Port{{Name: "http", Container: 80}} }, false},
		{"restart delay", func(s *Spec) { s.Restart.Delay = Duration(time.Minute) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.mod(s)
			if got := s.Version(); (got == v0) != tc.same {
				t.Errorf("Version = %s, base %s, want same=%v", got, v0, tc.same)
			}
		})
	}
	if len(v0) != 16 {
		t.Errorf("Version %q is not 16 hex digits", v0)
	}
	// Durations spelled differently hash the same.
	a, _ := ParseSpec([]byte(`{"name":"web","image":"x","restart":{"delay":"90s"}}`))
	b, _ := ParseSpec([]byte(`{"name":"web","image":"x","restart":{"delay":"1m30s"}}`))
	if a.Version() != b.Version() {
		t.Errorf("90s and 1m30s give different versions")
	}
}

func TestCanonicalizeIdempotent(t *testing.T) {
	s, err := ParseSpec([]byte(fullSpecJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Copy()
	c.Canonicalize()
	if !reflect.DeepEqual(s, c) {
		t.Errorf("second Canonicalize changed the spec")
	}
}

func TestCopyIsDeep(t *testing.T) {
	s, err := ParseSpec([]byte(fullSpecJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Copy()
	c.Env["MODE"] = "dev"
	c.Ports[0].Host = 1
	c.Check.Interval = 0
	*c.Replicas = 99
	c.Volumes[0].ReadOnly = false
	if s.Env["MODE"] != "prod" || s.Ports[0].Host != 8080 || s.Check.Interval == 0 || s.Count() != 3 || !s.Volumes[0].ReadOnly {
		t.Errorf("Copy shares memory with the original")
	}
}

// TestReadmeExamples parses every JSON example in README.md, so the
// documented schema cannot drift from the code.
func TestReadmeExamples(t *testing.T) {
	doc, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(doc), "```json\n")
	if len(parts) < 3 {
		t.Fatalf("README.md has %d JSON examples, want at least 2", len(parts)-1)
	}
	for i, part := range parts[1:] {
		example, _, _ := strings.Cut(part, "```")
		if _, err := ParseSpec([]byte(example)); err != nil {
			t.Errorf("example %d: %v", i+1, err)
		}
	}
}
