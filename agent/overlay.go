package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/overlay"
	"github.com/shoalproject/shoal/overlay/keys"
	"github.com/shoalproject/shoal/rpcapi"
)

// startOverlay leases this node's subnet and brings the overlay up in the
// background (the cluster may not have a leader yet). When the kernel or
// the privileges do not allow it, the agent runs on without it.
func (a *Agent) startOverlay() {
	o := a.cfg.Overlay
	if !o.Enabled {
		return
	}
	vtep, err := netip.ParseAddr(a.cfg.AdvertiseAddr)
	if err != nil {
		a.logger.Error("overlay disabled: advertise address is not an IP", "address", a.cfg.AdvertiseAddr)
		return
	}
	m := overlay.NewManager(overlay.Config{
		Node: a.cfg.NodeName, NodeID: a.nodeID, VTEP: vtep,
		CIDR: netip.MustParsePrefix(o.CIDR), SubnetBits: o.SubnetBits,
		Dataplane: overlay.DataplaneConfig{VNI: o.VNI, Port: o.Port, MTU: o.MTU},
		Alive:     a.aliveMembers,
		Logger:    a.logger,
	}, &rpcStore{rpc: a.delegate.RPC})
	a.overlay = m
	ctx, cancel := context.WithCancel(context.Background())
	a.overlayCancel = cancel
	a.overlayStarted = make(chan struct{})
	go func() {
		defer close(a.overlayStarted)
		for attempt := 0; ctx.Err() == nil; attempt++ {
			err := m.Start(ctx)
			if err == nil {
				a.overlayUp(ctx, m)
				return
			}
			if errors.Is(err, overlay.ErrUnsupported) {
				a.logger.Error("overlay disabled", "reason", err)
				a.overlayMu.Lock()
				a.overlayOff = true
				a.overlayMu.Unlock()
				return
			}
			if attempt%10 == 0 {
				a.logger.Warn("overlay not up yet; retrying", "error", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
}

// stopOverlay stops the overlay's loops. With leave (the node leaves the
// cluster) it also removes the docker network and the data plane and gives
// the subnet back; otherwise (a shutdown or crash-like stop) it leaves them,
// so containers keep their network and a restarted agent adopts it.
func (a *Agent) stopOverlay(leave bool) {
	if a.overlay == nil {
		return
	}
	a.overlayCancel()
	<-a.overlayStarted // Setup never runs after the teardown below
	a.overlay.Stop()
	if !leave {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.overlayMu.Lock()
	off := a.overlayOff // never attached (or the engine is another namespace's)
	a.overlayMu.Unlock()
	if at := a.attacher; at != nil && !off {
		if err := at.RemoveNetwork(ctx, overlayNetwork); err != nil {
			a.logger.Warn("overlay: removing the docker network failed", "error", err)
		}
	}
	if err := a.overlay.Teardown(); err != nil {
		a.logger.Warn("overlay teardown", "error", err)
	}
	if err := a.overlay.Release(ctx); err != nil {
		a.logger.Warn("overlay: releasing the lease failed", "error", err)
	}
}

func (a *Agent) aliveMembers() map[string]bool {
	out := map[string]bool{}
	for _, m := range a.delegate.LANMembers() {
		out[m.Name] = m.Status == serf.StatusAlive
	}
	return out
}

// rpcStore is the overlay's view of the KV store, over RPC.
type rpcStore struct {
	rpc func(ctx context.Context, method string, args, reply any) error
}

func (s *rpcStore) List(ctx context.Context, prefix string, index uint64) ([]overlay.KVPair, uint64, error) {
	args := rpcapi.KeyRequest{Key: prefix, QueryOptions: rpcapi.QueryOptions{MinQueryIndex: index, MaxQueryTime: time.Minute}}
	var reply rpcapi.IndexedEntries
	if err := s.rpc(ctx, "KVS.List", &args, &reply); err != nil {
		return nil, 0, err
	}
	out := make([]overlay.KVPair, 0, len(reply.Entries))
	for _, e := range reply.Entries {
		out = append(out, overlay.KVPair{Key: e.Key, Value: e.Value, ModifyIndex: e.ModifyIndex})
	}
	return out, reply.Index, nil
}

func (s *rpcStore) CAS(ctx context.Context, key string, value []byte, index uint64) (bool, error) {
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpCAS, Entry: kv.Entry{Key: key, Value: value, ModifyIndex: index}}}
	var ok bool
	err := s.rpc(ctx, "KVS.Apply", &args, &ok)
	return ok, err
}

func (s *rpcStore) Delete(ctx context.Context, key string) error {
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: key}}}
	var ok bool
	return s.rpc(ctx, "KVS.Apply", &args, &ok)
}

// OverlayLease is one node's lease as /v1/shoal/overlay reports it.
type OverlayLease struct {
	overlay.Lease
	// State is "alive" when the node is alive in Serf (its peers route to
	// it), else its Serf status.
	State string
}

func (a *Agent) overlayLeases(w http.ResponseWriter, r *http.Request) (any, error) {
	args := rpcapi.KeyRequest{Key: keys.LeasePrefix}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.IndexedEntries
	if err := a.delegate.RPC(r.Context(), "KVS.List", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	status := map[string]string{}
	for _, m := range a.delegate.LANMembers() {
		status[m.Name] = m.Status.String()
	}
	out := []OverlayLease{}
	for _, e := range reply.Entries {
		var l overlay.Lease
		if json.Unmarshal(e.Value, &l) != nil {
			continue
		}
		st := status[l.Node]
		if st == "" {
			st = "unknown"
		}
		out = append(out, OverlayLease{Lease: l, State: st})
	}
	return out, nil
}

// overlayNetwork is the docker network bound to the overlay's bridge.
const overlayNetwork = "shoal"

// overlayUp attaches what uses the overlay once it is up: the docker
// network on its bridge (so that replicas get addresses of this node's
// subnet) and a DNS listener on the bridge address (containers' resolver).
func (a *Agent) overlayUp(ctx context.Context, m *overlay.Manager) {
	lease := m.Lease()
	gw := overlay.GatewayAddr(lease.Subnet)
	if a.dns != nil {
		for _, network := range []string{"udp", "tcp"} {
			if _, err := a.dns.server.Listen(network, net.JoinHostPort(gw.String(), "53")); err != nil {
				a.logger.Warn("overlay: DNS for containers unavailable", "address", gw, "network", network, "error", err)
			}
		}
	}
	at := a.attacher
	if at == nil {
		a.overlayMu.Lock()
		a.overlayOff = true // nothing to attach: replicas need not wait
		a.overlayMu.Unlock()
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := at.CheckSameNetNS(cctx)
	cancel()
	if errors.Is(err, driver.ErrOtherNetNS) {
		// The engine would create the network's bridge in its own
		// namespace, away from the overlay: replicas run without it.
		a.logger.Error("overlay: docker replicas cannot join the overlay; run the agent in the Docker engine's "+
			"network namespace (as a container: --network host)", "error", err)
		a.overlayMu.Lock()
		a.overlayOff = true
		a.overlayMu.Unlock()
		return
	}
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := at.EnsureNetwork(cctx, driver.NetworkSpec{Name: overlayNetwork, Bridge: m.Bridge(),
			Subnet: lease.Subnet, Gateway: gw, MTU: m.MTU()})
		cancel()
		if err == nil {
			a.overlayMu.Lock()
			a.overlayNet, a.overlayDNS = overlayNetwork, []string{gw.String()}
			a.overlayMu.Unlock()
			a.logger.Info("overlay: docker network ready", "network", overlayNetwork, "subnet", lease.Subnet)
			return
		}
		a.logger.Error("overlay: docker network", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// overlayTarget is the docker network and DNS servers of replicas on the
// overlay; wait is true while the overlay is enabled and still coming up.
func (a *Agent) overlayTarget() (network string, dns []string, wait bool) {
	a.overlayMu.Lock()
	defer a.overlayMu.Unlock()
	return a.overlayNet, a.overlayDNS, a.overlay != nil && a.overlayNet == "" && !a.overlayOff
}
