package sched

import (
	"cmp"
	"fmt"
	"slices"
)

// SummarizeUnplaced describes unplaced replicas compactly: one line per
// reason, with how many replicas it holds back, such as
// `replica 3: constraint "node.meta.storage == ssd" filtered 3 nodes` or
// `250 replicas: memory exhausted on 2 nodes`. Lines are in the order of
// the first slot they concern. The result grows with the number of distinct
// reasons, never with the number of replicas, and costs time linear in it.
func SummarizeUnplaced(us []*Unplaced) []string {
	type group struct {
		first, n int
	}
	groups := map[string]*group{}
	var order []string
	reasons := map[*Metrics][]string{} // replicated mode shares one Metrics
	for _, u := range us {
		rs, ok := reasons[u.Metrics]
		if !ok {
			rs = u.Metrics.Reasons()
			reasons[u.Metrics] = rs
		}
		for _, r := range rs {
			g := groups[r]
			if g == nil {
				g = &group{first: u.Index}
				groups[r] = g
				order = append(order, r)
			}
			g.n++
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(groups[a].first, groups[b].first) })
	out := make([]string, 0, len(order))
	for _, r := range order {
		g := groups[r]
		if g.n == 1 {
			out = append(out, fmt.Sprintf("replica %d: %s", g.first, r))
		} else {
			out = append(out, fmt.Sprintf("%d replicas: %s", g.n, r))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
