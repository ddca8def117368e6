// Package sched is the pure half of Shoal's scheduler: the service spec, its
// validation, and placement — deciding which replica runs on which node.
//
// It follows Nomad's split: scheduling is business logic only. A read-only
// view of the cluster goes in (a Spec, the Nodes, every Allocation), a
// PlanResult comes out; nothing here talks to the network, Docker, Raft or
// the clock. The leader (package server) watches specs and nodes, calls
// Schedule or Plan, and commits the plan through Raft; agents realise the
// allocations. Drivers and the reconciliation loop live elsewhere.
//
// Placement runs in three stages for each evaluation:
//
//  1. Reconcile (reconcile.go): compare the service's live allocations with
//     the spec; stop replicas on lost nodes, on nodes that no longer meet
//     the constraints, dead ones the restart policy replaces, duplicates,
//     extras (scale-down), and a bounded batch of outdated ones (rolling
//     update); list the slots to fill.
//  2. Feasibility (feasible.go): static checkers filter nodes once (status,
//     driver, each constraint, cpuset); a dynamic check (CPU, memory, host
//     ports) runs as replicas are placed.
//  3. Ranking (rank.go): spread or binpack order over the feasible nodes,
//     ties broken by a seeded per-node hash; the best node that fits takes
//     the next slot.
//
// Plan is deterministic: the same spec, nodes, allocations and seed give the
// same plan, whatever the order of the input slices. Rebalance proposes
// bounded moves that even out a spread service after nodes join.
//
// README.md describes the design, the terms and the spec schema.
package sched
