package acl

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Errors of ACL writes. Each is wrapped with detail; the HTTP layer
// answers ErrInvalid with 400, ErrBootstrapDone and ErrPermissionDenied
// with 403, and ErrNoSuch with 404 where Consul does.
var (
	// ErrInvalid means a request is malformed (missing name, unknown
	// policy, duplicate name, bad rules).
	ErrInvalid = errors.New("invalid ACL request")
	// ErrBootstrapDone means ACLs were bootstrapped already. Its text is
	// Consul's, which the consul CLI matches.
	ErrBootstrapDone = errors.New("ACL bootstrap no longer allowed")
	// ErrNoSuch means an update or delete names a token, policy or role
	// that does not exist.
	ErrNoSuch = errors.New("ACL object not found")
)

// validName is Consul's rule for policy and role names.
var validName = regexp.MustCompile(`^[A-Za-z0-9\-_]{1,128}$`)

// TokenSetRequest creates or replaces a token (FSM command). The server
// has generated IDs, stamped CreateTime and resolved links to IDs.
type TokenSetRequest struct {
	Token Token
	// Create refuses to overwrite an existing token.
	Create bool
}

// DeleteRequest deletes a token (by AccessorID), a policy or a role (by ID).
type DeleteRequest struct {
	ID string
}

// PolicySetRequest creates or replaces a policy (FSM command).
type PolicySetRequest struct {
	Policy Policy
}

// RoleSetRequest creates or replaces a role (FSM command).
type RoleSetRequest struct {
	Role Role
}

// BootstrapRequest creates the first management token, once (FSM command).
type BootstrapRequest struct {
	Token Token
}

// InitRequest creates the builtin global-management policy and the
// anonymous token where missing, and optionally the initial management
// token (acl.tokens.initial_management). Applying it twice changes nothing.
type InitRequest struct {
	Anonymous  Token
	Management *Token
}

// ManagementPolicy returns the builtin global-management policy.
func ManagementPolicy() Policy {
	return Policy{ID: ManagementPolicyID, Name: ManagementPolicyName,
		Description: "Builtin Policy that grants unlimited access", Rules: managementRules}
}

// ApplyTokenSet writes a token at index idx.
func ApplyTokenSet(tx *memdb.Txn, idx uint64, req *TokenSetRequest) error {
	t := req.Token
	if t.AccessorID == "" || t.SecretID == "" {
		return fmt.Errorf("%w: token needs an AccessorID and a SecretID", ErrInvalid)
	}
	if len(t.ServiceIdentities) > 0 || len(t.NodeIdentities) > 0 {
		return fmt.Errorf("%w: service and node identities are not supported by Shoal", ErrInvalid)
	}
	old, err := tokenByAccessor(tx, t.AccessorID)
	if err != nil {
		return err
	}
	if old != nil && req.Create {
		return fmt.Errorf("%w: token %s exists", ErrInvalid, t.AccessorID)
	}
	if old != nil && old.SecretID != t.SecretID {
		return fmt.Errorf("%w: a token's SecretID cannot change", ErrInvalid)
	}
	if other, err := tx.First(TableTokens, indexSecret, t.SecretID); err != nil {
		return fmt.Errorf("acl: token lookup: %w", err)
	} else if other != nil && other.(*Token).AccessorID != t.AccessorID {
		return fmt.Errorf("%w: SecretID already in use", ErrInvalid)
	}
	if err := checkLinks(tx, TablePolicies, t.Policies); err != nil {
		return err
	}
	if err := checkLinks(tx, TableRoles, t.Roles); err != nil {
		return err
	}
	t.CreateIndex, t.ModifyIndex = idx, idx
	if old != nil {
		t.CreateIndex, t.CreateTime = old.CreateIndex, old.CreateTime
	}
	return insert(tx, TableTokens, idx, &t)
}

// ApplyTokenDelete deletes a token by AccessorID; the anonymous token
// cannot be deleted.
func ApplyTokenDelete(tx *memdb.Txn, idx uint64, req *DeleteRequest) error {
	if req.ID == AnonymousTokenID {
		return fmt.Errorf("%w: the anonymous token cannot be deleted", ErrInvalid)
	}
	return remove(tx, TableTokens, idx, req.ID)
}

// ApplyPolicySet writes a policy at index idx.
func ApplyPolicySet(tx *memdb.Txn, idx uint64, req *PolicySetRequest) error {
	p := req.Policy
	if p.ID == "" {
		return fmt.Errorf("%w: policy needs an ID", ErrInvalid)
	}
	if !validName.MatchString(p.Name) {
		return fmt.Errorf("%w: invalid policy name %q: want 1-128 of A-Z a-z 0-9 - _", ErrInvalid, p.Name)
	}
	if _, err := ParseRules(p.Rules); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rawOld, err := tx.First(TablePolicies, indexID, p.ID)
	if err != nil {
		return fmt.Errorf("acl: policy lookup: %w", err)
	}
	if p.ID == ManagementPolicyID && rawOld != nil {
		old := rawOld.(*Policy)
		if p.Rules != old.Rules || p.Name != old.Name {
			return fmt.Errorf("%w: the global-management policy's name and rules cannot change", ErrInvalid)
		}
	}
	if other, err := tx.First(TablePolicies, indexName, p.Name); err != nil {
		return fmt.Errorf("acl: policy lookup: %w", err)
	} else if other != nil && other.(*Policy).ID != p.ID {
		return fmt.Errorf("%w: a policy named %q exists", ErrInvalid, p.Name)
	}
	p.CreateIndex, p.ModifyIndex = idx, idx
	if rawOld != nil {
		p.CreateIndex = rawOld.(*Policy).CreateIndex
	}
	return insert(tx, TablePolicies, idx, &p)
}

// ApplyPolicyDelete deletes a policy; links to it from tokens and roles
// are skipped when resolving (as Consul).
func ApplyPolicyDelete(tx *memdb.Txn, idx uint64, req *DeleteRequest) error {
	if req.ID == ManagementPolicyID {
		return fmt.Errorf("%w: the global-management policy cannot be deleted", ErrInvalid)
	}
	return remove(tx, TablePolicies, idx, req.ID)
}

// ApplyRoleSet writes a role at index idx.
func ApplyRoleSet(tx *memdb.Txn, idx uint64, req *RoleSetRequest) error {
	r := req.Role
	if r.ID == "" {
		return fmt.Errorf("%w: role needs an ID", ErrInvalid)
	}
	if !validName.MatchString(r.Name) {
		return fmt.Errorf("%w: invalid role name %q: want 1-128 of A-Z a-z 0-9 - _", ErrInvalid, r.Name)
	}
	if len(r.ServiceIdentities) > 0 || len(r.NodeIdentities) > 0 {
		return fmt.Errorf("%w: service and node identities are not supported by Shoal", ErrInvalid)
	}
	if err := checkLinks(tx, TablePolicies, r.Policies); err != nil {
		return err
	}
	rawOld, err := tx.First(TableRoles, indexID, r.ID)
	if err != nil {
		return fmt.Errorf("acl: role lookup: %w", err)
	}
	if other, err := tx.First(TableRoles, indexName, r.Name); err != nil {
		return fmt.Errorf("acl: role lookup: %w", err)
	} else if other != nil && other.(*Role).ID != r.ID {
		return fmt.Errorf("%w: a role named %q exists", ErrInvalid, r.Name)
	}
	r.CreateIndex, r.ModifyIndex = idx, idx
	if rawOld != nil {
		r.CreateIndex = rawOld.(*Role).CreateIndex
	}
	return insert(tx, TableRoles, idx, &r)
}

// ApplyRoleDelete deletes a role.
func ApplyRoleDelete(tx *memdb.Txn, idx uint64, req *DeleteRequest) error {
	return remove(tx, TableRoles, idx, req.ID)
}

// ApplyBootstrap creates the first management token, or returns
// ErrBootstrapDone if ACLs were bootstrapped before.
func ApplyBootstrap(tx *memdb.Txn, idx uint64, req *BootstrapRequest) error {
	done, err := tx.First(state.TableIndex, "id", bootstrapIndexKey)
	if err != nil {
		return fmt.Errorf("acl: bootstrap lookup: %w", err)
	}
	if done != nil {
		return fmt.Errorf("%w (reset index: %d)", ErrBootstrapDone, done.(*state.IndexEntry).Value)
	}
	if err := ensureManagementPolicy(tx, idx); err != nil {
		return err
	}
	t := req.Token
	t.Policies = []Link{{ID: ManagementPolicyID, Name: ManagementPolicyName}}
	if err := ApplyTokenSet(tx, idx, &TokenSetRequest{Token: t, Create: true}); err != nil {
		return err
	}
	return state.UpdateIndex(tx, bootstrapIndexKey, idx)
}

// ApplyInit creates the builtins where missing. An initial management
// token also counts as the bootstrap (Consul: bootstrapping is then no
// longer allowed).
func ApplyInit(tx *memdb.Txn, idx uint64, req *InitRequest) error {
	if err := ensureManagementPolicy(tx, idx); err != nil {
		return err
	}
	if old, err := tokenByAccessor(tx, AnonymousTokenID); err != nil {
		return err
	} else if old == nil {
		anon := req.Anonymous
		anon.AccessorID, anon.SecretID = AnonymousTokenID, AnonymousTokenSecret
		if anon.Description == "" {
			anon.Description = "Anonymous Token"
		}
		if err := ApplyTokenSet(tx, idx, &TokenSetRequest{Token: anon}); err != nil {
			return err
		}
	}
	if req.Management == nil {
		return nil
	}
	if raw, err := tx.First(TableTokens, indexSecret, req.Management.SecretID); err != nil {
		return fmt.Errorf("acl: token lookup: %w", err)
	} else if raw != nil {
		return nil
	}
	t := *req.Management
	t.Policies = []Link{{ID: ManagementPolicyID, Name: ManagementPolicyName}}
	if err := ApplyTokenSet(tx, idx, &TokenSetRequest{Token: t, Create: true}); err != nil {
		return err
	}
	return state.UpdateIndex(tx, bootstrapIndexKey, idx)
}

func ensureManagementPolicy(tx *memdb.Txn, idx uint64) error {
	raw, err := tx.First(TablePolicies, indexID, ManagementPolicyID)
	if err != nil {
		return fmt.Errorf("acl: policy lookup: %w", err)
	}
	if raw != nil {
		return nil
	}
	return ApplyPolicySet(tx, idx, &PolicySetRequest{Policy: ManagementPolicy()})
}

// checkLinks fails if a link names no row of table by ID.
func checkLinks(tx *memdb.Txn, table string, links []Link) error {
	for _, l := range links {
		raw, err := tx.First(table, indexID, l.ID)
		if err != nil {
			return fmt.Errorf("acl: link lookup: %w", err)
		}
		if raw == nil {
			kind := "policy"
			if table == TableRoles {
				kind = "role"
			}
			return fmt.Errorf("%w: no %s with ID %q", ErrInvalid, kind, l.ID)
		}
	}
	return nil
}

func insert(tx *memdb.Txn, table string, idx uint64, row any) error {
	if err := tx.Insert(table, row); err != nil {
		return fmt.Errorf("acl: insert %s: %w", table, err)
	}
	return state.UpdateIndex(tx, table, idx)
}

func remove(tx *memdb.Txn, table string, idx uint64, id string) error {
	raw, err := tx.First(table, indexID, id)
	if err != nil {
		return fmt.Errorf("acl: lookup %s: %w", table, err)
	}
	if raw == nil {
		return nil // deleting what is gone succeeds, as in Consul
	}
	if err := tx.Delete(table, raw); err != nil {
		return fmt.Errorf("acl: delete %s: %w", table, err)
	}
	return state.UpdateIndex(tx, table, idx)
}

func tokenByAccessor(tx *memdb.Txn, id string) (*Token, error) {
	raw, err := tx.First(TableTokens, indexID, id)
	if err != nil {
		return nil, fmt.Errorf("acl: token lookup: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*Token), nil
}
