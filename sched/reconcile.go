package sched

// Reconciliation compares the service's live allocations with the spec and
// decides which to keep, which to stop (with a StopReason) and which slots
// to fill. It runs before placement so that stops free their resources
// first.

// doomed reports whether a live allocation must go whatever the replica
// count, and why. The checks, in order: its node is down or unknown (or the
// agent reported it lost); its node no longer satisfies the constraints;
// it died and the restart policy asks for a replacement.
//
// A stateful replica (Spec.Stateful) whose node is down is kept: its data
// is there, so it waits for the node rather than starting empty elsewhere.
func (c *cluster) doomed(a *Allocation) (StopReason, bool) {
	ns := c.nodes[a.NodeID]
	policy := c.spec.Restart.Policy
	switch {
	case ns == nil || ns.node.Status == NodeDown || a.ClientStatus == ClientLost:
		if c.spec.Stateful() {
			return "", false
		}
		return StopNodeLost, true
	case !ns.matches:
		return StopConstraint, true
	case a.ClientStatus == ClientFailed && policy != RestartNever:
		return StopFailed, true
	case a.ClientStatus == ClientComplete && policy == RestartAlways:
		return StopCompleted, true
	}
	return "", false
}

// reconcileReplicated keeps the lowest `replicas` healthy slots, stops the
// rest, replaces a batch of outdated replicas, and returns the slots to
// fill: replaced slots and the lowest free indices.
func (c *cluster) reconcileReplicated(res *PlanResult) []slot {
	taken := map[int]bool{}
	var kept []*Allocation
	// A stateful slot is pinned to the node of its replicas: a replacement
	// goes back there.
	pinned := map[int]string{}
	var slots []slot
	for _, a := range c.mine {
		if reason, stop := c.doomed(a); stop {
			c.stop(res, a, reason)
			if c.spec.Stateful() && reason != StopConstraint && !taken[a.Index] {
				pinned[a.Index] = a.NodeID
			}
			continue
		}
		if taken[a.Index] {
			c.stop(res, a, StopDuplicate)
			continue
		}
		taken[a.Index] = true
		kept = append(kept, a)
	}

	// Scale down: kept is sorted by slot, so the highest slots go first.
	want := c.spec.Count()
	if len(kept) > want {
		for _, a := range kept[want:] {
			c.stop(res, a, StopScaleDown)
			delete(taken, a.Index)
		}
		kept = kept[:want]
	}

	for _, a := range c.rollingUpdate(res, kept, func(*Allocation) bool { return true }) {
		c.stop(res, a, StopVersion)
		sl := slot{index: a.Index}
		if c.spec.Stateful() {
			sl.nodeID = a.NodeID
		}
		slots = append(slots, sl)
	}

	next := 0
	for missing := want - len(kept); missing > 0; missing-- {
		for taken[next] {
			next++
		}
		taken[next] = true
		slots = append(slots, slot{index: next, nodeID: pinned[next]})
	}
	return slots
}

// reconcileGlobal keeps one healthy replica per node, replaces a batch of
// outdated ones in place, and returns a slot for every feasible node that
// has none.
func (c *cluster) reconcileGlobal(res *PlanResult) []slot {
	taken := map[int]bool{}
	onNode := map[string]bool{}
	var kept []*Allocation
	for _, a := range c.mine {
		if reason, stop := c.doomed(a); stop {
			c.stop(res, a, reason)
			continue
		}
		if onNode[a.NodeID] {
			c.stop(res, a, StopDuplicate)
			continue
		}
		onNode[a.NodeID] = true
		taken[a.Index] = true
		kept = append(kept, a)
	}

	var slots []slot
	// Replace in place, and only where a new replica may go.
	replaceable := func(a *Allocation) bool { return c.nodes[a.NodeID].feasible }
	for _, a := range c.rollingUpdate(res, kept, replaceable) {
		c.stop(res, a, StopVersion)
		slots = append(slots, slot{index: a.Index, nodeID: a.NodeID})
	}

	next := 0
	for _, ns := range c.order {
		if !ns.feasible || onNode[ns.node.ID] {
			continue
		}
		for taken[next] {
			next++
		}
		taken[next] = true
		slots = append(slots, slot{index: next, nodeID: ns.node.ID})
	}
	return slots
}

// rollingUpdate picks the outdated allocations among kept to replace now:
// at most Parallelism minus the current-version replicas still in flight,
// lowest slot first, and none once more than MaxFailures replicas of the
// current version have failed. It records the update's progress in res.
func (c *cluster) rollingUpdate(res *PlanResult, kept []*Allocation, replaceable func(*Allocation) bool) []*Allocation {
	var outdated []*Allocation
	inFlight := 0
	for _, a := range kept {
		switch {
		case a.Version != c.version:
			outdated = append(outdated, a)
		case !c.settled(a):
			inFlight++
		}
	}
	if len(outdated) == 0 {
		return nil
	}
	u := c.spec.Update
	st := &UpdateStatus{Outdated: len(outdated), InFlight: inFlight, Failed: c.failed}
	res.Update = st
	if c.failed > u.MaxFailures {
		st.Halted, st.Action = true, u.OnFailure
		return nil
	}
	var replace []*Allocation
	for _, a := range outdated {
		if len(replace) >= u.Parallelism-inFlight {
			break
		}
		if replaceable(a) {
			replace = append(replace, a)
		}
	}
	st.Replacing = len(replace)
	return replace
}

// settled reports whether a current-version replica has finished starting:
// it runs, and passes its health check if the update is health-gated.
func (c *cluster) settled(a *Allocation) bool {
	if a.ClientStatus != ClientRunning {
		return false
	}
	return !c.spec.Update.HealthGated || a.Healthy
}
