package sched

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// versionFields are the parts of a spec that shape a running replica. A
// change to any of them yields a new Version and so a rolling update.
type versionFields struct {
	Name       string            `json:"name"`
	Driver     Driver            `json:"driver"`
	Image      string            `json:"image"`
	Command    string            `json:"command"`
	Args       []string          `json:"args"`
	Env        map[string]string `json:"env"`
	Labels     map[string]string `json:"labels"`
	Ports      []Port            `json:"ports"`
	Resources  Resources         `json:"resources"`
	Restart    RestartPolicy     `json:"restart"`
	Check      *Check            `json:"check"`
	Network    NetworkMode       `json:"network"`
	Privileged bool              `json:"privileged"`
	CapAdd     []string          `json:"cap_add"`
	Devices    []string          `json:"devices"`
	Volumes    []Volume          `json:"volumes"`
}

// Version returns a stable content hash of the spec (16 hex digits) that
// identifies what a replica runs. Allocations carry it, and Plan replaces
// replicas whose Version differs, in batches (see UpdatePolicy).
//
// It is computed on a canonical copy, so defaults written out or left
// implicit, map order and duration spelling ("90s" or "1m30s") do not
// matter. Fields that only steer scheduling — replicas, mode, constraints,
// strategy, update, rebalance, depends_on — are left out: scaling or moving
// a service does not restart its replicas.
func (s *Spec) Version() string {
	c := s.Copy()
	c.Canonicalize()
	v := versionFields{
		Name: c.Name, Driver: c.Driver, Image: c.Image, Command: c.Command,
		Args: c.Args, Env: c.Env, Labels: c.Labels, Ports: c.Ports,
		Resources: c.Resources, Restart: c.Restart, Check: c.Check,
		Network: c.Network, Privileged: c.Privileged, CapAdd: c.CapAdd,
		Devices: c.Devices, Volumes: c.Volumes,
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Every field is a plain value that always encodes.
		panic("sched: encoding spec version: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
