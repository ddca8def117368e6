package acl

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPermissionDenied is wrapped by every refusal. Its text is Consul's,
// which clients match; the HTTP layer answers it with 403.
var ErrPermissionDenied = errors.New("Permission denied")

// ErrNotFound means a token's secret names no token (Consul's "ACL not
// found", answered with 403).
var ErrNotFound = errors.New("ACL not found")

// PermissionError says which permission a token lacked; it wraps
// ErrPermissionDenied. Its text follows Consul 1.11+.
type PermissionError struct {
	Accessor string
	Resource string // "key", "operator", …
	Access   Access
	Name     string
}

func (e *PermissionError) Error() string {
	perm := e.Resource + ":" + e.Access.String()
	who := "token"
	if e.Accessor != "" {
		who = fmt.Sprintf("token with AccessorID '%s'", e.Accessor)
	}
	if e.Name == "" && !isNamed(Resource(e.Resource)) {
		return fmt.Sprintf("Permission denied: %s lacks permission '%s'", who, perm)
	}
	return fmt.Sprintf("Permission denied: %s lacks permission '%s' on %q", who, perm, e.Name)
}

func (e *PermissionError) Unwrap() error { return ErrPermissionDenied }

func isNamed(r Resource) bool {
	for _, x := range namedResources {
		if x == r {
			return true
		}
	}
	return false
}

// DefaultPolicy is what applies where no rule of a token does.
type DefaultPolicy string

// Default policies (acl.default_policy).
const (
	DefaultAllow DefaultPolicy = "allow"
	DefaultDeny  DefaultPolicy = "deny"
)

// Authorizer answers whether one token may act on a resource. It is
// immutable and safe for concurrent use. The zero value is not usable;
// build one with NewAuthorizer, AllowAll or DenyAll.
type Authorizer struct {
	accessor string
	rules    *Rules
	// allowDefault applies where no rule matches.
	allowDefault bool
	// manage is the management level: every check passes.
	manage bool
}

// NewAuthorizer merges the rules of a token's policies (deny beats write
// beats list beats read for the same rule) over the default policy.
func NewAuthorizer(accessor string, def DefaultPolicy, policies ...*Rules) *Authorizer {
	merged := &Rules{Exact: map[Resource]map[string]Access{}, Prefix: map[Resource]map[string]Access{}}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for res, m := range p.Exact {
			for name, lvl := range m {
				merged.set(res, name, false, lvl)
			}
		}
		for res, m := range p.Prefix {
			for name, lvl := range m {
				merged.set(res, name, true, lvl)
			}
		}
		merged.Operator = mergeGlobal(merged.Operator, p.Operator)
		merged.Keyring = mergeGlobal(merged.Keyring, p.Keyring)
		merged.ACL = mergeGlobal(merged.ACL, p.ACL)
	}
	return &Authorizer{accessor: accessor, rules: merged, allowDefault: def == DefaultAllow}
}

// AllowAll permits everything (ACLs disabled).
func AllowAll() *Authorizer { return &Authorizer{manage: true, rules: &Rules{}} }

// DenyAll permits nothing (down_policy "deny").
func DenyAll() *Authorizer { return NewAuthorizer("", DefaultDeny) }

// Accessor is the AccessorID of the token, for error messages and audit.
func (a *Authorizer) Accessor() string { return a.accessor }

// lookup returns the level of the rule that governs name: the exact rule,
// else the longest prefix rule covering it, else AccessUnset.
func (a *Authorizer) lookup(res Resource, name string) Access {
	if lvl, ok := a.rules.Exact[res][name]; ok {
		return lvl
	}
	best, found := -1, AccessUnset
	for p, lvl := range a.rules.Prefix[res] {
		if len(p) > best && strings.HasPrefix(name, p) {
			best, found = len(p), lvl
		}
	}
	return found
}

// decide turns a rule's level into a decision for need.
func (a *Authorizer) decide(lvl, need Access) bool {
	if a.manage {
		return true
	}
	if lvl == AccessUnset {
		return a.allowDefault
	}
	return lvl.grants(need)
}

// Allowed reports whether the token may access name of a per-name
// resource at level need (AccessRead, AccessList or AccessWrite).
func (a *Authorizer) Allowed(res Resource, name string, need Access) bool {
	return a.decide(a.lookup(res, name), need)
}

// Check is Allowed that returns a *PermissionError when not allowed.
func (a *Authorizer) Check(res Resource, name string, need Access) error {
	if a.Allowed(res, name, need) {
		return nil
	}
	return &PermissionError{Accessor: a.accessor, Resource: string(res), Access: need, Name: name}
}

// KeyWritePrefix reports whether the token may write (delete) every key
// under prefix: the rule covering the prefix must grant write and no rule,
// exact or prefix, below it may grant less (Consul's fix for
// CVE-2019-12291, where a recursive delete removed keys the token could
// not write one by one).
func (a *Authorizer) KeyWritePrefix(prefix string) bool {
	return a.WritePrefix(ResourceKey, prefix)
}

// WritePrefix is KeyWritePrefix for any per-name resource: whether the
// token may write every name that starts with prefix.
func (a *Authorizer) WritePrefix(res Resource, prefix string) bool {
	if a.manage {
		return true
	}
	for name, lvl := range a.rules.Exact[res] {
		if strings.HasPrefix(name, prefix) && lvl != AccessWrite {
			return false
		}
	}
	for name, lvl := range a.rules.Prefix[res] {
		if len(name) > len(prefix) && strings.HasPrefix(name, prefix) && lvl != AccessWrite {
			return false
		}
	}
	// The rule covering the prefix itself: the longest prefix rule that
	// is a prefix of it (an exact rule on the prefix name governs only that name).
	best, found := -1, AccessUnset
	for p, lvl := range a.rules.Prefix[res] {
		if len(p) > best && strings.HasPrefix(prefix, p) {
			best, found = len(p), lvl
		}
	}
	return a.decide(found, AccessWrite)
}

// CheckWritePrefix is WritePrefix returning a *PermissionError.
func (a *Authorizer) CheckWritePrefix(res Resource, prefix string) error {
	if a.WritePrefix(res, prefix) {
		return nil
	}
	return &PermissionError{Accessor: a.accessor, Resource: string(res), Access: AccessWrite, Name: prefix}
}

// Global resources.
const (
	GlobalOperator = "operator"
	GlobalKeyring  = "keyring"
	GlobalACL      = "acl"
)

// GlobalAllowed reports whether the token may access a global resource
// (GlobalOperator, GlobalKeyring, GlobalACL) at level need.
func (a *Authorizer) GlobalAllowed(global string, need Access) bool {
	var lvl Access
	switch global {
	case GlobalOperator:
		lvl = a.rules.Operator
	case GlobalKeyring:
		lvl = a.rules.Keyring
	case GlobalACL:
		lvl = a.rules.ACL
		// The default policy never grants acl: Consul's "allow" default
		// leaves ACL management to tokens that are given it.
		if lvl == AccessUnset && !a.manage {
			return false
		}
	default:
		panic("acl: unknown global resource " + global)
	}
	return a.decide(lvl, need)
}

// CheckGlobal is GlobalAllowed returning a *PermissionError.
func (a *Authorizer) CheckGlobal(global string, need Access) error {
	if a.GlobalAllowed(global, need) {
		return nil
	}
	return &PermissionError{Accessor: a.accessor, Resource: global, Access: need}
}
