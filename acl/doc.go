// Package acl is Shoal's access control: the rules language (Consul's, in
// HCL or JSON, plus Shoal's deploy rules), the authorizer that answers
// "may this token do that to this resource", the ACL tables of the state
// store (tokens, policies, roles) with the writes the FSM applies, and the
// resolution of a token's secret to its authorizer.
//
// Terms:
//
//   - Rules: the parsed text of one policy — per resource type, exact rules
//     (key "a/b") and prefix rules (key_prefix "a/"), each with an access
//     level: deny, read, list or write (write grants list and read; list
//     grants read).
//   - Authorizer: the rules of all the policies of one token merged (for
//     the same resource and name, deny beats write beats list beats read),
//     chained onto the cluster's default policy. A lookup takes the exact
//     rule if there is one, else the longest prefix rule that covers the
//     name, else the default. KeyWritePrefix (a recursive delete) needs
//     write on the covering rule and on every rule under the prefix
//     (Consul's CVE-2019-12291 fix).
//   - Token: AccessorID (public) and SecretID (the bearer credential),
//     linked to policies and roles by ID. The anonymous token
//     (AnonymousTokenID) is used for requests that carry none.
//
// The package is pure: no networking, Raft or clock. Times (CreateTime)
// and identifiers are chosen by the server before a command enters the
// Raft log.
package acl
