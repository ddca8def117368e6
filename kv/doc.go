// Package kv owns the key/value store's state: its go-memdb tables (keys,
// tombstones, lock delays, sessions), the writes the FSM applies with
// Consul's semantics (set, CAS, lock/unlock, deletes, sessions,
// transactions, tombstone reaping) and the reads blocking queries run.
//
// It is pure: no networking, Raft, HTTP or clock. Every write takes the
// Raft index it is applied at, and the writes that need the time (session
// invalidation and lock acquisition, for lock-delay) take a timestamp the
// leader put in the command, so that every server applies the log to the
// same result.
//
// # Indexes and tombstones
//
// A read reports the Raft index of the data it returned, never lower than
// what it reported before for the same key or prefix: deleting a key leaves
// a tombstone (its key and the deleting index) so that a prefix that lost
// its last key still reports the delete's index, and a blocked prefix
// query wakes. Tombstones are reaped by the leader after a while
// (TombstoneRequest); the highest reaped index is kept as a floor that
// missing keys report, so an index still never goes backwards.
//
// # Watches
//
// Reads add to the caller's memdb.WatchSet only the radix nodes they read:
// the key's leaf, or the prefix's subtree. A write elsewhere in the table
// does not wake them.
package kv
