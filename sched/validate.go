package sched

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Validate reports every rule the spec breaks as a *ValidationError (which
// matches ErrInvalidSpec), or nil. It checks a canonical copy, so unset
// fields that have defaults are fine; s itself is not modified.
func (s *Spec) Validate() error {
	c := s.Copy()
	c.Canonicalize()
	v := validator{}
	c.validate(&v)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Spec: s.Name, Problems: v.problems}
}

type validator struct{ problems []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (s *Spec) validate(v *validator) {
	if s.Name == "" {
		v.add("name", "required")
	} else if msg := dnsLabelProblem(s.Name); msg != "" {
		v.add("name", "must be a valid DNS label: %s", msg)
	}

	switch s.Driver {
	case DriverDocker:
		if s.Image == "" {
			v.add("image", "required for the docker driver")
		}
	case DriverExec:
		if s.Image != "" {
			v.add("image", "not used by the exec driver; set command")
		}
		if s.Command == "" {
			v.add("command", "required for the exec driver")
		}
	default:
		v.add("driver", "unknown driver %s (use docker, exec)", quote(string(s.Driver)))
	}

	s.validateEnv(v)

	switch s.Mode {
	case ModeReplicated:
		if n := s.Count(); n < 0 {
			v.add("replicas", "must be >= 0, got %d", n)
		} else if n > MaxReplicas {
			v.add("replicas", "must be <= %d, got %d", MaxReplicas, n)
		}
	case ModeGlobal:
		if s.Replicas != nil {
			v.add("replicas", "must not be set in global mode (one replica runs on every eligible node)")
		}
	default:
		v.add("mode", "unknown mode %s (use replicated, global)", quote(string(s.Mode)))
	}

	switch s.Network {
	case NetworkOverlay, NetworkBridge, NetworkHost:
		if s.Driver == DriverExec && s.Network != NetworkHost {
			v.add("network", "the exec driver supports only \"host\", got %s", quote(string(s.Network)))
		}
	default:
		v.add("network", "unknown network %s (use overlay, bridge, host)", quote(string(s.Network)))
	}

	s.validatePorts(v)
	s.validateResources(v)

	for i, raw := range s.Constraints {
		if _, msg := parseConstraint(raw); msg != "" {
			v.add(fmt.Sprintf("constraints[%d]", i), "%s", msg)
		}
	}

	switch s.Strategy {
	case StrategySpread, StrategyBinpack:
	default:
		v.add("strategy", "unknown strategy %s (use spread, binpack)", quote(string(s.Strategy)))
	}

	s.validateRestart(v)
	s.validateUpdate(v)
	s.validateCheck(v)
	s.validateDependsOn(v)
	s.validateDockerOnly(v)

	if s.Rebalance {
		if s.Mode != ModeReplicated {
			v.add("rebalance", "only applies to replicated mode")
		} else if s.Strategy != StrategySpread {
			v.add("rebalance", "only applies to the spread strategy")
		}
	}
}

func (s *Spec) validateEnv(v *validator) {
	for _, k := range sortedKeys(s.Env) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			v.add("env", "invalid variable name %s", quote(k))
		}
	}
	for _, k := range sortedKeys(s.Labels) {
		if k == "" {
			v.add("labels", "empty label key")
		}
	}
}

func (s *Spec) validatePorts(v *validator) {
	names := map[string]int{}
	hosts := map[string]int{}
	published := map[string]int{}
	for i, p := range s.Ports {
		f := fmt.Sprintf("ports[%d]", i)
		if p.Name == "" {
			v.add(f+".name", "required")
		} else if msg := dnsLabelProblem(p.Name); msg != "" {
			v.add(f+".name", "must be a valid DNS label: %s", msg)
		} else if j, dup := names[p.Name]; dup {
			v.add(f+".name", "duplicate port name %s (also ports[%d])", quote(p.Name), j)
		} else {
			names[p.Name] = i
		}
		if p.Container < 1 || p.Container > 65535 {
			v.add(f+".container", "must be in 1-65535, got %d", p.Container)
		}
		if p.Host < 0 || p.Host > 65535 {
			v.add(f+".host", "must be in 0-65535 (0 = dynamic), got %d", p.Host)
		}
		if s.Network == NetworkHost && p.Host != p.Container {
			v.add(f+".host", "must equal container (%d) in host networking, got %d", p.Container, p.Host)
		}
		switch p.Protocol {
		case ProtocolTCP, ProtocolUDP:
		default:
			v.add(f+".protocol", "unknown protocol %s (use tcp, udp)", quote(string(p.Protocol)))
		}
		switch {
		case p.Published < 0 || p.Published > 65535:
			v.add(f+".published", "must be in 1-65535 (0 = not published), got %d", p.Published)
		case p.Published == 0 && p.Mode != "":
			v.add(f+".mode", "only applies to a published port")
		case p.Published == 0:
		case p.Mode == PortHost:
			if p.Host != p.Published {
				v.add(f+".host", "must equal published (%d) in mode host, got %d", p.Published, p.Host)
			}
		case p.Mode == PortIngress && s.Network == NetworkBridge:
			v.add(f+".mode", "ingress needs the overlay or host network (the routing mesh cannot reach bridge replicas); use mode host")
		case p.Mode == PortIngress:
			key := fmt.Sprintf("%d/%s", p.Published, p.Protocol)
			if j, dup := published[key]; dup {
				v.add(f+".published", "duplicate published port %s (also ports[%d])", key, j)
			} else {
				published[key] = i
			}
		default:
			v.add(f+".mode", "unknown mode %s (use ingress, host)", quote(string(p.Mode)))
		}
		if p.Host > 0 {
			key := fmt.Sprintf("%d/%s", p.Host, p.Protocol)
			if j, dup := hosts[key]; dup {
				v.add(f+".host", "duplicate host port %s (also ports[%d])", key, j)
			} else {
				hosts[key] = i
			}
		}
	}
}

func (s *Spec) validateResources(v *validator) {
	if s.Resources.CPU < 0 {
		v.add("resources.cpu", "must be >= 0, got %d", s.Resources.CPU)
	}
	if s.Resources.MemoryMB < 0 {
		v.add("resources.memory", "must be >= 0, got %d", s.Resources.MemoryMB)
	}
	if s.Resources.Cpuset != "" {
		if _, err := parseCpuset(s.Resources.Cpuset); err != nil {
			v.add("resources.cpuset", "%v", err)
		}
	}
}

func (s *Spec) validateRestart(v *validator) {
	switch s.Restart.Policy {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		v.add("restart.policy", "unknown policy %s (use always, on-failure, never)", quote(string(s.Restart.Policy)))
	}
	if s.Restart.MaxAttempts < 0 {
		v.add("restart.max_attempts", "must be >= 0 (0 = unlimited), got %d", s.Restart.MaxAttempts)
	}
	if s.Restart.Delay < 0 {
		v.add("restart.delay", "must be >= 0, got %s", s.Restart.Delay)
	}
}

func (s *Spec) validateUpdate(v *validator) {
	u := s.Update
	if u.Parallelism < 0 {
		v.add("update.parallelism", "must be >= 1, got %d", u.Parallelism)
	}
	if u.Delay < 0 {
		v.add("update.delay", "must be >= 0, got %s", u.Delay)
	}
	switch u.OnFailure {
	case FailurePause, FailureRollback:
	default:
		v.add("update.on_failure", "unknown action %s (use pause, rollback)", quote(string(u.OnFailure)))
	}
	if u.MaxFailures < 0 {
		v.add("update.max_failures", "must be >= 0, got %d", u.MaxFailures)
	}
	if u.HealthGated && s.Check == nil {
		v.add("update.health_gated", "requires a check")
	}
}

func (s *Spec) validateCheck(v *validator) {
	c := s.Check
	if c == nil {
		return
	}
	kinds := 0
	if c.HTTP != "" {
		kinds++
		if !strings.HasPrefix(c.HTTP, "/") {
			v.add("check.http", "must be a path starting with \"/\", got %s", quote(c.HTTP))
		}
	}
	if c.TCP {
		kinds++
	}
	if len(c.Script) > 0 {
		kinds++
		if c.Script[0] == "" {
			v.add("check.script", "empty command")
		}
	}
	if kinds != 1 {
		v.add("check", "set exactly one of http, tcp, script; got %d", kinds)
	}
	if c.HTTP != "" || c.TCP {
		if len(s.Ports) == 0 {
			v.add("check.port", "http and tcp checks need a port in ports")
		} else if !s.hasPort(c.Port) {
			v.add("check.port", "no port named %s in ports", quote(c.Port))
		}
	} else if c.Port != "" {
		v.add("check.port", "only used by http and tcp checks")
	}
	if c.Interval <= 0 {
		v.add("check.interval", "must be > 0, got %s", c.Interval)
	}
	if c.Timeout <= 0 {
		v.add("check.timeout", "must be > 0, got %s", c.Timeout)
	}
}

func (s *Spec) hasPort(name string) bool {
	for _, p := range s.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (s *Spec) validateDependsOn(v *validator) {
	seen := map[string]bool{}
	for i, d := range s.DependsOn {
		f := fmt.Sprintf("depends_on[%d]", i)
		switch msg := dnsLabelProblem(d); {
		case msg != "":
			v.add(f, "must be a valid service name: %s", msg)
		case d == s.Name:
			v.add(f, "a service cannot depend on itself")
		case seen[d]:
			v.add(f, "duplicate dependency %s", quote(d))
		}
		seen[d] = true
	}
}

// validateDockerOnly checks the container options, which only the docker
// driver honours.
func (s *Spec) validateDockerOnly(v *validator) {
	exec := s.Driver == DriverExec
	if exec && s.Privileged {
		v.add("privileged", "not supported by the exec driver")
	}
	switch {
	case exec && s.Pull != "":
		v.add("pull", "not supported by the exec driver")
	case s.Driver != DriverDocker:
	case s.Pull == PullIfNotPresent, s.Pull == PullAlways, s.Pull == PullNever:
	default:
		v.add("pull", "unknown policy %s (use if_not_present, always, never)", quote(string(s.Pull)))
	}
	if s.RegistryAuth != "" {
		if exec {
			v.add("registry_auth", "not supported by the exec driver")
		} else if msg := dnsLabelProblem(s.RegistryAuth); msg != "" {
			v.add("registry_auth", "must name a credential of the agent config (a DNS label): %s", msg)
		}
	}
	for i, c := range s.CapAdd {
		f := fmt.Sprintf("cap_add[%d]", i)
		if exec {
			v.add(f, "not supported by the exec driver")
		} else if !isCapability(c) {
			v.add(f, "invalid capability %s (such as NET_ADMIN)", quote(c))
		}
	}
	for i, d := range s.Devices {
		f := fmt.Sprintf("devices[%d]", i)
		if exec {
			v.add(f, "not supported by the exec driver")
		} else if msg := deviceProblem(d); msg != "" {
			v.add(f, "%s", msg)
		}
	}
	targets := map[string]int{}
	for i, vol := range s.Volumes {
		f := fmt.Sprintf("volumes[%d]", i)
		if exec {
			v.add(f, "not supported by the exec driver")
			continue
		}
		switch vol.Type {
		case VolumeHost:
			if !path.IsAbs(vol.Source) {
				v.add(f+".source", "must be an absolute host path for type host, got %s", quote(vol.Source))
			}
		case VolumeNamed:
			if vol.Source == "" || strings.Contains(vol.Source, "/") {
				v.add(f+".source", "must be a volume name for type volume, got %s", quote(vol.Source))
			}
		default:
			v.add(f+".type", "unknown type %s (use host, volume)", quote(string(vol.Type)))
		}
		if !path.IsAbs(vol.Target) {
			v.add(f+".target", "must be an absolute path, got %s", quote(vol.Target))
		} else if j, dup := targets[path.Clean(vol.Target)]; dup {
			v.add(f+".target", "duplicate target %s (also volumes[%d])", quote(vol.Target), j)
		} else {
			targets[path.Clean(vol.Target)] = i
		}
	}
}

func isCapability(c string) bool {
	if c == "" {
		return false
	}
	for _, r := range c {
		if (r < 'A' || r > 'Z') && r != '_' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func deviceProblem(d string) string {
	parts := strings.Split(d, ":")
	if len(parts) > 3 || !path.IsAbs(parts[0]) {
		return fmt.Sprintf("must be \"/dev/host[:/dev/container[:rwm]]\", got %s", quote(d))
	}
	if len(parts) >= 2 && !path.IsAbs(parts[1]) {
		return fmt.Sprintf("container path must be absolute, got %s", quote(parts[1]))
	}
	if len(parts) == 3 && (parts[2] == "" || strings.Trim(parts[2], "rwm") != "") {
		return fmt.Sprintf("permissions must be letters of \"rwm\", got %s", quote(parts[2]))
	}
	return ""
}

// dnsLabelProblem returns why s is not a lowercase DNS label, or "".
func dnsLabelProblem(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > 63:
		return fmt.Sprintf("%d characters, at most 63", len(s))
	case s[0] == '-' || s[len(s)-1] == '-':
		return fmt.Sprintf("%s starts or ends with '-'", quote(s))
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Sprintf("%s has %q (use a-z, 0-9, '-')", quote(s), r)
		}
	}
	return ""
}

// parseCpuset parses a list such as "0-3,6" into its CPU numbers, ascending
// and without duplicates.
func parseCpuset(s string) ([]int, error) {
	seen := map[int]bool{}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("invalid cpuset %s: bad CPU %s", quote(s), quote(part))
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(hi)
			if err != nil || b < a {
				return nil, fmt.Errorf("invalid cpuset %s: bad range %s", quote(s), quote(part))
			}
		}
		if b >= 4096 {
			return nil, fmt.Errorf("invalid cpuset %s: CPU %d out of range", quote(s), b)
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	slices.Sort(cpus)
	return cpus, nil
}

func quote(s string) string { return strconv.Quote(s) }
