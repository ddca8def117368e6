package local

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

// Run is the anti-entropy loop: a full sync at start, a partial sync on
// every change, a full sync every SyncInterval (scaled and staggered), and
// a retry after RetryInterval when a sync fails. It returns when ctx is
// done.
func (l *State) Run(ctx context.Context) {
	full := true
	var wait <-chan time.Time
	for {
		if full || wait == nil {
			err := l.SyncFull(ctx)
			if ctx.Err() != nil {
				return
			}
			full = false
			if err != nil {
				l.logger.Warn("full sync failed; will retry", "error", err)
				wait = time.After(l.cfg.RetryInterval + rand.N(l.cfg.RetryInterval))
				full = true
			} else {
				wait = time.After(l.nextFullSync())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
			full = true
		case <-l.fullCh:
			full = true
		case <-l.triggerCh:
			if l.isPaused() {
				continue
			}
			if err := l.SyncChanges(ctx); err != nil && ctx.Err() == nil {
				l.logger.Warn("sync of changes failed; will retry", "error", err)
				// Retry as a full sync after a pause.
				wait = time.After(l.cfg.RetryInterval + rand.N(l.cfg.RetryInterval))
			}
		}
	}
}

func (l *State) isPaused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused > 0
}

// SyncFull reads this node from the catalog, marks every difference from
// the local state out of sync — including catalog entries the agent does
// not know, which it deletes — and then pushes the changes.
func (l *State) SyncFull(ctx context.Context) error {
	if err := l.updateSyncState(ctx); err != nil {
		return err
	}
	if l.isPaused() {
		return nil
	}
	return l.SyncChanges(ctx)
}

func (l *State) updateSyncState(ctx context.Context) error {
	args := rpcapi.NodeRequest{Node: l.cfg.NodeName}
	args.Datacenter = l.cfg.Datacenter
	var dump rpcapi.NodeDump
	if err := l.rpc.RPC(ctx, "Internal.NodeDump", &args, &dump); err != nil {
		return fmt.Errorf("local: read node from catalog: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := dump.Node
	l.nodeInSync = n != nil && n.ID == l.cfg.NodeID && n.Address == l.cfg.Address &&
		maps.Equal(n.TaggedAddresses, l.cfg.TaggedAddresses) && maps.Equal(n.Meta, l.cfg.NodeMeta)

	remoteSvcs := map[string]*catalog.Service{}
	for _, s := range dump.Services {
		remoteSvcs[s.ID] = s
	}
	for id, s := range remoteSvcs {
		ls, ok := l.services[id]
		if !ok {
			if id == "consul" {
				continue // the leader owns the servers' "consul" service
			}
			// Registered in the catalog but not here: delete it.
			l.services[id] = &serviceState{svc: s, deleted: true, gen: l.nextGen()}
			continue
		}
		ls.inSync = !ls.deleted && serviceEqual(ls.svc, s)
	}
	for id, ls := range l.services {
		if _, ok := remoteSvcs[id]; ok {
			continue
		}
		if ls.deleted {
			delete(l.services, id) // already gone from the catalog
		} else {
			ls.inSync = false
		}
	}

	remoteChecks := map[string]*catalog.HealthCheck{}
	for _, c := range dump.Checks {
		remoteChecks[c.CheckID] = c
	}
	for id, c := range remoteChecks {
		lc, ok := l.checks[id]
		if !ok {
			if id == catalog.SerfCheckID {
				continue // owned by the leader
			}
			l.checks[id] = &checkState{chk: c, deleted: true, gen: l.nextGen()}
			continue
		}
		// With deferred output updates, output alone does not count.
		lc.inSync = !lc.deleted && checkEqual(lc.chk, c, l.cfg.CheckUpdateInterval <= 0 || lc.deferTimer == nil)
	}
	for id, lc := range l.checks {
		if _, ok := remoteChecks[id]; ok {
			continue
		}
		if lc.deleted {
			delete(l.checks, id)
		} else {
			lc.inSync = false
		}
	}
	return nil
}

// pending is one entry of a sync pass, with the generation it was read at.
type pending struct {
	svcID, checkID string
	gen            uint64
	dereg          bool
}

// SyncChanges pushes every out-of-sync entry to the catalog, in batches
// of BatchSize registrations. An entry changed meanwhile stays out of
// sync for the next pass.
func (l *State) SyncChanges(ctx context.Context) error {
	batch, items := l.collect()
	var firstErr error
	for len(batch.Register) > 0 || len(batch.Deregister) > 0 {
		cut, cutItems := l.split(&batch, &items)
		if err := l.send(ctx, cut); err != nil {
			if len(cutItems) <= 1 {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			// One bad entry must not block the others: retry them singly.
			for i := range cutItems {
				one := singleBatch(cut, i)
				if err := l.send(ctx, one); err != nil {
					l.logger.Warn("sync failed", "service", cutItems[i].svcID, "check", cutItems[i].checkID, "error", err)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				l.markSynced(cutItems[i : i+1])
			}
			continue
		}
		l.markSynced(cutItems)
	}
	return firstErr
}

// collect builds the requests for every out-of-sync entry. Each batch
// entry i of Deregister then Register corresponds to items[i].
func (l *State) collect() (catalog.BatchRequest, []pending) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b catalog.BatchRequest
	var deregItems, regItems []pending
	for id, s := range l.services {
		if s.inSync {
			continue
		}
		if s.deleted {
			b.Deregister = append(b.Deregister, &catalog.DeregisterRequest{Node: l.cfg.NodeName, ServiceID: id})
			deregItems = append(deregItems, pending{svcID: id, gen: s.gen, dereg: true})
			continue
		}
		req := l.registerLocked()
		cp := *s.svc
		req.Service = &cp
		// The service's checks go with it, as in Consul.
		for _, c := range l.checks {
			if c.chk.ServiceID == id && !c.deleted {
				cc := *c.chk
				req.Checks = append(req.Checks, &cc)
			}
		}
		b.Register = append(b.Register, req)
		regItems = append(regItems, pending{svcID: id, gen: s.gen})
	}
	for id, c := range l.checks {
		if c.inSync {
			continue
		}
		if c.deleted {
			b.Deregister = append(b.Deregister, &catalog.DeregisterRequest{Node: l.cfg.NodeName, CheckID: id})
			deregItems = append(deregItems, pending{checkID: id, gen: c.gen, dereg: true})
			continue
		}
		if s, ok := l.services[c.chk.ServiceID]; ok && !s.inSync {
			// Sent with its service; marked in sync with it.
			regItems = append(regItems, pending{checkID: id, gen: c.gen})
			b.Register = append(b.Register, nil)
			continue
		}
		req := l.registerLocked()
		cc := *c.chk
		req.Check = &cc
		b.Register = append(b.Register, req)
		regItems = append(regItems, pending{checkID: id, gen: c.gen})
	}
	if !l.nodeInSync && len(b.Register) == 0 {
		b.Register = append(b.Register, l.registerLocked())
		regItems = append(regItems, pending{})
	}
	// Drop the placeholders of checks sent along with their service, but
	// keep their items so that they are marked in sync with the batch.
	var regs []*catalog.RegisterRequest
	var items []pending
	items = append(items, deregItems...)
	var riders []pending
	for i, r := range b.Register {
		if r == nil {
			riders = append(riders, regItems[i])
			continue
		}
		regs = append(regs, r)
		items = append(items, regItems[i])
	}
	b.Register = regs
	// Riders go last, attached to the final chunk (see split).
	items = append(items, riders...)
	return b, items
}

func (l *State) registerLocked() *catalog.RegisterRequest {
	return &catalog.RegisterRequest{
		ID: l.cfg.NodeID, Node: l.cfg.NodeName, Address: l.cfg.Address, Datacenter: l.cfg.Datacenter,
		TaggedAddresses: l.cfg.TaggedAddresses, NodeMeta: l.cfg.NodeMeta,
	}
}

// split cuts the next chunk of at most BatchSize requests off b and the
// matching items off items. Rider items (beyond the requests) go with the
// last chunk.
func (l *State) split(b *catalog.BatchRequest, items *[]pending) (catalog.BatchRequest, []pending) {
	var cut catalog.BatchRequest
	n := min(len(b.Deregister), l.cfg.BatchSize)
	cut.Deregister, b.Deregister = b.Deregister[:n], b.Deregister[n:]
	m := min(len(b.Register), l.cfg.BatchSize-n)
	cut.Register, b.Register = b.Register[:m], b.Register[m:]
	k := n + m
	if len(b.Deregister) == 0 && len(b.Register) == 0 {
		k = len(*items)
	}
	cutItems := (*items)[:k]
	*items = (*items)[k:]
	return cut, cutItems
}

// singleBatch is the i-th request of b alone (riders yield nothing).
func singleBatch(b catalog.BatchRequest, i int) catalog.BatchRequest {
	if i < len(b.Deregister) {
		return catalog.BatchRequest{Deregister: b.Deregister[i : i+1]}
	}
	i -= len(b.Deregister)
	if i < len(b.Register) {
		return catalog.BatchRequest{Register: b.Register[i : i+1]}
	}
	return catalog.BatchRequest{}
}

func (l *State) send(ctx context.Context, b catalog.BatchRequest) error {
	if len(b.Register) == 0 && len(b.Deregister) == 0 {
		return nil
	}
	args := rpcapi.BatchRequest{BatchRequest: b}
	args.Datacenter = l.cfg.Datacenter
	var reply struct{}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return l.rpc.RPC(ctx, "Catalog.Batch", &args, &reply)
}

// markSynced marks items in sync unless they changed since collect.
func (l *State) markSynced(items []pending) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Any registration carries the node's details.
	l.nodeInSync = true
	for _, it := range items {
		switch {
		case it.svcID != "":
			s, ok := l.services[it.svcID]
			if !ok || s.gen != it.gen {
				continue
			}
			if it.dereg {
				delete(l.services, it.svcID)
			} else {
				s.inSync = true
			}
		case it.checkID != "":
			c, ok := l.checks[it.checkID]
			if !ok || c.gen != it.gen {
				continue
			}
			if it.dereg {
				delete(l.checks, it.checkID)
			} else {
				c.inSync = true
			}
		}
	}
}
