package server

import (
	"context"
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

// Serf tags through which agents advertise what they can run.
const (
	TagCPU     = "cpu"     // MHz available for replicas
	TagMemory  = "mem"     // MB available for replicas
	TagDrivers = "drivers" // comma-separated driver names
	TagHTTP    = "http"    // HTTP API port, for `svc logs`
	TagAllow   = "allow"   // comma-separated sched.Permission values the agent config allows
)

// schedulerLoop is the leader's scheduler, in Nomad's shape: it watches
// the specs, the nodes (catalog and serfHealth) and the allocations; on any
// change — or when a node's grace period or a rolling update's delay runs
// out — it builds a read-only sched.State from one read transaction, runs
// sched.Evaluate, and commits each service's plan through raftPlanner (one
// Raft apply per plan). Every scheduling decision is sched's; this loop owns
// only the watch, the clock and Raft.
func (s *Server) schedulerLoop(stop <-chan struct{}) {
	sc := &schedulerState{notBefore: map[string]time.Time{}}
	for {
		ws := memdb.NewWatchSet()
		ws.Add(s.State().AbandonCh())
		var wake time.Duration = 10 * time.Second
		if next, err := s.schedule(sc, ws, time.Now()); err != nil {
			s.logger.Error("scheduler: read state", "error", err)
			wake = time.Second
		} else if next > 0 {
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

// schedule runs one evaluation and returns how soon it wants to run again
// (0: only on a change). It returns an error only when the state cannot be
// read; a service whose plan fails is retried within a second.
func (s *Server) schedule(sc *schedulerState, ws memdb.WatchSet, now time.Time) (time.Duration, error) {
	view, err := s.schedView(ws, now)
	if err != nil {
		return 0, err
	}
	defer view.Close()
	next := view.wake
	wantSoon := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	due := func(name string) bool {
		if t, ok := sc.notBefore[name]; ok && now.Before(t) {
			wantSoon(t.Sub(now))
			return false
		}
		delete(sc.notBefore, name)
		return true
	}
	start := time.Now()
	ev, err := sched.Evaluate(view, raftPlanner{s}, sched.EvalConfig{Seed: s.raft.AppliedIndex(), Limits: s.cfg.schedLimits(), Due: due, Now: now})
	if err != nil {
		return 0, err
	}
	if len(ev.Submitted) > 0 {
		// Timestamps along the path (docs/performance.md): this evaluation,
		// its plans and their Raft commits (one per service).
		place, stop := 0, 0
		for _, req := range ev.Submitted {
			place, stop = place+len(req.Place), stop+len(req.Stop)
		}
		s.logger.Debug("scheduler: evaluated", "plans", len(ev.Submitted), "place", place, "stop", stop,
			"took", time.Since(start).Round(time.Microsecond))
	}
	for _, req := range ev.Submitted {
		if req.Rollback != nil {
			s.logger.Warn("scheduler: rolling update failed; rolled back", "service", req.Service,
				"from", req.Status.RolledBackFrom, "to", req.Status.LastGoodVersion)
		}
	}
	for name, err := range ev.Errors {
		s.logger.Error("scheduler: service", "service", name, "error", err)
		wantSoon(time.Second)
	}
	for name, d := range ev.Delays {
		sc.notBefore[name] = now.Add(d)
		wantSoon(d)
	}
	return next, nil
}

// raftPlanner is the production sched.Planner: one Raft apply per plan.
type raftPlanner struct{ s *Server }

// SubmitPlan implements sched.Planner.
func (p raftPlanner) SubmitPlan(req *sched.PlanRequest) error {
	_, err := p.s.raftApply(fsm.AllocPlanRequestType, req)
	return err
}

// schedView is the read-only sched.State of one evaluation: one read
// transaction of the state store, plus the scheduler nodes made from Serf
// members. Close releases the transaction.
type schedView struct {
	tx       *memdb.Txn
	nodes    []*sched.Node
	allocs   []*sched.Allocation
	specs    map[string][]byte
	statuses map[string]*sched.ServiceStatus
	// wake is the time until the next node grace period ends (0: none).
	wake time.Duration
}

var _ sched.State = (*schedView)(nil)

func (v *schedView) Nodes() ([]*sched.Node, error)             { return v.nodes, nil }
func (v *schedView) Allocations() ([]*sched.Allocation, error) { return v.allocs, nil }
func (v *schedView) Specs() (map[string][]byte, error)         { return v.specs, nil }
func (v *schedView) Statuses() (map[string]*sched.ServiceStatus, error) {
	return v.statuses, nil
}

// LastGood implements sched.State.
func (v *schedView) LastGood(service string) ([]byte, error) {
	_, e, err := kv.Get(v.tx, nil, sched.LastGoodPrefix+service)
	if err != nil || e == nil {
		return nil, err
	}
	return e.Value, nil
}

// Close aborts the read transaction.
func (v *schedView) Close() { v.tx.Abort() }

// schedView reads what scheduling depends on in one read transaction,
// watching it in ws. The caller must Close the view.
func (s *Server) schedView(ws memdb.WatchSet, now time.Time) (*schedView, error) {
	tx := s.State().ReadTxn()
	v := &schedView{tx: tx, specs: map[string][]byte{}, statuses: map[string]*sched.ServiceStatus{}}
	if err := s.readSchedView(v, ws, now); err != nil {
		tx.Abort()
		return nil, err
	}
	return v, nil
}

func (s *Server) readSchedView(v *schedView, ws memdb.WatchSet, now time.Time) error {
	_, ents, err := kv.List(v.tx, ws, sched.SpecPrefix)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := strings.TrimPrefix(e.Key, sched.SpecPrefix)
		if name != "" && !strings.Contains(name, "/") {
			v.specs[name] = e.Value
		}
	}
	_, nodes, err := catalog.Nodes(v.tx, ws)
	if err != nil {
		return err
	}
	catNodes := make(map[string]*catalog.Node, len(nodes))
	for _, n := range nodes {
		catNodes[n.Node] = n
	}
	// A member's failure shows as its serfHealth check turning critical:
	// wake on check changes too, to start its grace period at once.
	state.MaxIndexWatch(v.tx, ws, catalog.TableChecks)
	_, stored, err := allocs.All(v.tx, ws)
	if err != nil {
		return err
	}
	v.allocs = make([]*sched.Allocation, len(stored))
	for i, a := range stored {
		v.allocs[i] = &a.Allocation
	}
	_, sts, err := allocs.Statuses(v.tx, ws)
	if err != nil {
		return err
	}
	for _, st := range sts {
		v.statuses[st.Name] = st
	}
	v.nodes, v.wake = s.schedNodes(s.serf.Members(), catNodes, now)
	return nil
}

// schedNodes turns Serf members into scheduler nodes. A failed member is
// "disconnected" (keeps its replicas) during the grace period, then
// "down" (its replicas are re-placed). It returns the time until the next
// grace period ends (0 for none).
func (s *Server) schedNodes(members []serf.Member, catNodes map[string]*catalog.Node, now time.Time) ([]*sched.Node, time.Duration) {
	var out []*sched.Node
	var next time.Duration
	for _, m := range members {
		id := m.Tags["id"]
		if id == "" || (m.Tags["dc"] != "" && m.Tags["dc"] != s.cfg.Datacenter) {
			continue
		}
		n := &sched.Node{ID: id, Name: m.Name, Role: MemberRole(m.Tags), Datacenter: s.cfg.Datacenter}
		if cn := catNodes[m.Name]; cn != nil {
			n.Meta = cn.Meta
		}
		n.Resources.CPU, _ = strconv.Atoi(m.Tags[TagCPU])
		n.Resources.MemoryMB, _ = strconv.Atoi(m.Tags[TagMemory])
		for _, d := range strings.Split(m.Tags[TagDrivers], ",") {
			if d != "" {
				n.Drivers = append(n.Drivers, sched.Driver(d))
			}
		}
		for _, p := range strings.Split(m.Tags[TagAllow], ",") {
			if p != "" {
				n.Allows = append(n.Allows, sched.Permission(p))
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
