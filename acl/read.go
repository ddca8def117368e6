package acl

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Rows returned by reads belong to the store: callers must not modify
// them (copy first, as Token.Redacted does).

// TokenByAccessor returns the token with that AccessorID, or nil.
func TokenByAccessor(tx *memdb.Txn, ws memdb.WatchSet, id string) (uint64, *Token, error) {
	return getOne[Token](tx, ws, TableTokens, indexID, id)
}

// TokenBySecret returns the token with that SecretID, or nil.
func TokenBySecret(tx *memdb.Txn, ws memdb.WatchSet, secret string) (uint64, *Token, error) {
	return getOne[Token](tx, ws, TableTokens, indexSecret, secret)
}

// Tokens lists every token, optionally only those linked to policyID or
// roleID (empty means any).
func Tokens(tx *memdb.Txn, ws memdb.WatchSet, policyID, roleID string) (uint64, []*Token, error) {
	idx, all, err := getAll[Token](tx, ws, TableTokens)
	if err != nil || (policyID == "" && roleID == "") {
		return idx, all, err
	}
	var out []*Token
	for _, t := range all {
		if (policyID == "" || hasLink(t.Policies, policyID)) && (roleID == "" || hasLink(t.Roles, roleID)) {
			out = append(out, t)
		}
	}
	return idx, out, nil
}

func hasLink(links []Link, id string) bool {
	for _, l := range links {
		if l.ID == id {
			return true
		}
	}
	return false
}

// PolicyByID returns the policy with that ID, or nil.
func PolicyByID(tx *memdb.Txn, ws memdb.WatchSet, id string) (uint64, *Policy, error) {
	return getOne[Policy](tx, ws, TablePolicies, indexID, id)
}

// PolicyByName returns the policy with that name, or nil.
func PolicyByName(tx *memdb.Txn, ws memdb.WatchSet, name string) (uint64, *Policy, error) {
	return getOne[Policy](tx, ws, TablePolicies, indexName, name)
}

// Policies lists every policy.
func Policies(tx *memdb.Txn, ws memdb.WatchSet) (uint64, []*Policy, error) {
	return getAll[Policy](tx, ws, TablePolicies)
}

// RoleByID returns the role with that ID, or nil.
func RoleByID(tx *memdb.Txn, ws memdb.WatchSet, id string) (uint64, *Role, error) {
	return getOne[Role](tx, ws, TableRoles, indexID, id)
}

// RoleByName returns the role with that name, or nil.
func RoleByName(tx *memdb.Txn, ws memdb.WatchSet, name string) (uint64, *Role, error) {
	return getOne[Role](tx, ws, TableRoles, indexName, name)
}

// Roles lists every role.
func Roles(tx *memdb.Txn, ws memdb.WatchSet) (uint64, []*Role, error) {
	return getAll[Role](tx, ws, TableRoles)
}

// Bootstrapped reports whether ACLs were bootstrapped (or given an
// initial management token).
func Bootstrapped(tx *memdb.Txn) (bool, error) {
	raw, err := tx.First(state.TableIndex, "id", bootstrapIndexKey)
	if err != nil {
		return false, fmt.Errorf("acl: bootstrap lookup: %w", err)
	}
	return raw != nil, nil
}

func getOne[T any](tx *memdb.Txn, ws memdb.WatchSet, table, index, key string) (uint64, *T, error) {
	idx := state.MaxIndexWatch(tx, ws, table)
	if key == "" {
		return idx, nil, nil
	}
	ch, raw, err := tx.FirstWatch(table, index, key)
	if err != nil {
		return 0, nil, fmt.Errorf("acl: lookup %s: %w", table, err)
	}
	if ws != nil {
		ws.Add(ch)
	}
	if raw == nil {
		return idx, nil, nil
	}
	return idx, raw.(*T), nil
}

func getAll[T any](tx *memdb.Txn, ws memdb.WatchSet, table string) (uint64, []*T, error) {
	idx := state.MaxIndexWatch(tx, ws, table)
	it, err := tx.Get(table, indexID)
	if err != nil {
		return 0, nil, fmt.Errorf("acl: list %s: %w", table, err)
	}
	if ws != nil {
		ws.Add(it.WatchCh())
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*T))
	}
	return idx, out, nil
}

// Resolved is what a token's secret resolves to: the token and the rules
// text of every policy it reaches, directly or through its roles.
// It is plain data so that it can cross an RPC.
type Resolved struct {
	AccessorID  string
	Description string
	// Management is set when the token reaches global-management.
	Management bool
	// Policies are the reached policies (ID, ModifyIndex and Rules), each once.
	Policies []ResolvedPolicy
	// ExpirationTime is the token's, nil when it never expires.
	ExpirationTime *time.Time
}

// ResolvedPolicy is one policy a token reaches.
type ResolvedPolicy struct {
	ID          string
	ModifyIndex uint64
	Rules       string
}

// Resolve finds the token with that secret and the policies it reaches.
// It returns ErrNotFound for an unknown or expired secret. now is the
// caller's clock, for expiry.
func Resolve(tx *memdb.Txn, secret string, now time.Time) (*Resolved, error) {
	_, t, err := TokenBySecret(tx, nil, secret)
	if err != nil {
		return nil, err
	}
	if t == nil || t.Expired(now) {
		return nil, ErrNotFound
	}
	out := &Resolved{AccessorID: t.AccessorID, Description: t.Description, ExpirationTime: t.ExpirationTime}
	seen := map[string]bool{}
	add := func(links []Link) error {
		for _, l := range links {
			if seen[l.ID] {
				continue
			}
			seen[l.ID] = true
			_, p, err := PolicyByID(tx, nil, l.ID)
			if err != nil {
				return err
			}
			if p == nil {
				continue // deleted since: ignored, as Consul does
			}
			if p.ID == ManagementPolicyID {
				out.Management = true
			}
			out.Policies = append(out.Policies, ResolvedPolicy{ID: p.ID, ModifyIndex: p.ModifyIndex, Rules: p.Rules})
		}
		return nil
	}
	if err := add(t.Policies); err != nil {
		return nil, err
	}
	for _, rl := range t.Roles {
		_, r, err := RoleByID(tx, nil, rl.ID)
		if err != nil {
			return nil, err
		}
		if r != nil {
			if err := add(r.Policies); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Compile builds the authorizer of a resolved token over the default
// policy. parse is the caller's rules parser, normally a cache in front of
// ParseRules; nil means ParseRules. A policy whose rules no longer parse
// grants nothing.
func (r *Resolved) Compile(def DefaultPolicy, parse func(ResolvedPolicy) (*Rules, error)) *Authorizer {
	if r.Management {
		a := AllowAll()
		a.accessor = r.AccessorID
		return a
	}
	if parse == nil {
		parse = func(p ResolvedPolicy) (*Rules, error) { return ParseRules(p.Rules) }
	}
	var rules []*Rules
	for _, p := range r.Policies {
		if pr, err := parse(p); err == nil {
			rules = append(rules, pr)
		}
	}
	return NewAuthorizer(r.AccessorID, def, rules...)
}
