// Package catalog owns the service catalog's state-store tables — nodes,
// service instances and health checks — their write operations (applied by
// the FSM) and their queries. It is pure: no networking, Raft or HTTP.
//
// JSON field names match Consul's HTTP API so the types serialise as
// Consul's clients expect.
package catalog

// Health states of a check, as Consul names them.
const (
	HealthPassing  = "passing"
	HealthWarning  = "warning"
	HealthCritical = "critical"
	HealthMaint    = "maintenance"
	HealthAny      = "any"
)

// SerfCheckID is the check every node carries, driven by Serf membership.
const (
	SerfCheckID   = "serfHealth"
	SerfCheckName = "Serf Health Status"
)

// Node is a catalog node.
type Node struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
	CreateIndex     uint64
	ModifyIndex     uint64
}

// Weights are a service instance's DNS SRV weights.
type Weights struct {
	Passing int
	Warning int
}

// Service is one service instance registered on a node.
type Service struct {
	Node              string
	Kind              string `json:",omitempty"`
	ID                string
	Service           string
	Tags              []string
	Address           string
	Meta              map[string]string
	Port              int
	Weights           *Weights `json:",omitempty"`
	EnableTagOverride bool
	CreateIndex       uint64
	ModifyIndex       uint64
}

// HealthCheck is one check on a node, optionally bound to a service.
type HealthCheck struct {
	Node        string
	CheckID     string
	Name        string
	Status      string
	Notes       string
	Output      string
	ServiceID   string
	ServiceName string
	ServiceTags []string
	Type        string
	CreateIndex uint64
	ModifyIndex uint64
}

// RegisterRequest registers a node and optionally a service and checks on
// it, as Consul's /v1/catalog/register body.
type RegisterRequest struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	NodeMeta        map[string]string
	Service         *Service
	Check           *HealthCheck
	Checks          []*HealthCheck
	// SkipNodeUpdate leaves an existing node's address and metadata alone.
	SkipNodeUpdate bool
}

// BatchRequest applies several registrations and deregistrations in one
// transaction (anti-entropy pushes a node's changes this way). Either all
// apply or none.
type BatchRequest struct {
	Register   []*RegisterRequest
	Deregister []*DeregisterRequest
}

// DeregisterRequest removes a node, or one of its services or checks.
type DeregisterRequest struct {
	Node       string
	Datacenter string
	ServiceID  string
	CheckID    string
}
