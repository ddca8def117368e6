// Package sched is the pure half of Shoal's scheduler: the service spec, its
// validation, the leader's evaluation and placement — deciding which replica
// runs on which node, and what each service's status says.
//
// It follows Nomad's split: scheduling is business logic only. A read-only
// State goes in (specs, nodes, every allocation, statuses), plans come out;
// nothing here talks to the network, Docker, Raft or the clock. The leader
// (package server) watches the state store, builds a State from one read
// transaction, calls Evaluate, and commits the PlanRequests its Planner
// received (all of one evaluation in one Raft entry); agents realise the
// allocations.
// Evaluate (eval.go) decides status, last good version, rollback, removal
// of services whose spec is gone, garbage and Limits; Plan places one spec.
// Drivers and the reconciliation loop live elsewhere.
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
