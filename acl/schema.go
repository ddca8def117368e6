package acl

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Table names.
const (
	TableTokens   = "acl-tokens"
	TablePolicies = "acl-policies"
	TableRoles    = "acl-roles"
)

// Index names.
const (
	indexID     = "id"
	indexSecret = "secret"
	indexName   = "name"
)

// bootstrapIndexKey is the index-table row set once ACLs are bootstrapped
// (Consul's name): its presence forbids a second bootstrap.
const bootstrapIndexKey = "acl-token-bootstrap"

// Tables returns the ACL tables for state.NewStore.
func Tables() []state.Table {
	return []state.Table{
		// Snapshot types are persisted: never renumber. They are Consul's
		// record types (ACLTokenSet 17, ACLPolicySet 19, ACLRoleSet 26) so
		// that `consul snapshot inspect` names them.
		{Schema: tokensTableSchema(), New: func() any { return new(Token) }, Type: 17},
		{Schema: policiesTableSchema(), New: func() any { return new(Policy) }, Type: 19},
		{Schema: rolesTableSchema(), New: func() any { return new(Role) }, Type: 26},
	}
}

func tokensTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableTokens,
		Indexes: map[string]*memdb.IndexSchema{
			indexID:     {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "AccessorID"}},
			indexSecret: {Name: indexSecret, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "SecretID"}},
		},
	}
}

func policiesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TablePolicies,
		Indexes: map[string]*memdb.IndexSchema{
			indexID:   {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			indexName: {Name: indexName, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name", Lowercase: true}},
		},
	}
}

func rolesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableRoles,
		Indexes: map[string]*memdb.IndexSchema{
			indexID:   {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			indexName: {Name: indexName, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name", Lowercase: true}},
		},
	}
}
