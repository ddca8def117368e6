package sched

import (
	"container/heap"
	"hash/fnv"
	"math"
)

// Ranking orders the feasible nodes; the best one that still fits gets the
// next replica.
//
//   - spread: fewest live replicas of this service, then fewest live
//     allocations of all services, then the seeded tie-break.
//   - binpack: highest score after placement (Nomad's ScoreFitBinPack: 20 -
//     (10^freeCPU + 10^freeMem), clamped to [0, 18], divided by 18), then
//     the seeded tie-break. Fuller nodes score higher, so replicas pile up
//     on as few nodes as possible.
//
// Nodes sit in a heap keyed by their rank; a placement changes only the
// chosen node's key, so each placement costs O(log n).

// tieBreak returns the node's place in the seeded order: splitmix64 of the
// seed mixed with an FNV-1a hash of the node ID. A per-node hash, rather than
// shuffling a slice, keeps the relative order of existing nodes when others
// join or leave, and is independent of the input order.
func tieBreak(seed uint64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return splitmix64(seed ^ h.Sum64())
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// binpackScore is the node's fit score in [0, 1] if one more replica were
// placed on it.
func (c *cluster) binpackScore(ns *nodeState) float64 {
	r := ns.node.Resources
	if r.CPU <= 0 || r.MemoryMB <= 0 {
		return 0
	}
	freeCPU := 1 - float64(ns.cpu+c.req.cpu)/float64(r.CPU)
	freeMem := 1 - float64(ns.mem+c.req.mem)/float64(r.MemoryMB)
	score := 20 - (math.Pow(10, freeCPU) + math.Pow(10, freeMem))
	return math.Max(0, math.Min(18, score)) / 18
}

// better reports whether node a ranks before node b.
func (c *cluster) better(a, b *nodeState) bool {
	if c.spec.Strategy == StrategyBinpack {
		if a.score != b.score {
			return a.score > b.score
		}
	} else {
		if a.mine != b.mine {
			return a.mine < b.mine
		}
		if a.total != b.total {
			return a.total < b.total
		}
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.node.ID < b.node.ID
}

// rerank refreshes the node's cached score after its usage changed.
func (c *cluster) rerank(ns *nodeState) {
	if c.spec.Strategy == StrategyBinpack {
		ns.score = c.binpackScore(ns)
	}
}

// nodeHeap is a heap of nodes, best first, for container/heap.
type nodeHeap struct {
	c     *cluster
	items []*nodeState
}

func (c *cluster) newHeap(nodes []*nodeState) *nodeHeap {
	h := &nodeHeap{c: c, items: nodes}
	for i, ns := range nodes {
		ns.heapIdx = i
		c.rerank(ns)
	}
	heap.Init(h)
	return h
}

// Len, Less, Swap, Push and Pop implement heap.Interface.
func (h *nodeHeap) Len() int           { return len(h.items) }
func (h *nodeHeap) Less(i, j int) bool { return h.c.better(h.items[i], h.items[j]) }
func (h *nodeHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx = i
	h.items[j].heapIdx = j
}
func (h *nodeHeap) Push(x any) {
	ns := x.(*nodeState)
	ns.heapIdx = len(h.items)
	h.items = append(h.items, ns)
}
func (h *nodeHeap) Pop() any {
	last := len(h.items) - 1
	ns := h.items[last]
	h.items = h.items[:last]
	return ns
}

// best returns the best-ranked node that fits one more replica, or nil.
// Nodes that do not fit are removed and counted as exhausted.
func (h *nodeHeap) best() *nodeState {
	for len(h.items) > 0 {
		ns := h.items[0]
		ok, dim := h.c.fits(ns)
		if ok {
			return ns
		}
		h.c.exhausted[dim]++
		heap.Pop(h)
	}
	return nil
}

// changed restores heap order after ns's usage changed.
func (h *nodeHeap) changed(ns *nodeState) {
	h.c.rerank(ns)
	heap.Fix(h, ns.heapIdx)
}
