// Package chaos is Shoal's Jepsen-style fault-injection suite. It runs
// three real shoal servers, each on an emulated host (a network namespace,
// internal/netlab), drives them with concurrent HTTP clients while a
// seeded nemesis injects one fault at a time (to one server, to two, or a
// crash of all three), and checks the recorded history for
// linearizability with porcupine.
//
// The terms, in the order a run uses them:
//
//   - Config: what a run does (mode, duration, seed, crash cycles, clients,
//     keys); ConfigFromEnv reads it from SHOAL_CHAOS_* variables.
//   - Cluster: the lab and the three server processes; it kills (SIGKILL),
//     pauses (SIGSTOP/SIGCONT), partitions (iptables DROP between hosts)
//     and restarts them on the same data dir, and notices a server that
//     exits on its own.
//   - Workload: register clients (read, write, CAS on a few keys under a
//     run-unique prefix, every written value unique) and lock clients
//     (acquire/release of one key, each client with its own session).
//   - History: every operation with its call and return times and its
//     outcome: ok, failed (definitely not applied) or unknown (timeout,
//     connection error, 5xx: may take effect at any time after its call,
//     so it returns "at infinity" and the model accepts either outcome).
//   - Nemesis: the fault schedule, drawn from a seeded RNG (the seed is
//     printed and reproduces the schedule's choices).
//   - Check: after healing everything, every server must run and serve,
//     replicas must agree on every key, a final consistent read of every
//     key joins the history, and porcupine checks it per key (register)
//     and for the lock (mutex). A violation writes porcupine's HTML view
//     and the history as JSON to an output dir.
//
// Modes: "consistent" (reads with ?consistent), "default" (default-mode
// reads, which Consul allows to be stale during a leader change but Shoal
// promises to be linearizable, docs/reliability.md: they are checked as
// such) and "crash" (kill -9 cycles of random servers and the leader;
// every restart must succeed and no acknowledged write may be lost).
//
// The tests need root, network namespaces and iptables; see docs/chaos.md.
package chaos
