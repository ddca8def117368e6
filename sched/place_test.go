package sched

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	zoned := func() []*Node {
		return []*Node{
			testNode("n0", withMeta("zone", "eu-west", "storage", "ssd")),
			testNode("n1", withMeta("zone", "eu-north", "storage", "hdd")),
			testNode("n2", withMeta("zone", "us-east", "storage", "ssd"), withRole(RoleServer)),
			testNode("n3", withMeta("zone", "us-west"), withRole(RoleServer)),
		}
	}
	web := testSpec(2)
	tests := []struct {
		name    string
		spec    *Spec
		nodes   []*Node
		current []*Allocation

		wantPlace    map[string]int // new replicas per node; nil means none
		wantCounts   []int          // new replicas per node, descending (when which node is seed-dependent)
		wantIndexes  []int          // slots of new replicas
		wantStops    map[StopReason]int
		wantStopped  []int    // slots stopped
		wantUnplaced int      // number of unplaced slots
		wantReasons  []string // Metrics.Reasons of the first unplaced slot
	}{
		// Constraints, one case per operator.
		{
			name:      "constraint ==",
			spec:      testSpec(4, func(s *Spec) { s.Constraints = []string{"node.meta.storage == ssd"} }),
			nodes:     zoned(),
			wantPlace: map[string]int{"n0": 2, "n2": 2}, wantIndexes: []int{0, 1, 2, 3},
		},
		{
			name:      "constraint !=",
			spec:      testSpec(2, func(s *Spec) { s.Constraints = []string{"node.role != server"} }),
			nodes:     zoned(),
			wantPlace: map[string]int{"n0": 1, "n1": 1},
		},
		{
			name:      "constraint != matches unset meta",
			spec:      testSpec(2, func(s *Spec) { s.Constraints = []string{"node.meta.storage != hdd", "node.role == server"} }),
			nodes:     zoned(),
			wantPlace: map[string]int{"n2": 1, "n3": 1},
		},
		{
			name:      "constraint in",
			spec:      testSpec(4, func(s *Spec) { s.Constraints = []string{"node.name in (n1, n3, n9)"} }),
			nodes:     zoned(),
			wantPlace: map[string]int{"n1": 2, "n3": 2},
		},
		{
			name:      "constraint regexp",
			spec:      testSpec(2, func(s *Spec) { s.Constraints = []string{"node.meta.zone regexp ^eu-"} }),
			nodes:     zoned(),
			wantPlace: map[string]int{"n0": 1, "n1": 1},
		},
		{
			name:      "constraint node.id and datacenter",
			spec:      testSpec(1, func(s *Spec) { s.Constraints = []string{"node.id == n3", "node.datacenter == dc1"} }),
			nodes:     zoned(),
			wantPlace: map[string]int{"n3": 1},
		},
		{
			name: "constraints filter every node",
			spec: testSpec(3, func(s *Spec) {
				s.Constraints = []string{"node.role == client", "node.meta.storage == ssd"}
				s.Resources.MemoryMB = 5000
			}),
			nodes:        zoned(),
			wantPlace:    map[string]int{"n0": 1},
			wantUnplaced: 2,
			wantReasons: []string{
				`constraint "node.role == client" filtered 2 nodes`,
				`constraint "node.meta.storage == ssd" filtered 1 node`,
				`memory exhausted on 1 node`,
			},
		},

		// Static feasibility other than constraints.
		{
			name: "node status and drivers",
			spec: testSpec(3),
			nodes: []*Node{
				testNode("a", withStatus(NodeInitializing)),
				testNode("b", withStatus(NodeDisconnected)),
				testNode("c", withStatus(NodeDown)),
				testNode("d", withDrivers(DriverExec)),
			},
			wantUnplaced: 3,
			wantReasons: []string{
				`missing driver "docker" filtered 1 node`,
				`node status "disconnected" filtered 1 node`,
				`node status "down" filtered 1 node`,
				`node status "initializing" filtered 1 node`,
			},
		},
		{
			name: "privileged only where allowed",
			spec: testSpec(2, func(s *Spec) { s.Privileged = true }),
			nodes: []*Node{
				testNode("n1"),
				testNode("n2", withAllows(AllowHostVolumes)),
				testNode("n3", withAllows(AllowPrivileged)),
			},
			wantPlace: map[string]int{"n3": 2},
		},
		{
			name: "no node allows what the spec needs",
			spec: testSpec(1, func(s *Spec) {
				s.Privileged, s.CapAdd, s.Network = true, []string{"NET_ADMIN"}, NetworkHost
				s.Volumes = []Volume{{Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}
			}),
			nodes: []*Node{
				testNode("n1"),
				testNode("n2", withAllows(AllowPrivileged)),
				testNode("n3", withAllows(AllowPrivileged, AllowCapAdd, AllowHostVolumes)),
			},
			wantUnplaced: 1,
			wantReasons: []string{
				`node does not allow added capabilities (scheduler.allow_cap_add) filtered 1 node`,
				`node does not allow privileged containers (scheduler.allow_privileged) filtered 1 node`,
				`node does not allow the host network (scheduler.allow_host_network) filtered 1 node`,
			},
		},
		{
			name: "devices and host volumes need their permissions",
			spec: testSpec(2, func(s *Spec) {
				s.Devices = []string{"/dev/fuse"}
				s.Volumes = []Volume{{Source: "/srv/data", Target: "/data"}, {Source: "cache", Target: "/cache"}}
			}),
			nodes: []*Node{
				testNode("n1", withAllows(AllowDevices)),
				testNode("n2", withAllows(AllowHostVolumes)),
				testNode("n3", withAllows(AllowDevices, AllowHostVolumes)),
			},
			wantPlace: map[string]int{"n3": 2},
		},
		{
			name:      "exec shares the host network without a permission",
			spec:      testSpec(2, func(s *Spec) { s.Driver, s.Image, s.Command = DriverExec, "", "/bin/sleep" }),
			nodes:     []*Node{testNode("n1")},
			wantPlace: map[string]int{"n1": 2},
		},
		{
			name: "cpuset needs the cores",
			spec: testSpec(2, func(s *Spec) { s.Resources.Cpuset = "4-5" }),
			nodes: []*Node{
				testNode("a"), // 4 cores
				testNode("b", func(n *Node) { n.Resources.Cores = 8 }),
			},
			wantPlace: map[string]int{"b": 2},
		},
		{
			name:         "no nodes",
			spec:         testSpec(2),
			wantUnplaced: 2,
			wantReasons:  []string{"no nodes"},
		},

		// Ranking.
		{
			name:       "spread evens out",
			spec:       testSpec(7),
			nodes:      testNodes(3),
			wantCounts: []int{3, 2, 2}, wantIndexes: []int{0, 1, 2, 3, 4, 5, 6},
		},
		{
			name:  "spread avoids nodes busy with other services",
			spec:  testSpec(2),
			nodes: testNodes(3),
			current: []*Allocation{
				otherAlloc("o1", "n00", 100, 100), otherAlloc("o2", "n00", 100, 100), otherAlloc("o3", "n01", 100, 100),
			},
			wantPlace: map[string]int{"n02": 1, "n01": 1},
		},
		{
			name:  "spread counts this service before others",
			spec:  testSpec(3),
			nodes: testNodes(2),
			current: []*Allocation{
				liveAlloc(web, "w0", "n00", 0),
				otherAlloc("o1", "n01", 100, 100), otherAlloc("o2", "n01", 100, 100), otherAlloc("o3", "n01", 100, 100),
			},
			wantPlace: map[string]int{"n01": 1, "n00": 1}, wantIndexes: []int{1, 2},
		},
		{
			name:       "binpack fills one node first",
			spec:       testSpec(5, func(s *Spec) { s.Strategy = StrategyBinpack; s.Resources = Resources{CPU: 1000, MemoryMB: 1000} }),
			nodes:      testNodes(3),
			wantCounts: []int{4, 1},
		},
		{
			name:      "binpack prefers the fuller node",
			spec:      testSpec(2, func(s *Spec) { s.Strategy = StrategyBinpack }),
			nodes:     testNodes(3),
			current:   []*Allocation{otherAlloc("o1", "n01", 2000, 4000)},
			wantPlace: map[string]int{"n01": 2},
		},

		// Global mode.
		{
			name: "global: one per eligible node",
			spec: testSpec(0, func(s *Spec) {
				s.Mode, s.Replicas = ModeGlobal, nil
				s.Constraints = []string{"node.role != server"}
			}),
			nodes:     append(zoned(), testNode("n4", withStatus(NodeDown)), testNode("n5")),
			wantPlace: map[string]int{"n0": 1, "n1": 1, "n5": 1}, wantIndexes: []int{0, 1, 2},
		},
		{
			name:        "global: fills only missing nodes, lowest free slot",
			spec:        testSpec(0, func(s *Spec) { s.Mode, s.Replicas = ModeGlobal, nil }),
			nodes:       testNodes(3),
			current:     []*Allocation{liveAlloc(web, "g1", "n01", 1)},
			wantPlace:   map[string]int{"n00": 1, "n02": 1},
			wantIndexes: []int{0, 2},
		},
		{
			name:         "global: full node is unplaced, not an error",
			spec:         testSpec(0, func(s *Spec) { s.Mode, s.Replicas = ModeGlobal, nil }),
			nodes:        []*Node{testNode("a"), testNode("b", withRes(50, 8192))},
			wantPlace:    map[string]int{"a": 1},
			wantUnplaced: 1,
			wantReasons:  []string{"cpu exhausted on 1 node"},
		},
		{
			name: "global: stops on lost and unmatched nodes",
			spec: testSpec(0, func(s *Spec) {
				s.Mode, s.Replicas = ModeGlobal, nil
				s.Constraints = []string{"node.meta.ok == yes"}
			}),
			nodes: []*Node{testNode("a", withMeta("ok", "yes")), testNode("b"), testNode("c", withMeta("ok", "yes"), withStatus(NodeDown))},
			current: []*Allocation{
				liveAlloc(web, "g0", "a", 0), liveAlloc(web, "g1", "b", 1), liveAlloc(web, "g2", "c", 2), liveAlloc(web, "g3", "a", 3),
			},
			wantStops:   map[StopReason]int{StopConstraint: 1, StopNodeLost: 1, StopDuplicate: 1},
			wantStopped: []int{1, 2, 3},
		},

		// Resources and ports.
		{
			name:         "memory exhausted",
			spec:         testSpec(10, func(s *Spec) { s.Resources.MemoryMB = 300 }),
			nodes:        testNodes(3, withRes(4000, 1000)),
			wantCounts:   []int{3, 3, 3},
			wantUnplaced: 1,
			wantReasons:  []string{"memory exhausted on 3 nodes"},
		},
		{
			name:         "cpu exhausted, counting other services",
			spec:         testSpec(3, func(s *Spec) { s.Resources.CPU = 1000 }),
			nodes:        testNodes(2, withRes(2000, 8192)),
			current:      []*Allocation{otherAlloc("o1", "n00", 1500, 10)},
			wantPlace:    map[string]int{"n01": 2},
			wantUnplaced: 1,
			wantReasons:  []string{"cpu exhausted on 2 nodes"},
		},
		{
			name:      "terminal allocations hold no resources",
			spec:      testSpec(1, func(s *Spec) { s.Resources.CPU = 1000 }),
			nodes:     testNodes(1, withRes(1000, 8192)),
			current:   []*Allocation{func() *Allocation { a := otherAlloc("o1", "n00", 1000, 10); a.ClientStatus = ClientComplete; return a }()},
			wantPlace: map[string]int{"n00": 1},
		},
		{
			name:         "static host port clash",
			spec:         testSpec(4, func(s *Spec) { s.Ports = []Port{{Name: "http", Container: 80, Host: 8080}} }),
			nodes:        testNodes(4),
			current:      []*Allocation{otherAlloc("o1", "n02", 10, 10, Port{Name: "x", Container: 1, Host: 8080, Protocol: ProtocolTCP})},
			wantPlace:    map[string]int{"n00": 1, "n01": 1, "n03": 1},
			wantUnplaced: 1,
			wantReasons:  []string{"port 8080/tcp in use on 4 nodes"},
		},
		{
			name:      "udp does not clash with tcp",
			spec:      testSpec(1, func(s *Spec) { s.Ports = []Port{{Name: "dns", Container: 53, Host: 53, Protocol: ProtocolUDP}} }),
			nodes:     testNodes(1),
			current:   []*Allocation{otherAlloc("o1", "n00", 10, 10, Port{Name: "x", Container: 53, Host: 53, Protocol: ProtocolTCP})},
			wantPlace: map[string]int{"n00": 1},
		},

		// Scaling and replacement.
		{
			name:        "scale up fills the lowest free slots",
			spec:        testSpec(4),
			nodes:       testNodes(2),
			current:     []*Allocation{liveAlloc(web, "a0", "n00", 0), liveAlloc(web, "a2", "n01", 2)},
			wantPlace:   map[string]int{"n00": 1, "n01": 1},
			wantIndexes: []int{1, 3},
		},
		{
			name:  "scale down stops the highest slots",
			spec:  testSpec(2),
			nodes: testNodes(2),
			current: []*Allocation{
				liveAlloc(web, "a0", "n00", 0), liveAlloc(web, "a1", "n01", 1), liveAlloc(web, "a2", "n00", 2), liveAlloc(web, "a3", "n01", 3),
			},
			wantStops:   map[StopReason]int{StopScaleDown: 2},
			wantStopped: []int{2, 3},
		},
		{
			name:  "scale to zero",
			spec:  testSpec(0),
			nodes: testNodes(2),
			current: []*Allocation{
				liveAlloc(web, "a0", "n00", 0), liveAlloc(web, "a1", "n01", 1),
			},
			wantStops: map[StopReason]int{StopScaleDown: 2}, wantStopped: []int{0, 1},
		},
		{
			name:        "sparse slots are kept, not renumbered",
			spec:        testSpec(3),
			nodes:       testNodes(3),
			current:     []*Allocation{liveAlloc(web, "a0", "n00", 0), liveAlloc(web, "a5", "n01", 5), liveAlloc(web, "a7", "n02", 7)},
			wantPlace:   nil,
			wantStopped: nil,
		},
		{
			name:        "node down: replica replaced in the same slot",
			spec:        testSpec(2),
			nodes:       []*Node{testNode("n00"), testNode("n01", withStatus(NodeDown)), testNode("n02")},
			current:     []*Allocation{liveAlloc(web, "a0", "n00", 0), liveAlloc(web, "a1", "n01", 1)},
			wantPlace:   map[string]int{"n02": 1},
			wantIndexes: []int{1},
			wantStops:   map[StopReason]int{StopNodeLost: 1}, wantStopped: []int{1},
		},
		{
			name:        "node gone from the list counts as lost",
			spec:        testSpec(1),
			nodes:       testNodes(1),
			current:     []*Allocation{liveAlloc(web, "a0", "vanished", 0)},
			wantPlace:   map[string]int{"n00": 1},
			wantIndexes: []int{0},
			wantStops:   map[StopReason]int{StopNodeLost: 1},
		},
		{
			name:    "node disconnected: replica kept, no replacement",
			spec:    testSpec(2),
			nodes:   []*Node{testNode("n00"), testNode("n01", withStatus(NodeDisconnected))},
			current: []*Allocation{liveAlloc(web, "a0", "n00", 0), liveAlloc(web, "a1", "n01", 1)},
		},
		{
			name:        "constraint no longer met",
			spec:        testSpec(1, func(s *Spec) { s.Constraints = []string{"node.meta.storage == ssd"} }),
			nodes:       []*Node{testNode("n00"), testNode("n01", withMeta("storage", "ssd"))},
			current:     []*Allocation{liveAlloc(web, "a0", "n00", 0)},
			wantPlace:   map[string]int{"n01": 1},
			wantIndexes: []int{0},
			wantStops:   map[StopReason]int{StopConstraint: 1},
		},
		{
			name:  "failed replica replaced under restart always",
			spec:  testSpec(1),
			nodes: testNodes(2),
			current: []*Allocation{func() *Allocation {
				a := liveAlloc(web, "a0", "n00", 0)
				a.ClientStatus = ClientFailed
				return a
			}()},
			wantCounts: []int{1}, wantIndexes: []int{0},
			wantStops: map[StopReason]int{StopFailed: 1},
		},
		{
			name:  "failed replica kept under restart never",
			spec:  testSpec(1, func(s *Spec) { s.Restart.Policy = RestartNever }),
			nodes: testNodes(2),
			current: []*Allocation{func() *Allocation {
				a := liveAlloc(testSpec(1, func(s *Spec) { s.Restart.Policy = RestartNever }), "a0", "n00", 0)
				a.ClientStatus = ClientFailed
				return a
			}()},
		},
		{
			name:  "completed replica kept under on-failure",
			spec:  testSpec(1, func(s *Spec) { s.Restart.Policy = RestartOnFailure }),
			nodes: testNodes(1),
			current: []*Allocation{func() *Allocation {
				a := liveAlloc(testSpec(1, func(s *Spec) { s.Restart.Policy = RestartOnFailure }), "a0", "n00", 0)
				a.ClientStatus = ClientComplete
				return a
			}()},
		},
		{
			name:        "duplicate slot stopped",
			spec:        testSpec(2),
			nodes:       testNodes(2),
			current:     []*Allocation{liveAlloc(web, "a", "n00", 0), liveAlloc(web, "b", "n01", 0), liveAlloc(web, "c", "n01", 1)},
			wantStops:   map[StopReason]int{StopDuplicate: 1},
			wantStopped: []int{0},
		},
		{
			name:  "stopped allocations are ignored",
			spec:  testSpec(1),
			nodes: testNodes(1),
			current: []*Allocation{func() *Allocation {
				a := liveAlloc(web, "a0", "n00", 0)
				a.DesiredStatus = DesiredStop
				return a
			}()},
			wantPlace: map[string]int{"n00": 1}, wantIndexes: []int{0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.spec, tc.nodes, tc.current, 42)
			got := placedPerNode(p)
			if tc.wantCounts != nil {
				if c := sortedCounts(got); !slices.Equal(c, tc.wantCounts) {
					t.Errorf("placements per node = %v (%v), want %v", c, got, tc.wantCounts)
				}
			} else if !reflect.DeepEqual(got, orEmpty(tc.wantPlace)) {
				t.Errorf("placements = %v, want %v", got, tc.wantPlace)
			}
			if tc.wantIndexes != nil && !slices.Equal(placedIndexes(p), tc.wantIndexes) {
				t.Errorf("placed slots = %v, want %v", placedIndexes(p), tc.wantIndexes)
			}
			if r := stopReasons(p); !reflect.DeepEqual(r, orEmptyReasons(tc.wantStops)) {
				t.Errorf("stops = %v, want %v", r, tc.wantStops)
			}
			if tc.wantStopped != nil && !slices.Equal(stoppedIndexes(p), tc.wantStopped) {
				t.Errorf("stopped slots = %v, want %v", stoppedIndexes(p), tc.wantStopped)
			}
			if len(p.Unplaced) != tc.wantUnplaced {
				t.Fatalf("unplaced = %d, want %d", len(p.Unplaced), tc.wantUnplaced)
			}
			if tc.wantReasons != nil {
				if r := p.Unplaced[0].Metrics.Reasons(); !slices.Equal(r, tc.wantReasons) {
					t.Errorf("reasons =\n  %q\nwant\n  %q", r, tc.wantReasons)
				}
			}
			checkPlanShape(t, tc.spec, p)
		})
	}
}

// checkPlanShape checks what every plan must satisfy.
func checkPlanShape(t *testing.T, s *Spec, p *PlanResult) {
	t.Helper()
	ids := map[string]bool{}
	perNodePorts := map[string]map[portKey]bool{}
	for _, a := range p.Place {
		if a.ID == "" || ids[a.ID] {
			t.Errorf("new allocation ID %q empty or repeated", a.ID)
		}
		ids[a.ID] = true
		if a.Service != s.Name || a.Version != s.Version() || a.DesiredStatus != DesiredRun || a.ClientStatus != ClientPending {
			t.Errorf("new allocation has wrong fields: %+v", a)
		}
		if perNodePorts[a.NodeID] == nil {
			perNodePorts[a.NodeID] = map[portKey]bool{}
		}
		for _, pt := range a.Ports {
			k := portKey{pt.Host, pt.Protocol}
			if pt.Host == 0 || perNodePorts[a.NodeID][k] {
				t.Errorf("port %+v on %s unassigned or assigned twice", pt, a.NodeID)
			}
			perNodePorts[a.NodeID][k] = true
		}
	}
}

func orEmpty(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

func orEmptyReasons(m map[StopReason]int) map[StopReason]int {
	if m == nil {
		return map[StopReason]int{}
	}
	return m
}

func TestPlanDynamicPorts(t *testing.T) {
	s := testSpec(3, func(s *Spec) {
		s.Strategy = StrategyBinpack
		s.Network = NetworkBridge
		s.Ports = []Port{{Name: "http", Container: 80}, {Name: "admin", Container: 81, Host: 20001}}
	})
	p := mustPlan(t, s, testNodes(1), nil, 1)
	var got []int
	for _, a := range p.Place {
		got = append(got, a.Ports[0].Host)
		if a.Ports[1].Host != 20001 {
			t.Errorf("static port changed: %+v", a.Ports[1])
		}
	}
	// Only one replica fits: the static port 20001 is taken by the first.
	if !slices.Equal(got, []int{20000}) || len(p.Unplaced) != 2 {
		t.Errorf("dynamic ports = %v, unplaced %d", got, len(p.Unplaced))
	}

	s = testSpec(3, func(s *Spec) {
		s.Strategy = StrategyBinpack
		s.Network = NetworkBridge
		s.Ports = []Port{{Name: "http", Container: 80}, {Name: "dns", Container: 53, Protocol: ProtocolUDP}}
	})
	busy := otherAlloc("o", "n00", 1, 1, Port{Name: "x", Container: 1, Host: 20001, Protocol: ProtocolTCP})
	p = mustPlan(t, s, testNodes(1), []*Allocation{busy}, 1)
	got = nil
	for _, a := range p.Place {
		got = append(got, a.Ports[0].Host, a.Ports[1].Host)
	}
	if want := []int{20000, 20000, 20002, 20001, 20003, 20002}; !slices.Equal(got, want) {
		t.Errorf("dynamic ports = %v, want %v", got, want)
	}
}

// TestPlanHostPorts: a host port is published only where the spec asks
// for one (a port's host, or a bridge network, which has no other way in),
// and a replacement never gets a port its predecessor, stopping on the
// same node, still holds.
func TestPlanHostPorts(t *testing.T) {
	v1 := func(network NetworkMode, host int) *Spec {
		return testSpec(1, func(s *Spec) {
			s.Network = network
			s.Ports = []Port{{Name: "http", Container: 8080, Host: host}}
		})
	}
	v2 := func(network NetworkMode, host int) *Spec {
		s := v1(network, host)
		s.Env = map[string]string{"VERSION": "2"}
		return s
	}
	// running is v1's replica on n00 holding its host port.
	running := func(s *Spec, host int, desired DesiredStatus) []*Allocation {
		a := liveAlloc(s, "old", "n00", 0)
		a.DesiredStatus = desired
		a.Ports = []Port{{Name: "http", Container: 8080, Host: host, Protocol: ProtocolTCP}}
		return []*Allocation{a}
	}
	tests := []struct {
		name     string
		spec     *Spec
		current  []*Allocation
		wantHost []int // host port of each placement
		unplaced int
	}{
		{name: "overlay publishes nothing", spec: v1(NetworkOverlay, 0), wantHost: []int{0}},
		{name: "overlay with a host port keeps it", spec: v1(NetworkOverlay, 8080), wantHost: []int{8080}},
		{name: "bridge picks a dynamic port", spec: v1(NetworkBridge, 0), wantHost: []int{20000}},
		{name: "update on bridge: a port the old replica holds is not reused",
			spec: v2(NetworkBridge, 0), current: running(v1(NetworkBridge, 0), 20000, DesiredRun), wantHost: []int{20001}},
		{name: "stopped but still running: its port is still held",
			spec: v1(NetworkBridge, 0), current: running(v2(NetworkBridge, 0), 20000, DesiredStop), wantHost: []int{20001}},
		{name: "static port held by the stopping replica: wait until released",
			spec: v2(NetworkOverlay, 8080), current: running(v1(NetworkOverlay, 8080), 8080, DesiredRun), unplaced: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.spec, testNodes(1), tc.current, 1)
			var got []int
			for _, a := range p.Place {
				got = append(got, a.Ports[0].Host)
			}
			if !slices.Equal(got, tc.wantHost) || len(p.Unplaced) != tc.unplaced {
				t.Errorf("host ports %v, unplaced %d; want %v, %d", got, len(p.Unplaced), tc.wantHost, tc.unplaced)
			}
		})
	}
	t.Run("static port released: the replacement is placed", func(t *testing.T) {
		cur := running(v1(NetworkOverlay, 8080), 8080, DesiredStop)
		cur[0].ClientStatus = ClientComplete
		p := mustPlan(t, v2(NetworkOverlay, 8080), testNodes(1), cur, 1)
		if len(p.Place) != 1 || p.Place[0].Ports[0].Host != 8080 {
			t.Errorf("placed %d, want one on host port 8080", len(p.Place))
		}
	})
}

func TestPlanDeterministic(t *testing.T) {
	nodes := testNodes(50)
	for i, n := range nodes {
		n.Meta = map[string]string{"rack": string(rune('a' + i%5))}
	}
	spec := testSpec(120, func(s *Spec) {
		s.Constraints = []string{"node.meta.rack != e"}
		s.Ports = []Port{{Name: "http", Container: 80}}
	})
	var current []*Allocation
	for i := 0; i < 30; i++ {
		current = append(current, otherAlloc(string(rune('A'+i)), nodes[i%50].ID, 100, 100))
	}
	base := mustPlan(t, spec, nodes, current, 7)

	t.Run("same input and seed", func(t *testing.T) {
		again := mustPlan(t, spec, nodes, current, 7)
		if !reflect.DeepEqual(base, again) {
			t.Errorf("plans differ")
		}
	})
	t.Run("input order does not matter", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		n2, c2 := slices.Clone(nodes), slices.Clone(current)
		r.Shuffle(len(n2), func(i, j int) { n2[i], n2[j] = n2[j], n2[i] })
		r.Shuffle(len(c2), func(i, j int) { c2[i], c2[j] = c2[j], c2[i] })
		if again := mustPlan(t, spec, n2, c2, 7); !reflect.DeepEqual(base, again) {
			t.Errorf("plans differ after shuffling the input")
		}
	})
	t.Run("seed breaks ties", func(t *testing.T) {
		differ := false
		for seed := uint64(8); seed < 12 && !differ; seed++ {
			other := mustPlan(t, testSpec(3), testNodes(50), nil, seed)
			differ = !reflect.DeepEqual(placedPerNode(other), placedPerNode(mustPlan(t, testSpec(3), testNodes(50), nil, 7)))
		}
		if !differ {
			t.Errorf("every seed chose the same nodes")
		}
	})
	t.Run("inputs unmodified", func(t *testing.T) {
		nodesBefore := copyNodes(nodes)
		currentBefore := copyAllocs(current)
		specBefore := spec.Copy()
		mustPlan(t, spec, nodes, current, 7)
		if !reflect.DeepEqual(nodes, nodesBefore) || !reflect.DeepEqual(current, currentBefore) || !reflect.DeepEqual(spec, specBefore) {
			t.Errorf("Plan modified its input")
		}
	})
}

func copyNodes(in []*Node) []*Node {
	out := make([]*Node, len(in))
	for i, n := range in {
		c := *n
		c.Meta = cloneMap(n.Meta)
		c.Drivers = slices.Clone(n.Drivers)
		out[i] = &c
	}
	return out
}

func copyAllocs(in []*Allocation) []*Allocation {
	out := make([]*Allocation, len(in))
	for i, a := range in {
		out[i] = a.Copy()
	}
	return out
}

func TestPlanErrors(t *testing.T) {
	good := testSpec(1)
	tests := []struct {
		name    string
		spec    *Spec
		nodes   []*Node
		current []*Allocation
		is      error
		msg     string
	}{
		{"nil spec", nil, nil, nil, ErrInvalidInput, "sched: plan: invalid scheduler input: nil spec"},
		{"invalid spec", testSpec(-1), nil, nil, ErrInvalidSpec, `sched: plan "web": spec "web": replicas: must be >= 0, got -1`},
		{"duplicate node", good, []*Node{testNode("a"), testNode("a")}, nil, ErrInvalidInput, `sched: plan "web": invalid scheduler input: duplicate node ID "a"`},
		{"nil node", good, []*Node{nil}, nil, ErrInvalidInput, `sched: plan "web": invalid scheduler input: nodes[0] is nil or has no ID`},
		{"duplicate alloc", good, nil, []*Allocation{otherAlloc("x", "a", 1, 1), otherAlloc("x", "b", 1, 1)}, ErrInvalidInput,
			`sched: plan "web": invalid scheduler input: duplicate allocation ID "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.spec, tc.nodes, tc.current, 0)
			if !errors.Is(err, tc.is) || err.Error() != tc.msg {
				t.Errorf("err = %v, want %q matching %v", err, tc.msg, tc.is)
			}
		})
	}
}

func TestPlanRemoval(t *testing.T) {
	web := testSpec(2)
	stopped := liveAlloc(web, "s", "n00", 2)
	stopped.DesiredStatus = DesiredStop
	p := PlanRemoval("web", []*Allocation{liveAlloc(web, "b", "n01", 1), liveAlloc(web, "a", "n00", 0), stopped, otherAlloc("o", "n00", 1, 1)})
	if !slices.Equal(stoppedIndexes(p), []int{0, 1}) || stopReasons(p)[StopServiceRemoved] != 2 || len(p.Place) != 0 {
		t.Errorf("PlanRemoval = %+v", p)
	}
}

func TestNewIDsAvoidExisting(t *testing.T) {
	s := testSpec(1)
	nodes := testNodes(1)
	first := mustPlan(t, s, nodes, nil, 5).Place[0]
	// The same evaluation again, with the first allocation stopped: the
	// seed and slot are the same, yet the ID must differ.
	old := first.Copy()
	old.DesiredStatus = DesiredStop
	second := mustPlan(t, s, nodes, []*Allocation{old}, 5).Place[0]
	if second.ID == first.ID {
		t.Errorf("ID %s reused", first.ID)
	}
	if len(first.ID) != 36 || first.ID[14] != '4' {
		t.Errorf("ID %q is not UUID-shaped", first.ID)
	}
}
