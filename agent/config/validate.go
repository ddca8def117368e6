package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shoalproject/shoal/sched"
)

// Validate reports the first problem that would stop the agent from
// starting, as one line naming the flag involved. An empty AdvertiseAddr is
// accepted (Load derives it). Validate only reads the file system, to check
// DataDir.
func (c *Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func (c *Config) validate() error {
	if err := c.Overlay.validate(); err != nil {
		return err
	}
	if err := c.ACL.validate(); err != nil {
		return err
	}
	if c.Scheduler.NodeLostGrace < 0 {
		return fmt.Errorf("-node-lost-grace must not be negative, got %v", c.Scheduler.NodeLostGrace)
	}
	if err := (sched.Limits{MaxReplicas: c.Scheduler.MaxReplicas}).Validate(); err != nil {
		return fmt.Errorf("-max-replicas: %w", err)
	}
	switch {
	case c.RaftSnapshotThreshold < 0:
		return fmt.Errorf("raft_snapshot_threshold must not be negative, got %d", c.RaftSnapshotThreshold)
	case c.RaftSnapshotInterval < 0:
		return fmt.Errorf("raft_snapshot_interval must not be negative, got %s", c.RaftSnapshotInterval)
	case c.RaftSnapshotInterval > 0 && c.RaftSnapshotInterval < time.Second:
		return fmt.Errorf("raft_snapshot_interval must be at least 1s, got %s", c.RaftSnapshotInterval)
	case c.Performance.RPCHoldTimeout < 0:
		return fmt.Errorf("performance.rpc_hold_timeout must not be negative, got %s", c.Performance.RPCHoldTimeout)
	case c.RaftTrailingLogs < 0:
		return fmt.Errorf("raft_trailing_logs must not be negative, got %d", c.RaftTrailingLogs)
	}
	if _, err := c.ParseWatches(); err != nil {
		return err
	}
	if err := validateRegistryAuth(c.RegistryAuth); err != nil {
		return err
	}
	switch {
	case c.DevMode && c.BootstrapExpect != 0:
		return errors.New("-bootstrap-expect is not allowed with -dev")
	case c.BootstrapExpect < 0:
		return fmt.Errorf("-bootstrap-expect must not be negative, got %d", c.BootstrapExpect)
	case c.BootstrapExpect > 0 && !c.Server:
		return errors.New("-bootstrap-expect requires -server")
	case c.Bootstrap && !c.Server:
		return errors.New("-bootstrap requires -server")
	case c.Bootstrap && c.BootstrapExpect > 0:
		return errors.New("-bootstrap and -bootstrap-expect cannot be used together")
	case c.DataDir == "" && !c.DevMode:
		return errors.New("-data-dir is required (or use -dev)")
	}
	if c.DataDir != "" {
		fi, err := os.Stat(c.DataDir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("-data-dir %s exists and is not a directory", c.DataDir)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("-data-dir: %w", err)
		}
	}
	if err := checkName("-node", c.NodeName, isDNSChar); err != nil {
		return err
	}
	if err := checkName("-datacenter", c.Datacenter, func(r rune) bool { return isDNSChar(r) || r == '_' }); err != nil {
		return err
	}
	if c.NodeID != "" && !isUUID(c.NodeID) {
		return fmt.Errorf("-node-id %q is not a UUID", c.NodeID)
	}
	for k := range c.NodeMeta {
		if k == "" {
			return errors.New("-node-meta keys must not be empty")
		}
	}
	if net.ParseIP(c.BindAddr) == nil {
		return fmt.Errorf("-bind %q is not an IP address", c.BindAddr)
	}
	if c.AdvertiseAddr != "" {
		if ip := net.ParseIP(c.AdvertiseAddr); ip == nil || ip.IsUnspecified() {
			return fmt.Errorf("-advertise %q is not a specific IP address", c.AdvertiseAddr)
		}
	}
	clients := strings.Fields(c.ClientAddr)
	if len(clients) == 0 {
		return errors.New("-client must list at least one IP address")
	}
	for _, a := range clients {
		if net.ParseIP(a) == nil {
			return fmt.Errorf("-client %q is not an IP address", a)
		}
	}
	if err := c.validatePorts(clients); err != nil {
		return err
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	switch strings.ToLower(c.LogLevel) {
	case "trace", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("-log-level %q is not one of trace, debug, info, warn, error", c.LogLevel)
	}
	switch {
	case c.Performance.RaftMultiplier < 1 || c.Performance.RaftMultiplier > 10:
		return fmt.Errorf("-raft-multiplier must be between 1 and 10, got %d", c.Performance.RaftMultiplier)
	case c.RetryInterval <= 0:
		return fmt.Errorf("-retry-interval must be positive, got %s", c.RetryInterval)
	case c.RetryMax < 0:
		return fmt.Errorf("-retry-max must not be negative, got %d", c.RetryMax)
	case c.Autopilot.DeadServerGrace < 0:
		return fmt.Errorf("autopilot.dead_server_grace must not be negative, got %s", c.Autopilot.DeadServerGrace)
	case c.Autopilot.MinQuorum < 0:
		return fmt.Errorf("autopilot.min_quorum must not be negative, got %d", c.Autopilot.MinQuorum)
	case c.Autopilot.LastContactThreshold < 0:
		return fmt.Errorf("autopilot.last_contact_threshold must not be negative, got %s", c.Autopilot.LastContactThreshold)
	case c.Autopilot.MaxTrailingLogs < 0:
		return fmt.Errorf("autopilot.max_trailing_logs must not be negative, got %d", c.Autopilot.MaxTrailingLogs)
	case c.Autopilot.ServerStabilizationTime < 0:
		return fmt.Errorf("autopilot.server_stabilization_time must not be negative, got %s", c.Autopilot.ServerStabilizationTime)
	case c.Limits.HTTPMaxConnsPerClient < 0:
		return fmt.Errorf("limits.http_max_conns_per_client must not be negative, got %d", c.Limits.HTTPMaxConnsPerClient)
	case c.Limits.HTTPIdleTimeout < 0:
		return fmt.Errorf("limits.http_idle_timeout must not be negative, got %s", c.Limits.HTTPIdleTimeout)
	}
	return c.Telemetry.validate()
}

// validate checks the telemetry block: filter rules begin with + or -
// (Consul warns and drops a rule that does not; Shoal stops, since the
// metrics it meant to block would flow), and sink addresses are
// host:port.
func (t *Telemetry) validate() error {
	if t.MetricsPrefix == "" {
		return errors.New("telemetry.metrics_prefix must not be empty")
	}
	for _, rule := range t.PrefixFilter {
		if len(rule) < 2 || (rule[0] != '+' && rule[0] != '-') {
			return fmt.Errorf("telemetry.prefix_filter: rule %q must be \"+\" or \"-\" followed by a metric name prefix, as \"-consul.raft.net\"", rule)
		}
	}
	for _, sink := range []struct{ key, addr string }{
		{"statsd_address", t.StatsdAddress}, {"statsite_address", t.StatsiteAddress},
	} {
		if sink.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(sink.addr); err != nil || port == "" {
			return fmt.Errorf("telemetry.%s: want host:port, got %q", sink.key, sink.addr)
		}
	}
	if t.PrometheusRetentionTime < 0 {
		return fmt.Errorf("telemetry.prometheus_retention_time must not be negative, got %s", t.PrometheusRetentionTime)
	}
	return nil
}

// Filters splits PrefixFilter into the allowed and blocked prefixes, in
// go-metrics' terms.
func (t *Telemetry) Filters() (allowed, blocked []string) {
	for _, rule := range t.PrefixFilter {
		if strings.HasPrefix(rule, "+") {
			allowed = append(allowed, rule[1:])
		} else if strings.HasPrefix(rule, "-") {
			blocked = append(blocked, rule[1:])
		}
	}
	return allowed, blocked
}

// validatePorts checks port ranges, then that no two enabled listeners
// share a port on overlapping addresses: HTTP and DNS listen on the client
// addresses, Serf LAN and server RPC on BindAddr.
func (c *Config) validatePorts(clients []string) error {
	type listener struct {
		flag     string
		port     int
		addrs    []string
		optional bool // a negative port disables it
	}
	ls := []listener{
		{"-http-port", c.Ports.HTTP, clients, true},
		{"-https-port", c.Ports.HTTPS, clients, true},
		{"-dns-port", c.Ports.DNS, clients, true},
		{"-serf-lan-port", c.Ports.SerfLAN, []string{c.BindAddr}, false},
		{"-server-port", c.Ports.Server, []string{c.BindAddr}, false},
	}
	for _, l := range ls {
		if (l.port < 1 || l.port > 65535) && !(l.optional && l.port < 0) {
			if l.optional {
				return fmt.Errorf("%s must be between 1 and 65535, or -1 to disable, got %d", l.flag, l.port)
			}
			return fmt.Errorf("%s must be between 1 and 65535, got %d", l.flag, l.port)
		}
	}
	for i, a := range ls {
		for _, b := range ls[i+1:] {
			if a.port > 0 && a.port == b.port && overlap(a.addrs, b.addrs) {
				return fmt.Errorf("%s and %s are both %d on the same address", a.flag, b.flag, a.port)
			}
		}
	}
	return nil
}

// overlap reports whether listening on every address of a and of b would
// collide: an address in common, or an unspecified address on either side.
func overlap(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			ix, iy := net.ParseIP(x), net.ParseIP(y)
			if ix.Equal(iy) || ix.IsUnspecified() || iy.IsUnspecified() {
				return true
			}
		}
	}
	return false
}

// checkName rejects an empty name, one longer than a DNS label (63), or one
// with characters ok rejects, listing them.
func checkName(flag, name string, ok func(rune) bool) error {
	if name == "" {
		return fmt.Errorf("%s must not be empty", flag)
	}
	if len(name) > 63 {
		return fmt.Errorf("%s %q is longer than 63 characters", flag, name)
	}
	var bad []rune
	for _, r := range name {
		if !ok(r) && !strings.ContainsRune(string(bad), r) {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s %q contains characters not allowed in DNS names: %q", flag, name, string(bad))
	}
	return nil
}

// isDNSChar reports whether r may appear in a DNS label.
func isDNSChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
}

// isUUID reports whether s has the 8-4-4-4-12 hexadecimal UUID form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if r != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func (o Overlay) validate() error {
	p, err := netip.ParsePrefix(o.CIDR)
	switch {
	case err != nil || !p.Addr().Is4():
		return fmt.Errorf("-overlay-cidr %q is not an IPv4 CIDR such as 10.42.0.0/16", o.CIDR)
	case o.SubnetBits <= p.Bits() || o.SubnetBits > 30:
		return fmt.Errorf("overlay.subnet_bits %d must be between %d and 30 for -overlay-cidr %s", o.SubnetBits, p.Bits()+1, o.CIDR)
	case o.VNI < 1 || o.VNI > 1<<24-1:
		return fmt.Errorf("-overlay-vni %d outside 1..16777215", o.VNI)
	case o.Port < 1 || o.Port > 65535:
		return fmt.Errorf("-overlay-port %d outside 1..65535", o.Port)
	case o.MTU < 0 || (o.MTU > 0 && o.MTU < 576):
		return fmt.Errorf("overlay.mtu %d too small (0 means automatic)", o.MTU)
	}
	return nil
}

// validateRegistryAuth checks each registry credential: a name specs can
// refer to, a server, a user and exactly one of password and password_file.
func validateRegistryAuth(m map[string]RegistryCredential) error {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		rc := m[n]
		switch {
		case checkName("registry_auth", n, isDNSChar) != nil || strings.ToLower(n) != n:
			return fmt.Errorf("registry_auth %q: the name must be a lowercase DNS label (specs refer to it)", n)
		case rc.Server == "" || strings.Contains(rc.Server, "/"):
			return fmt.Errorf("registry_auth %q: server must be the registry's host[:port], got %q", n, rc.Server)
		case rc.Username == "":
			return fmt.Errorf("registry_auth %q: username is required", n)
		case (rc.Password == "") == (rc.PasswordFile == ""):
			return fmt.Errorf("registry_auth %q: set exactly one of password and password_file", n)
		}
	}
	return nil
}
