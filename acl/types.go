package acl

import "time"

// Well-known IDs, as Consul's.
const (
	// AnonymousTokenID is the AccessorID of the token used by requests
	// that carry none; its SecretID is "anonymous".
	AnonymousTokenID     = "00000000-0000-0000-0000-000000000002"
	AnonymousTokenSecret = "anonymous"
	// ManagementPolicyID is the builtin global-management policy: a token
	// linked to it may do everything.
	ManagementPolicyID   = "00000000-0000-0000-0000-000000000001"
	ManagementPolicyName = "global-management"
)

// managementRules is the text of the global-management policy.
const managementRules = `acl = "write"
agent_prefix "" { policy = "write" }
event_prefix "" { policy = "write" }
key_prefix "" { policy = "write" }
keyring = "write"
node_prefix "" { policy = "write" }
operator = "write"
query_prefix "" { policy = "write" }
service_prefix "" { policy = "write" }
session_prefix "" { policy = "write" }
deploy_prefix "" { policy = "write" }
`

// Link names a policy or role from a token or role, by ID or Name (the
// server resolves a name to an ID when the link is written).
type Link struct {
	ID   string
	Name string
}

// Identity is Consul's service or node identity. Shoal stores none; the
// type exists so that a request carrying one is refused clearly.
type Identity struct {
	ServiceName string `json:",omitempty"`
	NodeName    string `json:",omitempty"`
	Datacenter  string `json:",omitempty"`
}

// Token is one ACL token, shaped as Consul's api.ACLToken.
type Token struct {
	AccessorID        string
	SecretID          string
	Description       string
	Policies          []Link     `json:",omitempty"`
	Roles             []Link     `json:",omitempty"`
	ServiceIdentities []Identity `json:",omitempty"`
	NodeIdentities    []Identity `json:",omitempty"`
	Local             bool
	ExpirationTime    *time.Time `json:",omitempty"`
	CreateTime        time.Time
	Hash              []byte `json:",omitempty"`
	CreateIndex       uint64
	ModifyIndex       uint64
}

// Policy is one ACL policy, shaped as Consul's api.ACLPolicy.
type Policy struct {
	ID          string
	Name        string
	Description string
	Rules       string
	Datacenters []string `json:",omitempty"`
	Hash        []byte   `json:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64
}

// Role is one ACL role, shaped as Consul's api.ACLRole.
type Role struct {
	ID                string
	Name              string
	Description       string
	Policies          []Link     `json:",omitempty"`
	ServiceIdentities []Identity `json:",omitempty"`
	NodeIdentities    []Identity `json:",omitempty"`
	Hash              []byte     `json:",omitempty"`
	CreateIndex       uint64
	ModifyIndex       uint64
}

// Redacted returns a copy of t without its secret, as list endpoints show
// tokens to callers without acl:write.
func (t *Token) Redacted() *Token {
	c := *t
	c.SecretID = redactedSecret
	return &c
}

// redactedSecret replaces a SecretID the caller may not see (Consul's text).
const redactedSecret = "<hidden>"

// Expired reports whether the token has expired at now (Unix nanoseconds).
func (t *Token) Expired(now time.Time) bool {
	return t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
}
