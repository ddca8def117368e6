package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// aclTokensFile holds the tokens set through /v1/agent/token/<kind> when
// acl.enable_token_persistence is on (Consul's name and place).
const aclTokensFile = "acl-tokens.json"

// agentTokens are the agent's own tokens: the default (requests that
// carry none, DNS) and the agent's. They start from the config, then the
// persisted file, and change through /v1/agent/token/<kind>. Never logged.
type agentTokens struct {
	path string // "" when not persisted

	mu       sync.RWMutex
	DefaultT string
	AgentT   string
}

// loadAgentTokens returns the tokens of the config, overridden by the
// persisted file when persistence is on (as Consul).
func (a *Agent) loadAgentTokens() (*agentTokens, error) {
	c := a.cfg.ACL
	t := &agentTokens{DefaultT: c.Tokens.Default, AgentT: c.Tokens.Agent}
	if !c.EnableTokenPersistence || a.cfg.DataDir == "" || a.cfg.DevMode {
		return t, nil
	}
	t.path = filepath.Join(a.cfg.DataDir, aclTokensFile)
	b, err := os.ReadFile(t.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return t, nil
	case err != nil:
		return nil, fmt.Errorf("agent: data dir %s: read %s: %w", a.cfg.DataDir, aclTokensFile, err)
	}
	var saved struct{ Default, Agent string }
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("agent: data dir %s: %s is not valid JSON: %w", a.cfg.DataDir, aclTokensFile, err)
	}
	if saved.Default != "" {
		t.DefaultT = saved.Default
	}
	if saved.Agent != "" {
		t.AgentT = saved.Agent
	}
	return t, nil
}

func (t *agentTokens) defaultToken() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.DefaultT
}

// set changes one token and persists both when persistence is on.
func (t *agentTokens) set(kind, secret string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch kind {
	case "default", "acl_token":
		t.DefaultT = secret
	case "agent", "acl_agent_token":
		t.AgentT = secret
	default:
		return HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Token %q is unknown", kind)}
	}
	if t.path == "" {
		return nil
	}
	b, err := json.Marshal(struct{ Default, Agent string }{t.DefaultT, t.AgentT})
	if err != nil {
		return err
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("agent: persist tokens: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("agent: persist tokens: %w", err)
	}
	return nil
}

// agentToken serves PUT /v1/agent/token/<kind> ({"Token": "..."}): it
// changes the agent's default or agent token (acl:write).
func (a *Agent) agentToken(w http.ResponseWriter, r *http.Request) (any, error) {
	if a.acl == nil {
		return nil, HTTPError{Code: http.StatusUnauthorized, Msg: "ACL support disabled"}
	}
	var body struct{ Token string }
	if err := decodeOptionalBody(r, &body); err != nil {
		return nil, err
	}
	if err := a.tokens.set(r.PathValue("kind"), body.Token); err != nil {
		return nil, err
	}
	a.logger.Info("updated agent ACL token", "kind", r.PathValue("kind"))
	return nil, nil
}
