package sched

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Spec is a service spec: what to run, how many, where, and how to update it.
// It is stored as JSON under the KV key shoal/services/<name>; README.md
// documents the schema with examples.
//
// A Spec from ParseSpec is canonical (defaults filled in) and valid. A Spec
// built in code should be passed through Canonicalize and Validate; Plan and
// Rebalance do both on a private copy and never modify the caller's Spec.
type Spec struct {
	// Name is the service name: a lowercase DNS label (1–63 of a-z, 0-9
	// and '-', not starting or ending with '-'). Required.
	Name string `json:"name"`
	// Image is the container image. Required for the docker driver, not
	// allowed for exec.
	Image string `json:"image,omitempty"`
	// Command overrides the image's entrypoint (docker) or is the program
	// to run (exec, where it is required).
	Command string `json:"command,omitempty"`
	// Args are the command's arguments.
	Args []string `json:"args,omitempty"`
	// Env is the environment of the replica's process.
	Env map[string]string `json:"env,omitempty"`
	// Labels are container labels (docker) and service meta.
	Labels map[string]string `json:"labels,omitempty"`
	// Replicas is the number of replicas in replicated mode, 0 to
	// MaxReplicas; default 1, 0 stops every replica. nil means unset; it must stay unset in global
	// mode.
	Replicas *int `json:"replicas,omitempty"`
	// Mode is "replicated" (default) or "global" (one replica on every
	// eligible node).
	Mode Mode `json:"mode,omitempty"`
	// Ports are the ports the replica listens on.
	Ports []Port `json:"ports,omitempty"`
	// Resources are reserved on the node for each replica.
	Resources Resources `json:"resources"`
	// Constraints restrict the nodes a replica may run on; see
	// ParseConstraint for the syntax. All must hold.
	Constraints []string `json:"constraints,omitempty"`
	// Strategy ranks feasible nodes: "spread" (default) or "binpack".
	Strategy Strategy `json:"strategy,omitempty"`
	// Restart says what the agent does when a replica exits and whether
	// the scheduler replaces a replica that failed or completed.
	Restart RestartPolicy `json:"restart"`
	// Update governs rolling updates to a new Version.
	Update UpdatePolicy `json:"update"`
	// Check is the replica's health check; nil means none.
	Check *Check `json:"check,omitempty"`
	// Network is "overlay" (default for docker), "bridge" or "host"
	// (default and only choice for exec).
	Network NetworkMode `json:"network,omitempty"`
	// DependsOn names services whose replicas an agent starts before this
	// service's replicas on the same node.
	DependsOn []string `json:"depends_on,omitempty"`
	// Privileged runs the container privileged (docker only).
	Privileged bool `json:"privileged,omitempty"`
	// CapAdd adds Linux capabilities such as "NET_ADMIN" (docker only).
	CapAdd []string `json:"cap_add,omitempty"`
	// Devices are host devices, "/dev/x" or "/dev/x:/dev/y[:rwm]" (docker
	// only).
	Devices []string `json:"devices,omitempty"`
	// Volumes are mounted into the container (docker only).
	Volumes []Volume `json:"volumes,omitempty"`
	// Rebalance lets the leader move replicas of a spread service onto
	// nodes that joined after placement (see Rebalance). Default false.
	Rebalance bool `json:"rebalance,omitempty"`
	// Driver runs the replica: "docker" (default) or "exec".
	Driver Driver `json:"driver,omitempty"`
	// Pull is when the docker driver pulls Image from its registry:
	// "if_not_present" (default), "always" (before every start) or
	// "never" (a replica whose image is missing fails). Docker only.
	Pull PullPolicy `json:"pull,omitempty"`
	// RegistryAuth names the registry credential, held in the agent
	// configuration (registry_auth), that pulls Image; empty means the
	// credential whose server matches Image's registry, if any. The spec
	// never holds the secret itself. Docker only.
	RegistryAuth string `json:"registry_auth,omitempty"`
}

// PullPolicy is when the docker driver pulls a spec's image.
type PullPolicy string

// Pull policies.
const (
	PullIfNotPresent PullPolicy = "if_not_present"
	PullAlways       PullPolicy = "always"
	PullNever        PullPolicy = "never"
)

// Mode is a service's scheduling mode.
type Mode string

// Modes.
const (
	ModeReplicated Mode = "replicated"
	ModeGlobal     Mode = "global"
)

// Strategy is how feasible nodes are ranked.
type Strategy string

// Strategies.
const (
	// StrategySpread puts each replica on the node with the fewest
	// replicas of the service, then the fewest allocations overall.
	StrategySpread Strategy = "spread"
	// StrategyBinpack puts each replica on the node that is fullest after
	// placement, leaving whole nodes free.
	StrategyBinpack Strategy = "binpack"
)

// NetworkMode is the network a replica joins.
type NetworkMode string

// Network modes.
const (
	NetworkOverlay NetworkMode = "overlay"
	NetworkBridge  NetworkMode = "bridge"
	NetworkHost    NetworkMode = "host"
)

// Driver is what runs a replica on a node.
type Driver string

// Drivers.
const (
	DriverDocker Driver = "docker"
	DriverExec   Driver = "exec"
)

// Protocol is a port's transport protocol.
type Protocol string

// Protocols.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// Port is a port a replica listens on. In an Allocation, Host is the host
// port that was assigned.
type Port struct {
	// Name identifies the port (a DNS label, unique in the spec); it names
	// the port in checks and SRV records.
	Name string `json:"name"`
	// Container is the port inside the replica, 1–65535. Required.
	Container int `json:"container"`
	// Host is the port published on the node. Non-zero publishes that
	// port. 0 (default) depends on the network: on the overlay nothing is
	// published (replicas are reached at their overlay address and
	// Container); on a bridge a dynamic port in [DynamicPortMin,
	// DynamicPortMax] is picked, one its node holds for no other
	// allocation, not even one that is stopping. In host networking it
	// defaults to, and must equal, Container.
	Host int `json:"host,omitempty"`
	// Protocol is "tcp" (default) or "udp".
	Protocol Protocol `json:"protocol,omitempty"`
	// Published, when set, makes the port answer outside the cluster's
	// overlay: with Mode "ingress" (the default) on every node, load-
	// balanced over the service's healthy replicas by the routing mesh;
	// with Mode "host" on the node of each replica only (Host is then
	// Published). 0 (default) publishes nothing.
	Published int `json:"published,omitempty"`
	// Mode is how Published is published: "ingress" or "host"; empty
	// without Published.
	Mode PortMode `json:"mode,omitempty"`
}

// PortMode is how a port is published.
type PortMode string

// Port modes.
const (
	// PortIngress publishes on every node through the routing mesh.
	PortIngress PortMode = "ingress"
	// PortHost publishes on the replica's node only, as a host port.
	PortHost PortMode = "host"
)

// Resources are reserved on a node for one replica.
type Resources struct {
	// CPU is in MHz shares; default DefaultCPU.
	CPU int `json:"cpu,omitempty"`
	// MemoryMB is in megabytes; default DefaultMemoryMB.
	MemoryMB int `json:"memory,omitempty"`
	// Cpuset pins the replica to CPUs, such as "0-3,6". Empty means
	// unpinned. Only nodes that have every listed CPU are feasible.
	Cpuset string `json:"cpuset,omitempty"`
}

// RestartPolicy is a replica's restart policy.
type RestartPolicy struct {
	// Policy is "always" (default), "on-failure" or "never".
	Policy RestartMode `json:"policy,omitempty"`
	// MaxAttempts bounds the agent's local restarts; 0 (default) means
	// unlimited.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Delay is the pause before a local restart; default DefaultRestartDelay.
	Delay Duration `json:"delay,omitempty"`
}

// RestartMode is a restart policy's name.
type RestartMode string

// Restart modes. They also decide which dead replicas the scheduler replaces:
// "always" replaces failed and completed ones, "on-failure" only failed
// ones, "never" none. Replicas on lost nodes are always replaced.
const (
	RestartAlways    RestartMode = "always"
	RestartOnFailure RestartMode = "on-failure"
	RestartNever     RestartMode = "never"
)

// UpdatePolicy governs a rolling update from one Version to the next.
type UpdatePolicy struct {
	// Parallelism is how many replicas may be replaced and not yet settled
	// at once; default 1.
	Parallelism int `json:"parallelism,omitempty"`
	// Delay is the pause the leader keeps between batches; 0 (default)
	// means none. Plan is clock-free and does not apply it.
	Delay Duration `json:"delay,omitempty"`
	// HealthGated makes a new replica count as settled only once its
	// health check passes, not merely once it runs. Requires Check.
	HealthGated bool `json:"health_gated,omitempty"`
	// OnFailure is what happens when more than MaxFailures replicas of the
	// new version have failed: "pause" (default) stops the update where it
	// is; "rollback" asks the leader to restore the previous spec.
	OnFailure FailureAction `json:"on_failure,omitempty"`
	// MaxFailures is how many failed replicas of the new version are
	// tolerated; default 0.
	MaxFailures int `json:"max_failures,omitempty"`
	// HealthyDeadline is how long a health-gated replica may run without
	// its check ever passing before its agent stops it and reports it
	// failed (which counts against MaxFailures); default
	// DefaultHealthyDeadline.
	HealthyDeadline Duration `json:"healthy_deadline,omitempty"`
}

// FailureAction is what a failing rolling update does.
type FailureAction string

// Failure actions.
const (
	FailurePause    FailureAction = "pause"
	FailureRollback FailureAction = "rollback"
)

// Check is a replica's health check. Exactly one of HTTP, TCP and Script is
// set.
type Check struct {
	// HTTP is a path, such as "/health", fetched from the port; a 2xx
	// answer passes.
	HTTP string `json:"http,omitempty"`
	// TCP passes when a connection to the port opens.
	TCP bool `json:"tcp,omitempty"`
	// Script is a command and arguments run inside the replica; exit 0
	// passes.
	Script []string `json:"script,omitempty"`
	// Port names the port HTTP and TCP checks use; default the first port.
	Port string `json:"port,omitempty"`
	// Interval between checks; default DefaultCheckInterval.
	Interval Duration `json:"interval,omitempty"`
	// Timeout of one check; default DefaultCheckTimeout.
	Timeout Duration `json:"timeout,omitempty"`
}

// Volume is a mount into a container.
type Volume struct {
	// Source is a host path (type host) or a volume name (type volume).
	Source string `json:"source"`
	// Target is the absolute path in the container.
	Target string `json:"target"`
	// Type is "host" or "volume"; default "host" when Source is an
	// absolute path, else "volume".
	Type VolumeType `json:"type,omitempty"`
	// ReadOnly mounts read-only.
	ReadOnly bool `json:"read_only,omitempty"`
}

// VolumeType is a volume's kind.
type VolumeType string

// Volume types.
const (
	VolumeHost  VolumeType = "host"
	VolumeNamed VolumeType = "volume"
)

// MaxReplicas bounds Spec.Replicas, so that one spec cannot make the leader
// build an unbounded plan.
const MaxReplicas = 100000

// Defaults that Canonicalize fills in.
const (
	DefaultReplicas    = 1
	DefaultCPU         = 100 // MHz
	DefaultMemoryMB    = 300
	DefaultParallelism = 1
	// DefaultHealthyDeadline bounds how long a health-gated replica may
	// stay unhealthy after it starts.
	DefaultHealthyDeadline = Duration(time.Minute)
	DefaultRestartDelay    = Duration(5 * time.Second)
	DefaultCheckInterval   = Duration(10 * time.Second)
	DefaultCheckTimeout    = Duration(2 * time.Second)
)

// ParseSpec decodes a JSON spec, fills in defaults and validates it. It
// rejects unknown fields and trailing data. Every error it returns matches
// ErrInvalidSpec; for broken rules it wraps a *ValidationError.
func ParseSpec(data []byte) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("sched: parse spec: %w: %w", ErrInvalidSpec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sched: parse spec: %w: trailing data after the JSON object", ErrInvalidSpec)
	}
	s.Canonicalize()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("sched: %w", err)
	}
	return &s, nil
}

// Canonicalize fills in defaults (see the Default constants and each field's
// comment) and normalises empty maps and slices to nil, so that equal specs
// compare and hash equal. It is idempotent and leaves invalid values for
// Validate to report.
func (s *Spec) Canonicalize() {
	if s.Mode == "" {
		s.Mode = ModeReplicated
	}
	if s.Mode == ModeReplicated && s.Replicas == nil {
		n := DefaultReplicas
		s.Replicas = &n
	}
	if s.Strategy == "" {
		s.Strategy = StrategySpread
	}
	if s.Driver == "" {
		s.Driver = DriverDocker
	}
	if s.Driver == DriverDocker && s.Pull == "" {
		s.Pull = PullIfNotPresent
	}
	if s.Network == "" {
		s.Network = NetworkOverlay
		if s.Driver == DriverExec {
			s.Network = NetworkHost
		}
	}
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.Published > 0 && p.Mode == "" {
			p.Mode = PortIngress
		}
		if p.Mode == PortHost && p.Host == 0 {
			p.Host = p.Published
		}
		if s.Network == NetworkHost && p.Host == 0 {
			p.Host = p.Container
		}
	}
	if s.Resources.CPU == 0 {
		s.Resources.CPU = DefaultCPU
	}
	if s.Resources.MemoryMB == 0 {
		s.Resources.MemoryMB = DefaultMemoryMB
	}
	if s.Restart.Policy == "" {
		s.Restart.Policy = RestartAlways
	}
	if s.Restart.Delay == 0 {
		s.Restart.Delay = DefaultRestartDelay
	}
	if s.Update.HealthyDeadline == 0 {
		s.Update.HealthyDeadline = DefaultHealthyDeadline
	}
	if s.Update.Parallelism == 0 {
		s.Update.Parallelism = DefaultParallelism
	}
	if s.Update.OnFailure == "" {
		s.Update.OnFailure = FailurePause
	}
	if c := s.Check; c != nil {
		if c.Port == "" && (c.HTTP != "" || c.TCP) && len(s.Ports) > 0 {
			c.Port = s.Ports[0].Name
		}
		if c.Interval == 0 {
			c.Interval = DefaultCheckInterval
		}
		if c.Timeout == 0 {
			c.Timeout = DefaultCheckTimeout
		}
		c.Script = nilIfEmpty(c.Script)
	}
	for i := range s.Volumes {
		v := &s.Volumes[i]
		if v.Type == "" {
			v.Type = VolumeNamed
			if strings.HasPrefix(v.Source, "/") {
				v.Type = VolumeHost
			}
		}
	}
	s.Args = nilIfEmpty(s.Args)
	s.Constraints = nilIfEmpty(s.Constraints)
	s.DependsOn = nilIfEmpty(s.DependsOn)
	s.CapAdd = nilIfEmpty(s.CapAdd)
	s.Devices = nilIfEmpty(s.Devices)
	s.Ports = nilIfEmpty(s.Ports)
	s.Volumes = nilIfEmpty(s.Volumes)
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.Labels) == 0 {
		s.Labels = nil
	}
}

// Stateful reports whether the spec mounts a host volume: its data lives
// on one node, so each replica stays on the node it was first placed on —
// it is never moved to another node, even when its node is down.
func (s *Spec) Stateful() bool {
	for _, v := range s.Volumes {
		if v.Type == VolumeHost {
			return true
		}
	}
	return false
}

// Count returns the desired number of replicas in replicated mode, 0 when
// Replicas is unset.
func (s *Spec) Count() int {
	if s.Replicas == nil {
		return 0
	}
	return *s.Replicas
}

// Copy returns a deep copy of s; nil for nil.
func (s *Spec) Copy() *Spec {
	if s == nil {
		return nil
	}
	c := *s
	c.Args = cloneSlice(s.Args)
	c.Env = cloneMap(s.Env)
	c.Labels = cloneMap(s.Labels)
	if s.Replicas != nil {
		n := *s.Replicas
		c.Replicas = &n
	}
	c.Ports = cloneSlice(s.Ports)
	c.Constraints = cloneSlice(s.Constraints)
	if s.Check != nil {
		ck := *s.Check
		ck.Script = cloneSlice(s.Check.Script)
		c.Check = &ck
	}
	c.DependsOn = cloneSlice(s.DependsOn)
	c.CapAdd = cloneSlice(s.CapAdd)
	c.Devices = cloneSlice(s.Devices)
	c.Volumes = cloneSlice(s.Volumes)
	return &c
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// dynamicPorts reports whether ports without a host port get a dynamic
// one: only on a bridge network, where the host port is the only way in.
// On the overlay a replica is reached at its own address; in host
// networking the port is the container's.
func (s *Spec) dynamicPorts() bool { return s.Network == NetworkBridge }
