package sched

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// dependencyCycles finds the services whose depends_on closes a cycle and
// returns an error for each, naming the cycle. Dependencies on services
// without a valid spec are not edges.
func dependencyCycles(specs map[string]*Spec) map[string]error {
	// Tarjan's strongly connected components, in name order.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = len(index), len(index)
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range specs[v].DependsOn {
			if specs[w] == nil {
				continue
			}
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			if len(scc) > 1 {
				sccs = append(sccs, scc)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		if _, seen := index[name]; !seen {
			visit(name)
		}
	}
	out := map[string]error{}
	for _, scc := range sccs {
		in := map[string]bool{}
		for _, n := range scc {
			in[n] = true
		}
		for _, n := range scc {
			out[n] = fmt.Errorf("sched: %w: %s", ErrDependencyCycle, strings.Join(cyclePath(specs, in, n), " -> "))
		}
	}
	return out
}

// cyclePath returns the shortest path from start back to itself through
// the services in scc (breadth first, dependencies in spec order).
func cyclePath(specs map[string]*Spec, scc map[string]bool, start string) []string {
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range specs[v].DependsOn {
			if !scc[w] {
				continue
			}
			if w == start {
				path := []string{start}
				for u := v; u != start; u = prev[u] {
					path = append(path, u)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []string{start}
}
