package rpcapi

import "github.com/shoalproject/shoal/catalog"

// RegisterRequest wraps a catalog registration.
type RegisterRequest struct {
	WriteRequest
	catalog.RegisterRequest
}

// DeregisterRequest wraps a catalog deregistration.
type DeregisterRequest struct {
	WriteRequest
	catalog.DeregisterRequest
}

// IndexedNodes answers Catalog.ListNodes.
type IndexedNodes struct {
	QueryMeta
	Nodes []*catalog.Node
}

// NodeRequest names one node.
type NodeRequest struct {
	QueryOptions
	Node string
}

// IndexedChecks answers check listings.
type IndexedChecks struct {
	QueryMeta
	Checks []*catalog.HealthCheck
}
