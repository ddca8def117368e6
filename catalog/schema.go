package catalog

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Table and index names.
const (
	TableNodes    = "nodes"
	TableServices = "services"
	TableChecks   = "checks"

	indexID      = "id"
	indexNode    = "node"
	indexService = "service"
	indexStatus  = "status"
)

// Tables returns the catalog's tables for state.NewStore.
func Tables() []state.Table {
	return []state.Table{
		// Snapshot types are persisted: never renumber.
		{Schema: nodesTableSchema(), New: func() any { return new(Node) }, Type: 110},
		{Schema: servicesTableSchema(), New: func() any { return new(Service) }, Type: 111},
		{Schema: checksTableSchema(), New: func() any { return new(HealthCheck) }, Type: 112},
	}
}

func nodesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableNodes,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true,
				Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
		},
	}
}

func servicesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableServices,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Node", Lowercase: true},
				&memdb.StringFieldIndex{Field: "ID"},
			}}},
			indexNode: {Name: indexNode,
				Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
			indexService: {Name: indexService, AllowMissing: true,
				Indexer: &memdb.StringFieldIndex{Field: "Service", Lowercase: true}},
		},
	}
}

func checksTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableChecks,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Node", Lowercase: true},
				&memdb.StringFieldIndex{Field: "CheckID"},
			}}},
			indexNode: {Name: indexNode,
				Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
			indexService: {Name: indexService, AllowMissing: true,
				Indexer: &memdb.StringFieldIndex{Field: "ServiceName", Lowercase: true}},
			indexStatus: {Name: indexStatus,
				Indexer: &memdb.StringFieldIndex{Field: "Status", Lowercase: true}},
		},
	}
}
