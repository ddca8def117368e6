package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/overlay/keys"
)

// fakeStore is the KV store as the manager sees it, in memory, with
// blocking lists.
type fakeStore struct {
	mu      sync.Mutex
	kv      map[string]KVPair
	index   uint64
	changed chan struct{}
	// beforeCAS, when set, runs before each CAS (without the lock), for
	// a test to race the manager.
	beforeCAS func(key string)
}

func newFakeStore() *fakeStore {
	return &fakeStore{kv: map[string]KVPair{}, changed: make(chan struct{})}
}

func (s *fakeStore) bumpLocked() {
	s.index++
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *fakeStore) List(ctx context.Context, prefix string, index uint64) ([]KVPair, uint64, error) {
	for {
		s.mu.Lock()
		if index == 0 || s.index > index {
			var out []KVPair
			for k, p := range s.kv {
				if strings.HasPrefix(k, prefix) {
					out = append(out, p)
				}
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
			idx := s.index
			s.mu.Unlock()
			return out, idx, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

func (s *fakeStore) CAS(ctx context.Context, key string, value []byte, index uint64) (bool, error) {
	if s.beforeCAS != nil {
		s.beforeCAS(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.kv[key]
	if (index == 0 && ok) || (index != 0 && (!ok || cur.ModifyIndex != index)) {
		return false, nil
	}
	s.bumpLocked()
	s.kv[key] = KVPair{Key: key, Value: value, ModifyIndex: s.index}
	return true, nil
}

func (s *fakeStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv, key)
	s.bumpLocked()
	return nil
}

func (s *fakeStore) put(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bumpLocked()
	s.kv[key] = KVPair{Key: key, Value: value, ModifyIndex: s.index}
}

func (s *fakeStore) get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.kv[key]
	return string(p.Value), ok
}

// putLease stores a peer's lease (and its subnet claim), as the peer's
// manager would.
func (s *fakeStore) putLease(t *testing.T, l Lease) {
	t.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	s.put(keys.Subnet(l.Subnet), []byte(l.Node))
	s.put(keys.Lease(l.Node), b)
}

func (s *fakeStore) lease(t *testing.T, node string) (Lease, bool) {
	t.Helper()
	v, ok := s.get(keys.Lease(node))
	if !ok {
		return Lease{}, false
	}
	var l Lease
	if err := json.Unmarshal([]byte(v), &l); err != nil {
		t.Fatal(err)
	}
	return l, true
}

// fakeDP is a data plane that remembers what it was told.
type fakeDP struct {
	mu       sync.Mutex
	self     Lease
	setupErr error
	setups   int
	present  bool
	entries  Entries
	syncs    int
	torn     bool
}

func (d *fakeDP) Setup() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setups++
	if d.setupErr != nil {
		return d.setupErr
	}
	d.present = true
	return nil
}

func (d *fakeDP) Present() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.present
}

func (d *fakeDP) Sync(want Entries) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries = want
	d.syncs++
	return nil
}

func (d *fakeDP) Teardown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.torn, d.present = true, false
	return nil
}

func (d *fakeDP) MTU() int { return 1450 }

// peers describes the entries per peer ("subnet via tunnel-addr mac vtep"),
// and fails the test when routes, neighbours and FDB entries disagree.
func (d *fakeDP) peers(t *testing.T) []string {
	t.Helper()
	d.mu.Lock()
	e := d.entries
	d.mu.Unlock()
	if len(e.Routes) != len(e.Neighs) || len(e.Routes) != len(e.FDBs) {
		t.Fatalf("entries disagree: %+v", e)
	}
	var out []string
	for i, r := range e.Routes {
		if e.Neighs[i].IP != r.Via || e.Neighs[i].MAC != e.FDBs[i].MAC {
			t.Fatalf("entries of %s disagree: %+v", r.Dst, e)
		}
		out = append(out, fmt.Sprintf("%s via %s at %s", r.Dst, r.Via, e.FDBs[i].VTEP))
	}
	return out
}

func (d *fakeDP) counts() (setups, syncs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setups, d.syncs
}

// mgrHarness is a Manager for node h1 on a fake store and data plane, in
// the cluster CIDR 10.42.0.0/22 (three /24 subnets: .1, .2, .3).
type mgrHarness struct {
	t     *testing.T
	m     *Manager
	store *fakeStore
	dp    *fakeDP

	mu    sync.Mutex
	alive map[string]bool
}

func newMgrHarness(t *testing.T, store *fakeStore, setupErr error) *mgrHarness {
	h := &mgrHarness{t: t, store: store, alive: map[string]bool{"h1": true}}
	h.m = NewManager(Config{
		Node: "h1", NodeID: "id-1", VTEP: netip.MustParseAddr("10.77.0.11"),
		CIDR: netip.MustParsePrefix("10.42.0.0/22"), SubnetBits: 24,
		Alive: func() map[string]bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			out := map[string]bool{}
			for k, v := range h.alive {
				out[k] = v
			}
			return out
		},
		Resync: time.Hour, // only events drive the tests
		NewDataPlane: func(self Lease) DataPlane {
			h.dp = &fakeDP{self: self, setupErr: setupErr}
			return h.dp
		},
		Logger: hclog.New(&hclog.LoggerOptions{Output: tWriter{t}, Level: hclog.Debug}),
	}, store)
	return h
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// start starts the manager and stops it when the test ends.
func (h *mgrHarness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.m.Start(ctx); err != nil {
		cancel()
		h.t.Fatalf("Start: %v", err)
	}
	h.t.Cleanup(func() {
		cancel()
		h.m.Stop()
	})
}

func (h *mgrHarness) setAlive(node string, alive bool) {
	h.mu.Lock()
	h.alive[node] = alive
	h.mu.Unlock()
	h.m.Kick()
}

func peerLease(node, subnet, vtep string) Lease {
	s := netip.MustParsePrefix(subnet)
	return Lease{Node: node, NodeID: "id-" + node, Subnet: s, VTEP: netip.MustParseAddr(vtep), MAC: VTEPMAC(s)}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestManagerAcquire: which subnet a node leases, and what stays in the
// store when the data plane cannot run.
func TestManagerAcquire(t *testing.T) {
	for _, tc := range []struct {
		name     string
		claims   map[string]string // subnet → node, before Start
		race     string            // a subnet another node claims just before the manager's first CAS of it
		setupErr error
		want     string // the subnet leased; "" when Start fails
		wantErr  error
		// wantClaims are the claims after Start (subnet → node).
		wantClaims map[string]string
	}{{
		name:       "keeps the subnet it held before a restart",
		claims:     map[string]string{"10.42.3.0/24": "h1"},
		want:       "10.42.3.0/24",
		wantClaims: map[string]string{"10.42.3.0/24": "h1"},
	}, {
		name:       "takes the free one",
		claims:     map[string]string{"10.42.1.0/24": "h2", "10.42.2.0/24": "h3"},
		want:       "10.42.3.0/24",
		wantClaims: map[string]string{"10.42.1.0/24": "h2", "10.42.2.0/24": "h3", "10.42.3.0/24": "h1"},
	}, {
		name:       "chooses again after losing a race",
		claims:     map[string]string{"10.42.1.0/24": "h2"},
		race:       "any",
		wantClaims: map[string]string{"10.42.1.0/24": "h2"}, // plus the race winner's and ours, checked below
	}, {
		name:    "no free subnet",
		claims:  map[string]string{"10.42.1.0/24": "h2", "10.42.2.0/24": "h3", "10.42.3.0/24": "h4"},
		wantErr: ErrExhausted,
	}, {
		name:       "gives back a fresh subnet it cannot route",
		claims:     map[string]string{"10.42.1.0/24": "h2", "10.42.2.0/24": "h3"},
		setupErr:   fmt.Errorf("%w: no vxlan", ErrUnsupported),
		wantErr:    ErrUnsupported,
		wantClaims: map[string]string{"10.42.1.0/24": "h2", "10.42.2.0/24": "h3"},
	}, {
		name:       "keeps a subnet it held before even when it cannot route it",
		claims:     map[string]string{"10.42.3.0/24": "h1"},
		setupErr:   fmt.Errorf("%w: no vxlan", ErrUnsupported),
		wantErr:    ErrUnsupported,
		wantClaims: map[string]string{"10.42.3.0/24": "h1"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			store := newFakeStore()
			for subnet, node := range tc.claims {
				store.put(keys.Subnet(netip.MustParsePrefix(subnet)), []byte(node))
			}
			raced := ""
			if tc.race != "" {
				store.beforeCAS = func(key string) {
					if raced == "" && strings.HasPrefix(key, keys.SubnetPrefix) {
						raced = key
						store.put(key, []byte("racer"))
					}
				}
			}
			h := newMgrHarness(t, store, tc.setupErr)
			ctx, cancel := context.WithCancel(context.Background())
			err := h.m.Start(ctx)
			t.Cleanup(func() { cancel(); h.m.Stop() })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Start: err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Start: %v", err)
			}

			got := h.m.Lease()
			stored, hasLease := store.lease(t, "h1")
			claims := map[string]string{}
			for _, p := range func() []KVPair { ps, _, _ := store.List(ctx, keys.SubnetPrefix, 0); return ps }() {
				claims[p.Key] = string(p.Value)
			}
			wantClaims := map[string]string{}
			for subnet, node := range tc.wantClaims {
				wantClaims[keys.Subnet(netip.MustParsePrefix(subnet))] = node
			}
			if tc.race != "" {
				if raced == "" || claims[raced] != "racer" {
					t.Fatalf("the race did not happen as planned: raced %q, claims %v", raced, claims)
				}
				if keys.Subnet(got.Subnet) == raced || claims[keys.Subnet(got.Subnet)] != "h1" {
					t.Fatalf("leased %v, claims %v: want a subnet other than the one lost (%s), claimed by h1", got.Subnet, claims, raced)
				}
				wantClaims[raced], wantClaims[keys.Subnet(got.Subnet)] = "racer", "h1"
			}
			if tc.wantErr != nil {
				if got.Subnet.IsValid() {
					t.Errorf("Lease() = %+v after a failed Start, want none", got)
				}
			} else if tc.want != "" && got.Subnet.String() != tc.want {
				t.Errorf("leased %v, want %s", got.Subnet, tc.want)
			}
			if tc.wantErr == nil && (!hasLease || stored != got || got.MAC != VTEPMAC(got.Subnet) || got.VTEP != h.m.cfg.VTEP) {
				t.Errorf("stored lease %+v (%v), want %+v with its MAC and VTEP", stored, hasLease, got)
			}
			if errors.Is(tc.wantErr, ErrExhausted) && hasLease {
				t.Errorf("a lease was stored without a subnet: %+v", stored)
			}
			if tc.wantClaims != nil || tc.race != "" {
				if fmt.Sprint(claims) != fmt.Sprint(wantClaims) {
					t.Errorf("claims %v, want %v", claims, wantClaims)
				}
			}
		})
	}
}

// TestManagerFollowsPeers: routes, neighbours and FDB entries are added for
// peers that join and come back, removed for peers that fail or leave.
func TestManagerFollowsPeers(t *testing.T) {
	h := newMgrHarness(t, newFakeStore(), nil)
	h.start()
	if l := h.m.Lease(); l.Subnet.String() == "" || h.m.MTU() != 1450 {
		t.Fatalf("lease %+v, MTU %d", l, h.m.MTU())
	}
	// Make h1 hold .1 so that peers can have .2 and .3: take whatever it got.
	own := h.m.Lease().Subnet
	var free []netip.Prefix
	all, _ := Subnets(netip.MustParsePrefix("10.42.0.0/22"), 24)
	for _, p := range all {
		if p != own {
			free = append(free, p)
		}
	}
	h2 := peerLease("h2", free[0].String(), "10.77.0.12")
	h3 := peerLease("h3", free[1].String(), "10.77.0.13")
	entry := func(l Lease) string { return fmt.Sprintf("%s via %s at %s", l.Subnet, TunnelAddr(l.Subnet), l.VTEP) }

	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"h2 joins", func() { h.setAlive("h2", true); h.store.putLease(t, h2) }, []string{entry(h2)}},
		{"h3 joins", func() { h.setAlive("h3", true); h.store.putLease(t, h3) }, []string{entry(h2), entry(h3)}},
		{"h3 fails", func() { h.setAlive("h3", false) }, []string{entry(h2)}},
		{"h3 comes back", func() { h.setAlive("h3", true) }, []string{entry(h2), entry(h3)}},
		{"h2 leaves (its lease is released)", func() {
			h.store.Delete(context.Background(), keys.Lease("h2"))
			h.store.Delete(context.Background(), keys.Subnet(h2.Subnet))
		}, []string{entry(h3)}},
		{"a lease without a live node gets nothing", func() { h.store.putLease(t, peerLease("h9", "10.42.0.0/24", "10.77.0.19")) }, []string{entry(h3)}},
	}
	for _, st := range steps {
		st.do()
		waitFor(t, st.name+": entries "+strings.Join(st.want, ", "), func() bool {
			return slices.Equal(h.dp.peers(t), st.want)
		})
	}
}

// TestManagerReclaimsLease: a lease released while the node ran (the
// leader reaped it) is stored again with the same subnet, unless another
// node holds that subnet by now.
func TestManagerReclaimsLease(t *testing.T) {
	for _, tc := range []struct {
		name      string
		holder    string // who claims the subnet after the release; "" nobody
		reclaimed bool
	}{
		{"subnet still free", "", true},
		{"subnet taken meanwhile", "h7", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newMgrHarness(t, newFakeStore(), nil)
			h.start()
			l := h.m.Lease()
			waitFor(t, "the first sync", func() bool { _, syncs := h.dp.counts(); return syncs > 0 })
			// Released as the leader does it (the claim first), and the
			// subnet leased by another node before the lease goes.
			ctx := context.Background()
			h.store.Delete(ctx, keys.Subnet(l.Subnet))
			if tc.holder != "" {
				h.store.putLease(t, Lease{Node: tc.holder, Subnet: l.Subnet, VTEP: netip.MustParseAddr("10.77.0.17"), MAC: l.MAC})
			}
			h.store.Delete(ctx, keys.Lease("h1"))
			_, before := h.dp.counts()
			if tc.reclaimed {
				waitFor(t, "the lease stored again", func() bool {
					got, ok := h.store.lease(t, "h1")
					holder, _ := h.store.get(keys.Subnet(l.Subnet))
					return ok && got == l && holder == "h1"
				})
				return
			}
			// Several reconciles later, the other node's claim stands and
			// h1 has no lease.
			waitFor(t, "reconciles", func() bool { _, syncs := h.dp.counts(); return syncs >= before+2 })
			h.m.Kick()
			waitFor(t, "another reconcile", func() bool { _, syncs := h.dp.counts(); return syncs >= before+3 })
			if got, ok := h.store.lease(t, "h1"); ok {
				t.Errorf("h1 stored a lease for a subnet another node holds: %+v", got)
			}
			if holder, _ := h.store.get(keys.Subnet(l.Subnet)); holder != tc.holder {
				t.Errorf("the subnet's claim is %q, want %q", holder, tc.holder)
			}
		})
	}
}

// TestManagerRecreatesDevices: when a device is deleted under it, the
// manager sets the data plane up again and restores the peers' entries.
func TestManagerRecreatesDevices(t *testing.T) {
	h := newMgrHarness(t, newFakeStore(), nil)
	h.start()
	own := h.m.Lease().Subnet
	peer := peerLease("h2", "10.42.1.0/24", "10.77.0.12")
	if own == peer.Subnet {
		peer = peerLease("h2", "10.42.2.0/24", "10.77.0.12")
	}
	h.setAlive("h2", true)
	h.store.putLease(t, peer)
	waitFor(t, "h2's entries", func() bool { return len(h.dp.peers(t)) == 1 })

	h.dp.mu.Lock()
	h.dp.present, h.dp.entries = false, Entries{} // someone deleted the VXLAN device
	h.dp.mu.Unlock()
	h.m.Kick()
	waitFor(t, "the data plane set up again with h2's entries", func() bool {
		setups, _ := h.dp.counts()
		return setups == 2 && h.dp.Present() && len(h.dp.peers(t)) == 1
	})
}

// TestManagerLeave: Teardown removes the data plane and Release gives the
// subnet back, for a node that leaves the cluster.
func TestManagerLeave(t *testing.T) {
	store := newFakeStore()
	h := newMgrHarness(t, store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	l := h.m.Lease()
	cancel()
	h.m.Stop()
	if err := h.m.Teardown(); err != nil {
		t.Fatal(err)
	}
	if !h.dp.torn {
		t.Error("Teardown left the data plane")
	}
	if err := h.m.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.get(keys.Subnet(l.Subnet)); ok {
		t.Error("the subnet is still claimed after Release")
	}
	if _, ok := store.lease(t, "h1"); ok {
		t.Error("the lease is still stored after Release")
	}
}
