package server

import (
	"context"
	"errors"
	"fmt"
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
// sched.Evaluate, and commits the evaluation's plans in one Raft entry
// (Server.evaluate). Every scheduling decision is sched's; this loop owns
// only the watch, the clock and Raft.
func (s *Server) schedulerLoop(stop <-chan struct{}) {
	sc := &schedulerState{notBefore: map[string]time.Time{}}
	for {
		var wake time.Duration = 10 * time.Second
		next, inputs, err := s.schedule(sc, time.Now())
		if err != nil {
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
		waitForChange(ctx, s.State(), inputs)
		cancel()
		select {
		case <-stop:
			return
		default:
		}
	}
}

// schedInput is one part of the state an evaluation reads, with the
// channels that close when it may have changed and what identifies its
// contents: the table's index, or for the specs kv.List's index and the
// number of keys.
type schedInput struct {
	read func(tx *memdb.Txn, ws memdb.WatchSet) ([2]uint64, error)
	ws   memdb.WatchSet
	seen [2]uint64
}

// schedInputs are the parts of the state an evaluation reads.
func schedInputs() []*schedInput {
	table := func(name string) *schedInput {
		return &schedInput{read: func(tx *memdb.Txn, ws memdb.WatchSet) ([2]uint64, error) {
			idx := state.MaxIndexWatch(tx, ws, name)
			it, err := tx.Get(name, "id")
			if err != nil {
				return [2]uint64{}, fmt.Errorf("scheduler: watch %s: %w", name, err)
			}
			ws.Add(it.WatchCh())
			return [2]uint64{idx}, nil
		}}
	}
	specs := &schedInput{read: func(tx *memdb.Txn, ws memdb.WatchSet) ([2]uint64, error) {
		idx, ents, err := kv.List(tx, ws, sched.SpecPrefix)
		return [2]uint64{idx, uint64(len(ents))}, err
	}}
	// A member's failure shows as its serfHealth check turning critical:
	// checks are watched to start its grace period at once.
	return []*schedInput{specs, table(catalog.TableNodes), table(catalog.TableChecks),
		table(allocs.TableAllocs), table(allocs.TableServices)}
}

// watchInputs reads every input in tx (the evaluation's), arming its
// watch.
func watchInputs(tx *memdb.Txn) ([]*schedInput, error) {
	in := schedInputs()
	for _, i := range in {
		i.ws = memdb.NewWatchSet()
		seen, err := i.read(tx, i.ws)
		if err != nil {
			return nil, err
		}
		i.seen = seen
	}
	return in, nil
}

// waitForChange blocks until an input differs from what the evaluation
// read, the state store is restored from a snapshot, or ctx ends; with no
// inputs (the state could not be read), until ctx ends.
//
// A watch can close when its input has not changed: the radix node of a
// prefix with no key under it, or of a table whose index row is not yet
// written, is the nearest node above it, which writes elsewhere close
// too — every KV write, in a cluster that stores no spec and runs no
// allocation. Such a wake re-reads the input whose watch closed and, when
// it is unchanged, waits again on a fresh watch, so that KV writes cost no
// evaluation.
func waitForChange(ctx context.Context, st *state.Store, inputs []*schedInput) {
	abandon := st.AbandonCh()
	for {
		all := memdb.NewWatchSet()
		all.Add(abandon)
		for _, i := range inputs {
			for ch := range i.ws {
				all.Add(ch)
			}
		}
		if all.WatchCtx(ctx) != nil || len(inputs) == 0 || closed(abandon) {
			return
		}
		if inputsChanged(st, inputs) {
			return
		}
	}
}

// inputsChanged re-reads each input whose watch closed: it reports
// whether one changed and otherwise re-arms their watches.
func inputsChanged(st *state.Store, inputs []*schedInput) bool {
	tx := st.ReadTxn()
	defer tx.Abort()
	for _, i := range inputs {
		if !anyClosed(i.ws) {
			continue
		}
		ws := memdb.NewWatchSet()
		seen, err := i.read(tx, ws)
		if err != nil || seen != i.seen {
			return true
		}
		i.ws = ws
	}
	return false
}

// anyClosed reports whether a channel of ws is closed.
func anyClosed(ws memdb.WatchSet) bool {
	for ch := range ws {
		if closed(ch) {
			return true
		}
	}
	return false
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// schedulerState is what the loop remembers between passes.
type schedulerState struct {
	// notBefore delays a service's next plan (update.delay).
	notBefore map[string]time.Time
}

// schedule runs one evaluation and returns how soon it wants to run again
// (0: only on a change) and its inputs, watched from its read transaction.
// It returns an error only when the state cannot be read; a service whose
// plan fails is retried within a second.
func (s *Server) schedule(sc *schedulerState, now time.Time) (time.Duration, []*schedInput, error) {
	view, err := s.schedView(now)
	if err != nil {
		return 0, nil, err
	}
	defer view.Close()
	s.schedPasses.Add(1)
	inputs, err := watchInputs(view.tx)
	if err != nil {
		return 0, nil, err
	}
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
	cfg := sched.EvalConfig{Seed: s.raft.AppliedIndex(), Limits: s.cfg.schedLimits(), Due: due, Now: now}
	ev, err := s.evaluate(view, cfg)
	if err != nil {
		return 0, nil, err
	}
	if len(ev.Submitted) > 0 {
		// Timestamps along the path (docs/performance.md): this evaluation,
		// its plans and their Raft commit (one entry for them all).
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
	return next, inputs, nil
}

// evaluate runs sched.Evaluate and commits its plans: all of them in one
// Raft entry (one log append, one replication round and one transaction for
// the whole evaluation) when every server can apply such an entry, else
// one entry per plan.
//
// If the batch is refused by the FSM (the store is then unchanged), the
// evaluation runs again over the same view with one entry per plan, so
// that one plan the store refuses never holds back the others. If its
// outcome is unknown (leadership lost) or it never reached a log, nothing
// is re-sent: the plans are reported as errors and the next evaluation,
// by whichever server leads then, starts from the state as committed.
func (s *Server) evaluate(view *schedView, cfg sched.EvalConfig) (*sched.Evaluation, error) {
	if !view.batchPlans {
		return sched.Evaluate(view, raftPlanner{s}, cfg)
	}
	var col planCollector
	ev, err := sched.Evaluate(view, &col, cfg)
	if err != nil || len(col.plans) == 0 {
		return ev, err
	}
	if len(col.plans) == 1 {
		err = raftPlanner{s}.SubmitPlan(col.plans[0])
	} else {
		_, err = s.raftApply(fsm.AllocPlanBatchRequestType, &fsm.PlanBatch{Plans: col.plans})
	}
	switch {
	case err == nil:
		return ev, nil
	case len(col.plans) > 1 && !errors.Is(err, errNotLeader) && !errors.Is(err, errLeadershipLost) && !errors.Is(err, errShutdown):
		s.logger.Warn("scheduler: the store refused a batch of plans; committing them one by one",
			"plans", len(col.plans), "error", err)
		return sched.Evaluate(view, raftPlanner{s}, cfg)
	}
	for _, req := range col.plans {
		ev.Errors[req.Service] = err
		delete(ev.Delays, req.Service)
	}
	ev.Submitted = nil
	return ev, nil
}

// planBatchProtocol is the cluster protocol (version.ProtocolVersion)
// from which servers apply fsm.AllocPlanBatchRequestType entries.
const planBatchProtocol = 2

// membersSpeak reports whether every server among members that has not
// left advertises cluster protocol v or later (a missing or unreadable
// shoal_vsn counts as older).
func membersSpeak(members []serf.Member, v int) bool {
	for _, m := range members {
		if MemberRole(m.Tags) != RoleServer || m.Status == serf.StatusLeft {
			continue
		}
		if n, err := strconv.Atoi(m.Tags["shoal_vsn"]); err != nil || n < v {
			return false
		}
	}
	return true
}

// planCollector is a sched.Planner that accepts every plan, for
// Server.evaluate to commit them together.
type planCollector struct{ plans []*sched.PlanRequest }

// SubmitPlan implements sched.Planner.
func (c *planCollector) SubmitPlan(req *sched.PlanRequest) error {
	c.plans = append(c.plans, req)
	return nil
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
	// batchPlans is whether every server can apply the evaluation's
	// plans as one entry (planBatchProtocol).
	batchPlans bool
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

// schedView reads what scheduling depends on in one read transaction
// (schedInputs says what to watch for a change of it). The caller must
// Close the view.
func (s *Server) schedView(now time.Time) (*schedView, error) {
	tx := s.State().ReadTxn()
	v := &schedView{tx: tx, specs: map[string][]byte{}, statuses: map[string]*sched.ServiceStatus{}}
	if err := s.readSchedView(v, now); err != nil {
		tx.Abort()
		return nil, err
	}
	return v, nil
}

func (s *Server) readSchedView(v *schedView, now time.Time) error {
	_, ents, err := kv.List(v.tx, nil, sched.SpecPrefix)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := strings.TrimPrefix(e.Key, sched.SpecPrefix)
		if name != "" && !strings.Contains(name, "/") {
			v.specs[name] = e.Value
		}
	}
	_, nodes, err := catalog.Nodes(v.tx, nil)
	if err != nil {
		return err
	}
	catNodes := make(map[string]*catalog.Node, len(nodes))
	for _, n := range nodes {
		catNodes[n.Node] = n
	}
	_, stored, err := allocs.All(v.tx, nil)
	if err != nil {
		return err
	}
	v.allocs = make([]*sched.Allocation, len(stored))
	for i, a := range stored {
		v.allocs[i] = &a.Allocation
	}
	_, sts, err := allocs.Statuses(v.tx, nil)
	if err != nil {
		return err
	}
	for _, st := range sts {
		v.statuses[st.Name] = st
	}
	members := s.serf.Members()
	v.nodes, v.wake = s.schedNodes(members, catNodes, now)
	v.batchPlans = membersSpeak(members, planBatchProtocol)
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
