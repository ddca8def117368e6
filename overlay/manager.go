package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/overlay/keys"
)

// KVPair is one key of the store as the manager sees it.
type KVPair struct {
	Key         string
	Value       []byte
	ModifyIndex uint64
}

// Store is the part of the replicated KV store the manager uses. Calls
// block at most until ctx is done.
type Store interface {
	// List returns the keys under prefix; with index > 0 it blocks until
	// they change past index (or a timeout), and returns the new index.
	List(ctx context.Context, prefix string, index uint64) ([]KVPair, uint64, error)
	// CAS writes key if its ModifyIndex is index (0: only if absent).
	CAS(ctx context.Context, key string, value []byte, index uint64) (bool, error)
	// Delete removes key.
	Delete(ctx context.Context, key string) error
}

// Config configures a Manager.
type Config struct {
	Node   string
	NodeID string
	// VTEP is the node's underlay address.
	VTEP netip.Addr
	// CIDR is the cluster CIDR (default 10.42.0.0/16); SubnetBits the size
	// of each node's subnet (default 24).
	CIDR       netip.Prefix
	SubnetBits int
	Dataplane  DataplaneConfig
	// Alive reports which nodes are alive in Serf.
	Alive func() map[string]bool
	// Resync is the period of a full reconcile. Default 30s.
	Resync time.Duration
	// NewDataPlane builds the data plane of the node holding self. Nil
	// means the kernel's (NewDataplane: netlink and iptables), which needs
	// root: Start then checks the privileges before it leases a subnet.
	NewDataPlane func(self Lease) DataPlane
	Logger       hclog.Logger
}

// DataPlane is what the manager programs: the node's devices and, for
// each live peer, its route, neighbour and FDB entries. *Dataplane is the
// kernel's. Methods are idempotent and called from one goroutine at a
// time.
type DataPlane interface {
	// Setup creates or adopts the devices; an error wrapping
	// ErrUnsupported means the node cannot run the overlay.
	Setup() error
	// Present reports whether the devices exist (someone may delete them).
	Present() bool
	// Sync brings the per-peer entries to want.
	Sync(want Entries) error
	// Teardown removes the devices and what goes with them.
	Teardown() error
	// MTU is the devices' MTU, once Setup ran.
	MTU() int
}

// Manager leases this node's subnet and keeps its data plane in step with
// the other nodes' leases and liveness.
type Manager struct {
	cfg   Config
	store Store
	log   hclog.Logger
	dp    DataPlane

	mu    sync.Mutex
	lease Lease

	kick    chan struct{}
	done    chan struct{} // closed when run returns
	running bool          // run was started
}

// NewManager returns a manager; Start leases and programs.
func NewManager(cfg Config, store Store) *Manager {
	if !cfg.CIDR.IsValid() {
		cfg.CIDR = netip.MustParsePrefix("10.42.0.0/16")
	}
	if cfg.SubnetBits == 0 {
		cfg.SubnetBits = 24
	}
	if cfg.Resync == 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	cfg.Dataplane.CIDR = cfg.CIDR
	return &Manager{cfg: cfg, store: store, log: cfg.Logger.Named("overlay"), kick: make(chan struct{}, 1),
		done: make(chan struct{})}
}

// Lease is this node's lease (zero before Start succeeds).
func (m *Manager) Lease() Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease
}

// MTU is the overlay's MTU, for the networks attached to its bridge (0
// before Start succeeds).
func (m *Manager) MTU() int {
	if m.dp == nil {
		return 0
	}
	return m.dp.MTU()
}

// Bridge is the name of the bridge holding this node's subnet.
func (m *Manager) Bridge() string { return m.cfg.Dataplane.withDefaults().Bridge }

// Kick asks for a reconcile now (for example after a membership change).
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Start leases a subnet and sets up the data plane, then reconciles in the
// background until ctx is done. An ErrUnsupported error means the node
// runs without the overlay.
func (m *Manager) Start(ctx context.Context) error {
	newDP := m.cfg.NewDataPlane
	if newDP == nil {
		if err := checkPrivileges(); err != nil {
			return err // before leasing: peers must not route a subnet here
		}
		newDP = func(self Lease) DataPlane { return NewDataplane(m.cfg.Dataplane, self) }
	}
	lease, fresh, err := m.acquire(ctx)
	if err != nil {
		return err
	}
	m.dp = newDP(lease)
	if err := m.dp.Setup(); err != nil {
		if errors.Is(err, ErrUnsupported) && fresh {
			// This node will not route its subnet: give back the one it
			// has just claimed (a lease it held before stays, for the
			// containers that use it).
			if rerr := m.release(ctx, lease); rerr != nil {
				m.log.Warn("overlay: giving back the subnet failed", "subnet", lease.Subnet, "error", rerr)
			}
		}
		return err
	}
	m.mu.Lock()
	m.lease = lease
	m.running = true
	m.mu.Unlock()
	m.log.Info("overlay up", "subnet", lease.Subnet, "vtep", lease.VTEP, "mac", lease.MAC)
	go m.run(ctx)
	return nil
}

// acquire returns this node's lease: its stored one if still valid, else
// a new subnet claimed with CAS (fresh), retrying on conflicts.
func (m *Manager) acquire(ctx context.Context) (lease Lease, fresh bool, err error) {
	all, err := Subnets(m.cfg.CIDR, m.cfg.SubnetBits)
	if err != nil {
		return Lease{}, false, err
	}
	for attempt := 0; attempt < 32; attempt++ {
		claims, _, err := m.store.List(ctx, keys.SubnetPrefix, 0)
		if err != nil {
			return Lease{}, false, fmt.Errorf("overlay: list subnets: %w", err)
		}
		taken := map[netip.Prefix]bool{}
		var mine netip.Prefix
		for _, c := range claims {
			p, err := parseSubnetKey(c.Key)
			if err != nil {
				continue
			}
			if string(c.Value) == m.cfg.Node {
				mine = p
			} else {
				taken[p] = true
			}
		}
		subnet, err := ChooseSubnet(all, taken, m.cfg.NodeID, mine)
		if err != nil {
			return Lease{}, false, err
		}
		if subnet != mine {
			ok, err := m.store.CAS(ctx, keys.Subnet(subnet), []byte(m.cfg.Node), 0)
			if err != nil {
				return Lease{}, false, fmt.Errorf("overlay: claim %s: %w", subnet, err)
			}
			if !ok {
				continue // someone else claimed it first: choose again
			}
		}
		lease := Lease{Node: m.cfg.Node, NodeID: m.cfg.NodeID, Subnet: subnet, VTEP: m.cfg.VTEP, MAC: VTEPMAC(subnet)}
		if err := m.putLease(ctx, lease); err != nil {
			return Lease{}, false, err
		}
		return lease, subnet != mine, nil
	}
	return Lease{}, false, errors.New("overlay: could not claim a subnet after 32 attempts")
}

func (m *Manager) putLease(ctx context.Context, l Lease) error {
	b, _ := json.Marshal(l)
	pairs, _, err := m.store.List(ctx, keys.Lease(l.Node), 0)
	if err != nil {
		return err
	}
	var idx uint64
	for _, p := range pairs {
		if p.Key == keys.Lease(l.Node) {
			if string(p.Value) == string(b) {
				return nil
			}
			idx = p.ModifyIndex
		}
	}
	ok, err := m.store.CAS(ctx, keys.Lease(l.Node), b, idx)
	if err != nil {
		return fmt.Errorf("overlay: store lease: %w", err)
	}
	if !ok {
		return errors.New("overlay: lease changed while storing it")
	}
	return nil
}

func parseSubnetKey(key string) (netip.Prefix, error) {
	s := strings.TrimPrefix(key, keys.SubnetPrefix)
	return netip.ParsePrefix(strings.Replace(s, "-", "/", 1))
}

// Leases reads every node's lease.
func (m *Manager) leases(ctx context.Context, index uint64) ([]Lease, uint64, error) {
	pairs, idx, err := m.store.List(ctx, keys.LeasePrefix, index)
	if err != nil {
		return nil, 0, err
	}
	var out []Lease
	for _, p := range pairs {
		var l Lease
		if json.Unmarshal(p.Value, &l) == nil {
			out = append(out, l)
		}
	}
	return out, idx, nil
}

// run reconciles on lease changes (a blocking query), kicks and a timer.
func (m *Manager) run(ctx context.Context) {
	defer close(m.done)
	changes := make(chan []Lease, 1)
	go func() {
		var index uint64
		for ctx.Err() == nil {
			ls, idx, err := m.leases(ctx, index)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			if idx < index {
				idx = 0
			}
			index = idx
			select {
			case changes <- ls:
			case <-ctx.Done():
			}
		}
	}()
	var leases []Lease
	seen := false // leases has been read once
	t := time.NewTicker(m.cfg.Resync)
	defer t.Stop()
	alive := time.NewTicker(time.Second) // Serf liveness changes
	defer alive.Stop()
	var lastAlive string
	for {
		select {
		case <-ctx.Done():
			return
		case leases = <-changes:
			seen = true
		case <-m.kick:
		case <-t.C:
		case <-alive.C:
			a := aliveKey(m.cfg.Alive())
			if a == lastAlive && m.dp.Present() {
				continue
			}
			lastAlive = a
		}
		if seen && !slices.ContainsFunc(leases, func(l Lease) bool { return l.Node == m.cfg.Node }) {
			m.reclaim(ctx)
		}
		if !m.dp.Present() {
			// Someone deleted a device: set it up again (routes through
			// a deleted VXLAN device went with it; Sync restores them).
			m.log.Warn("overlay: a device is missing; setting the data plane up again")
			if err := m.dp.Setup(); err != nil {
				m.log.Error("overlay: setting the data plane up again failed", "error", err)
				continue
			}
		}
		live := m.cfg.Alive()
		want := Desired(m.Lease(), leases, func(n string) bool { return live[n] })
		if err := m.dp.Sync(want); err != nil {
			m.log.Error("overlay reconcile failed", "error", err)
		}
	}
}

// reclaim stores this node's lease again when it has vanished while the
// node runs: the leader releases the lease of a node that was force-left
// or reaped while it was away, and the node may come back. Its devices and
// containers still use the subnet, so it claims that same subnet; when
// another node holds it by now, it says so (the agent must restart, with
// its overlay containers, to lease another).
func (m *Manager) reclaim(ctx context.Context) {
	l := m.Lease()
	ok, err := m.store.CAS(ctx, keys.Subnet(l.Subnet), []byte(m.cfg.Node), 0)
	if err != nil {
		m.log.Warn("overlay: reclaiming this node's lease failed; retrying", "subnet", l.Subnet, "error", err)
		return
	}
	if !ok {
		pairs, _, err := m.store.List(ctx, keys.Subnet(l.Subnet), 0)
		if err != nil {
			m.log.Warn("overlay: reclaiming this node's lease failed; retrying", "subnet", l.Subnet, "error", err)
			return
		}
		for _, p := range pairs {
			if p.Key == keys.Subnet(l.Subnet) && string(p.Value) != m.cfg.Node {
				m.log.Error("overlay: this node's subnet was leased to another node while this one was away; "+
					"restart this agent to lease another subnet", "subnet", l.Subnet, "holder", string(p.Value))
				return
			}
		}
	}
	if err := m.putLease(ctx, l); err != nil {
		m.log.Warn("overlay: reclaiming this node's lease failed; retrying", "subnet", l.Subnet, "error", err)
		return
	}
	m.log.Info("overlay: lease reclaimed", "subnet", l.Subnet)
}

func aliveKey(m map[string]bool) string {
	var names []string
	for k, v := range m {
		if v {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// Stop waits for the reconcile loop to end; the context given to Start
// must be done first. The data plane stays: containers on the overlay keep
// their network while the agent restarts, and the restarted agent adopts
// the devices.
func (m *Manager) Stop() {
	m.mu.Lock()
	running := m.running
	m.mu.Unlock()
	if running {
		<-m.done
	}
}

// Teardown removes the data plane (devices, routes, rules), for a node
// that leaves the cluster. Call Stop first. Idempotent.
func (m *Manager) Teardown() error {
	if m.dp == nil {
		return nil
	}
	return m.dp.Teardown()
}

// Release gives up the lease for good (the node leaves the cluster).
func (m *Manager) Release(ctx context.Context) error {
	l := m.Lease()
	if !l.Subnet.IsValid() {
		return nil
	}
	return m.release(ctx, l)
}

func (m *Manager) release(ctx context.Context, l Lease) error {
	return errors.Join(m.store.Delete(ctx, keys.Subnet(l.Subnet)), m.store.Delete(ctx, keys.Lease(l.Node)))
}
