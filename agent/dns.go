package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/dns"
	"github.com/shoalproject/shoal/rpcapi"
)

// dnsService is the agent's DNS interface: the server and the cache it
// reads from.
type dnsService struct {
	server *dns.Server
	reader *dnsReader
	addrs  []net.Addr
}

func (d *dnsService) shutdown() {
	d.server.Shutdown()
	d.reader.close()
}

// startDNS serves DNS on UDP and TCP at every client address, unless the
// DNS port is negative.
func (a *Agent) startDNS() error {
	if a.cfg.Ports.DNS < 0 {
		return nil
	}
	dc, err := config.ParseDNSConfig(a.cfg.DNSConfig)
	if err != nil {
		return err
	}
	logger := a.logger.Named("dns")
	cfg := dnsServerConfig(a.cfg, dc)
	reader := newDNSReader(a.delegate.RPC, a.cfg.Datacenter, dc.AllowStale, dc.MaxStale, logger)
	reader.execQuery = a.dnsExecuteQuery
	if a.mesh != nil {
		reader.vips = a.mesh.VIP
	}
	srv, err := dns.New(cfg, a.dnsACLReader(reader), logger)
	if err != nil {
		reader.close()
		return fmt.Errorf("agent: %w", err)
	}
	d := &dnsService{server: srv, reader: reader}
	a.dns = d
	for _, ip := range strings.Fields(a.cfg.ClientAddr) {
		addr := net.JoinHostPort(ip, strconv.Itoa(a.cfg.Ports.DNS))
		for _, network := range []string{"udp", "tcp"} {
			bound, err := srv.Listen(network, addr)
			if err != nil {
				return fmt.Errorf("agent: %w", err)
			}
			d.addrs = append(d.addrs, bound)
		}
	}
	logger.Info("dns server started", "addrs", d.addrs, "domain", cfg.Domain, "recursors", cfg.Recursors)
	return nil
}

// DNSAddrs lists the addresses the DNS server listens on, UDP and TCP.
func (a *Agent) DNSAddrs() []net.Addr {
	if a.dns == nil {
		return nil
	}
	return a.dns.addrs
}

func dnsServerConfig(c *config.Config, d config.DNSConfig) dns.Config {
	cfg := dns.DefaultConfig()
	cfg.Domain = c.Domain
	cfg.AltDomain = c.AltDomain
	cfg.Datacenter = c.Datacenter
	cfg.NodeName = c.NodeName
	cfg.Recursors = c.Recursors
	cfg.NodeTTL = d.NodeTTL
	cfg.ServiceTTL = d.ServiceTTL
	cfg.OnlyPassing = d.OnlyPassing
	cfg.EnableTruncate = d.EnableTruncate
	cfg.UDPAnswerLimit = d.UDPAnswerLimit
	cfg.ARecordLimit = d.ARecordLimit
	cfg.NodeMetaTXT = d.NodeMetaTXT
	cfg.DisableCompression = d.DisableCompression
	cfg.RecursorTimeout = d.RecursorTimeout
	cfg.RecursorRandom = d.RecursorStrategy == "random"
	cfg.SOA = dns.SOAConfig{Refresh: d.SOARefresh, Retry: d.SOARetry, Expire: d.SOAExpire, MinTTL: d.SOAMinTTL}
	return cfg
}

// Cache timing of the DNS reader.
const (
	// dnsFetchTimeout bounds a read that does not block: a query waiting on
	// a cache miss gets SERVFAIL after it (the query's own timeout is the
	// same).
	dnsFetchTimeout = 2 * time.Second
	// dnsWatchWait is the MaxQueryTime of the blocking queries that keep
	// cache entries current.
	dnsWatchWait = 30 * time.Second
	// dnsIdleTimeout: an entry unused for this long is dropped when its
	// blocking query next returns.
	dnsIdleTimeout = time.Minute
	// dnsMaxEntries bounds the cache (and its blocking queries); past it,
	// lookups are plain stale reads.
	dnsMaxEntries = 4096
)

// rpcFunc calls a server endpoint, as delegate.RPC.
type rpcFunc func(ctx context.Context, method string, args, reply any) error

// dnsReader implements dns.Reader and dns.ServiceLister over server RPC.
//
// Every distinct read (one service's instances, the node list, the service
// list) is an entry of a cache. The first lookup of an entry makes a stale
// read (on a server: a local read, no Raft round trip) and concurrent
// lookups wait for that one read. A goroutine per entry then keeps it
// current with blocking queries, so every later lookup is served from
// memory and sees a change as soon as the servers know of it. An entry that
// fails (no server reachable) is dropped, so the next lookup reads again
// and fails visibly; one unused for dnsIdleTimeout is dropped too.
type dnsReader struct {
	rpc        rpcFunc
	dc         string
	allowStale bool
	maxStale   time.Duration
	logger     hclog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// execQuery runs a prepared query (agent/http_query.go); nil: none.
	execQuery func(ctx context.Context, dc, name string, stale bool) ([]catalog.Instance, string, time.Duration, bool, error)

	entries sync.Map // dnsKey → *dnsEntry
	count   atomic.Int64

	// vips answers <service>.virtual names (the mesh's); nil: none.
	vips func(service string) (netip.Addr, bool)
}

// VIP implements dns.VirtualIPs with the routing mesh's virtual IPs.
func (r *dnsReader) VIP(service string) (netip.Addr, bool) {
	if r.vips == nil {
		return netip.Addr{}, false
	}
	return r.vips(service)
}

// Kinds of cache entries.
const (
	dnsKindService byte = iota + 1
	dnsKindNodes
	dnsKindServices
)

type dnsKey struct {
	kind     byte
	dc, name string
}

type dnsEntry struct {
	ready chan struct{} // closed once res holds the first result
	res   atomic.Pointer[dnsResult]
	used  atomic.Int64 // last lookup, Unix nanoseconds
}

type dnsResult struct {
	val any // []catalog.Instance, *nodeIndex or []string
	err error
}

// nodeIndex is the node list with a lookup by lower-case name.
type nodeIndex struct {
	list   []*catalog.Node
	byName map[string]*catalog.Node
}

func newDNSReader(rpc rpcFunc, dc string, allowStale bool, maxStale time.Duration, logger hclog.Logger) *dnsReader {
	r := &dnsReader{rpc: rpc, dc: strings.ToLower(dc), allowStale: allowStale, maxStale: maxStale, logger: logger}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// close stops the blocking queries and waits for them.
func (r *dnsReader) close() {
	r.cancel()
	r.wg.Wait()
}

// ExecuteQuery implements dns.QueryExecutor.
func (r *dnsReader) ExecuteQuery(ctx context.Context, dc, name string) ([]catalog.Instance, string, time.Duration, bool, error) {
	if r.execQuery == nil {
		return nil, "", 0, false, nil
	}
	return r.execQuery(ctx, dc, name, r.allowStale)
}

// ServiceNodes implements dns.Reader.
func (r *dnsReader) ServiceNodes(ctx context.Context, dc, service string) ([]catalog.Instance, error) {
	v, err := r.get(ctx, dnsKey{dnsKindService, dc, service})
	if err != nil {
		return nil, err
	}
	return v.([]catalog.Instance), nil
}

// Node implements dns.Reader.
func (r *dnsReader) Node(ctx context.Context, dc, name string) (*catalog.Node, error) {
	v, err := r.get(ctx, dnsKey{dnsKindNodes, dc, ""})
	if err != nil {
		return nil, err
	}
	return v.(*nodeIndex).byName[strings.ToLower(name)], nil
}

// Nodes implements dns.Reader.
func (r *dnsReader) Nodes(ctx context.Context, dc string) ([]*catalog.Node, error) {
	v, err := r.get(ctx, dnsKey{dnsKindNodes, dc, ""})
	if err != nil {
		return nil, err
	}
	return v.(*nodeIndex).list, nil
}

// Services implements dns.ServiceLister.
func (r *dnsReader) Services(ctx context.Context, dc string) ([]string, error) {
	v, err := r.get(ctx, dnsKey{dnsKindServices, dc, ""})
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// get returns the cached value of k, reading it first on a miss.
func (r *dnsReader) get(ctx context.Context, k dnsKey) (any, error) {
	if k.dc != r.dc {
		return nil, dns.ErrNoDatacenter // no WAN federation yet
	}
	now := time.Now().UnixNano()
	v, ok := r.entries.Load(k)
	if !ok {
		if r.count.Load() >= dnsMaxEntries {
			ctx, cancel := context.WithTimeout(ctx, dnsFetchTimeout)
			defer cancel()
			val, _, err := r.read(ctx, k, 0)
			return val, err
		}
		e := &dnsEntry{ready: make(chan struct{})}
		e.used.Store(now)
		var loaded bool
		if v, loaded = r.entries.LoadOrStore(k, e); !loaded {
			r.count.Add(1)
			r.wg.Add(1)
			go r.run(k, e)
		}
	}
	e := v.(*dnsEntry)
	// Record the use, but write the shared word at most once a second.
	if now-e.used.Load() > int64(time.Second) {
		e.used.Store(now)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := e.res.Load()
	return res.val, res.err
}

// run fills an entry and keeps it current until it fails, goes unused or
// the reader closes; it then removes the entry.
func (r *dnsReader) run(k dnsKey, e *dnsEntry) {
	defer r.wg.Done()
	defer func() {
		r.entries.CompareAndDelete(k, e)
		r.count.Add(-1)
	}()
	ctx, cancel := context.WithTimeout(r.ctx, dnsFetchTimeout)
	val, index, err := r.read(ctx, k, 0)
	cancel()
	e.res.Store(&dnsResult{val: val, err: err})
	close(e.ready)
	if err != nil {
		r.logger.Debug("catalog read failed", "key", k.name, "kind", k.kind, "error", err)
		return
	}
	for {
		if time.Since(time.Unix(0, e.used.Load())) > dnsIdleTimeout {
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, dnsWatchWait+dnsWatchWait/16+dnsFetchTimeout)
		val, next, err := r.read(ctx, k, index)
		cancel()
		if err != nil {
			if r.ctx.Err() == nil {
				r.logger.Debug("blocking query failed; dropping cache entry", "key", k.name, "error", err)
			}
			return
		}
		if next != index {
			e.res.Store(&dnsResult{val: val})
			index = next
		}
	}
}

// read makes one read of k, blocking while the data's index is minIndex
// (0: not at all). A stale answer from a server out of touch with the
// leader for longer than maxStale is read again from the leader.
func (r *dnsReader) read(ctx context.Context, k dnsKey, minIndex uint64) (any, uint64, error) {
	val, meta, err := r.readOnce(ctx, k, minIndex, r.allowStale)
	if err == nil && r.allowStale && meta.LastContact > r.maxStale {
		r.logger.Warn("stale DNS read too old; asking the leader", "last_contact", meta.LastContact)
		val, meta, err = r.readOnce(ctx, k, 0, false)
	}
	return val, meta.Index, err
}

func (r *dnsReader) readOnce(ctx context.Context, k dnsKey, minIndex uint64, stale bool) (any, rpcapi.QueryMeta, error) {
	opts := rpcapi.QueryOptions{Datacenter: k.dc, AllowStale: stale, MinQueryIndex: minIndex}
	if minIndex > 0 {
		opts.MaxQueryTime = dnsWatchWait
	}
	switch k.kind {
	case dnsKindService:
		args := rpcapi.ServiceSpecificRequest{QueryOptions: opts, ServiceName: k.name}
		var reply rpcapi.IndexedCheckServiceNodes
		if err := r.rpc(ctx, "Health.ServiceNodes", &args, &reply); err != nil {
			return nil, rpcapi.QueryMeta{}, err
		}
		return reply.Nodes, reply.QueryMeta, nil
	case dnsKindNodes:
		args := rpcapi.NodeSpecificRequest{QueryOptions: opts}
		var reply rpcapi.IndexedNodes
		if err := r.rpc(ctx, "Catalog.ListNodes", &args, &reply); err != nil {
			return nil, rpcapi.QueryMeta{}, err
		}
		idx := &nodeIndex{list: reply.Nodes, byName: make(map[string]*catalog.Node, len(reply.Nodes))}
		for _, n := range reply.Nodes {
			idx.byName[strings.ToLower(n.Node)] = n
		}
		return idx, reply.QueryMeta, nil
	case dnsKindServices:
		args := rpcapi.NodeSpecificRequest{QueryOptions: opts}
		var reply rpcapi.IndexedServices
		if err := r.rpc(ctx, "Catalog.ListServices", &args, &reply); err != nil {
			return nil, rpcapi.QueryMeta{}, err
		}
		names := make([]string, 0, len(reply.Services))
		for name := range reply.Services {
			names = append(names, name)
		}
		slices.Sort(names)
		return names, reply.QueryMeta, nil
	}
	return nil, rpcapi.QueryMeta{}, fmt.Errorf("agent: dns: unknown cache kind %d", k.kind)
}
