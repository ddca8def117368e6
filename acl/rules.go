package acl

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
)

// Access is a permission level, ordered: a level grants every lower one
// except AccessDeny, which grants nothing.
type Access int

// Access levels. The zero value means "no rule".
const (
	AccessUnset Access = iota
	AccessDeny
	AccessRead
	AccessList
	AccessWrite
)

func (a Access) String() string {
	switch a {
	case AccessDeny:
		return "deny"
	case AccessRead:
		return "read"
	case AccessList:
		return "list"
	case AccessWrite:
		return "write"
	}
	return "unset"
}

// parseAccess reads a policy string; list is only valid where listOK.
func parseAccess(s string, listOK bool) (Access, error) {
	switch s {
	case "deny":
		return AccessDeny, nil
	case "read":
		return AccessRead, nil
	case "write":
		return AccessWrite, nil
	case "list":
		if listOK {
			return AccessList, nil
		}
	}
	return AccessUnset, fmt.Errorf("%w: %q", ErrInvalidPolicy, s)
}

// grants reports whether a rule of level have permits need.
func (have Access) grants(need Access) bool {
	switch have {
	case AccessWrite:
		return true
	case AccessList:
		return need == AccessRead || need == AccessList
	case AccessRead:
		return need == AccessRead
	}
	return false
}

// precedes reports whether a takes precedence over b when two policies of
// one token set the same rule: deny, then write, list, read.
func (a Access) precedes(b Access) bool {
	rank := func(x Access) int {
		switch x {
		case AccessDeny:
			return 4
		case AccessWrite:
			return 3
		case AccessList:
			return 2
		case AccessRead:
			return 1
		}
		return 0
	}
	return rank(a) > rank(b)
}

// ErrInvalidRules means a policy's rules did not parse or name an unknown
// resource or level. Errors wrapping it are answered with a 400.
var ErrInvalidRules = errors.New("acl: invalid rules")

// ErrInvalidPolicy is wrapped by ErrInvalidRules for a bad access level.
var ErrInvalidPolicy = errors.New("invalid policy")

// Resource names a kind of object rules apply to. Its string is the rule's
// keyword (key, key_prefix, …) without the suffix.
type Resource string

// Resources with per-name rules.
const (
	ResourceKey     Resource = "key"
	ResourceService Resource = "service"
	ResourceNode    Resource = "node"
	ResourceSession Resource = "session"
	ResourceAgent   Resource = "agent"
	ResourceEvent   Resource = "event"
	ResourceQuery   Resource = "query"
	// ResourceDeploy is Shoal's: the scheduler permission needed, besides
	// key write, to write a spec under shoal/services/<name>.
	ResourceDeploy Resource = "deploy"
)

// namedResources lists the resources with exact and _prefix rules.
var namedResources = []Resource{ResourceKey, ResourceService, ResourceNode, ResourceSession,
	ResourceAgent, ResourceEvent, ResourceQuery, ResourceDeploy}

// Rules is one policy's parsed rules.
type Rules struct {
	// Exact and Prefix map resource → name → level.
	Exact  map[Resource]map[string]Access
	Prefix map[Resource]map[string]Access
	// Operator, Keyring and ACL are the global rules.
	Operator, Keyring, ACL Access
}

// hclRule is one `key "name" { policy = "..." }` block body.
type hclRule struct {
	Policy     string `hcl:"policy"`
	Intentions string `hcl:"intentions"`
}

// hclRules is the rules document as HCL (and JSON) decode it.
type hclRules struct {
	Key           map[string]*hclRule `hcl:"key,expand"`
	KeyPrefix     map[string]*hclRule `hcl:"key_prefix,expand"`
	Service       map[string]*hclRule `hcl:"service,expand"`
	ServicePrefix map[string]*hclRule `hcl:"service_prefix,expand"`
	Node          map[string]*hclRule `hcl:"node,expand"`
	NodePrefix    map[string]*hclRule `hcl:"node_prefix,expand"`
	Session       map[string]*hclRule `hcl:"session,expand"`
	SessionPrefix map[string]*hclRule `hcl:"session_prefix,expand"`
	Agent         map[string]*hclRule `hcl:"agent,expand"`
	AgentPrefix   map[string]*hclRule `hcl:"agent_prefix,expand"`
	Event         map[string]*hclRule `hcl:"event,expand"`
	EventPrefix   map[string]*hclRule `hcl:"event_prefix,expand"`
	Query         map[string]*hclRule `hcl:"query,expand"`
	QueryPrefix   map[string]*hclRule `hcl:"query_prefix,expand"`
	Deploy        map[string]*hclRule `hcl:"deploy,expand"`
	DeployPrefix  map[string]*hclRule `hcl:"deploy_prefix,expand"`
	Operator      string              `hcl:"operator"`
	Keyring       string              `hcl:"keyring"`
	ACL           string              `hcl:"acl"`
	Mesh          string              `hcl:"mesh"`
	Peering       string              `hcl:"peering"`
}

// knownKey reports whether ParseRules accepts a top-level keyword; mesh
// and peering (Consul Connect) parse but grant nothing in Shoal.
func knownKey(k string) bool {
	switch k {
	case "operator", "keyring", "acl", "mesh", "peering":
		return true
	}
	for _, r := range namedResources {
		if k == string(r) || k == string(r)+"_prefix" {
			return true
		}
	}
	return false
}

// ParseRules parses a policy's rules, in HCL or JSON (Consul's syntax).
// Errors wrap ErrInvalidRules.
func ParseRules(text string) (*Rules, error) {
	out := &Rules{Exact: map[Resource]map[string]Access{}, Prefix: map[Resource]map[string]Access{}}
	if strings.TrimSpace(text) == "" {
		return out, nil
	}
	var raw map[string]any
	if err := hcl.Decode(&raw, text); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRules, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !knownKey(k) {
			return nil, fmt.Errorf("%w: unknown rule %q", ErrInvalidRules, k)
		}
	}
	var doc hclRules
	if err := hcl.Decode(&doc, text); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRules, err)
	}
	type set struct {
		res    Resource
		prefix bool
		m      map[string]*hclRule
	}
	for _, s := range []set{
		{ResourceKey, false, doc.Key}, {ResourceKey, true, doc.KeyPrefix},
		{ResourceService, false, doc.Service}, {ResourceService, true, doc.ServicePrefix},
		{ResourceNode, false, doc.Node}, {ResourceNode, true, doc.NodePrefix},
		{ResourceSession, false, doc.Session}, {ResourceSession, true, doc.SessionPrefix},
		{ResourceAgent, false, doc.Agent}, {ResourceAgent, true, doc.AgentPrefix},
		{ResourceEvent, false, doc.Event}, {ResourceEvent, true, doc.EventPrefix},
		{ResourceQuery, false, doc.Query}, {ResourceQuery, true, doc.QueryPrefix},
		{ResourceDeploy, false, doc.Deploy}, {ResourceDeploy, true, doc.DeployPrefix},
	} {
		for name, r := range s.m {
			kw := string(s.res)
			if s.prefix {
				kw += "_prefix"
			}
			if r == nil {
				return nil, fmt.Errorf("%w: %s %q: missing policy", ErrInvalidRules, kw, name)
			}
			lvl, err := parseAccess(r.Policy, s.res == ResourceKey)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %q: %w", ErrInvalidRules, kw, name, err)
			}
			out.set(s.res, name, s.prefix, lvl)
		}
	}
	for _, g := range []struct {
		kw  string
		val string
		dst *Access
	}{{"operator", doc.Operator, &out.Operator}, {"keyring", doc.Keyring, &out.Keyring}, {"acl", doc.ACL, &out.ACL}} {
		if g.val == "" {
			continue
		}
		lvl, err := parseAccess(g.val, false)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidRules, g.kw, err)
		}
		*g.dst = lvl
	}
	for _, v := range []string{doc.Mesh, doc.Peering} {
		if v != "" {
			if _, err := parseAccess(v, false); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
			}
		}
	}
	return out, nil
}

// set records a rule, keeping the level that takes precedence if the name
// is already set.
func (r *Rules) set(res Resource, name string, prefix bool, lvl Access) {
	m := r.Exact
	if prefix {
		m = r.Prefix
	}
	if m[res] == nil {
		m[res] = map[string]Access{}
	}
	if old, ok := m[res][name]; !ok || lvl.precedes(old) {
		m[res][name] = lvl
	}
}

func mergeGlobal(a, b Access) Access {
	if b.precedes(a) {
		return b
	}
	return a
}
