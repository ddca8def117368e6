// Package tlsutil builds the TLS configurations of Shoal's listeners and
// dialers from an agent's certificate settings, and generates the
// certificate authority and agent certificates `shoal tls` writes.
//
// Roles follow Consul. Every agent certificate is signed by one CA. A
// server's certificate names server.<datacenter>.<domain>; a client
// agent's names client.<datacenter>.<domain>. With VerifyServerHostname
// an outgoing RPC or Raft connection checks that the peer's certificate
// names server.<dc>.<domain>, and the server port accepts a Raft
// connection only from a certificate that does (so a client agent's
// certificate cannot act as a server: Consul CVE-2021-37219).
//
// A Configurator is immutable once built and safe for concurrent use.
package tlsutil
