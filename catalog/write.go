package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Errors returned by catalog writes. They reach the API caller as 400s or
// 404s (see the agent's error mapping).
var (
	// ErrMissingNode means a request named no node.
	ErrMissingNode = errors.New("missing node name")
	// ErrMissingService means a service had no name.
	ErrMissingService = errors.New("missing service name")
	// ErrUnknownNode means a write referred to a node that is not registered.
	ErrUnknownNode = errors.New("unknown node")
	// ErrMissingCheckID means a check had no ID.
	ErrMissingCheckID = errors.New("missing check ID")
	// ErrUnknownCheckService means a check named a service the node does
	// not have.
	ErrUnknownCheckService = errors.New("missing service")
)

// EnsureRegistration applies a RegisterRequest at Raft index idx: it
// creates or updates the node, then the service, then the checks. Rows that
// do not change keep their ModifyIndex, so blocked readers do not wake.
func EnsureRegistration(tx *memdb.Txn, idx uint64, req *RegisterRequest) error {
	if req.Node == "" {
		return ErrMissingNode
	}
	if !req.SkipNodeUpdate || !nodeExists(tx, req.Node) {
		n := &Node{ID: req.ID, Node: req.Node, Address: req.Address, Datacenter: req.Datacenter,
			TaggedAddresses: req.TaggedAddresses, Meta: req.NodeMeta}
		if err := ensureNode(tx, idx, n); err != nil {
			return err
		}
	}
	if req.Service != nil {
		svc := *req.Service
		svc.Node = req.Node
		if err := ensureService(tx, idx, &svc); err != nil {
			return err
		}
	}
	checks := req.Checks
	if req.Check != nil {
		checks = append([]*HealthCheck{req.Check}, checks...)
	}
	for _, c := range checks {
		chk := *c
		chk.Node = req.Node
		if err := ensureCheck(tx, idx, &chk); err != nil {
			return err
		}
	}
	return nil
}

func nodeExists(tx *memdb.Txn, name string) bool {
	raw, _ := tx.First(TableNodes, indexID, name)
	return raw != nil
}

func ensureNode(tx *memdb.Txn, idx uint64, n *Node) error {
	raw, err := tx.First(TableNodes, indexID, n.Node)
	if err != nil {
		return fmt.Errorf("catalog: node lookup: %w", err)
	}
	if raw != nil {
		old := raw.(*Node)
		if old.ID == n.ID && old.Address == n.Address && old.Datacenter == n.Datacenter &&
			maps.Equal(old.TaggedAddresses, n.TaggedAddresses) && maps.Equal(old.Meta, n.Meta) {
			return nil
		}
		n.CreateIndex = old.CreateIndex
	} else {
		n.CreateIndex = idx
	}
	n.ModifyIndex = idx
	if err := tx.Insert(TableNodes, n); err != nil {
		return fmt.Errorf("catalog: node insert: %w", err)
	}
	if err := touchNodeServices(tx, idx, n.Node); err != nil {
		return err
	}
	return state.UpdateIndex(tx, TableNodes, idx)
}

// ServiceIndexKey is the index-table key recording the last change that
// affects the instances of one service: the instances themselves, their
// checks, their nodes and the nodes' own checks. Service queries return
// and watch it, so a blocking query on one service wakes only for it.
func ServiceIndexKey(name string) string { return "service." + strings.ToLower(name) }

func touchService(tx *memdb.Txn, idx uint64, name string) error {
	if name == "" {
		return nil
	}
	return state.UpdateIndex(tx, ServiceIndexKey(name), idx)
}

// touchNodeServices records a change for every service on node.
func touchNodeServices(tx *memdb.Txn, idx uint64, node string) error {
	it, err := tx.Get(TableServices, indexNode, node)
	if err != nil {
		return fmt.Errorf("catalog: node services: %w", err)
	}
	var names []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if n := raw.(*Service).Service; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if err := touchService(tx, idx, n); err != nil {
			return err
		}
	}
	return nil
}

// touchCheck records a change of check c: for its service, or for every
// service of its node when it is a node check.
func touchCheck(tx *memdb.Txn, idx uint64, c *HealthCheck) error {
	if c.ServiceID != "" {
		return touchService(tx, idx, c.ServiceName)
	}
	return touchNodeServices(tx, idx, c.Node)
}

func ensureService(tx *memdb.Txn, idx uint64, s *Service) error {
	if s.Service == "" {
		return ErrMissingService
	}
	if s.ID == "" {
		s.ID = s.Service
	}
	if !nodeExists(tx, s.Node) {
		return fmt.Errorf("%w %q", ErrUnknownNode, s.Node)
	}
	raw, err := tx.First(TableServices, indexID, s.Node, s.ID)
	if err != nil {
		return fmt.Errorf("catalog: service lookup: %w", err)
	}
	if raw != nil {
		old := raw.(*Service)
		s.CreateIndex, s.ModifyIndex = old.CreateIndex, old.ModifyIndex
		if serviceEqual(old, s) {
			return nil
		}
		if !strings.EqualFold(old.Service, s.Service) {
			if err := touchService(tx, idx, old.Service); err != nil {
				return err
			}
		}
	} else {
		s.CreateIndex = idx
	}
	s.ModifyIndex = idx
	if err := tx.Insert(TableServices, s); err != nil {
		return fmt.Errorf("catalog: service insert: %w", err)
	}
	if err := state.UpdateIndex(tx, TableServices, idx); err != nil {
		return err
	}
	if err := touchService(tx, idx, s.Service); err != nil {
		return err
	}
	return refreshServiceChecks(tx, idx, s)
}

// refreshServiceChecks copies a service's name and tags into its checks.
func refreshServiceChecks(tx *memdb.Txn, idx uint64, s *Service) error {
	it, err := tx.Get(TableChecks, indexNode, s.Node)
	if err != nil {
		return fmt.Errorf("catalog: service checks: %w", err)
	}
	var stale []*HealthCheck
	for raw := it.Next(); raw != nil; raw = it.Next() {
		c := raw.(*HealthCheck)
		if c.ServiceID == s.ID && (c.ServiceName != s.Service || !slices.Equal(c.ServiceTags, s.Tags)) {
			stale = append(stale, c)
		}
	}
	for _, c := range stale {
		cp := *c
		cp.ServiceName, cp.ServiceTags, cp.ModifyIndex = s.Service, s.Tags, idx
		if err := tx.Insert(TableChecks, &cp); err != nil {
			return fmt.Errorf("catalog: check update: %w", err)
		}
	}
	if len(stale) > 0 {
		return state.UpdateIndex(tx, TableChecks, idx)
	}
	return nil
}

// ApplyBatch applies a BatchRequest: deregistrations first, then
// registrations. It stops at the first error; the FSM then aborts the
// transaction, so either all apply or none.
func ApplyBatch(tx *memdb.Txn, idx uint64, req *BatchRequest) error {
	for _, d := range req.Deregister {
		if err := Deregister(tx, idx, d); err != nil {
			return err
		}
	}
	for _, r := range req.Register {
		if err := EnsureRegistration(tx, idx, r); err != nil {
			return err
		}
	}
	return nil
}

func serviceEqual(a, b *Service) bool {
	return a.Service == b.Service && a.Kind == b.Kind && a.Address == b.Address && a.Port == b.Port &&
		a.EnableTagOverride == b.EnableTagOverride && slices.Equal(a.Tags, b.Tags) &&
		maps.Equal(a.Meta, b.Meta) && ((a.Weights == nil) == (b.Weights == nil)) &&
		(a.Weights == nil || *a.Weights == *b.Weights)
}

func ensureCheck(tx *memdb.Txn, idx uint64, c *HealthCheck) error {
	if c.CheckID == "" {
		c.CheckID = c.Name
	}
	if c.CheckID == "" {
		return ErrMissingCheckID
	}
	if c.Status == "" {
		c.Status = HealthCritical
	}
	if !nodeExists(tx, c.Node) {
		return fmt.Errorf("%w %q", ErrUnknownNode, c.Node)
	}
	if c.ServiceID != "" {
		raw, err := tx.First(TableServices, indexID, c.Node, c.ServiceID)
		if err != nil {
			return fmt.Errorf("catalog: service lookup: %w", err)
		}
		if raw == nil {
			return fmt.Errorf("%w %q for check %q", ErrUnknownCheckService, c.ServiceID, c.CheckID)
		}
		svc := raw.(*Service)
		c.ServiceName, c.ServiceTags = svc.Service, svc.Tags
	}
	raw, err := tx.First(TableChecks, indexID, c.Node, c.CheckID)
	if err != nil {
		return fmt.Errorf("catalog: check lookup: %w", err)
	}
	if raw != nil {
		old := raw.(*HealthCheck)
		c.CreateIndex, c.ModifyIndex = old.CreateIndex, old.ModifyIndex
		if checkEqual(old, c) {
			return nil
		}
		if old.ServiceID != c.ServiceID {
			if err := touchCheck(tx, idx, old); err != nil {
				return err
			}
		}
	} else {
		c.CreateIndex = idx
	}
	c.ModifyIndex = idx
	if err := tx.Insert(TableChecks, c); err != nil {
		return fmt.Errorf("catalog: check insert: %w", err)
	}
	if err := touchCheck(tx, idx, c); err != nil {
		return err
	}
	return state.UpdateIndex(tx, TableChecks, idx)
}

func checkEqual(a, b *HealthCheck) bool {
	return a.Name == b.Name && a.Status == b.Status && a.Notes == b.Notes && a.Output == b.Output &&
		a.ServiceID == b.ServiceID && a.ServiceName == b.ServiceName && a.Type == b.Type &&
		slices.Equal(a.ServiceTags, b.ServiceTags)
}

// Deregister applies a DeregisterRequest: a check, a service (with its
// checks), or the whole node (with everything on it).
func Deregister(tx *memdb.Txn, idx uint64, req *DeregisterRequest) error {
	if req.Node == "" {
		return ErrMissingNode
	}
	switch {
	case req.ServiceID != "":
		return deleteService(tx, idx, req.Node, req.ServiceID)
	case req.CheckID != "":
		return deleteCheck(tx, idx, req.Node, req.CheckID)
	default:
		return deleteNode(tx, idx, req.Node)
	}
}

func deleteNode(tx *memdb.Txn, idx uint64, node string) error {
	raw, err := tx.First(TableNodes, indexID, node)
	if err != nil || raw == nil {
		return err
	}
	if err := touchNodeServices(tx, idx, node); err != nil {
		return err
	}
	for _, t := range []string{TableChecks, TableServices} {
		n, err := tx.DeleteAll(t, indexNode, node)
		if err != nil {
			return fmt.Errorf("catalog: delete node %s: %w", t, err)
		}
		if n > 0 {
			if err := state.UpdateIndex(tx, t, idx); err != nil {
				return err
			}
		}
	}
	if err := tx.Delete(TableNodes, raw); err != nil {
		return fmt.Errorf("catalog: delete node: %w", err)
	}
	return state.UpdateIndex(tx, TableNodes, idx)
}

func deleteService(tx *memdb.Txn, idx uint64, node, id string) error {
	raw, err := tx.First(TableServices, indexID, node, id)
	if err != nil || raw == nil {
		return err
	}
	it, err := tx.Get(TableChecks, indexNode, node)
	if err != nil {
		return fmt.Errorf("catalog: delete service checks: %w", err)
	}
	var doomed []*HealthCheck
	for c := it.Next(); c != nil; c = it.Next() {
		if c.(*HealthCheck).ServiceID == id {
			doomed = append(doomed, c.(*HealthCheck))
		}
	}
	for _, c := range doomed {
		if err := tx.Delete(TableChecks, c); err != nil {
			return fmt.Errorf("catalog: delete service check: %w", err)
		}
	}
	if len(doomed) > 0 {
		if err := state.UpdateIndex(tx, TableChecks, idx); err != nil {
			return err
		}
	}
	if err := tx.Delete(TableServices, raw); err != nil {
		return fmt.Errorf("catalog: delete service: %w", err)
	}
	if err := touchService(tx, idx, raw.(*Service).Service); err != nil {
		return err
	}
	return state.UpdateIndex(tx, TableServices, idx)
}

func deleteCheck(tx *memdb.Txn, idx uint64, node, id string) error {
	raw, err := tx.First(TableChecks, indexID, node, id)
	if err != nil || raw == nil {
		return err
	}
	if err := tx.Delete(TableChecks, raw); err != nil {
		return fmt.Errorf("catalog: delete check: %w", err)
	}
	if err := touchCheck(tx, idx, raw.(*HealthCheck)); err != nil {
		return err
	}
	return state.UpdateIndex(tx, TableChecks, idx)
}
