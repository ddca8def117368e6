package config

import (
	"fmt"
	"time"
)

// ACL is the acl block (Consul's keys). See docs/acl.md.
type ACL struct {
	// Enabled turns ACLs on. Default false: no token is needed for anything.
	Enabled bool `json:"enabled"`
	// DefaultPolicy applies where no rule of a token does: "allow" or
	// "deny". Default "deny" (Consul's default is "allow"; Shoal's is the
	// one Consul recommends for production).
	DefaultPolicy string `json:"default_policy"`
	// DownPolicy applies on a client agent when no server answers a token
	// lookup: "extend-cache" (keep using a cached answer, else deny; also
	// what "async-cache" does in Shoal), "deny" or "allow". Default
	// "extend-cache".
	DownPolicy string `json:"down_policy"`
	// TokenTTL is how long an agent caches what a token resolves to.
	// Default 30s, as Consul.
	TokenTTL time.Duration `json:"token_ttl"`
	// EnableTokenPersistence keeps tokens set through
	// /v1/agent/token/<name> in data_dir across restarts. Default false.
	EnableTokenPersistence bool `json:"enable_token_persistence"`
	// Tokens are the agent's own tokens.
	Tokens ACLTokens `json:"tokens"`
}

// ACLTokens are the secrets an agent uses. They are never logged.
type ACLTokens struct {
	// InitialManagement is a SecretID the leader makes a management token
	// (servers only). Default none.
	InitialManagement string `json:"initial_management"`
	// Agent is the token of the agent's own requests: anti-entropy, the
	// realiser, DNS. Default: Default.
	Agent string `json:"agent"`
	// Default is used for requests that carry no token; empty means the
	// anonymous token.
	Default string `json:"default"`
}

func (a *ACL) validate() error {
	switch a.DefaultPolicy {
	case "", "allow", "deny":
	default:
		return fmt.Errorf("acl.default_policy must be \"allow\" or \"deny\", got %q", a.DefaultPolicy)
	}
	switch a.DownPolicy {
	case "", "extend-cache", "async-cache", "deny", "allow":
	default:
		return fmt.Errorf("acl.down_policy must be \"extend-cache\", \"async-cache\", \"deny\" or \"allow\", got %q", a.DownPolicy)
	}
	if a.TokenTTL < 0 {
		return fmt.Errorf("acl.token_ttl must not be negative, got %v", a.TokenTTL)
	}
	return nil
}
