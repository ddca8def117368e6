// Package dns is the agent's DNS interface: a Consul-compatible server
// (github.com/miekg/dns) that answers names under the configured domain
// from the catalog and forwards other names to recursors.
//
// Names served, all case-insensitive, under Domain or AltDomain:
//
//	[<tag>.]<service>.service[.<dc>[.dc]].<domain>   A, AAAA, ANY, SRV
//	_<service>._<tag|tcp>.service[.<dc>].<domain>   RFC 2782 form
//	<node>.node[.<dc>[.dc]].<domain>                A, AAAA, ANY, TXT (node meta)
//	<hex-ip>.addr[.<dc>].<domain>                   A (8 hex digits), AAAA (32)
//	<query>.query[.<dc>].<domain>                   A, AAAA, ANY, SRV (a prepared query; QueryExecutor)
//	<domain>                                        SOA, NS
//	<reversed-ip>.in-addr.arpa. / .ip6.arpa.        PTR of node and service addresses
//
// Answers are built over a Reader, the catalog as this package sees it; the
// agent implements it over server RPC with stale reads and a cache fed by
// blocking queries, so a burst of lookups costs no round trip. Everything
// here is pure apart from Server's listeners and the recursor client, and
// is tested with a fixture Reader and a recording ResponseWriter.
//
// Flow of one query:
//
//	ServeDNS ─ parse name ─┬─ service ─ Reader.ServiceNodes ─ filter health/tag ─ shuffle ─ records
//	                       ├─ node    ─ Reader.Node
//	                       ├─ addr / SOA / NS
//	                       ├─ arpa    ─ Reader.Nodes (+ ServiceLister) ─ else recurse
//	                       └─ other   ─ recursors (REFUSED when none)
//	                 EDNS0 ─ trim to 512 B / EDNS0 size / udp_answer_limit (TC bit) ─ write
package dns
