package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// ServicesPrefix is the KV prefix holding service specs: the spec of
// service "web" is the key shoal/services/web.
const ServicesPrefix = "shoal/services/"

// Serf tags through which agents advertise what they can run.
const (
	TagCPU     = "cpu"     // MHz available for replicas
	TagMemory  = "mem"     // MB available for replicas
	TagDrivers = "drivers" // comma-separated driver names
	TagHTTP    = "http"    // HTTP API port, for `svc logs`
)

// schedulerLoop is the leader's scheduler: it watches the specs, the nodes
// (catalog and serfHealth) and the allocations, and whenever any of them
// changes — or a node's grace period or a rolling update's delay runs out —
// plans every service and commits each plan as one Raft entry.
func (s *Server) schedulerLoop(stop <-chan struct{}) {
	sc := &schedulerState{notBefore: map[string]time.Time{}}
	for {
		ws := memdb.NewWatchSet()
		st := s.State()
		ws.Add(st.AbandonCh())
		in, err := s.schedulerInput(ws)
		var wake time.Duration = 10 * time.Second
		if err != nil {
			s.logger.Error("scheduler: read state", "error", err)
			wake = time.Second
		} else if next := s.schedule(sc, in, time.Now()); next > 0 {
			wake = min(wake, next)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wake)
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_ = ws.WatchCtx(ctx)
		cancel()
		select {
		case <-stop:
			return
		default:
		}
	}
}

// schedulerState is what the loop remembers between passes.
type schedulerState struct {
	// notBefore delays a service's next plan (update.delay).
	notBefore map[string]time.Time
}

// schedulerInput is one consistent read of what scheduling depends on.
type schedulerInput struct {
	specs    map[string][]byte
	catNodes map[string]*catalog.Node
	allocs   []*allocs.Alloc
	statuses map[string]*allocs.ServiceStatus
	members  []serf.Member
}

func (s *Server) schedulerInput(ws memdb.WatchSet) (*schedulerInput, error) {
	tx := s.State().ReadTxn()
	defer tx.Abort()
	in := &schedulerInput{specs: map[string][]byte{}, catNodes: map[string]*catalog.Node{},
		statuses: map[string]*allocs.ServiceStatus{}}
	_, ents, err := kv.List(tx, ws, ServicesPrefix)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name := strings.TrimPrefix(e.Key, ServicesPrefix)
		if name != "" && !strings.Contains(name, "/") {
			in.specs[name] = e.Value
		}
	}
	_, nodes, err := catalog.Nodes(tx, ws)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		in.catNodes[n.Node] = n
	}
	// A member's failure shows as its serfHealth check turning critical:
	// wake on check changes too, to start its grace period at once.
	state.MaxIndexWatch(tx, ws, catalog.TableChecks)
	_, in.allocs, err = allocs.All(tx, ws)
	if err != nil {
		return nil, err
	}
	_, sts, err := allocs.Statuses(tx, ws)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		in.statuses[st.Name] = st
	}
	in.members = s.serf.Members()
	return in, nil
}

// schedNodes turns Serf members into scheduler nodes. A failed member is
// "disconnected" (keeps its replicas) during the grace period, then
// "down" (its replicas are re-placed). It returns the time until the next
// grace period ends (0 for none).
func (s *Server) schedNodes(in *schedulerInput, now time.Time) ([]*sched.Node, time.Duration) {
	var out []*sched.Node
	var next time.Duration
	for _, m := range in.members {
		id := m.Tags["id"]
		if id == "" || (m.Tags["dc"] != "" && m.Tags["dc"] != s.cfg.Datacenter) {
			continue
		}
		n := &sched.Node{ID: id, Name: m.Name, Role: MemberRole(m.Tags), Datacenter: s.cfg.Datacenter}
		if cn := in.catNodes[m.Name]; cn != nil {
			n.Meta = cn.Meta
		}
		n.Resources.CPU, _ = strconv.Atoi(m.Tags[TagCPU])
		n.Resources.MemoryMB, _ = strconv.Atoi(m.Tags[TagMemory])
		for _, d := range strings.Split(m.Tags[TagDrivers], ",") {
			if d != "" {
				n.Drivers = append(n.Drivers, sched.Driver(d))
			}
		}
		switch m.Status {
		case serf.StatusAlive:
			n.Status = sched.NodeReady
		case serf.StatusFailed:
			n.Status = sched.NodeDown
			if since, ok := s.members.failedSince(m.Name); ok {
				if left := s.cfg.NodeLostGrace - now.Sub(since); left > 0 {
					n.Status = sched.NodeDisconnected
					if next == 0 || left < next {
						next = left
					}
				}
			}
		default:
			n.Status = sched.NodeDown
		}
		out = append(out, n)
	}
	return out, next
}

// schedule plans every service once and returns how soon it wants to run
// again (0: only on a change).
func (s *Server) schedule(sc *schedulerState, in *schedulerInput, now time.Time) time.Duration {
	nodes, next := s.schedNodes(in, now)
	nodeByID := map[string]*sched.Node{}
	for _, n := range nodes {
		nodeByID[n.ID] = n
	}
	current := make([]*sched.Allocation, 0, len(in.allocs))
	byService := map[string][]*allocs.Alloc{}
	for _, a := range in.allocs {
		current = append(current, &a.Allocation)
		byService[a.Service] = append(byService[a.Service], a)
	}
	wantSoon := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	seed := s.raft.AppliedIndex()
	names := slices.Sorted(maps.Keys(in.specs))
	for _, name := range names {
		if t, ok := sc.notBefore[name]; ok && now.Before(t) {
			wantSoon(t.Sub(now))
			continue
		}
		delete(sc.notBefore, name)
		delay, err := s.scheduleService(name, in.specs[name], in, nodes, nodeByID, &current, byService[name], seed)
		if err != nil {
			s.logger.Error("scheduler: service", "service", name, "error", err)
			wantSoon(time.Second)
			continue
		}
		if delay > 0 {
			sc.notBefore[name] = now.Add(delay)
			wantSoon(delay)
		}
	}
	// Services whose spec is gone: stop their replicas, then forget them.
	gone := map[string]bool{}
	for name := range byService {
		gone[name] = true
	}
	for name := range in.statuses {
		gone[name] = true
	}
	for name := range gone {
		if _, ok := in.specs[name]; ok {
			continue
		}
		plan := sched.PlanRemoval(name, current)
		req := &allocs.PlanRequest{Service: name}
		for _, st := range plan.Stop {
			req.Stop = append(req.Stop, allocs.StopRequest{ID: st.Alloc.ID, Reason: string(st.Reason)})
		}
		req.Delete = garbage(byService[name], nodeByID)
		live := 0
		for _, a := range byService[name] {
			if !slices.Contains(req.Delete, a.ID) {
				live++
			}
		}
		if live == 0 && in.statuses[name] != nil {
			req.DeleteStatus = true
		}
		if len(req.Stop)+len(req.Delete) > 0 || req.DeleteStatus {
			if _, err := s.raftApply(fsm.AllocPlanRequestType, req); err != nil {
				s.logger.Error("scheduler: remove service", "service", name, "error", err)
				wantSoon(time.Second)
			}
		}
	}
	return next
}

// garbage lists allocations that are stopped for good: desired stop and
// either finished on their node or on a node that is down or gone.
func garbage(as []*allocs.Alloc, nodes map[string]*sched.Node) []string {
	var out []string
	for _, a := range as {
		if a.DesiredStatus != sched.DesiredStop {
			continue
		}
		n := nodes[a.NodeID]
		if a.ClientStatus.Terminal() || n == nil || n.Status == sched.NodeDown {
			out = append(out, a.ID)
		}
	}
	return out
}

// scheduleService plans one service and commits the plan. It returns the
// rolling-update delay to wait before planning it again.
func (s *Server) scheduleService(name string, raw []byte, in *schedulerInput, nodes []*sched.Node,
	nodeByID map[string]*sched.Node, current *[]*sched.Allocation, own []*allocs.Alloc, seed uint64) (time.Duration, error) {
	old := in.statuses[name]
	status := &allocs.ServiceStatus{Name: name}
	if old != nil {
		status.LastGoodVersion, status.RolledBackFrom = old.LastGoodVersion, old.RolledBackFrom
	}
	spec, err := sched.ParseSpec(raw)
	if err == nil && spec.Name != name {
		err = fmt.Errorf("spec name %q does not match its key %s%s", spec.Name, ServicesPrefix, name)
	}
	if err != nil {
		// A bad spec is recorded where `svc ls` shows it; the replicas of
		// the last good spec keep running.
		status.Error = err.Error()
		if old != nil {
			status.Version = old.Version
		}
		return 0, s.commitPlan(&allocs.PlanRequest{Service: name, Status: status}, old)
	}
	status.Version = spec.Version()
	plan, err := sched.Plan(spec, nodes, *current, seed)
	if err != nil {
		status.Error = err.Error()
		return 0, s.commitPlan(&allocs.PlanRequest{Service: name, Status: status}, old)
	}
	if plan.IsNoOp() && len(plan.Unplaced) == 0 && spec.Rebalance {
		if rb, err := sched.Rebalance(spec, nodes, *current, seed, 0); err == nil && !rb.IsNoOp() {
			plan = rb
		}
	}
	for _, u := range plan.Unplaced {
		for _, r := range u.Metrics.Reasons() {
			line := fmt.Sprintf("replica %d: %s", u.Index, r)
			if !slices.Contains(status.Unplaced, line) {
				status.Unplaced = append(status.Unplaced, line)
			}
		}
	}
	status.Update = plan.Update
	if plan.Update != nil && plan.Update.Halted && plan.Update.Action == sched.FailureRollback &&
		status.LastGoodVersion != "" && status.LastGoodVersion != status.Version {
		if err := s.rollback(name, status); err != nil {
			return 0, err
		}
		return 0, nil
	}
	if plan.IsNoOp() && plan.Update == nil && settled(own, status.Version, spec) {
		status.LastGoodVersion = status.Version
		if err := s.saveLastGood(name, raw); err != nil {
			return 0, err
		}
	}
	req := &allocs.PlanRequest{Service: name, Status: status}
	for _, p := range plan.Place {
		a := &allocs.Alloc{Allocation: *p, Spec: spec}
		if n := nodeByID[p.NodeID]; n != nil {
			a.NodeName = n.Name
		}
		req.Place = append(req.Place, a)
	}
	for _, st := range plan.Stop {
		req.Stop = append(req.Stop, allocs.StopRequest{ID: st.Alloc.ID, Reason: string(st.Reason)})
	}
	req.Delete = garbage(own, nodeByID)
	if err := s.commitPlan(req, old); err != nil {
		return 0, err
	}
	// Later services of this pass see what this plan took and freed.
	*current = withPlan(*current, req)
	if plan.Update != nil && plan.Update.Replacing > 0 {
		return spec.Update.Delay.Std(), nil
	}
	return 0, nil
}

// withPlan returns current as it is after req: placed allocations added,
// stopped ones replaced by stopped copies (the stored ones are immutable).
func withPlan(current []*sched.Allocation, req *allocs.PlanRequest) []*sched.Allocation {
	stopped := map[string]bool{}
	for _, st := range req.Stop {
		stopped[st.ID] = true
	}
	out := make([]*sched.Allocation, 0, len(current)+len(req.Place))
	for _, a := range current {
		if stopped[a.ID] {
			c := a.Copy()
			c.DesiredStatus = sched.DesiredStop
			a = c
		}
		out = append(out, a)
	}
	for _, p := range req.Place {
		out = append(out, &p.Allocation)
	}
	return out
}

// settled reports whether every live replica runs version (healthy when
// the update is health-gated) and there is at least one.
func settled(own []*allocs.Alloc, version string, spec *sched.Spec) bool {
	n := 0
	for _, a := range own {
		if !a.Live() {
			continue
		}
		if a.Version != version || a.ClientStatus != sched.ClientRunning || (spec.Update.HealthGated && !a.Healthy) {
			return false
		}
		n++
	}
	return n > 0
}

// commitPlan writes req unless it changes nothing.
func (s *Server) commitPlan(req *allocs.PlanRequest, old *allocs.ServiceStatus) error {
	if len(req.Place)+len(req.Stop)+len(req.Delete) == 0 && !req.DeleteStatus &&
		(req.Status == nil || statusEqual(req.Status, old)) {
		return nil
	}
	_, err := s.raftApply(fsm.AllocPlanRequestType, req)
	return err
}

func statusEqual(a, b *allocs.ServiceStatus) bool {
	if b == nil {
		return false
	}
	ua, ub := a.Update, b.Update
	return a.Version == b.Version && a.Error == b.Error && slices.Equal(a.Unplaced, b.Unplaced) &&
		a.LastGoodVersion == b.LastGoodVersion && a.RolledBackFrom == b.RolledBackFrom &&
		((ua == nil) == (ub == nil)) && (ua == nil || *ua == *ub)
}

// lastGoodKey holds the raw spec of a service's last good version, for
// rollbacks. It lives outside ServicesPrefix so it is not a spec itself.
func lastGoodKey(name string) string { return "shoal/last-good/" + name }

func (s *Server) saveLastGood(name string, raw []byte) error {
	tx := s.State().ReadTxn()
	_, cur, err := kv.Get(tx, nil, lastGoodKey(name))
	tx.Abort()
	if err != nil || (cur != nil && string(cur.Value) == string(raw)) {
		return err
	}
	_, err = s.raftApply(fsm.KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: lastGoodKey(name), Value: raw}})
	return err
}

// rollback restores the last good spec of a service whose rolling update
// failed, and records which version was abandoned.
func (s *Server) rollback(name string, status *allocs.ServiceStatus) error {
	tx := s.State().ReadTxn()
	_, good, err := kv.Get(tx, nil, lastGoodKey(name))
	tx.Abort()
	if err != nil || good == nil {
		return err
	}
	s.logger.Warn("scheduler: rolling update failed; rolling back", "service", name,
		"from", status.Version, "to", status.LastGoodVersion)
	status.RolledBackFrom = status.Version
	if _, err := s.raftApply(fsm.AllocPlanRequestType, &allocs.PlanRequest{Service: name, Status: status}); err != nil {
		return err
	}
	_, err = s.raftApply(fsm.KVSRequestType, &kv.Request{Op: kv.OpSet,
		Entry: kv.Entry{Key: ServicesPrefix + name, Value: good.Value}})
	return err
}
