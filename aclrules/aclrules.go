// Package aclrules holds the ACL decisions over Shoal's own domain types
// that both enforcement points share — the agent's HTTP routes and the
// servers' RPC endpoints: KV operations (with Consul's prefix semantics
// for recursive deletes), transactions checked operation by operation,
// and the scheduling permission of service specs (deploy rules, and
// operator:write for specs that reach the host).
//
// It is pure: an authorizer and plain values in, an error out.
package aclrules

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/sched"
)

// KVOp checks one KV operation on key (value is what a write stores).
// Reads need key:read; writes key:write, and under sched.SpecPrefix the
// deploy rules (Deploy); a recursive delete needs write on every key
// under the prefix (CVE-2019-12291) and deploy write on every service it
// removes.
func KVOp(z *acl.Authorizer, verb kv.Op, key string, value []byte) error {
	switch verb {
	case kv.OpGet, kv.OpGetTree, kv.OpCheckIndex, kv.OpCheckSession, kv.OpCheckNotExists:
		return z.Check(acl.ResourceKey, key, acl.AccessRead)
	case kv.OpDeleteTree:
		if err := z.CheckWritePrefix(acl.ResourceKey, key); err != nil {
			return err
		}
		return DeployPrefix(z, key)
	case kv.OpDelete, kv.OpDeleteCAS:
		if err := z.Check(acl.ResourceKey, key, acl.AccessWrite); err != nil {
			return err
		}
		return DeployPrefix(z, key)
	}
	if err := z.Check(acl.ResourceKey, key, acl.AccessWrite); err != nil {
		return err
	}
	return Deploy(z, key, value)
}

// Txn checks every operation of a transaction (CVE-2021-38698: Consul's
// transaction endpoint once checked none of them).
func Txn(z *acl.Authorizer, ops []kv.TxnOp) error {
	for i, op := range ops {
		if err := KVOp(z, op.Verb, op.Entry.Key, op.Entry.Value); err != nil {
			return fmt.Errorf("%w (txn op %d)", err, i)
		}
	}
	return nil
}

// SpecName is the service a key under sched.SpecPrefix belongs to.
func SpecName(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, sched.SpecPrefix)
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return name, true
}

// Deploy is the scheduling permission of writing value at key: for a key
// under sched.SpecPrefix, deploy:write on the service, and operator:write
// when the spec reaches the host (HostAccess). Other keys need nothing.
func Deploy(z *acl.Authorizer, key string, value []byte) error {
	name, ok := SpecName(key)
	if !ok {
		return nil
	}
	if err := z.Check(acl.ResourceDeploy, name, acl.AccessWrite); err != nil {
		return err
	}
	var spec sched.Spec
	if json.Unmarshal(value, &spec) != nil {
		return nil // not a spec: the scheduler records the error, nothing runs
	}
	spec.Canonicalize()
	if why := HostAccess(&spec); why != "" {
		if err := z.CheckGlobal(acl.GlobalOperator, acl.AccessWrite); err != nil {
			return fmt.Errorf("%w (service %q asks for %s, which reaches the host)", err, name, why)
		}
	}
	return nil
}

// DeployPrefix is the permission of deleting every key under prefix: deploy
// write on every service whose spec key it covers.
func DeployPrefix(z *acl.Authorizer, prefix string) error {
	switch {
	case strings.HasPrefix(prefix, sched.SpecPrefix):
		name := strings.TrimPrefix(prefix, sched.SpecPrefix)
		if n, _, cut := strings.Cut(name, "/"); cut {
			return z.Check(acl.ResourceDeploy, n, acl.AccessWrite) // a key inside one service
		}
		return z.CheckWritePrefix(acl.ResourceDeploy, name)
	case strings.HasPrefix(sched.SpecPrefix, prefix):
		return z.CheckWritePrefix(acl.ResourceDeploy, "")
	}
	return nil
}

// HostAccess names what a canonical spec asks for that reaches the node
// itself — privileged, capabilities, devices, host volumes (the Docker
// socket among them), the host network, the exec driver — or "" when
// nothing does.
func HostAccess(s *sched.Spec) string {
	var what []string
	if s.Privileged {
		what = append(what, "privileged")
	}
	if len(s.CapAdd) > 0 {
		what = append(what, "cap_add")
	}
	if len(s.Devices) > 0 {
		what = append(what, "devices")
	}
	for _, v := range s.Volumes {
		if v.Type == sched.VolumeHost || strings.HasPrefix(v.Source, "/") {
			what = append(what, "host volume "+v.Source)
		}
	}
	if s.Network == sched.NetworkHost {
		what = append(what, "host network")
	}
	if s.Driver == sched.DriverExec {
		what = append(what, "the exec driver")
	}
	return strings.Join(what, ", ")
}
