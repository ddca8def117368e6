// Package config defines the agent's configuration: its defaults, the flags
// and JSON/HCL files it is read from, and the rules that reject invalid
// combinations before anything starts.
package config

import (
	"os"
	"strings"
	"time"

	"github.com/shoalproject/shoal/sched"
)

// Config is the complete, merged configuration of one agent. Field comments
// state defaults; Default returns them. Names follow Consul's configuration
// keys so existing files keep working.
type Config struct {
	// DevMode runs a single in-memory server+client node (-dev). It implies
	// Server, Bootstrap, an in-memory Raft, BindAddr/ClientAddr 127.0.0.1.
	DevMode bool `json:"dev"`
	// Server runs Raft and the server RPC endpoints (-server). Default false.
	Server bool `json:"server"`
	// Bootstrap makes this server elect itself alone (-bootstrap). Default false.
	Bootstrap bool `json:"bootstrap"`
	// BootstrapExpect is the number of servers to wait for before
	// bootstrapping Raft (-bootstrap-expect). 0 disables it.
	BootstrapExpect int `json:"bootstrap_expect"`

	// NodeName is the node's unique name (-node). Default: the hostname.
	NodeName string `json:"node_name"`
	// NodeID is a UUID for the node (-node-id). Default: generated once and
	// persisted under DataDir (random per start in dev mode).
	NodeID string `json:"node_id"`
	// Datacenter (-datacenter). Default "dc1".
	Datacenter string `json:"datacenter"`
	// DataDir holds Raft data and local state (-data-dir). Required outside dev mode.
	DataDir string `json:"data_dir"`
	// NodeMeta is arbitrary key/value metadata for the node (-node-meta k:v).
	NodeMeta map[string]string `json:"node_meta"`

	// BindAddr is the address for cluster traffic: Serf and server RPC
	// (-bind). Default "0.0.0.0" ("127.0.0.1" in dev mode).
	BindAddr string `json:"bind_addr"`
	// AdvertiseAddr is the address other nodes use to reach this one
	// (-advertise). Default: BindAddr, or the first private IPv4 address
	// when BindAddr is unspecified (0.0.0.0).
	AdvertiseAddr string `json:"advertise_addr"`
	// ClientAddr is the address the HTTP and DNS servers listen on
	// (-client). Default "127.0.0.1".
	ClientAddr string `json:"client_addr"`
	// Ports of the agent's listeners.
	Ports Ports `json:"ports"`

	// StartJoin lists addresses to join at start; failure is fatal (-join).
	StartJoin []string `json:"start_join"`
	// RetryJoin lists addresses to join, retried until one succeeds (-retry-join).
	RetryJoin []string `json:"retry_join"`
	// RetryInterval between join attempts (-retry-interval). Default 30s.
	RetryInterval time.Duration `json:"retry_interval"`
	// RetryMax bounds join attempts; 0 retries forever (-retry-max).
	RetryMax int `json:"retry_max"`

	// LogLevel is one of trace, debug, info, warn, error (-log-level). Default "info".
	LogLevel string `json:"log_level"`
	// LogJSON writes logs as JSON (-log-json). Default false.
	LogJSON bool `json:"log_json"`

	// Performance tunes Raft timing.
	Performance Performance `json:"performance"`
	// Autopilot controls automatic server management.
	Autopilot Autopilot `json:"autopilot"`
	// Limits bounds client connections.
	Limits Limits `json:"limits"`
	// Telemetry configures metrics: names, filters and sinks (the
	// telemetry block, Consul's keys).
	Telemetry Telemetry `json:"telemetry"`

	// Security is gossip encryption and TLS (security.go), at the top
	// level of a file as in Consul.
	Security

	// ACL configures access control (the acl block).
	ACL ACL `json:"acl"`

	// Overlay configures the VXLAN overlay network.
	Overlay Overlay `json:"overlay"`
	// Mesh configures the routing mesh and service virtual IPs.
	Mesh Mesh `json:"mesh"`
	// Scheduler tunes the KV-driven scheduler.
	Scheduler Scheduler `json:"scheduler"`
	// RegistryAuth holds image-registry logins by name; a spec refers to
	// one with "registry_auth": "<name>" (or, naming none, gets the one
	// whose server is its image's registry), so that no secret is written
	// in a spec. Default none. A Shoal addition.
	RegistryAuth map[string]RegistryCredential `json:"registry_auth"`

	// CheckUpdateInterval defers check updates that change only the
	// output by up to this long (check_update_interval, as Consul). Default
	// 5m; 0 keeps the default, a negative value disables the deferral.
	CheckUpdateInterval time.Duration `json:"check_update_interval"`

	// EnableLocalScriptChecks allows script checks defined in local
	// config files (-enable-local-script-checks). Default false.
	EnableLocalScriptChecks bool `json:"enable_local_script_checks"`

	// RaftSnapshotThreshold is how many Raft entries a server appends
	// before it snapshots its state and compacts its log
	// (raft_snapshot_threshold, as Consul). Default 0: Raft's 8192.
	RaftSnapshotThreshold int `json:"raft_snapshot_threshold"`
	// RaftSnapshotInterval is how often a server checks whether to take a
	// snapshot (raft_snapshot_interval, as Consul; each check waits a
	// random part of it more). Default 0: Raft's 120s.
	RaftSnapshotInterval time.Duration `json:"raft_snapshot_interval"`
	// RaftTrailingLogs is how many entries a snapshot leaves in the log,
	// so that a follower that is that far behind catches up from the log
	// rather than from a whole snapshot (raft_trailing_logs, as Consul).
	// Default 0: Raft's 10240.
	RaftTrailingLogs int `json:"raft_trailing_logs"`

	// LeaveOnTerminate, when false, makes SIGTERM exit without leaving
	// the cluster (leave_on_terminate, as Consul). Unset or true, the
	// agent leaves gracefully first, servers included; Consul's servers
	// do not by default (docs/configuration.md, "Stopping an agent").
	LeaveOnTerminate *bool `json:"leave_on_terminate"`
	// SkipLeaveOnInterrupt, when true, makes SIGINT (ctrl-C) exit without
	// leaving (skip_leave_on_interrupt, as Consul). Unset or false, the
	// agent leaves gracefully first; Consul's servers skip the leave by
	// default.
	SkipLeaveOnInterrupt *bool `json:"skip_leave_on_interrupt"`

	// EnableDebug serves Go's profiler (net/http/pprof) under /debug/pprof/
	// on the HTTP API, as Consul's enable_debug. Default false: profiles
	// expose internals and cost CPU while taken.
	EnableDebug bool `json:"enable_debug"`

	// Services holds raw service definitions from the "service" and
	// "services" file keys, in load order. Values are as encoding/json
	// decodes them (numbers are float64) whether the file was JSON or HCL.
	Services []map[string]interface{} `json:"services"`
	// Checks holds raw check definitions from the "check" and "checks"
	// file keys, in load order, decoded like Services.
	Checks []map[string]interface{} `json:"checks"`
	// Watches holds raw watch definitions (Consul's watches: a blocking
	// query and a handler the agent runs on every change), decoded like
	// Services; ParseWatches checks and types them.
	Watches []map[string]interface{} `json:"watches"`

	// Recursors are upstream DNS servers for non-Consul names (-recursor).
	Recursors []string `json:"recursors"`
	// Domain is the DNS domain served (-domain). Default "consul.".
	Domain string `json:"domain"`
	// AltDomain is an additional DNS domain served (-alt-domain). Default none.
	AltDomain string `json:"alt_domain"`
	// DNSConfig holds the raw "dns_config" block, decoded like Services.
	DNSConfig map[string]interface{} `json:"dns_config"`

	// EnableScriptChecks is Consul's enable_script_checks; Shoal does not
	// tell local from API-registered checks, so it implies
	// EnableLocalScriptChecks.
	EnableScriptChecks bool `json:"enable_script_checks"`

	// overlaySet records that -overlay or overlay.enabled was given, which
	// -dev then leaves as it is.
	overlaySet bool
	// allowSet records that a scheduler.allow_* setting was given, which
	// -dev then leaves as it is.
	allowSet bool

	// Ignored lists the Consul settings found in config files that Shoal
	// does not implement and ignored (the agent logs them).
	Ignored []string `json:"-"`

	// ConfigFiles and ConfigDirs list what was loaded, in order (for
	// reload and for /v1/agent/self): the -config-file and -config-dir
	// arguments. Not settable from files.
	ConfigFiles []string `json:"-"`
	ConfigDirs  []string `json:"-"`
}

// Default returns the defaults stated in the field comments. NodeName is
// the host name up to its first dot, since dots are not allowed in node
// names; it is empty if the host name is unknown.
func Default() *Config {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	return &Config{
		NodeName:      host,
		Datacenter:    "dc1",
		BindAddr:      "0.0.0.0",
		ClientAddr:    "127.0.0.1",
		Ports:         Ports{HTTP: 8500, HTTPS: -1, DNS: 8600, SerfLAN: 8301, Server: 8300},
		RetryInterval: 30 * time.Second,
		LogLevel:      "info",
		Performance:   Performance{RaftMultiplier: 1},
		Autopilot:     Autopilot{CleanupDeadServers: true, DeadServerGrace: 2 * time.Minute},
		Limits:        Limits{HTTPMaxConnsPerClient: 200, HTTPIdleTimeout: 90 * time.Second},
		Telemetry:     Telemetry{MetricsPrefix: "consul", FilterDefault: true, PrometheusRetentionTime: time.Minute},
		Domain:        "consul.",
		Overlay:       Overlay{Enabled: true, CIDR: "10.42.0.0/16", SubnetBits: 24, VNI: 1, Port: 4789},
		Scheduler:     Scheduler{NodeLostGrace: time.Second},
		ACL:           ACL{DefaultPolicy: "deny", DownPolicy: "extend-cache", TokenTTL: 30 * time.Second},
		Mesh:          Mesh{Enabled: true},
	}
}

// Ports of the agent's listeners. A negative port disables that listener.
type Ports struct {
	// HTTP API (-http-port). Default 8500.
	HTTP int `json:"http"`
	// HTTPS API (-https-port). Default -1 (off); Consul's usual is 8501.
	// Needs cert_file and key_file.
	HTTPS int `json:"https"`
	// DNS, UDP and TCP (-dns-port). Default 8600.
	DNS int `json:"dns"`
	// SerfLAN gossip, UDP and TCP (-serf-lan-port). Default 8301.
	SerfLAN int `json:"serf_lan"`
	// Server RPC and Raft (-server-port). Default 8300.
	Server int `json:"server"`
}

// Performance tunes Raft timing.
type Performance struct {
	// RaftMultiplier scales Raft's timeouts (1..10). Default 1: Raft's own
	// LAN defaults (1 s heartbeat timeout), which elect a new leader in about 2 s.
	RaftMultiplier int `json:"raft_multiplier"`
	// RPCHoldTimeout is how long a request waits for a leader (during an
	// election) before it fails with "No cluster leader"
	// (rpc_hold_timeout, as Consul). Default 0: 7s, Consul's.
	RPCHoldTimeout time.Duration `json:"rpc_hold_timeout"`
}

// Autopilot controls automatic server management.
type Autopilot struct {
	// CleanupDeadServers removes servers that stay failed for
	// DeadServerGrace from the Raft configuration, as long as the remaining
	// healthy voters keep a quorum. Default true.
	CleanupDeadServers bool `json:"cleanup_dead_servers"`
	// DeadServerGrace is how long a server must be failed before it is
	// removed. Default 2m.
	DeadServerGrace time.Duration `json:"dead_server_grace"`
	// MinQuorum: dead-server cleanup never leaves fewer voters than this
	// (min_quorum, as Consul). Default 0: no floor.
	MinQuorum int `json:"min_quorum"`
	// LastContactThreshold, MaxTrailingLogs and ServerStabilizationTime
	// are autopilot's health thresholds (Consul's keys). Zero: Consul's
	// defaults, 200ms, 250 and 10s.
	LastContactThreshold    time.Duration `json:"last_contact_threshold"`
	MaxTrailingLogs         int           `json:"max_trailing_logs"`
	ServerStabilizationTime time.Duration `json:"server_stabilization_time"`
}

// Limits bounds client connections.
type Limits struct {
	// HTTPMaxConnsPerClient caps concurrent HTTP connections from one client
	// IP; 0 means unlimited. Default 200, as Consul's; a connection over it
	// is answered 429.
	HTTPMaxConnsPerClient int `json:"http_max_conns_per_client"`
	// HTTPIdleTimeout closes a keep-alive HTTP connection that has carried
	// no request for this long; a blocking query in progress is not idle.
	// Default 90s. A Shoal addition.
	HTTPIdleTimeout time.Duration `json:"http_idle_timeout"`
}

// Telemetry configures the agent's metrics, with Consul's keys. Every
// agent keeps them in memory (/v1/agent/metrics) and in a Prometheus
// registry (?format=prometheus); statsd and statsite sinks are added when
// an address is given.
type Telemetry struct {
	// MetricsPrefix begins every metric name. Default "consul", so that
	// dashboards and alerts made for Consul keep working.
	MetricsPrefix string `json:"metrics_prefix"`
	// PrefixFilter allows ("+name.prefix") or blocks ("-name.prefix")
	// metrics by the start of their full name, prefix included, as in
	// "-consul.raft.net"; the longest matching rule wins. A blocked metric
	// costs almost nothing: Consul's names are emitted on every request
	// and Raft's on every append, which under load is about 6 % of the
	// servers' CPU per write and a fifth per stale read
	// (docs/performance.md). Default none.
	PrefixFilter []string `json:"prefix_filter"`
	// FilterDefault decides metrics no PrefixFilter rule matches. Default
	// true (emitted).
	FilterDefault bool `json:"filter_default"`
	// StatsdAddress sends metrics to a statsd server, "host:port" over
	// UDP. Default none.
	StatsdAddress string `json:"statsd_address"`
	// StatsiteAddress streams metrics to a statsite server, "host:port"
	// over TCP. Default none.
	StatsiteAddress string `json:"statsite_address"`
	// PrometheusRetentionTime is how long the Prometheus view keeps a
	// metric that is no longer updated. Default 1m. Consul serves
	// ?format=prometheus only when this is set; Shoal always does, and a
	// zero keeps the default.
	PrometheusRetentionTime time.Duration `json:"prometheus_retention_time"`
}

// Overlay configures the VXLAN overlay that gives containers cluster-wide
// addresses.
type Overlay struct {
	// Enabled turns the overlay on (-overlay). Default true outside dev
	// mode; -dev turns it off (one node needs none, and a try-out should
	// not change the host's networking) unless -overlay or
	// overlay.enabled is given. It needs root and
	// a kernel with VXLAN, and when either is missing the agent runs
	// without it (and says why).
	Enabled bool `json:"enabled"`
	// CIDR is the cluster's overlay range (-overlay-cidr). Default "10.42.0.0/16".
	CIDR string `json:"cidr"`
	// SubnetBits is the size of each node's subnet. Default 24.
	SubnetBits int `json:"subnet_bits"`
	// VNI is the VXLAN network identifier (-overlay-vni). Default 1.
	VNI int `json:"vni"`
	// Port is the VXLAN UDP port (-overlay-port). Default 4789.
	Port int `json:"port"`
	// MTU of the overlay devices; 0 means the underlay's less 50.
	MTU int `json:"mtu"`
}

// Mesh configures the routing mesh: every node answers on the published
// ports of mode ingress and on the services' virtual IPs, balancing over
// the healthy replicas with kernel NAT (iptables). It runs only with the
// overlay.
type Mesh struct {
	// Enabled turns the mesh on (-mesh). Default true (with the overlay).
	Enabled bool `json:"enabled"`
}

// RegistryCredential is one registry login of RegistryAuth.
type RegistryCredential struct {
	// Server is the registry as image references name it, host[:port].
	// Required.
	Server string `json:"server"`
	// Username to log in with. Required.
	Username string `json:"username"`
	// Password, or PasswordFile: a file holding it (trailing newlines are
	// dropped), read at start so that the secret need not sit in the
	// config file. Exactly one is required.
	Password     string `json:"password"`
	PasswordFile string `json:"password_file"`
}

// Scheduler tunes the KV-driven scheduler.
type Scheduler struct {
	// NodeLostGrace is how long a node may be failed before its replicas
	// are re-placed (-node-lost-grace). Default 1s.
	NodeLostGrace time.Duration `json:"node_lost_grace"`
	// MaxReplicas is the most replicas one replicated spec may ask
	// (-max-replicas), in 1..100000. 0 means the default, 1000. The
	// leader's value decides; the validate endpoint checks the local one.
	MaxReplicas int `json:"max_replicas"`

	// The allow_* settings let this node run replicas that reach the host
	// (as Nomad's docker plugin options allow_privileged and
	// volumes.enabled). Each defaults to false — on with -dev unless the
	// configuration sets one of them. The node advertises what it allows;
	// the scheduler places a spec only where everything it needs is
	// allowed, and the realiser refuses the rest. The exec driver has no
	// switch: like the docker driver it is on when it works here.

	// AllowPrivileged allows "privileged": true.
	AllowPrivileged bool `json:"allow_privileged"`
	// AllowCapAdd allows cap_add.
	AllowCapAdd bool `json:"allow_cap_add"`
	// AllowDevices allows devices.
	AllowDevices bool `json:"allow_devices"`
	// AllowHostVolumes allows host volumes: an absolute source, the
	// Docker socket among them.
	AllowHostVolumes bool `json:"allow_host_volumes"`
	// AllowHostNetwork allows "network": "host" for docker replicas.
	AllowHostNetwork bool `json:"allow_host_network"`
}

// Allows returns the host permissions the settings grant, in the order of
// sched.Permissions.
func (s Scheduler) Allows() []sched.Permission {
	var out []sched.Permission
	for _, p := range sched.Permissions {
		if s.allows(p) {
			out = append(out, p)
		}
	}
	return out
}

func (s Scheduler) allows(p sched.Permission) bool {
	switch p {
	case sched.AllowPrivileged:
		return s.AllowPrivileged
	case sched.AllowCapAdd:
		return s.AllowCapAdd
	case sched.AllowDevices:
		return s.AllowDevices
	case sched.AllowHostVolumes:
		return s.AllowHostVolumes
	case sched.AllowHostNetwork:
		return s.AllowHostNetwork
	}
	return false
}

// allowAll turns every allow_* setting on (-dev).
func (s *Scheduler) allowAll() {
	s.AllowPrivileged, s.AllowCapAdd, s.AllowDevices, s.AllowHostVolumes, s.AllowHostNetwork = true, true, true, true, true
}
