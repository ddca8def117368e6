package agent

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/mesh"
	"github.com/shoalproject/shoal/overlay"
	"github.com/shoalproject/shoal/overlay/keys"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
)

// meshRunner keeps this node's routing mesh (published ports of mode
// ingress, service VIPs) in step with the specs, the VIPs and the healthy
// instances in the catalog, each followed with a blocking query, and
// allocates the VIPs of services that have none (create-only CAS in KV,
// through Raft).
type meshRunner struct {
	log      hclog.Logger
	store    *rpcStore
	rpc      func(ctx context.Context, method string, args, reply any) error
	dp       meshDataplane
	vipRange netip.Prefix

	mu       sync.Mutex
	specs    map[string]*sched.Spec
	vips     map[string]netip.Addr // by service
	claims   map[netip.Addr]string // VIP claims, by address
	inst     map[string][]netip.Addr
	watchers map[string]context.CancelFunc
	ready    bool // specs and VIPs read at least once
	dirty    chan struct{}
	applied  chan struct{} // closed and replaced after each apply, for tests
}

// meshDataplane writes the mesh's rules (mesh.IPTables; a fake in tests).
// Apply makes the node's rules exactly rules; Teardown removes them all.
type meshDataplane interface {
	Apply(rules []mesh.Rule) error
	Teardown() error
}

// newMeshRunner returns a runner over rpc and dp; start it with start.
func newMeshRunner(log hclog.Logger, rpc func(ctx context.Context, method string, args, reply any) error,
	dp meshDataplane, vipRange netip.Prefix) *meshRunner {
	return &meshRunner{log: log.Named("mesh"), store: &rpcStore{rpc: rpc}, rpc: rpc, dp: dp,
		vipRange: vipRange, specs: map[string]*sched.Spec{}, vips: map[string]netip.Addr{},
		claims: map[netip.Addr]string{}, inst: map[string][]netip.Addr{}, watchers: map[string]context.CancelFunc{},
		dirty: make(chan struct{}, 1), applied: make(chan struct{})}
}

// start runs the loops until ctx is done; done is closed when they end.
func (m *meshRunner) start(ctx context.Context) (done <-chan struct{}) {
	d := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); m.watchSpecs(ctx) }()
	go func() { defer wg.Done(); m.watchVIPs(ctx) }()
	go func() { defer wg.Done(); m.run(ctx) }()
	go func() { wg.Wait(); close(d) }()
	return d
}

// startMesh runs the mesh when the overlay is on (the mesh balances over
// overlay addresses) and iptables is there.
func (a *Agent) startMesh() {
	o := a.cfg.Overlay
	if !o.Enabled || !a.cfg.Mesh.Enabled {
		return
	}
	if os.Geteuid() != 0 {
		a.logger.Error("routing mesh disabled", "reason", "it needs root (iptables)")
		return
	}
	dp := &mesh.IPTables{}
	if err := dp.Check(); err != nil {
		a.logger.Error("routing mesh disabled", "reason", err)
		return
	}
	rng, err := overlay.VIPRange(netip.MustParsePrefix(o.CIDR), o.SubnetBits)
	if err != nil {
		a.logger.Error("routing mesh disabled", "reason", err)
		return
	}
	m := newMeshRunner(a.logger, a.delegate.RPC, dp, rng)
	ctx, cancel := context.WithCancel(context.Background())
	a.mesh, a.meshCancel = m, cancel
	a.meshDone = m.start(ctx)
}

// stopMesh stops the mesh's loops and removes its rules: a stopped agent
// answers on no published port (another node's agent does).
func (a *Agent) stopMesh() {
	if a.mesh == nil {
		return
	}
	a.meshCancel()
	<-a.meshDone
	a.mesh.mu.Lock()
	for _, cancel := range a.mesh.watchers {
		cancel()
	}
	a.mesh.mu.Unlock()
	if err := a.mesh.dp.Teardown(); err != nil {
		a.logger.Warn("routing mesh teardown", "error", err)
	}
}

// VIP returns a service's virtual IP, for DNS (<name>.virtual.consul).
func (m *meshRunner) VIP(service string) (netip.Addr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.vips[strings.ToLower(service)]
	return a, ok
}

func (m *meshRunner) markDirty() {
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

// sleep waits d or until ctx is done, and reports whether ctx is live.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// watchSpecs follows the service specs and starts or stops a health
// watch per service with ports.
func (m *meshRunner) watchSpecs(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		pairs, idx, err := m.store.List(ctx, sched.SpecPrefix, index)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Debug("spec watch failed; retrying", "error", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		if idx < index {
			idx = 0
		}
		index = idx
		specs := map[string]*sched.Spec{}
		for _, p := range pairs {
			name := strings.TrimPrefix(p.Key, sched.SpecPrefix)
			s, err := sched.ParseSpec(p.Value)
			if err != nil || s.Name != name || len(s.Ports) == 0 || s.Network == sched.NetworkBridge {
				continue // the mesh reaches overlay (and host) addresses only
			}
			specs[name] = s
		}
		m.mu.Lock()
		m.specs = specs
		for name := range specs {
			if _, ok := m.watchers[name]; !ok {
				wctx, cancel := context.WithCancel(ctx)
				m.watchers[name] = cancel
				go m.watchHealth(wctx, name)
			}
		}
		for name, cancel := range m.watchers {
			if _, ok := specs[name]; !ok {
				cancel()
				delete(m.watchers, name)
				delete(m.inst, name)
			}
		}
		m.mu.Unlock()
		m.markDirty()
	}
}

// watchVIPs follows the VIP keys and claims.
func (m *meshRunner) watchVIPs(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		pairs, idx, err := m.store.List(ctx, "shoal/overlay/vip", index) // both VIP prefixes
		if err != nil {
			if ctx.Err() == nil {
				m.log.Debug("VIP watch failed; retrying", "error", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		if idx < index {
			idx = 0
		}
		index = idx
		vips, claims := map[string]netip.Addr{}, map[netip.Addr]string{}
		for _, p := range pairs {
			switch {
			case strings.HasPrefix(p.Key, keys.VIPPrefix):
				if a, err := netip.ParseAddr(string(p.Value)); err == nil {
					name := strings.TrimPrefix(p.Key, keys.VIPPrefix)
					vips[name] = a
				}
			case strings.HasPrefix(p.Key, keys.VIPClaimPrefix):
				if a, err := netip.ParseAddr(strings.TrimPrefix(p.Key, keys.VIPClaimPrefix)); err == nil {
					claims[a] = string(p.Value)
				}
			}
		}
		m.mu.Lock()
		m.vips, m.claims, m.ready = vips, claims, true
		m.mu.Unlock()
		m.markDirty()
	}
}

// watchHealth follows the passing instances of one service.
func (m *meshRunner) watchHealth(ctx context.Context, name string) {
	var index uint64
	for ctx.Err() == nil {
		args := rpcapi.ServiceSpecificRequest{ServiceName: name, PassingOnly: true,
			QueryOptions: rpcapi.QueryOptions{MinQueryIndex: index, MaxQueryTime: time.Minute, AllowStale: index > 0}}
		var reply rpcapi.IndexedCheckServiceNodes
		if err := m.rpc(ctx, "Health.ServiceNodes", &args, &reply); err != nil {
			if ctx.Err() == nil {
				m.log.Debug("health watch failed; retrying", "service", name, "error", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		if reply.Index < index {
			reply.Index = 0
		}
		index = reply.Index
		var addrs []netip.Addr
		for _, in := range reply.Nodes {
			addr := ""
			if in.Service != nil {
				addr = in.Service.Address
			}
			if addr == "" && in.Node != nil {
				addr = in.Node.Address
			}
			if a, err := netip.ParseAddr(addr); err == nil {
				addrs = append(addrs, a)
			}
		}
		m.mu.Lock()
		if ctx.Err() == nil {
			m.inst[name] = addrs
		}
		m.mu.Unlock()
		m.markDirty()
	}
}

// run applies the plan on every change, and allocates and releases VIPs.
func (m *meshRunner) run(ctx context.Context) {
	retry := time.NewTicker(5 * time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.dirty:
		case <-retry.C:
		}
		m.mu.Lock()
		ready := m.ready
		var services []mesh.Service
		var needVIP, staleVIP []string
		for name, s := range m.specs {
			vip, ok := m.vips[name]
			if !ok {
				needVIP = append(needVIP, name)
			}
			services = append(services, mesh.Service{Name: name, VIP: vip, Ports: s.Ports, Instances: m.inst[name]})
		}
		for name := range m.vips {
			if _, ok := m.specs[name]; !ok {
				staleVIP = append(staleVIP, name)
			}
		}
		taken := map[netip.Addr]bool{}
		for a := range m.claims {
			taken[a] = true
		}
		claims := m.claims
		m.mu.Unlock()
		if !ready {
			continue
		}
		rules, conflicts := mesh.Plan(services)
		for _, c := range conflicts {
			m.log.Warn("published port conflict", "problem", c)
		}
		if err := m.dp.Apply(rules); err != nil {
			m.log.Error("routing mesh: applying rules failed", "error", err)
		}
		m.mu.Lock()
		close(m.applied)
		m.applied = make(chan struct{})
		m.mu.Unlock()
		for _, name := range needVIP {
			if err := m.claimVIP(ctx, name, taken); err != nil && ctx.Err() == nil {
				m.log.Warn("allocating a virtual IP failed", "service", name, "error", err)
			}
		}
		for _, name := range staleVIP {
			m.releaseVIP(ctx, name, claims)
		}
	}
}

// claimVIP allocates a VIP for service: first the address (create-only,
// so no two services share one), then the service's key (create-only, so
// that of agents racing for one service only one address stays claimed;
// a loser gives its address back).
func (m *meshRunner) claimVIP(ctx context.Context, service string, taken map[netip.Addr]bool) error {
	for attempt := 0; attempt < 8; attempt++ {
		a, err := mesh.ChooseVIP(m.vipRange, taken, service)
		if err != nil {
			return err
		}
		ok, err := m.store.CAS(ctx, keys.VIPClaim(a), []byte(service), 0)
		if err != nil {
			return err
		}
		if !ok {
			taken[a] = true
			continue
		}
		ok, err = m.store.CAS(ctx, keys.VIP(service), []byte(a.String()), 0)
		if err != nil || !ok {
			_ = m.store.Delete(ctx, keys.VIPClaim(a))
			return err // another agent allocated it first: fine
		}
		m.log.Info("allocated virtual IP", "service", service, "vip", a)
		return nil
	}
	return errors.New("mesh: every virtual IP tried was taken meanwhile")
}

// releaseVIP gives back the VIP of a service whose spec is gone.
func (m *meshRunner) releaseVIP(ctx context.Context, service string, claims map[netip.Addr]string) {
	m.mu.Lock()
	a := m.vips[service]
	m.mu.Unlock()
	if err := m.store.Delete(ctx, keys.VIP(service)); err != nil {
		m.log.Warn("releasing a virtual IP failed", "service", service, "error", err)
		return
	}
	if claims[a] == service {
		_ = m.store.Delete(ctx, keys.VIPClaim(a))
	}
}
