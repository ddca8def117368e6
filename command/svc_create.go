package command

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/sched"
)

// specFlag is one of the Docker-style flags of "svc create" and "svc
// update": the spec field it writes (shown in the help), how a value is
// applied to a spec and, for repeatable flags, how "svc update
// --<name>-rm" takes one away.
type specFlag struct {
	name, short string // -name, and a one-letter alias ("" for none)
	field       string // the spec field, for the help
	arg, usage  string
	createOnly  bool
	apply       func(s *sched.Spec, v string) error
	remove      func(s *sched.Spec, v string) error // nil: not repeatable
}

// specFlags are the flags, in the order they are applied.
var specFlags = []specFlag{
	{name: "name", field: "name", arg: "NAME", usage: "Service name (a DNS label). Required.", createOnly: true,
		apply: func(s *sched.Spec, v string) error { s.Name = v; return nil }},
	{name: "image", field: "image", arg: "IMAGE", usage: "Image to run (svc create takes it as its first argument).",
		apply: func(s *sched.Spec, v string) error { s.Image = v; return nil }},
	{name: "entrypoint", field: "command", arg: "CMD", usage: "Overrides the image's entrypoint.",
		apply: func(s *sched.Spec, v string) error { s.Command = v; return nil }},
	{name: "mode", field: "mode", arg: "MODE", usage: `"replicated" (default) or "global" (one replica per eligible node).`,
		apply: func(s *sched.Spec, v string) error {
			s.Mode = sched.Mode(v)
			if s.Mode == sched.ModeGlobal {
				s.Replicas = nil
			}
			return nil
		}},
	{name: "replicas", field: "replicas", arg: "N", usage: "Number of replicas (replicated mode). Default 1.",
		apply: func(s *sched.Spec, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			s.Replicas = &n
			return nil
		}},
	{name: "publish", short: "p", field: "ports", arg: "PORT",
		usage: `Publishes a port: "[PUBLISHED:]TARGET[/udp]" (mode ingress: every node answers on PUBLISHED), or ` +
			`"mode=host|ingress,published=N,target=N[,protocol=udp][,name=N]". Repeatable; svc update -publish-rm TARGET removes one.`,
		apply: func(s *sched.Spec, v string) error {
			p, err := parsePublish(v)
			if err != nil {
				return err
			}
			s.Ports = append(removePort(s.Ports, p.Container, p.Protocol), p)
			return nil
		},
		remove: func(s *sched.Spec, v string) error {
			target, proto, _ := strings.Cut(v, "/")
			n, err := strconv.Atoi(target)
			if err != nil {
				return fmt.Errorf("want TARGET[/udp], got %q", v)
			}
			s.Ports = removePort(s.Ports, n, sched.Protocol(proto))
			return nil
		}},
	{name: "env", short: "e", field: "env", arg: "KEY=VALUE", usage: "Sets an environment variable. Repeatable; svc update -env-rm KEY removes one.",
		apply: func(s *sched.Spec, v string) error {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return fmt.Errorf("want KEY=VALUE, got %q", v)
			}
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			s.Env[k] = val
			return nil
		},
		remove: func(s *sched.Spec, v string) error { delete(s.Env, v); return nil }},
	{name: "label", field: "labels", arg: "KEY=VALUE", usage: "Sets a container label. Repeatable; svc update -label-rm KEY removes one.",
		apply: func(s *sched.Spec, v string) error {
			k, val, _ := strings.Cut(v, "=")
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[k] = val
			return nil
		},
		remove: func(s *sched.Spec, v string) error { delete(s.Labels, v); return nil }},
	{name: "constraint", field: "constraints", arg: "EXPR", usage: `Placement constraint such as "node.meta.zone==a". Repeatable; svc update -constraint-rm EXPR removes one.`,
		apply: func(s *sched.Spec, v string) error { s.Constraints = append(s.Constraints, v); return nil },
		remove: func(s *sched.Spec, v string) error {
			s.Constraints = deleteFunc(s.Constraints, func(c string) bool { return c == v })
			return nil
		}},
	{name: "mount", field: "volumes", arg: "MOUNT",
		usage: `Mounts a volume: "type=bind|volume,source=SRC,target=/PATH[,readonly]" (Docker's syntax). Repeatable; svc update -mount-rm /PATH removes one.`,
		apply: func(s *sched.Spec, v string) error {
			m, err := parseMount(v)
			if err != nil {
				return err
			}
			s.Volumes = append(deleteFunc(s.Volumes, func(o sched.Volume) bool { return o.Target == m.Target }), m)
			return nil
		},
		remove: func(s *sched.Spec, v string) error {
			s.Volumes = deleteFunc(s.Volumes, func(o sched.Volume) bool { return o.Target == v })
			return nil
		}},
	{name: "network", field: "network", arg: "NET", usage: `"overlay" (default), "bridge" or "host".`,
		apply: func(s *sched.Spec, v string) error { s.Network = sched.NetworkMode(v); return nil }},
	{name: "limit-cpu", field: "resources.cpu", arg: "CPUS", usage: "CPUs per replica, such as 0.5; stored as MHz shares, 1000 per CPU.",
		apply: func(s *sched.Spec, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 1000 {
				return fmt.Errorf("want a number of CPUs such as 0.5, got %q", v)
			}
			s.Resources.CPU = int(math.Round(f * 1000))
			return nil
		}},
	{name: "limit-memory", field: "resources.memory", arg: "SIZE", usage: `Memory limit per replica, such as "256M" or "1G" (bytes without a suffix).`,
		apply: func(s *sched.Spec, v string) error {
			mb, err := parseMemoryMB(v)
			if err != nil {
				return err
			}
			s.Resources.MemoryMB = mb
			return nil
		}},
	{name: "update-parallelism", field: "update.parallelism", arg: "N", usage: "Replicas replaced at once in a rolling update. Default 1.",
		apply: func(s *sched.Spec, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			s.Update.Parallelism = n
			return nil
		}},
	{name: "update-delay", field: "update.delay", arg: "DURATION", usage: `Pause between batches of a rolling update, such as "10s".`,
		apply: func(s *sched.Spec, v string) error { return setDuration(&s.Update.Delay, v) }},
	{name: "update-failure-action", field: "update.on_failure", arg: "ACTION", usage: `"pause" (default) or "rollback".`,
		apply: func(s *sched.Spec, v string) error { s.Update.OnFailure = sched.FailureAction(v); return nil }},
	{name: "restart-condition", field: "restart.policy", arg: "COND", usage: `"any" (always, the default), "on-failure" or "none" (never).`,
		apply: func(s *sched.Spec, v string) error {
			s.Restart.Policy = sched.RestartMode(map[string]string{"any": "always", "none": "never"}[v])
			if s.Restart.Policy == "" {
				s.Restart.Policy = sched.RestartMode(v)
			}
			return nil
		}},
	{name: "restart-delay", field: "restart.delay", arg: "DURATION", usage: "Pause before a replica is restarted.",
		apply: func(s *sched.Spec, v string) error { return setDuration(&s.Restart.Delay, v) }},
	{name: "restart-max-attempts", field: "restart.max_attempts", arg: "N", usage: "Local restarts before giving up; 0 = unlimited.",
		apply: func(s *sched.Spec, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			s.Restart.MaxAttempts = n
			return nil
		}},
	{name: "health-http", field: "check.http", arg: "PATH", usage: `HTTP health check of the first port, such as "/health"; a 2xx answer passes.`,
		apply: func(s *sched.Spec, v string) error {
			if s.Check == nil {
				s.Check = &sched.Check{}
			}
			s.Check.HTTP, s.Check.TCP, s.Check.Script = v, false, nil
			return nil
		}},
	{name: "health-interval", field: "check.interval", arg: "DURATION", usage: "Time between health checks; default 10s.",
		apply: func(s *sched.Spec, v string) error {
			if s.Check == nil {
				return errors.New("needs a check (-health-http)")
			}
			return setDuration(&s.Check.Interval, v)
		}},
	{name: "pull", field: "pull", arg: "POLICY", usage: `When to pull the image: "if_not_present" (default), "always", "never".`,
		apply: func(s *sched.Spec, v string) error { s.Pull = sched.PullPolicy(v); return nil }},
	{name: "registry-auth", field: "registry_auth", arg: "NAME", usage: "Registry credential, by its name in the agents' registry_auth config.",
		apply: func(s *sched.Spec, v string) error { s.RegistryAuth = v; return nil }},
}

func deleteFunc[T any](s []T, del func(T) bool) []T {
	out := s[:0:0]
	for _, e := range s {
		if !del(e) {
			out = append(out, e)
		}
	}
	return out
}

func removePort(ports []sched.Port, container int, proto sched.Protocol) []sched.Port {
	if proto == "" {
		proto = sched.ProtocolTCP
	}
	return deleteFunc(ports, func(p sched.Port) bool {
		pp := p.Protocol
		if pp == "" {
			pp = sched.ProtocolTCP
		}
		return p.Container == container && pp == proto
	})
}

func setDuration(d *sched.Duration, v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration such as \"10s\", got %q", v)
	}
	*d = sched.Duration(x)
	return nil
}

// parsePublish parses Docker's -p: "[PUBLISHED:]TARGET[/PROTO]" or the long
// form "mode=host,published=8080,target=80,protocol=udp,name=web".
func parsePublish(v string) (sched.Port, error) {
	var p sched.Port
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %q: want a number in 1-65535", s)
		}
		return n, nil
	}
	var err error
	if strings.Contains(v, "=") {
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			switch k {
			case "mode":
				p.Mode = sched.PortMode(val)
			case "published":
				p.Published, err = num(val)
			case "target":
				p.Container, err = num(val)
			case "protocol":
				p.Protocol = sched.Protocol(val)
			case "name":
				p.Name = val
			default:
				return p, fmt.Errorf("publish %q: unknown key %q (use mode, published, target, protocol, name)", v, k)
			}
			if err != nil {
				return p, fmt.Errorf("publish %q: %w", v, err)
			}
		}
		if p.Container == 0 {
			return p, fmt.Errorf("publish %q: target is required", v)
		}
	} else {
		ports, proto, _ := strings.Cut(v, "/")
		p.Protocol = sched.Protocol(proto)
		pub, target, two := strings.Cut(ports, ":")
		if !two {
			target, pub = pub, ""
		}
		if p.Container, err = num(target); err != nil {
			return p, fmt.Errorf("publish %q: %w", v, err)
		}
		if pub != "" {
			if p.Published, err = num(pub); err != nil {
				return p, fmt.Errorf("publish %q: %w", v, err)
			}
		}
	}
	if p.Name == "" {
		p.Name = "p" + strconv.Itoa(p.Container)
		if p.Protocol == sched.ProtocolUDP {
			p.Name += "-udp"
		}
	}
	return p, nil
}

// parseMount parses Docker's --mount: type=bind|volume, source (src),
// target (dst, destination), readonly (ro).
func parseMount(v string) (sched.Volume, error) {
	var m sched.Volume
	for _, kv := range strings.Split(v, ",") {
		k, val, hasVal := strings.Cut(kv, "=")
		switch k {
		case "type":
			switch val {
			case "bind":
				m.Type = sched.VolumeHost
			case "volume":
				m.Type = sched.VolumeNamed
			default:
				return m, fmt.Errorf("mount %q: type must be bind or volume, got %q", v, val)
			}
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			m.ReadOnly = !hasVal || val == "true" || val == "1"
		default:
			return m, fmt.Errorf("mount %q: unknown key %q (use type, source, target, readonly)", v, k)
		}
	}
	if m.Source == "" || m.Target == "" {
		return m, fmt.Errorf("mount %q: source and target are required", v)
	}
	return m, nil
}

// parseMemoryMB parses "256M", "1G", "512m", "1048576" (bytes) to MB.
func parseMemoryMB(v string) (int, error) {
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(v), "b"), "i"))
	mult := 1.0 / (1 << 20)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1.0/1024, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1024, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	mb := int(math.Ceil(f * mult))
	if err != nil || f <= 0 || mb < 1 {
		return 0, fmt.Errorf("want a size such as 256M or 1G (at least 1M), got %q", v)
	}
	return mb, nil
}

// flagValues records a flag's values in order (repeatable flags keep all).
type flagValues struct{ vals []string }

func (f *flagValues) String() string     { return strings.Join(f.vals, ",") }
func (f *flagValues) Set(v string) error { f.vals = append(f.vals, v); return nil }

// specEditCommand is "svc create" or "svc update".
type specEditCommand struct {
	baseCommand
	create  bool
	values  map[string]*flagValues // by flag name; "<name>-rm" for removals
	dryRun  bool
	detach  bool
	timeout time.Duration
}

func newSpecEditCommand(ui cli.Ui, create bool) *specEditCommand {
	c := &specEditCommand{create: create, values: map[string]*flagValues{}}
	name, usage, synopsis := "svc update", `
Usage: shoal svc update [options] SERVICE

  Changes a service's spec with Docker's familiar flags (as "docker service
  update"): each flag given sets its spec field; repeatable flags add (or
  replace the entry with the same key), and their -<flag>-rm form removes.
  The spec is written back with a compare-and-set and the command waits for
  the rolling update, as "svc deploy" does.`, "Updates a service's spec with Docker-style flags"
	if create {
		name, usage, synopsis = "svc create", `
Usage: shoal svc create [options] IMAGE [ARG...]

  Creates a service with Docker's familiar flags (as "docker service create")
  and waits for it to converge, as "svc deploy" does: the flags write the same
  spec (shown with -dry-run). ARGs are passed to the image's entrypoint.

      shoal svc create -name web -replicas 3 -p 5001:80 nginx:1.27`, "Creates a service with Docker-style flags"
	}
	c.init(ui, name, synopsis, usage, clientHTTPLast, func(fs *flag.FlagSet) {
		for _, f := range specFlags {
			if f.createOnly && !create {
				continue
			}
			v := &flagValues{}
			c.values[f.name] = v
			help := fmt.Sprintf("`%s` sets spec field %s. %s", f.arg, f.field, f.usage)
			fs.Var(v, f.name, help)
			if f.short != "" {
				fs.Var(v, f.short, "Short for -"+f.name+".")
			}
			if f.remove != nil && !create {
				rm := &flagValues{}
				c.values[f.name+"-rm"] = rm
				fs.Var(rm, f.name+"-rm", fmt.Sprintf("Removes a -%s entry from spec field %s.", f.name, f.field))
				fs.Var(v, f.name+"-add", "Same as -"+f.name+".")
			}
		}
		fs.BoolVar(&c.dryRun, "dry-run", false, "Print the spec that would be stored, and store nothing.")
		fs.BoolVar(&c.detach, "detach", false, "Return once the spec is stored instead of waiting for the service to converge.")
		fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "How long to wait for convergence.")
	})
	return c
}

// edit applies the flags given to s, removals first.
func (c *specEditCommand) edit(s *sched.Spec) error {
	for _, f := range specFlags {
		if rm := c.values[f.name+"-rm"]; rm != nil {
			for _, v := range rm.vals {
				if err := f.remove(s, v); err != nil {
					return fmt.Errorf("-%s-rm: %w", f.name, err)
				}
			}
		}
	}
	for _, f := range specFlags {
		vals := c.values[f.name]
		if vals == nil {
			continue
		}
		for _, v := range vals.vals {
			if err := f.apply(s, v); err != nil {
				return fmt.Errorf("-%s: %w", f.name, err)
			}
		}
	}
	return nil
}

// Run implements cli.Command.
func (c *specEditCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	rest := c.flags.Args()
	if len(rest) == 0 || (!c.create && len(rest) != 1) {
		if c.create {
			return c.usageError("This command takes an IMAGE and optional arguments")
		}
		return c.usageError(fmt.Sprintf("This command takes 1 argument (SERVICE), got %d", len(rest)))
	}
	var client *api.Client
	if !c.dryRun || !c.create {
		if client = c.client(); client == nil {
			return 1
		}
	}
	spec := &sched.Spec{}
	var pair *api.KVPair
	if c.create {
		spec.Image, spec.Args = rest[0], rest[1:]
	} else {
		var err error
		pair, _, err = client.KV().Get(sched.SpecPrefix+rest[0], nil)
		if err != nil {
			return c.fail("reading the spec", err)
		}
		if pair == nil {
			c.ui.Error("No such service: " + rest[0])
			return 1
		}
		if err := json.Unmarshal(pair.Value, spec); err != nil {
			c.ui.Error(fmt.Sprintf("Stored spec of %s cannot be read: %v", rest[0], err))
			return 1
		}
	}
	if err := c.edit(spec); err != nil {
		return c.usageError(err.Error())
	}
	if c.create && spec.Name == "" {
		return c.usageError("-name is required")
	}
	raw, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		c.ui.Error(err.Error())
		return 1
	}
	parsed, err := sched.ParseSpec(raw)
	if err != nil {
		c.ui.Error(fmt.Sprintf("Invalid spec: %v", err))
		return 1
	}
	if c.dryRun {
		c.ui.Output(string(raw))
		return 0
	}
	key := sched.SpecPrefix + spec.Name
	if c.create {
		// Create only: index 0 makes the CAS fail when the key exists.
		pair = &api.KVPair{Key: key}
	}
	pair.Value = raw
	ok, _, err := client.KV().CAS(pair, nil)
	if err != nil {
		return c.fail("storing the spec", err)
	}
	if !ok {
		if c.create {
			c.ui.Error(fmt.Sprintf("Service %s exists; change it with svc update or svc deploy", spec.Name))
		} else {
			c.ui.Error(fmt.Sprintf("The spec of %s changed meanwhile; nothing written, try again", spec.Name))
		}
		return 1
	}
	verb := "Created"
	if !c.create {
		verb = "Updated"
	}
	c.ui.Output(fmt.Sprintf("==> %s %s version %s", verb, spec.Name, parsed.Version()))
	if c.detach {
		return 0
	}
	w := &svcCommand{baseCommand: c.baseCommand, timeout: c.timeout}
	return w.waitConverged(client, c.addr, spec.Name, parsed.Version())
}
