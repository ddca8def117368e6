package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// ServiceNode is one service instance joined with its node, shaped as
// Consul's /v1/catalog/service/<name> entries (api.CatalogService).
type ServiceNode struct {
	ID                       string
	Node                     string
	Address                  string
	Datacenter               string
	TaggedAddresses          map[string]string
	NodeMeta                 map[string]string
	ServiceKind              string
	ServiceID                string
	ServiceName              string
	ServiceTags              []string
	ServiceAddress           string
	ServiceTaggedAddresses   map[string]any `json:",omitempty"`
	ServiceWeights           Weights
	ServiceMeta              map[string]string
	ServicePort              int
	ServiceEnableTagOverride bool
	CreateIndex              uint64
	ModifyIndex              uint64
}

// Instance is a service instance with its node and the checks of both.
type Instance struct {
	Node    *Node
	Service *Service
	Checks  []*HealthCheck
}

// Filter narrows service queries. The zero value keeps everything.
type Filter struct {
	// Tags keeps instances carrying every listed tag (case-insensitive, as
	// Consul compares tags).
	Tags []string
	// NodeMeta keeps instances whose node has every listed meta value.
	NodeMeta map[string]string
}

// MatchTags reports whether tags holds every one of want.
func MatchTags(tags, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(tags, func(t string) bool { return strings.EqualFold(t, w) }) {
			return false
		}
	}
	return true
}

// MatchMeta reports whether meta holds every key/value of want.
func MatchMeta(meta, want map[string]string) bool {
	for k, v := range want {
		if got, ok := meta[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// tablesWatch adds the index rows of tables to ws and returns their max.
// Watching the index rows is cheap (one channel per table) and wakes on any
// write to those tables, whatever the size of the result.
func tablesWatch(tx *memdb.Txn, ws memdb.WatchSet, tables ...string) uint64 {
	return state.MaxIndexWatch(tx, ws, tables...)
}

// serviceWatch adds the service's index entry to ws and returns its value.
// A service that was never registered has no entry: then the catalog
// tables are watched for its arrival.
func serviceWatch(tx *memdb.Txn, ws memdb.WatchSet, name string) uint64 {
	ch, raw, err := tx.FirstWatch(state.TableIndex, "id", ServiceIndexKey(name))
	if err == nil && raw != nil {
		ws.Add(ch)
		return raw.(*state.IndexEntry).Value
	}
	return tablesWatch(tx, ws, TableServices, TableNodes, TableChecks)
}

// Services returns every service name with the union of its instances'
// tags, optionally only instances on nodes matching nodeMeta.
func Services(tx *memdb.Txn, ws memdb.WatchSet, nodeMeta map[string]string) (uint64, map[string][]string, error) {
	idx := tablesWatch(tx, ws, TableServices, TableNodes)
	it, err := tx.Get(TableServices, indexID)
	if err != nil {
		return 0, nil, fmt.Errorf("catalog: services: %w", err)
	}
	out := map[string][]string{}
	nodeOK := map[string]bool{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*Service)
		if len(nodeMeta) > 0 {
			ok, seen := nodeOK[s.Node]
			if !seen {
				n, _ := tx.First(TableNodes, indexID, s.Node)
				ok = n != nil && MatchMeta(n.(*Node).Meta, nodeMeta)
				nodeOK[s.Node] = ok
			}
			if !ok {
				continue
			}
		}
		tags := out[s.Service]
		if tags == nil {
			tags = []string{}
		}
		for _, t := range s.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		out[s.Service] = tags
	}
	return idx, out, nil
}

// NodesFiltered returns the nodes matching meta (all when empty).
func NodesFiltered(tx *memdb.Txn, ws memdb.WatchSet, meta map[string]string) (uint64, []*Node, error) {
	idx, nodes, err := Nodes(tx, ws)
	if err != nil || len(meta) == 0 {
		return idx, nodes, err
	}
	out := nodes[:0:0]
	for _, n := range nodes {
		if MatchMeta(n.Meta, meta) {
			out = append(out, n)
		}
	}
	return idx, out, nil
}

// instances returns the instances of service name matching f, each with
// its node, sorted by node then ID.
func instances(tx *memdb.Txn, name string, f Filter) ([]*Service, map[string]*Node, error) {
	it, err := tx.Get(TableServices, indexService, name)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: service nodes: %w", err)
	}
	var svcs []*Service
	nodes := map[string]*Node{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*Service)
		if !MatchTags(s.Tags, f.Tags) {
			continue
		}
		n, ok := nodes[s.Node]
		if !ok {
			rawN, err := tx.First(TableNodes, indexID, s.Node)
			if err != nil {
				return nil, nil, fmt.Errorf("catalog: service node: %w", err)
			}
			if rawN != nil {
				n = rawN.(*Node)
			}
			nodes[s.Node] = n
		}
		if n == nil || !MatchMeta(n.Meta, f.NodeMeta) {
			continue
		}
		svcs = append(svcs, s)
	}
	slices.SortFunc(svcs, func(a, b *Service) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return svcs, nodes, nil
}

// ServiceNodes returns the instances of service name matching f, joined
// with their nodes.
func ServiceNodes(tx *memdb.Txn, ws memdb.WatchSet, name string, f Filter) (uint64, []*ServiceNode, error) {
	idx := serviceWatch(tx, ws, name)
	svcs, nodes, err := instances(tx, name, f)
	if err != nil {
		return 0, nil, err
	}
	out := make([]*ServiceNode, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, ToServiceNode(nodes[s.Node], s))
	}
	return idx, out, nil
}

// ToServiceNode joins an instance with its node.
func ToServiceNode(n *Node, s *Service) *ServiceNode {
	sn := &ServiceNode{
		ID: n.ID, Node: n.Node, Address: n.Address, Datacenter: n.Datacenter,
		TaggedAddresses: n.TaggedAddresses, NodeMeta: n.Meta,
		ServiceKind: s.Kind, ServiceID: s.ID, ServiceName: s.Service, ServiceTags: s.Tags,
		ServiceAddress: s.Address, ServiceMeta: s.Meta, ServicePort: s.Port,
		ServiceEnableTagOverride: s.EnableTagOverride,
		CreateIndex:              s.CreateIndex, ModifyIndex: s.ModifyIndex,
		ServiceWeights: Weights{Passing: 1, Warning: 1},
	}
	if s.Weights != nil {
		sn.ServiceWeights = *s.Weights
	}
	if sn.ServiceTags == nil {
		sn.ServiceTags = []string{}
	}
	if sn.ServiceMeta == nil {
		sn.ServiceMeta = map[string]string{}
	}
	return sn
}

// NodeServices returns a node (nil when absent) and its services.
func NodeServices(tx *memdb.Txn, ws memdb.WatchSet, node string) (uint64, *Node, []*Service, error) {
	idx := tablesWatch(tx, ws, TableServices, TableNodes)
	raw, err := tx.First(TableNodes, indexID, node)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("catalog: node services: %w", err)
	}
	if raw == nil {
		return idx, nil, nil, nil
	}
	it, err := tx.Get(TableServices, indexNode, node)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("catalog: node services: %w", err)
	}
	var out []*Service
	for r := it.Next(); r != nil; r = it.Next() {
		out = append(out, r.(*Service))
	}
	return idx, raw.(*Node), out, nil
}

// ServiceChecks returns the checks bound to instances of service name,
// keeping only those on nodes matching nodeMeta.
func ServiceChecks(tx *memdb.Txn, ws memdb.WatchSet, name string, nodeMeta map[string]string) (uint64, []*HealthCheck, error) {
	idx := serviceWatch(tx, ws, name)
	it, err := tx.Get(TableChecks, indexService, name)
	if err != nil {
		return 0, nil, fmt.Errorf("catalog: service checks: %w", err)
	}
	return idx, checksOnNodes(tx, it, nodeMeta), nil
}

// checksOnNodes collects the checks of it that are on nodes matching
// nodeMeta (all of them when nodeMeta is empty).
func checksOnNodes(tx *memdb.Txn, it memdb.ResultIterator, nodeMeta map[string]string) []*HealthCheck {
	var out []*HealthCheck
	for raw := it.Next(); raw != nil; raw = it.Next() {
		c := raw.(*HealthCheck)
		if len(nodeMeta) > 0 && !nodeMatches(tx, c.Node, nodeMeta) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func nodeMatches(tx *memdb.Txn, node string, meta map[string]string) bool {
	raw, _ := tx.First(TableNodes, indexID, node)
	return raw != nil && MatchMeta(raw.(*Node).Meta, meta)
}

// ChecksInState returns the checks in state (HealthAny for all), keeping
// only those on nodes matching nodeMeta.
func ChecksInState(tx *memdb.Txn, ws memdb.WatchSet, status string, nodeMeta map[string]string) (uint64, []*HealthCheck, error) {
	idx := tablesWatch(tx, ws, TableChecks, TableNodes)
	var it memdb.ResultIterator
	var err error
	if status == HealthAny {
		it, err = tx.Get(TableChecks, indexID)
	} else {
		it, err = tx.Get(TableChecks, indexStatus, status)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("catalog: checks in state: %w", err)
	}
	return idx, checksOnNodes(tx, it, nodeMeta), nil
}

// CheckServiceNodes returns the instances of service name matching f with
// their nodes and the checks of both: the node's own checks (no ServiceID)
// and the instance's.
func CheckServiceNodes(tx *memdb.Txn, ws memdb.WatchSet, name string, f Filter) (uint64, []Instance, error) {
	idx := serviceWatch(tx, ws, name)
	svcs, nodes, err := instances(tx, name, f)
	if err != nil {
		return 0, nil, err
	}
	nodeChecks := map[string][]*HealthCheck{}
	out := make([]Instance, 0, len(svcs))
	for _, s := range svcs {
		all, ok := nodeChecks[s.Node]
		if !ok {
			it, err := tx.Get(TableChecks, indexNode, s.Node)
			if err != nil {
				return 0, nil, fmt.Errorf("catalog: instance checks: %w", err)
			}
			for raw := it.Next(); raw != nil; raw = it.Next() {
				all = append(all, raw.(*HealthCheck))
			}
			nodeChecks[s.Node] = all
		}
		checks := []*HealthCheck{}
		for _, c := range all {
			if c.ServiceID == "" || c.ServiceID == s.ID {
				checks = append(checks, c)
			}
		}
		out = append(out, Instance{Node: nodes[s.Node], Service: s, Checks: checks})
	}
	return idx, out, nil
}

// Passing reports whether every check is passing.
func Passing(checks []*HealthCheck) bool {
	for _, c := range checks {
		if c.Status != HealthPassing {
			return false
		}
	}
	return true
}

// AggregateStatus returns the worst status of checks: critical (also for
// maintenance), then warning, else passing.
func AggregateStatus(checks []*HealthCheck) string {
	st := HealthPassing
	for _, c := range checks {
		switch c.Status {
		case HealthCritical, HealthMaint:
			return HealthCritical
		case HealthWarning:
			st = HealthWarning
		}
	}
	return st
}
