package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/sched"
)

// writeFiles writes files (name → content; a name ending in "/" makes a
// directory) into a fresh directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// expand replaces $DIR in args with dir.
func expand(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "$DIR", dir)
	}
	return out
}

// loadArgs returns args after flags that make Load pass validation without
// looking up a private address, with $DIR expanded.
func loadArgs(dir string, args []string) []string {
	return expand(append([]string{"-bind", "127.0.0.1", "-data-dir", "$DIR/data", "-node", "n1"}, args...), dir)
}

func TestDefault(t *testing.T) {
	c := Default()
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	want := &Config{
		NodeName: host, Datacenter: "dc1", BindAddr: "0.0.0.0", ClientAddr: "127.0.0.1",
		Ports:         Ports{HTTP: 8500, HTTPS: -1, DNS: 8600, SerfLAN: 8301, Server: 8300},
		RetryInterval: 30 * time.Second, LogLevel: "info",
		Performance: Performance{RaftMultiplier: 1},
		Autopilot:   Autopilot{CleanupDeadServers: true, DeadServerGrace: 2 * time.Minute},
		Limits:      Limits{HTTPMaxConnsPerClient: 200, HTTPIdleTimeout: 90 * time.Second}, Domain: "consul.",
		Telemetry: Telemetry{MetricsPrefix: "consul", FilterDefault: true, PrometheusRetentionTime: time.Minute},
		Overlay:   Overlay{Enabled: true, CIDR: "10.42.0.0/16", SubnetBits: 24, VNI: 1, Port: 4789},
		Scheduler: Scheduler{NodeLostGrace: time.Second}, Mesh: Mesh{Enabled: true},
		ACL: ACL{DefaultPolicy: "deny", DownPolicy: "extend-cache", TokenTTL: 30 * time.Second},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Default() = %+v\nwant %+v", c, want)
	}
}

func TestLoad(t *testing.T) {
	const hclNested = `
server = true
bootstrap_expect = 3
ports { http = 8501 }
node_meta { rack = "a" }
retry_join = ["10.0.0.2"]
retry_interval = "10s"
performance { raft_multiplier = 2 }
autopilot { cleanup_dead_servers = false, dead_server_grace = "5m" }
limits { http_max_conns_per_client = 100, http_idle_timeout = "30s" }
enable_debug = true
`
	const jsonNested = `{
  "server": true, "bootstrap_expect": 3, "ports": {"http": 8501},
  "node_meta": {"rack": "a"}, "retry_join": ["10.0.0.2"], "retry_interval": "10s",
  "performance": {"raft_multiplier": 2},
  "autopilot": {"cleanup_dead_servers": false, "dead_server_grace": "5m"},
  "limits": {"http_max_conns_per_client": 100, "http_idle_timeout": "30s"},
  "enable_debug": true
}`
	nested := func(t *testing.T, c *Config) {
		want := Default()
		want.Server, want.BootstrapExpect, want.Ports.HTTP = true, 3, 8501
		want.NodeMeta, want.RetryJoin, want.RetryInterval = map[string]string{"rack": "a"}, []string{"10.0.0.2"}, 10*time.Second
		want.Performance.RaftMultiplier = 2
		want.Autopilot = Autopilot{CleanupDeadServers: false, DeadServerGrace: 5 * time.Minute}
		want.Limits = Limits{HTTPMaxConnsPerClient: 100, HTTPIdleTimeout: 30 * time.Second}
		want.EnableDebug = true
		got := *c
		got.NodeName, got.DataDir, got.BindAddr, got.AdvertiseAddr, got.ConfigFiles = want.NodeName, "", want.BindAddr, "", nil
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("got  %+v\nwant %+v", &got, want)
		}
	}
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "flags only",
			args: []string{"-datacenter", "DC2", "-http-port", "-1", "-log-json", "-retry-max", "3"},
			check: func(t *testing.T, c *Config) {
				if c.Datacenter != "dc2" || c.Ports.HTTP != -1 || !c.LogJSON || c.RetryMax != 3 {
					t.Errorf("got %+v", c)
				}
				if c.AdvertiseAddr != "127.0.0.1" || c.ClientAddr != "127.0.0.1" {
					t.Errorf("advertise %q client %q", c.AdvertiseAddr, c.ClientAddr)
				}
			},
		},
		{name: "HCL nested blocks", files: map[string]string{"a.hcl": hclNested}, args: []string{"-config-file", "$DIR/a.hcl"}, check: nested},
		{name: "JSON nested blocks", files: map[string]string{"a.json": jsonNested}, args: []string{"-config-file", "$DIR/a.json"}, check: nested},
		{
			name:  "flags override files",
			files: map[string]string{"a.hcl": `datacenter = "east"` + "\n" + `log_level = "debug"` + "\nports { dns = 8653 }\n"},
			args:  []string{"-config-file", "$DIR/a.hcl", "-datacenter", "west", "-log-json=false"},
			check: func(t *testing.T, c *Config) {
				if c.Datacenter != "west" || c.LogLevel != "debug" || c.Ports.DNS != 8653 || c.Ports.HTTP != 8500 {
					t.Errorf("got dc %q level %q ports %+v", c.Datacenter, c.LogLevel, c.Ports)
				}
			},
		},
		{
			name: "later files win; lists append; maps merge",
			files: map[string]string{
				"a.json": `{"datacenter": "a", "log_level": "warn", "retry_join": ["x"], "node_meta": {"k1": "a", "k2": "a"},
				  "telemetry": {"prefix_filter": ["-consul.raft"], "statsd_address": "127.0.0.1:8125"}}`,
				"b.hcl": "datacenter = \"b\"\nretry_join = [\"y\"]\nnode_meta { k2 = \"b\" }\n" +
					"telemetry { prefix_filter = [\"+consul.raft.apply\"] }\n",
			},
			args: []string{"-config-file", "$DIR/a.json", "-config-file", "$DIR/b.hcl", "-retry-join", "z", "-node-meta", "k3:c"},
			check: func(t *testing.T, c *Config) {
				if c.Datacenter != "b" || c.LogLevel != "warn" {
					t.Errorf("dc %q level %q", c.Datacenter, c.LogLevel)
				}
				if want := []string{"x", "y", "z"}; !reflect.DeepEqual(c.RetryJoin, want) {
					t.Errorf("retry_join %q, want %q", c.RetryJoin, want)
				}
				if want := map[string]string{"k1": "a", "k2": "b", "k3": "c"}; !reflect.DeepEqual(c.NodeMeta, want) {
					t.Errorf("node_meta %v, want %v", c.NodeMeta, want)
				}
				// A nested list appends too (Consul's merge), and a block in
				// a later file keeps the earlier file's other keys.
				if want := []string{"-consul.raft", "+consul.raft.apply"}; !reflect.DeepEqual(c.Telemetry.PrefixFilter, want) {
					t.Errorf("telemetry.prefix_filter %q, want %q", c.Telemetry.PrefixFilter, want)
				}
				if c.Telemetry.StatsdAddress != "127.0.0.1:8125" {
					t.Errorf("telemetry.statsd_address %q", c.Telemetry.StatsdAddress)
				}
				if len(c.ConfigFiles) != 2 {
					t.Errorf("ConfigFiles %q", c.ConfigFiles)
				}
			},
		},
		{
			name: "config-dir loads json and hcl in lexical order",
			files: map[string]string{
				"d/20-b.hcl":   `datacenter = "b"`,
				"d/10-a.json":  `{"datacenter": "a", "log_level": "debug"}`,
				"d/30-c.txt":   `not config`,
				"d/40-x.json/": "",
			},
			args: []string{"-config-dir", "$DIR/d"},
			check: func(t *testing.T, c *Config) {
				if c.Datacenter != "b" || c.LogLevel != "debug" || len(c.ConfigDirs) != 1 {
					t.Errorf("dc %q level %q dirs %q", c.Datacenter, c.LogLevel, c.ConfigDirs)
				}
			},
		},
		{
			name: "services checks and DNS keys stored raw",
			files: map[string]string{
				"a.hcl": `
service { name = "web" port = 80 check { http = "http://x" } checks = [{ ttl = "5s" }] }
service { name = "db" }
check { name = "c1" }
recursors = ["8.8.8.8"]
domain = "shoal."
dns_config { allow_stale = true }
`,
				"b.json": `{"services": [{"name": "api"}], "service": {"name": "cache"}, "checks": [{"name": "c2"}]}`,
			},
			args: []string{"-config-file", "$DIR/a.hcl", "-config-file", "$DIR/b.json", "-recursor", "1.1.1.1", "-alt-domain", "alt."},
			check: func(t *testing.T, c *Config) {
				var names []string
				for _, s := range c.Services {
					names = append(names, s["name"].(string))
				}
				if want := []string{"web", "db", "api", "cache"}; !reflect.DeepEqual(names, want) {
					t.Errorf("service names %q, want %q", names, want)
				}
				web := c.Services[0]
				if web["port"] != float64(80) || !reflect.DeepEqual(web["check"], map[string]interface{}{"http": "http://x"}) ||
					!reflect.DeepEqual(web["checks"], []interface{}{map[string]interface{}{"ttl": "5s"}}) {
					t.Errorf("web = %#v", web)
				}
				if len(c.Checks) != 2 || c.Checks[0]["name"] != "c1" || c.Checks[1]["name"] != "c2" {
					t.Errorf("checks %v", c.Checks)
				}
				if !reflect.DeepEqual(c.Recursors, []string{"8.8.8.8", "1.1.1.1"}) || c.Domain != "shoal." || c.AltDomain != "alt." {
					t.Errorf("recursors %q domain %q alt %q", c.Recursors, c.Domain, c.AltDomain)
				}
				if !reflect.DeepEqual(c.DNSConfig, map[string]interface{}{"allow_stale": true}) {
					t.Errorf("dns_config %v", c.DNSConfig)
				}
			},
		},
		{
			name: "registry credentials from HCL and JSON",
			files: map[string]string{
				"a.hcl":  "registry_auth {\n  private {\n    server = \"reg.example:5000\"\n    username = \"ci\"\n    password_file = \"/run/secrets/reg\"\n  }\n}\n",
				"b.json": `{"registry_auth": {"hub": {"server": "docker.io", "username": "me", "password": "pw"}}}`,
			},
			args: []string{"-dev", "-config-file", "$DIR/a.hcl", "-config-file", "$DIR/b.json"},
			check: func(t *testing.T, c *Config) {
				want := map[string]RegistryCredential{
					"private": {Server: "reg.example:5000", Username: "ci", PasswordFile: "/run/secrets/reg"},
					"hub":     {Server: "docker.io", Username: "me", Password: "pw"},
				}
				if !reflect.DeepEqual(c.RegistryAuth, want) {
					t.Errorf("registry_auth = %+v, want %+v", c.RegistryAuth, want)
				}
			},
		},
		{
			// A Consul telemetry block: what Shoal implements is read, the
			// rest (host names in metric names, DogStatsD, Circonus) is
			// listed as ignored.
			name: "telemetry block",
			files: map[string]string{"a.hcl": `telemetry {
  prefix_filter = ["-consul.raft.net", "+consul.raft.net.rpcEnqueue", "-consul.api"]
  filter_default = false
  metrics_prefix = "shoal"
  statsd_address = "127.0.0.1:8125"
  statsite_address = "stats.internal:8125"
  prometheus_retention_time = "24h"
  disable_hostname = true
  dogstatsd_addr = "127.0.0.1:8126"
}
`},
			args: []string{"-dev", "-config-file", "$DIR/a.hcl"},
			check: func(t *testing.T, c *Config) {
				want := Telemetry{
					MetricsPrefix: "shoal", FilterDefault: false,
					PrefixFilter:  []string{"-consul.raft.net", "+consul.raft.net.rpcEnqueue", "-consul.api"},
					StatsdAddress: "127.0.0.1:8125", StatsiteAddress: "stats.internal:8125",
					PrometheusRetentionTime: 24 * time.Hour,
				}
				if !reflect.DeepEqual(c.Telemetry, want) {
					t.Errorf("telemetry = %+v, want %+v", c.Telemetry, want)
				}
				allowed, blocked := c.Telemetry.Filters()
				if !reflect.DeepEqual(allowed, []string{"consul.raft.net.rpcEnqueue"}) || !reflect.DeepEqual(blocked, []string{"consul.raft.net", "consul.api"}) {
					t.Errorf("Filters() = %q, %q", allowed, blocked)
				}
				if got := strings.Join(c.Ignored, ","); got != "telemetry.disable_hostname,telemetry.dogstatsd_addr" {
					t.Errorf("ignored %q", got)
				}
			},
		},
		{
			name: "dev mode implications",
			args: []string{"-dev", "-data-dir="},
			check: func(t *testing.T, c *Config) {
				if !c.Server || !c.Bootstrap || c.BindAddr != "127.0.0.1" || c.ClientAddr != "127.0.0.1" || c.AdvertiseAddr != "127.0.0.1" {
					t.Errorf("got %+v", c)
				}
				if c.Overlay.Enabled {
					t.Error("-dev left the overlay on")
				}
			},
		},
		{
			name: "dev mode with -overlay",
			args: []string{"-dev", "-overlay"},
			check: func(t *testing.T, c *Config) {
				if !c.Overlay.Enabled {
					t.Error("-dev -overlay left the overlay off")
				}
			},
		},
		{
			name:  "dev mode with overlay.enabled in a file",
			files: map[string]string{"a.hcl": "overlay { enabled = true }\n"},
			args:  []string{"-dev", "-config-file", "$DIR/a.hcl"},
			check: func(t *testing.T, c *Config) {
				if !c.Overlay.Enabled {
					t.Error("-dev with overlay.enabled = true left the overlay off")
				}
			},
		},
		{
			name:  "dev mode keeps explicit addresses",
			files: map[string]string{"a.json": `{"client_addr": "0.0.0.0"}`},
			args:  []string{"-config-file", "$DIR/a.json", "-dev", "-bind", "127.0.0.2"},
			check: func(t *testing.T, c *Config) {
				if c.BindAddr != "127.0.0.2" || c.ClientAddr != "0.0.0.0" || c.AdvertiseAddr != "127.0.0.2" {
					t.Errorf("bind %q client %q advertise %q", c.BindAddr, c.ClientAddr, c.AdvertiseAddr)
				}
			},
		},
		{
			name: "node-meta parsing",
			args: []string{"-node-meta", "rack:r1", "-node-meta", "url:http://x:1", "-node-meta", "empty:"},
			check: func(t *testing.T, c *Config) {
				if want := map[string]string{"rack": "r1", "url": "http://x:1", "empty": ""}; !reflect.DeepEqual(c.NodeMeta, want) {
					t.Errorf("node_meta %v, want %v", c.NodeMeta, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			c, err := Load(loadArgs(dir, tt.args))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string // substrings of the error; $DIR is expanded
	}{
		{name: "unknown flag", args: []string{"-nope"}, want: []string{"config: flag provided but not defined: -nope"}},
		{name: "bad int flag", args: []string{"-http-port", "x"}, want: []string{"-http-port", "not an integer"}},
		{name: "bad duration flag", args: []string{"-retry-interval", "5"}, want: []string{"-retry-interval", "not a duration"}},
		{name: "node-meta without colon", args: []string{"-node-meta", "rack"}, want: []string{"-node-meta", `want "key:value"`}},
		{name: "node-meta empty key", args: []string{"-node-meta", ":v"}, want: []string{"-node-meta", "empty key"}},
		{name: "extra argument", args: []string{"extra"}, want: []string{`unexpected argument "extra"`}},
		{name: "missing file", args: []string{"-config-file", "$DIR/none.hcl"}, want: []string{"$DIR/none.hcl"}},
		{name: "missing dir", args: []string{"-config-dir", "$DIR/none"}, want: []string{"$DIR/none"}},
		{name: "unknown format", files: map[string]string{"a.yaml": ""}, args: []string{"-config-file", "$DIR/a.yaml"}, want: []string{"$DIR/a.yaml: unknown format"}},
		{
			name:  "unknown key",
			files: map[string]string{"a.hcl": "server = true\nbogus = 1\n"},
			args:  []string{"-config-file", "$DIR/a.hcl"},
			want:  []string{`config: $DIR/a.hcl: unknown key "bogus"`},
		},
		{
			name:  "registry credential without password",
			files: map[string]string{"a.json": `{"registry_auth": {"private": {"server": "reg:5000", "username": "ci"}}}`},
			args:  []string{"-dev", "-config-file", "$DIR/a.json"},
			want:  []string{`config: registry_auth "private": set exactly one of password and password_file`},
		},
		{
			name:  "registry credential name",
			files: map[string]string{"a.json": `{"registry_auth": {"My Reg": {"server": "reg:5000", "username": "ci", "password": "x"}}}`},
			args:  []string{"-dev", "-config-file", "$DIR/a.json"},
			want:  []string{`config: registry_auth "My Reg": the name must be a lowercase DNS label`},
		},
		{
			name:  "telemetry filter rule without a sign",
			files: map[string]string{"a.hcl": "telemetry { prefix_filter = [\"consul.raft\"] }\n"},
			args:  []string{"-dev", "-config-file", "$DIR/a.hcl"},
			want:  []string{`telemetry.prefix_filter: rule "consul.raft" must be "+" or "-" followed by a metric name prefix`},
		},
		{
			name:  "telemetry statsd address without a port",
			files: map[string]string{"a.json": `{"telemetry": {"statsd_address": "localhost"}}`},
			args:  []string{"-dev", "-config-file", "$DIR/a.json"},
			want:  []string{`telemetry.statsd_address: want host:port, got "localhost"`},
		},
		{
			name:  "telemetry negative retention",
			files: map[string]string{"a.json": `{"telemetry": {"prometheus_retention_time": "-1s"}}`},
			args:  []string{"-dev", "-config-file", "$DIR/a.json"},
			want:  []string{`telemetry.prometheus_retention_time must not be negative, got -1s`},
		},
		{
			name:  "unknown nested key",
			files: map[string]string{"d/a.json": `{"ports": {"htp": 1}}`},
			args:  []string{"-config-dir", "$DIR/d"},
			want:  []string{`config: $DIR/d/a.json: unknown key "ports.htp"`},
		},
		{
			name:  "JSON syntax error",
			files: map[string]string{"a.json": "{\n  \"server\": true,\n  \"dev\": tru\n}\n"},
			args:  []string{"-config-file", "$DIR/a.json"},
			want:  []string{"config: $DIR/a.json:3:"},
		},
		{
			name:  "JSON truncated",
			files: map[string]string{"a.json": "{\n  \"server\": true,\n"},
			args:  []string{"-config-file", "$DIR/a.json"},
			want:  []string{"config: $DIR/a.json:2:", "unexpected end"},
		},
		{
			name:  "HCL syntax error",
			files: map[string]string{"a.hcl": "server = true\n\nports { http = = 1 }\n"},
			args:  []string{"-config-file", "$DIR/a.hcl"},
			want:  []string{"config: $DIR/a.hcl:3:"},
		},
		{
			name:  "HCL unterminated string",
			files: map[string]string{"a.hcl": "server = true\nnode_name = \"x\n"},
			args:  []string{"-config-file", "$DIR/a.hcl"},
			want:  []string{"config: $DIR/a.hcl:2:", "literal not terminated"},
		},
		{
			name:  "bad duration in file",
			files: map[string]string{"a.hcl": `autopilot { dead_server_grace = 5 }`},
			args:  []string{"-config-file", "$DIR/a.hcl"},
			want:  []string{"$DIR/a.hcl: autopilot.dead_server_grace: want a duration"},
		},
		{
			name:  "wrong type in file",
			files: map[string]string{"a.json": `{"ports": {"http": "80"}}`},
			args:  []string{"-config-file", "$DIR/a.json"},
			want:  []string{"$DIR/a.json: ports.http: cannot use a string as int"},
		},
		{
			name:  "object expected",
			files: map[string]string{"a.json": `{"limits": 5}`},
			args:  []string{"-config-file", "$DIR/a.json"},
			want:  []string{"$DIR/a.json: limits: want an object"},
		},
		{name: "validation runs", args: []string{"-bootstrap-expect", "3"}, want: []string{"config: -bootstrap-expect requires -server"}},
		{name: "dev with bootstrap-expect", args: []string{"-dev", "-bootstrap-expect", "3"}, want: []string{"not allowed with -dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(loadArgs(dir, tt.args))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
			for _, w := range expand(tt.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	if _, err := Load([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestLoadAdvertisePrivateIP(t *testing.T) {
	c, err := Load([]string{"-data-dir", t.TempDir(), "-node", "n1"})
	if err != nil {
		if !strings.Contains(err.Error(), "-advertise") {
			t.Fatalf("error %q does not suggest -advertise", err)
		}
		t.Skip("no private IPv4 address here:", err)
	}
	if c.BindAddr != "0.0.0.0" || c.AdvertiseAddr == "" || c.AdvertiseAddr == "0.0.0.0" {
		t.Fatalf("bind %q advertise %q", c.BindAddr, c.AdvertiseAddr)
	}
}

func TestValidate(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // substring of the error; "" for none
	}{
		{"valid", func(c *Config) {}, ""},
		{"valid dev without data dir", func(c *Config) { c.DevMode, c.DataDir = true, "" }, ""},
		{"valid bootstrap expect", func(c *Config) { c.Server, c.BootstrapExpect = true, 3 }, ""},
		{"valid missing data dir is created later", func(c *Config) { c.DataDir = filepath.Join(tmp, "new") }, ""},
		{"valid disabled HTTP and DNS", func(c *Config) { c.Ports.HTTP, c.Ports.DNS = -1, -1 }, ""},
		{"valid same port on different addresses", func(c *Config) { c.ClientAddr, c.Ports.HTTP = "127.0.0.2", 8300 }, ""},
		{"valid client list", func(c *Config) { c.ClientAddr = "127.0.0.1 ::1" }, ""},
		{"valid log level case", func(c *Config) { c.LogLevel = "DEBUG" }, ""},
		{"bootstrap-expect without server", func(c *Config) { c.BootstrapExpect = 3 }, "-bootstrap-expect requires -server"},
		{"bootstrap with bootstrap-expect", func(c *Config) { c.Server, c.Bootstrap, c.BootstrapExpect = true, true, 3 }, "-bootstrap and -bootstrap-expect"},
		{"bootstrap without server", func(c *Config) { c.Bootstrap = true }, "-bootstrap requires -server"},
		{"negative bootstrap-expect", func(c *Config) { c.Server, c.BootstrapExpect = true, -1 }, "must not be negative"},
		{"missing data dir", func(c *Config) { c.DataDir = "" }, "-data-dir is required (or use -dev)"},
		{"data dir is a file", func(c *Config) { c.DataDir = file }, "is not a directory"},
		{"empty node", func(c *Config) { c.NodeName = "" }, "-node must not be empty"},
		{"node with bad characters", func(c *Config) { c.NodeName = "web_1.x_y" }, `not allowed in DNS names: "_."`},
		{"node too long", func(c *Config) { c.NodeName = strings.Repeat("a", 64) }, "longer than 63"},
		{"bad datacenter", func(c *Config) { c.Datacenter = "dc 1" }, `-datacenter "dc 1" contains`},
		{"bad node id", func(c *Config) { c.NodeID = "1234" }, "-node-id \"1234\" is not a UUID"},
		{"valid node id", func(c *Config) { c.NodeID = "0bd52b8f-5d7b-4e3d-9f62-3e9e3a4ad7ac" }, ""},
		{"empty node meta key", func(c *Config) { c.NodeMeta = map[string]string{"": "v"} }, "-node-meta keys"},
		{"bad bind", func(c *Config) { c.BindAddr = "localhost" }, `-bind "localhost" is not an IP address`},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "0.0.0.0" }, "-advertise"},
		{"bad client", func(c *Config) { c.ClientAddr = "127.0.0.1 nope" }, `-client "nope"`},
		{"empty client", func(c *Config) { c.ClientAddr = " " }, "-client must list"},
		{"HTTP port out of range", func(c *Config) { c.Ports.HTTP = 70000 }, "-http-port must be between 1 and 65535, or -1"},
		{"zero DNS port", func(c *Config) { c.Ports.DNS = 0 }, "-dns-port"},
		{"serf port cannot be disabled", func(c *Config) { c.Ports.SerfLAN = -1 }, "-serf-lan-port must be between 1 and 65535, got -1"},
		{"duplicate client ports", func(c *Config) { c.Ports.DNS = 8500 }, "-http-port and -dns-port are both 8500"},
		{"duplicate bind ports", func(c *Config) { c.Ports.Server = 8301 }, "-serf-lan-port and -server-port"},
		{"duplicate port via unspecified client", func(c *Config) { c.ClientAddr, c.Ports.HTTP = "0.0.0.0", 8300 }, "-http-port and -server-port"},
		{"bad log level", func(c *Config) { c.LogLevel = "verbose" }, `-log-level "verbose"`},
		{"raft multiplier too low", func(c *Config) { c.Performance.RaftMultiplier = 0 }, "-raft-multiplier must be between 1 and 10"},
		{"raft multiplier too high", func(c *Config) { c.Performance.RaftMultiplier = 11 }, "-raft-multiplier"},
		{"retry interval zero", func(c *Config) { c.RetryInterval = 0 }, "-retry-interval must be positive"},
		{"negative retry max", func(c *Config) { c.RetryMax = -1 }, "-retry-max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.NodeName, c.DataDir, c.BindAddr = "n1", tmp, "127.0.0.1"
			tt.modify(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	newFlagSet(&flagState{}).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(u, "\n  -"+f.Name+" ") {
			t.Errorf("usage does not list -%s", f.Name)
		}
	})
	for _, name := range []string{"dev", "retry-join", "node-meta KEY:VALUE", "raft-multiplier N", "config-dir PATH", "recursor"} {
		if !strings.Contains(u, "-"+name) {
			t.Errorf("usage does not list -%s", name)
		}
	}
}

func TestOverlayAndSchedulerSettings(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		file    string
		check   func(c *Config) bool
		wantErr string
	}{
		{"defaults on", nil, "", func(c *Config) bool { return c.Overlay.Enabled && c.Overlay.CIDR == "10.42.0.0/16" }, ""},
		{"flags", []string{"-overlay=false", "-overlay-cidr", "10.50.0.0/16", "-overlay-vni", "7", "-node-lost-grace", "5s"}, "",
			func(c *Config) bool {
				return !c.Overlay.Enabled && c.Overlay.CIDR == "10.50.0.0/16" && c.Overlay.VNI == 7 && c.Scheduler.NodeLostGrace == 5*time.Second
			}, ""},
		{"hcl file", nil, "overlay {\n  cidr = \"10.60.0.0/16\"\n  port = 8472\n}\nscheduler {\n  node_lost_grace = \"1s\"\n}\n",
			func(c *Config) bool {
				return c.Overlay.CIDR == "10.60.0.0/16" && c.Overlay.Port == 8472 && c.Scheduler.NodeLostGrace == time.Second
			}, ""},
		{"host permissions default off", nil, "", func(c *Config) bool { return len(c.Scheduler.Allows()) == 0 }, ""},
		{"host permissions from a file", nil, "scheduler {\n  allow_privileged = true\n  allow_host_volumes = true\n}\n",
			func(c *Config) bool {
				return slices.Equal(c.Scheduler.Allows(), []sched.Permission{sched.AllowPrivileged, sched.AllowHostVolumes})
			}, ""},
		{"check_update_interval from a file", nil, "check_update_interval = \"30s\"\n",
			func(c *Config) bool { return c.CheckUpdateInterval == 30*time.Second }, ""},
		{"consul-only settings are ignored and listed", nil,
			"ui_config {\n  enabled = true\n}\nrejoin_after_leave = true\nports {\n  grpc = 8502\n  http = 8501\n}\n",
			func(c *Config) bool {
				return c.Ports.HTTP == 8501 && strings.Join(c.Ignored, ",") == "ports.grpc,rejoin_after_leave,ui_config"
			}, ""},
		{"raft snapshot settings from a file, as Consul's", nil,
			"raft_snapshot_threshold = 16384\nraft_snapshot_interval = \"30s\"\nraft_trailing_logs = 20000\n",
			func(c *Config) bool {
				return c.RaftSnapshotThreshold == 16384 && c.RaftSnapshotInterval == 30*time.Second && c.RaftTrailingLogs == 20000 &&
					len(c.Ignored) == 0
			}, ""},
		{"autopilot block, as Consul's", nil,
			"autopilot {\n  min_quorum = 3\n  last_contact_threshold = \"500ms\"\n  max_trailing_logs = 100\n  server_stabilization_time = \"20s\"\n}\n",
			func(c *Config) bool {
				a := c.Autopilot
				return a.MinQuorum == 3 && a.LastContactThreshold == 500*time.Millisecond && a.MaxTrailingLogs == 100 &&
					a.ServerStabilizationTime == 20*time.Second && a.CleanupDeadServers && len(c.Ignored) == 0
			}, ""},
		{"rpc_hold_timeout, as Consul's", nil, "performance {\n  rpc_hold_timeout = \"15s\"\n}\n",
			func(c *Config) bool { return c.Performance.RPCHoldTimeout == 15*time.Second && len(c.Ignored) == 0 }, ""},
		{"negative min_quorum", nil, "autopilot {\n  min_quorum = -1\n}\n", nil, "autopilot.min_quorum must not be negative"},
		{"raft snapshot interval under a second", nil, "raft_snapshot_interval = \"10ms\"\n", nil,
			"raft_snapshot_interval must be at least 1s, got 10ms"},
		{"negative raft trailing logs", nil, "raft_trailing_logs = -1\n", nil, "raft_trailing_logs must not be negative"},
		{"leave settings unset", nil, "",
			func(c *Config) bool { return c.LeaveOnTerminate == nil && c.SkipLeaveOnInterrupt == nil }, ""},
		{"leave settings from a file, as Consul's", nil, "leave_on_terminate = false\nskip_leave_on_interrupt = true\n",
			func(c *Config) bool {
				return c.LeaveOnTerminate != nil && !*c.LeaveOnTerminate && c.SkipLeaveOnInterrupt != nil && *c.SkipLeaveOnInterrupt &&
					len(c.Ignored) == 0
			}, ""},
		{"leave_on_terminate must be a bool", nil, "leave_on_terminate = \"no\"\n", nil, "leave_on_terminate"},
		{"auto_encrypt is refused", nil, "auto_encrypt {\n  tls = true\n}\n", nil, `"auto_encrypt" is not supported by Shoal`},
		{"acl block", nil, "acl {\n  enabled = true\n  default_policy = \"allow\"\n  down_policy = \"deny\"\n  tokens {\n    initial_management = \"m\"\n    agent = \"a\"\n    default = \"d\"\n  }\n}\n",
			func(c *Config) bool {
				return c.ACL.Enabled && c.ACL.DefaultPolicy == "allow" && c.ACL.DownPolicy == "deny" &&
					c.ACL.Tokens == ACLTokens{InitialManagement: "m", Agent: "a", Default: "d"} && c.ACL.TokenTTL == 30*time.Second
			}, ""},
		{"acl defaults", nil, "", func(c *Config) bool {
			return !c.ACL.Enabled && c.ACL.DefaultPolicy == "deny" && c.ACL.DownPolicy == "extend-cache"
		}, ""},
		{"acl bad default_policy", nil, "acl {\n  default_policy = \"maybe\"\n}\n", nil, "acl.default_policy"},
		{"acl bad down_policy", nil, "acl {\n  down_policy = \"later\"\n}\n", nil, "acl.down_policy"},
		{"acl unknown key", nil, "acl {\n  enabeld = true\n}\n", nil, `unknown key "acl.enabeld"`},
		{"bad cidr", []string{"-overlay-cidr", "nope"}, "", nil, "-overlay-cidr"},
		{"ipv6 cidr", []string{"-overlay-cidr", "fd00::/48"}, "", nil, "not an IPv4 CIDR"},
		{"vni range", []string{"-overlay-vni", "0"}, "", nil, "-overlay-vni 0"},
		{"cidr too small for /24s", []string{"-overlay-cidr", "10.1.2.0/25"}, "", nil, "subnet_bits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				path := dir + "/" + strings.ReplaceAll(tc.name, " ", "_") + ".hcl"
				if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-config-file", path)
			}
			c, err := Load(loadArgs(dir, args))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("err %v, config %+v %+v", err, c.Overlay, c.Scheduler)
			}
		})
	}
	c, err := Load([]string{"-dev"})
	if err != nil || c.Overlay.Enabled {
		t.Fatalf("-dev must turn the overlay off: %v %+v", err, c.Overlay)
	}
	if got := c.Scheduler.Allows(); !slices.Equal(got, sched.Permissions) {
		t.Errorf("-dev allows %v, want every host permission", got)
	}
	path := dir + "/dev_allow.json"
	if err := os.WriteFile(path, []byte(`{"scheduler": {"allow_host_network": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Load([]string{"-dev", "-config-file", path})
	if got := c.Scheduler.Allows(); err != nil || !slices.Equal(got, []sched.Permission{sched.AllowHostNetwork}) {
		t.Errorf("-dev with allow_host_network set allows %v (err %v), want only host_network", got, err)
	}
}
