package docker

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/sched"
)

// Labels Shoal puts on every container it creates. LabelAlloc is the one
// Inspect, List and Stop find containers by.
const (
	LabelAlloc   = "shoal.alloc"
	LabelService = "shoal.service"
	LabelIndex   = "shoal.index"
	LabelVersion = "shoal.version"
	LabelNode    = "shoal.node" // with Options.Node
)

// CPU shares bounds of the engine (cgroup v1 cpu.shares).
const (
	minCPUShares = 2
	maxCPUShares = 262144
)

// ContainerName is the name of a task's container,
// "<service>.<index>.<first 8 characters of the allocation ID>".
func ContainerName(t *driver.Task) string {
	short := t.AllocID
	if len(short) > 8 {
		short = short[:8]
	}
	return fmt.Sprintf("%s.%d.%s", t.Service, t.Index, short)
}

// networkMode is the network a task's container joins: Task.Network when
// set, "host" for host networking, else the engine's "bridge" (bridge, or
// overlay without an overlay network).
func networkMode(t *driver.Task) string {
	switch {
	case t.Network != "":
		return t.Network
	case t.Spec.Network == sched.NetworkHost:
		return "host"
	default:
		return "bridge"
	}
}

// createOptions translates a task into the engine's create request.
func (d *Driver) createOptions(t *driver.Task) (client.ContainerCreateOptions, error) {
	s := t.Spec
	labels := make(map[string]string, len(s.Labels)+4)
	for k, v := range s.Labels {
		labels[k] = v
	}
	// Shoal's own labels win over the spec's: they identify the task.
	labels[LabelAlloc] = t.AllocID
	labels[LabelService] = t.Service
	labels[LabelIndex] = strconv.Itoa(t.Index)
	labels[LabelVersion] = t.Version
	if d.opts.Node != "" {
		labels[LabelNode] = d.opts.Node
	} else {
		delete(labels, LabelNode) // the spec's would hide the task from scoped drivers
	}

	env := make([]string, 0, len(s.Env))
	for k, v := range s.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)

	cfg := &container.Config{
		Image:  s.Image,
		Env:    env,
		Labels: labels,
	}
	// Command overrides the image's entrypoint; Args alone are the
	// arguments of the image's entrypoint.
	if s.Command != "" {
		cfg.Entrypoint = []string{s.Command}
		cfg.Cmd = append([]string{}, s.Args...)
	} else if len(s.Args) > 0 {
		cfg.Cmd = append([]string{}, s.Args...)
	}

	mode := networkMode(t)
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(mode),
		Privileged:  s.Privileged,
		CapAdd:      append([]string(nil), s.CapAdd...),
		// The agent restarts tasks by its restart policy; the engine never.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
	}
	hc.Resources = d.resources(s.Resources)

	for _, dev := range s.Devices {
		m, err := parseDevice(dev)
		if err != nil {
			return client.ContainerCreateOptions{}, err
		}
		hc.Devices = append(hc.Devices, m)
	}
	for _, v := range s.Volumes {
		m := mount.Mount{Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly, Type: mount.TypeVolume}
		if v.Type == sched.VolumeHost {
			m.Type = mount.TypeBind
		}
		hc.Mounts = append(hc.Mounts, m)
	}
	for _, ip := range t.DNS {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: DNS server %q: %w", ip, err)
		}
		hc.DNS = append(hc.DNS, a)
	}

	if len(t.Ports) > 0 {
		cfg.ExposedPorts = network.PortSet{}
	}
	for _, p := range t.Ports {
		proto := network.TCP
		if p.Protocol == sched.ProtocolUDP {
			proto = network.UDP
		}
		cp, ok := network.PortFrom(uint16(p.Container), proto)
		if !ok || p.Container < 1 || p.Container > 65535 {
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: port %q: invalid container port %d", p.Name, p.Container)
		}
		cfg.ExposedPorts[cp] = struct{}{}
		// Host networking has no publishing: the task binds the host's
		// ports itself (Canonicalize made Host equal Container).
		if mode == "host" || p.Host == 0 {
			continue
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[cp] = append(hc.PortBindings[cp], network.PortBinding{HostPort: strconv.Itoa(p.Host)})
	}

	return client.ContainerCreateOptions{
		Name:       ContainerName(t),
		Config:     cfg,
		HostConfig: hc,
	}, nil
}

// resources maps the spec's reservation to cgroup limits: memory is a hard
// limit (swap included, as Nomad does); CPU MHz become CPU shares, a
// relative weight that only matters under contention, one share per MHz
// (again Nomad's choice). With Options.CPUHardLimitMHz the CPU is also
// capped: NanoCPUs = MHz / MHz-per-core.
func (d *Driver) resources(r sched.Resources) container.Resources {
	var out container.Resources
	if r.MemoryMB > 0 {
		out.Memory = int64(r.MemoryMB) << 20
		out.MemorySwap = out.Memory
	}
	if r.CPU > 0 {
		out.CPUShares = int64(min(max(r.CPU, minCPUShares), maxCPUShares))
		if d.opts.CPUHardLimitMHz > 0 {
			out.NanoCPUs = int64(r.CPU) * 1e9 / int64(d.opts.CPUHardLimitMHz)
		}
	}
	out.CpusetCpus = r.Cpuset
	return out
}

// parseDevice parses "/dev/x", "/dev/x:/dev/y", "/dev/x:rwm" or
// "/dev/x:/dev/y:rwm" (the docker CLI's --device syntax).
func parseDevice(s string) (container.DeviceMapping, error) {
	parts := strings.Split(s, ":")
	m := container.DeviceMapping{CgroupPermissions: "rwm"}
	switch len(parts) {
	case 1:
		m.PathOnHost, m.PathInContainer = parts[0], parts[0]
	case 2:
		m.PathOnHost = parts[0]
		if validPerms(parts[1]) {
			m.PathInContainer, m.CgroupPermissions = parts[0], parts[1]
		} else {
			m.PathInContainer = parts[1]
		}
	case 3:
		m.PathOnHost, m.PathInContainer, m.CgroupPermissions = parts[0], parts[1], parts[2]
	}
	if len(parts) > 3 || !strings.HasPrefix(m.PathOnHost, "/") || !strings.HasPrefix(m.PathInContainer, "/") || !validPerms(m.CgroupPermissions) {
		return container.DeviceMapping{}, fmt.Errorf("docker: device %q: want /dev/x or /dev/x:/dev/y[:rwm]", s)
	}
	return m, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if !strings.ContainsRune("rwm", c) {
			return false
		}
	}
	return true
}

// status maps an inspected container to a driver.Status.
func status(c *container.InspectResponse) driver.Status {
	st := driver.Status{ID: c.ID}
	if c.Config != nil {
		l := c.Config.Labels
		st.AllocID, st.Service, st.Version = l[LabelAlloc], l[LabelService], l[LabelVersion]
		st.Index, _ = strconv.Atoi(l[LabelIndex])
	}
	if s := c.State; s != nil {
		switch s.Status {
		case container.StateCreated:
			st.State = driver.StateCreated
		case container.StateRunning, container.StatePaused, container.StateRestarting:
			st.State = driver.StateRunning
		default: // exited, dead, removing
			st.State = driver.StateExited
		}
		if st.State == driver.StateExited {
			st.ExitCode = s.ExitCode
			// Message says what the exit code does not.
			switch {
			case s.OOMKilled:
				st.Message = "OOM killed (memory limit reached)"
			case s.Error != "":
				st.Message = s.Error
			}
		} else if s.Error != "" {
			st.Message = s.Error
		}
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
			st.StartedAt = t
		}
		if h := s.Health; h != nil {
			switch h.Status {
			case container.Healthy:
				ok := true
				st.Healthy = &ok
			case container.Unhealthy, container.Starting:
				ok := false
				st.Healthy = &ok
			}
		}
	}
	st.IP = containerIP(c)
	return st
}

// containerIP is the container's address on the network it was created on
// (its NetworkMode), else on the first network with one; "" in host mode.
func containerIP(c *container.InspectResponse) string {
	if c.NetworkSettings == nil {
		return ""
	}
	nets := c.NetworkSettings.Networks
	if c.HostConfig != nil {
		mode := string(c.HostConfig.NetworkMode)
		if mode == "host" {
			return ""
		}
		if mode == "default" {
			mode = "bridge"
		}
		if ep := nets[mode]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
	}
	names := make([]string, 0, len(nets))
	for n := range nets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if ep := nets[n]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
	}
	return ""
}
