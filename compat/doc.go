// Package compat holds Shoal's compatibility tests: they drive a real
// in-process cluster (three servers and a client agent, see
// internal/testcluster) with the official Consul Go client,
// github.com/hashicorp/consul/api, and check that the KV store, sessions,
// locks, semaphores, transactions and blocking queries behave as they do
// against Consul — through the leader, a follower and the client agent.
//
// The package has no non-test code; one cluster is shared by all its
// tests (TestMain).
package compat
