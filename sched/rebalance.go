package sched

// Rebalance proposes moves that even out a spread service after nodes
// joined: each move stops the replica in the highest slot on the most
// loaded node (StopRebalance) and places the same slot on the least loaded
// feasible node that fits. It stops once every feasible node is within one
// replica of every other, or after maxMoves moves; maxMoves <= 0 means the
// spec's update parallelism.
//
// It proposes nothing unless spec.Rebalance is set (which Validate allows
// only for replicated, spread services) and the service has converged:
// Plan would neither place, stop nor fail to place anything, and every
// replica is running. So moves never race a rolling update or a
// re-placement. Like Plan it is pure and deterministic; errors are Plan's.
func Rebalance(spec *Spec, nodes []*Node, current []*Allocation, seed uint64, maxMoves int) (*PlanResult, error) {
	c, err := newCluster(spec, nodes, current, seed)
	if err != nil {
		return nil, planError(spec, err)
	}
	res := c.newResult()
	if !c.spec.Rebalance || c.spec.Stateful() {
		return res, nil // stateful replicas never move
	}
	probe, err := Plan(spec, nodes, current, seed)
	if err != nil {
		return nil, err
	}
	if !probe.IsNoOp() || len(probe.Unplaced) > 0 {
		return res, nil
	}
	for _, a := range c.mine {
		if a.ClientStatus != ClientRunning {
			return res, nil
		}
	}
	c.applyUsage()

	// The replicas on each node, by slot (c.mine is sorted by slot).
	onNode := map[string][]*Allocation{}
	for _, a := range c.mine {
		onNode[a.NodeID] = append(onNode[a.NodeID], a)
	}
	if maxMoves <= 0 {
		maxMoves = c.spec.Update.Parallelism
	}
	for moves := 0; moves < maxMoves; moves++ {
		donor, receiver := c.rebalancePair(onNode)
		if donor == nil || receiver == nil || donor.mine-receiver.mine <= 1 {
			break
		}
		list := onNode[donor.node.ID]
		a := list[len(list)-1]
		onNode[donor.node.ID] = list[:len(list)-1]
		c.stop(res, a, StopRebalance)
		donor.remove(a, true)

		moved := c.assign(receiver, a.Index)
		res.Place = append(res.Place, moved)
		onNode[receiver.node.ID] = append(onNode[receiver.node.ID], moved)
	}
	res.sort()
	return res, nil
}

// rebalancePair returns the feasible node with the most replicas of the
// service (ties: most allocations, then the seeded order) and the one that
// spread ranking would choose next among the others that fit.
func (c *cluster) rebalancePair(onNode map[string][]*Allocation) (donor, receiver *nodeState) {
	for _, ns := range c.order {
		if !ns.feasible || len(onNode[ns.node.ID]) == 0 {
			continue
		}
		if donor == nil || c.better(donor, ns) {
			donor = ns
		}
	}
	for _, ns := range c.order {
		if !ns.feasible || ns == donor {
			continue
		}
		if ok, _ := c.fits(ns); !ok {
			continue
		}
		if receiver == nil || c.better(ns, receiver) {
			receiver = ns
		}
	}
	return donor, receiver
}
