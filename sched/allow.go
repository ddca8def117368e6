package sched

import (
	"slices"
	"strings"
)

// Permission is a kind of host access that a node runs only when its agent
// configuration allows it (the scheduler block's allow_* settings, as
// Nomad's docker plugin has allow_privileged and volumes.enabled). Nodes
// advertise what they allow (Node.Allows); a spec that needs a permission a
// node lacks is infeasible there.
type Permission string

// Permissions, one per allow_* setting of the agent's scheduler block.
const (
	// AllowPrivileged: "privileged": true.
	AllowPrivileged Permission = "privileged"
	// AllowCapAdd: cap_add.
	AllowCapAdd Permission = "cap_add"
	// AllowDevices: devices.
	AllowDevices Permission = "devices"
	// AllowHostVolumes: a host volume (an absolute source, the Docker
	// socket among them).
	AllowHostVolumes Permission = "host_volumes"
	// AllowHostNetwork: "network": "host" for the docker driver (the exec
	// driver always shares the host's network; running it is governed by
	// the driver being on the node).
	AllowHostNetwork Permission = "host_network"
)

// Permissions lists every permission, in the order Needs reports them.
var Permissions = []Permission{AllowPrivileged, AllowCapAdd, AllowDevices, AllowHostVolumes, AllowHostNetwork}

// What describes what p allows, such as "privileged containers".
func (p Permission) What() string {
	switch p {
	case AllowPrivileged:
		return "privileged containers"
	case AllowCapAdd:
		return "added capabilities"
	case AllowDevices:
		return "host devices"
	case AllowHostVolumes:
		return "host volumes"
	case AllowHostNetwork:
		return "the host network"
	}
	return string(p)
}

// Setting is the agent configuration key that grants p, such as
// "scheduler.allow_privileged".
func (p Permission) Setting() string { return "scheduler.allow_" + string(p) }

// NotAllowed says that node (a name; "" for any node) does not allow p,
// naming the setting that would, such as "node n2 does not allow
// privileged containers (scheduler.allow_privileged)".
func (p Permission) NotAllowed(node string) string {
	if node != "" {
		node += " "
	}
	return "node " + node + "does not allow " + p.What() + " (" + p.Setting() + ")"
}

// Needs returns the permissions a canonical spec needs of its node, in the
// order of Permissions; none for a spec that stays inside its container.
func (s *Spec) Needs() []Permission {
	var out []Permission
	if s.Privileged {
		out = append(out, AllowPrivileged)
	}
	if len(s.CapAdd) > 0 {
		out = append(out, AllowCapAdd)
	}
	if len(s.Devices) > 0 {
		out = append(out, AllowDevices)
	}
	if slices.ContainsFunc(s.Volumes, Volume.onHost) {
		out = append(out, AllowHostVolumes)
	}
	if s.Network == NetworkHost && s.Driver != DriverExec {
		out = append(out, AllowHostNetwork)
	}
	return out
}

// onHost reports whether v mounts a path of the host.
func (v Volume) onHost() bool {
	return v.Type == VolumeHost || strings.HasPrefix(v.Source, "/")
}

// allows reports whether the node allows p.
func (n *Node) allows(p Permission) bool { return slices.Contains(n.Allows, p) }

// Missing returns the permissions of needs that allowed lacks.
func Missing(needs, allowed []Permission) []Permission {
	var out []Permission
	for _, p := range needs {
		if !slices.Contains(allowed, p) {
			out = append(out, p)
		}
	}
	return out
}
