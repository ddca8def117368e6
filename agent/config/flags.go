package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// flagState collects what the command line asked for: an edit of the
// Config per flag, applied after the files, and the files and directories
// to load, in command-line order.
type flagState struct {
	ops     []func(*Config)
	sources []source
}

// source is one -config-file or -config-dir argument.
type source struct {
	path string
	dir  bool
}

// opFlag is a flag.Value that records an edit of the Config each time the
// flag is set, so that only flags given on the command line override files.
type opFlag struct {
	arg   string // placeholder in Usage; "" for a boolean flag
	parse func(string) (func(*Config), error)
	st    *flagState
}

func (f *opFlag) String() string   { return "" }
func (f *opFlag) IsBoolFlag() bool { return f.arg == "" }

func (f *opFlag) Set(s string) error {
	op, err := f.parse(s)
	if err != nil {
		return err
	}
	if op != nil {
		f.st.ops = append(f.st.ops, op)
	}
	return nil
}

// newFlagSet defines the agent's flags, recording into st what is set.
func newFlagSet(st *flagState) *flag.FlagSet {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := func(name, arg, usage string, parse func(string) (func(*Config), error)) {
		fs.Var(&opFlag{arg: arg, parse: parse, st: st}, name, usage)
	}
	boolean := func(name, usage string, set func(*Config, bool)) {
		def(name, "", usage, func(s string) (func(*Config), error) {
			v, err := strconv.ParseBool(s)
			if err != nil {
				return nil, errors.New("not a boolean")
			}
			return func(c *Config) { set(c, v) }, nil
		})
	}
	str := func(name, arg, usage string, set func(*Config, string)) {
		def(name, arg, usage, func(s string) (func(*Config), error) {
			return func(c *Config) { set(c, s) }, nil
		})
	}
	integer := func(name, usage string, set func(*Config, int)) {
		def(name, "N", usage, func(s string) (func(*Config), error) {
			v, err := strconv.Atoi(s)
			if err != nil {
				return nil, errors.New("not an integer")
			}
			return func(c *Config) { set(c, v) }, nil
		})
	}
	appendTo := func(field func(*Config) *[]string) func(*Config, string) {
		return func(c *Config, s string) { p := field(c); *p = append(*p, s) }
	}
	addSource := func(dir bool) func(string) (func(*Config), error) {
		return func(s string) (func(*Config), error) {
			st.sources = append(st.sources, source{path: s, dir: dir})
			return nil, nil
		}
	}

	boolean("dev", "Run a single in-memory server, bound to 127.0.0.1; no -data-dir needed.", func(c *Config, v bool) { c.DevMode = v })
	boolean("server", "Run as a server (Raft and server RPC).", func(c *Config, v bool) { c.Server = v })
	boolean("bootstrap", "Let this server elect itself leader alone.", func(c *Config, v bool) { c.Bootstrap = v })
	integer("bootstrap-expect", "Number of servers to wait for before bootstrapping Raft.", func(c *Config, v int) { c.BootstrapExpect = v })
	str("node", "NAME", "Node name. Default: the host name.", func(c *Config, v string) { c.NodeName = v })
	str("node-id", "UUID", "Node ID. Default: generated and kept in -data-dir.", func(c *Config, v string) { c.NodeID = v })
	str("datacenter", "DC", `Datacenter name. Default "dc1".`, func(c *Config, v string) { c.Datacenter = v })
	str("data-dir", "PATH", "Directory for Raft data and local state. Required unless -dev.", func(c *Config, v string) { c.DataDir = v })
	def("node-meta", "KEY:VALUE", "Node metadata pair (repeatable).", parseNodeMeta)
	str("bind", "ADDR", `Address for cluster traffic (Serf, server RPC). Default "0.0.0.0".`, func(c *Config, v string) { c.BindAddr = v })
	str("advertise", "ADDR", "Address other nodes reach this one on. Default: -bind, or a private IPv4.", func(c *Config, v string) { c.AdvertiseAddr = v })
	str("client", "ADDR", `Space-separated addresses for HTTP and DNS. Default "127.0.0.1".`, func(c *Config, v string) { c.ClientAddr = v })
	str("join", "ADDR", "Address to join at start; failure is fatal (repeatable).", appendTo(func(c *Config) *[]string { return &c.StartJoin }))
	str("retry-join", "ADDR", "Address to join, retrying until it succeeds (repeatable).", appendTo(func(c *Config) *[]string { return &c.RetryJoin }))
	def("retry-interval", "DUR", "Time between join attempts. Default 30s.", func(s string) (func(*Config), error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, errors.New(`not a duration such as "30s"`)
		}
		return func(c *Config) { c.RetryInterval = d }, nil
	})
	integer("retry-max", "Maximum join attempts; 0 retries forever.", func(c *Config, v int) { c.RetryMax = v })
	integer("http-port", "HTTP API port; -1 disables. Default 8500.", func(c *Config, v int) { c.Ports.HTTP = v })
	integer("https-port", "HTTPS API port (needs cert_file and key_file); -1 disables. Default -1.", func(c *Config, v int) { c.Ports.HTTPS = v })
	str("encrypt", "KEY", "Base64 gossip encryption key (see `shoal keygen`).", func(c *Config, v string) { c.Encrypt = v })
	integer("dns-port", "DNS port; -1 disables. Default 8600.", func(c *Config, v int) { c.Ports.DNS = v })
	integer("serf-lan-port", "Serf LAN gossip port. Default 8301.", func(c *Config, v int) { c.Ports.SerfLAN = v })
	integer("server-port", "Server RPC port. Default 8300.", func(c *Config, v int) { c.Ports.Server = v })
	str("log-level", "LEVEL", `One of trace, debug, info, warn, error. Default "info".`, func(c *Config, v string) { c.LogLevel = v })
	boolean("log-json", "Write logs as JSON.", func(c *Config, v bool) { c.LogJSON = v })
	def("config-file", "PATH", "JSON or HCL config file to load (repeatable).", addSource(false))
	def("config-dir", "PATH", "Directory whose *.json and *.hcl files are loaded (repeatable).", addSource(true))
	boolean("enable-local-script-checks", "Allow script checks defined in local config files.", func(c *Config, v bool) { c.EnableLocalScriptChecks = v })
	integer("raft-multiplier", "Scale Raft timeouts, 1..10. Default 1.", func(c *Config, v int) { c.Performance.RaftMultiplier = v })
	str("domain", "DOMAIN", `DNS domain served. Default "consul.".`, func(c *Config, v string) { c.Domain = v })
	str("alt-domain", "DOMAIN", "Additional DNS domain served.", func(c *Config, v string) { c.AltDomain = v })
	str("recursor", "ADDR", "Upstream DNS server for other names (repeatable).", appendTo(func(c *Config) *[]string { return &c.Recursors }))
	boolean("overlay", "Run the VXLAN overlay network (needs root). Default true, except with -dev (where -overlay turns it on).", func(c *Config, v bool) { c.Overlay.Enabled, c.overlaySet = v, true })
	boolean("mesh", "Run the routing mesh (published ports on every node, service VIPs) with the overlay. Default true.", func(c *Config, v bool) { c.Mesh.Enabled = v })
	str("overlay-cidr", "CIDR", `Cluster range of the overlay; each node leases a /24. Default "10.42.0.0/16".`, func(c *Config, v string) { c.Overlay.CIDR = v })
	integer("overlay-vni", "VXLAN network identifier. Default 1.", func(c *Config, v int) { c.Overlay.VNI = v })
	integer("overlay-port", "VXLAN UDP port. Default 4789.", func(c *Config, v int) { c.Overlay.Port = v })
	integer("max-replicas", "Most replicas one service spec may ask, 1..100000. Default 1000.", func(c *Config, v int) { c.Scheduler.MaxReplicas = v })
	def("node-lost-grace", "DUR", "How long a node may be failed before its replicas move. Default 1s.", func(s string) (func(*Config), error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, errors.New(`not a duration such as "3s"`)
		}
		return func(c *Config) { c.Scheduler.NodeLostGrace = d }, nil
	})
	return fs
}

// parseNodeMeta parses a -node-meta "key:value" pair; the value may be empty
// and may itself contain colons.
func parseNodeMeta(s string) (func(*Config), error) {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return nil, errors.New(`want "key:value"`)
	}
	if k == "" {
		return nil, errors.New("empty key")
	}
	return func(c *Config) {
		if c.NodeMeta == nil {
			c.NodeMeta = map[string]string{}
		}
		c.NodeMeta[k] = v
	}, nil
}

// Usage returns the help text of `shoal agent`: every flag with a one-line
// description, in alphabetical order.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage: shoal agent [options]\n\n" +
		"  Starts the Shoal agent and runs until it is interrupted.\n\nOptions:\n\n")
	newFlagSet(&flagState{}).VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(&b, "  %-28s %s\n", strings.TrimSpace("-"+f.Name+" "+f.Value.(*opFlag).arg), f.Usage)
	})
	return b.String()
}
