package server

import (
	"fmt"
	"time"

	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/overlay/keys"
	"github.com/shoalproject/shoal/server/fsm"
)

// releaseOverlayLease gives back the overlay subnet of a node that has
// left for good (a graceful leave, force-leave, or a reap after
// reconnect_timeout): its lease key and its subnet claims are deleted,
// each with a CAS on the index read, so a claim written meanwhile stays. A
// node that leaves gracefully has usually released its lease itself; then
// this finds nothing. A node Serf knows as alive or failed (it may have
// rejoined since the event) keeps its lease.
func (s *Server) releaseOverlayLease(node string) error {
	for _, m := range s.serf.Members() {
		if m.Name == node && (m.Status == serf.StatusAlive || m.Status == serf.StatusFailed) {
			return nil
		}
	}
	tx := s.State().ReadTxn()
	var stale []*kv.Entry
	_, lease, err := kv.Get(tx, nil, keys.Lease(node))
	if err == nil && lease != nil {
		stale = append(stale, lease)
	}
	var claims []*kv.Entry
	if err == nil {
		_, claims, err = kv.List(tx, nil, keys.SubnetPrefix)
	}
	tx.Abort()
	if err != nil {
		return fmt.Errorf("overlay lease of %s: %w", node, err)
	}
	for _, c := range claims {
		if string(c.Value) == node {
			stale = append(stale, c)
		}
	}
	for _, e := range stale {
		req := kv.Request{Op: kv.OpDeleteCAS, Entry: kv.Entry{Key: e.Key, ModifyIndex: e.ModifyIndex}, Now: time.Now().UnixNano()}
		if _, err := s.raftApply(fsm.KVSRequestType, &req); err != nil {
			return fmt.Errorf("overlay: release %s of %s: %w", e.Key, node, err)
		}
		s.logger.Info("overlay: released the lease of a node that left", "node", node, "key", e.Key)
	}
	return nil
}
