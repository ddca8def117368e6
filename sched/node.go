package sched

// NodeStatus is a node's lifecycle state as the scheduler sees it. The
// leader derives it from Serf membership and the agent's fingerprint.
type NodeStatus string

// Node statuses.
const (
	// NodeInitializing: joined, but has not reported its resources and
	// drivers yet. No new replicas; existing ones stay.
	NodeInitializing NodeStatus = "initializing"
	// NodeReady: alive and fingerprinted. The only status eligible for new
	// replicas.
	NodeReady NodeStatus = "ready"
	// NodeDisconnected: Serf reports it failed, but the grace period has
	// not passed. No new replicas; existing ones are kept, not replaced.
	NodeDisconnected NodeStatus = "disconnected"
	// NodeDown: failed past the grace period, or left. Its replicas are
	// lost and Plan replaces them elsewhere.
	NodeDown NodeStatus = "down"
)

// Node roles, the values of Node.Role.
const (
	RoleServer = "server"
	RoleClient = "client"
)

// Node is a machine that can run replicas. The scheduler only reads nodes.
type Node struct {
	// ID is the node's unique, stable ID. Required.
	ID string
	// Name is the node's name (node.name in constraints).
	Name string
	// Role is RoleServer or RoleClient.
	Role string
	// Datacenter is the node's datacenter.
	Datacenter string
	// Meta are operator-set attributes (node.meta.<key> in constraints).
	Meta map[string]string
	// Resources is the capacity available to replicas. Zero in a dimension
	// means none: a node that has not reported its capacity runs nothing.
	Resources NodeResources
	// Drivers are the drivers the node can run now, such as "docker" when
	// its engine answers. A replica is only placed where its driver is.
	Drivers []Driver
	// Allows are the host permissions its agent configuration grants
	// (Permission). A replica is only placed where every permission its
	// spec needs (Spec.Needs) is allowed.
	Allows []Permission
	// Status is the node's lifecycle state.
	Status NodeStatus
}

// NodeResources is a node's capacity for replicas.
type NodeResources struct {
	// CPU is in MHz shares.
	CPU int
	// MemoryMB is in megabytes.
	MemoryMB int
	// Cores is the number of CPUs, numbered from 0, for Resources.Cpuset.
	Cores int
}

// Eligible reports whether the node may receive new replicas as far as its
// status goes (constraints, drivers and capacity are checked separately).
func (n *Node) Eligible() bool { return n.Status == NodeReady }

// hasDriver reports whether the node can run driver d.
func (n *Node) hasDriver(d Driver) bool {
	for _, have := range n.Drivers {
		if have == d {
			return true
		}
	}
	return false
}

// DesiredStatus is what the scheduler wants of an allocation.
type DesiredStatus string

// Desired statuses.
const (
	// DesiredRun: the agent should run the replica. The zero value "" is
	// read as run.
	DesiredRun DesiredStatus = "run"
	// DesiredStop: the agent should stop it; it holds no resources.
	DesiredStop DesiredStatus = "stop"
)

// ClientStatus is what the agent reports of an allocation.
type ClientStatus string

// Client statuses.
const (
	ClientPending  ClientStatus = "pending"
	ClientRunning  ClientStatus = "running"
	ClientFailed   ClientStatus = "failed"
	ClientLost     ClientStatus = "lost"
	ClientComplete ClientStatus = "complete"
)

// Terminal reports whether the replica no longer runs: failed, lost or
// complete.
func (s ClientStatus) Terminal() bool {
	return s == ClientFailed || s == ClientLost || s == ClientComplete
}

// Allocation is one replica of a service bound to a node: the desired state
// the leader writes, plus the status the agent reports. It is a plain value;
// the state-store table that holds allocations lives elsewhere.
type Allocation struct {
	// ID is unique across all allocations ever made.
	ID string
	// Service is the spec name.
	Service string
	// Version is the Spec.Version the replica runs.
	Version string
	// NodeID is the node it runs on.
	NodeID string
	// Index is the replica's slot, 0 to replicas-1 in replicated mode; a
	// replacement takes the slot of the replica it replaces. It names the
	// container ("web.3").
	Index int
	// DesiredStatus is set by the scheduler.
	DesiredStatus DesiredStatus
	// DesiredDescription says why, such as a StopReason.
	DesiredDescription string
	// ClientStatus is reported by the agent.
	ClientStatus ClientStatus
	// Healthy is reported by the agent: the health check passes (or there
	// is none and the replica runs).
	Healthy bool
	// Resources are reserved on the node while the allocation is live.
	Resources Resources
	// Ports are the spec's ports with Host set to the assigned host port.
	Ports []Port
}

// Live reports whether the scheduler still wants the allocation to run
// (DesiredStatus is not stop), whatever the agent reports.
func (a *Allocation) Live() bool { return a.DesiredStatus != DesiredStop }

// Terminal reports whether the allocation holds no resources on its node:
// it is to be stopped or no longer runs.
func (a *Allocation) Terminal() bool { return !a.Live() || a.ClientStatus.Terminal() }

// Copy returns a deep copy of a.
func (a *Allocation) Copy() *Allocation {
	c := *a
	c.Ports = cloneSlice(a.Ports)
	return &c
}
