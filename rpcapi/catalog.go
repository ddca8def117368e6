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

// ServiceSpecificRequest asks for the instances of one service: the
// Health.ServiceNodes and Catalog.ServiceNodes endpoints.
type ServiceSpecificRequest struct {
	QueryOptions
	ServiceName string
	// ServiceTags keeps instances carrying every listed tag.
	ServiceTags []string
	// NodeMetaFilters keeps instances whose node has these meta values.
	NodeMetaFilters map[string]string
	// PassingOnly keeps instances whose checks all pass (?passing).
	PassingOnly bool
}

// IndexedCheckServiceNodes answers Health.ServiceNodes: each instance
// with its node and the checks of both (Consul's CheckServiceNode).
type IndexedCheckServiceNodes struct {
	QueryMeta
	Nodes []catalog.Instance
}

// BatchRequest wraps a catalog batch: anti-entropy's push of one node's
// changes.
type BatchRequest struct {
	WriteRequest
	catalog.BatchRequest
}

// NodeSpecificRequest lists the nodes, optionally filtered by node meta.
type NodeSpecificRequest struct {
	QueryOptions
	NodeMetaFilters map[string]string
}

// IndexedServices answers Catalog.ListServices: service name to tags.
type IndexedServices struct {
	QueryMeta
	Services map[string][]string
}

// IndexedServiceNodes answers Catalog.ServiceNodes.
type IndexedServiceNodes struct {
	QueryMeta
	ServiceNodes []*catalog.ServiceNode
}

// IndexedNodeServices answers Catalog.NodeServices; Node is nil when the
// node is not registered.
type IndexedNodeServices struct {
	QueryMeta
	Node     *catalog.Node
	Services []*catalog.Service
}

// NodeDump is one node's services and checks, as the catalog holds them:
// anti-entropy compares it with the agent's local state.
type NodeDump struct {
	QueryMeta
	Node     *catalog.Node
	Services []*catalog.Service
	Checks   []*catalog.HealthCheck
}
