package agent

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoalproject/shoal/agent/config"
)

// nodeID returns the configured node ID, else the one persisted under the
// data dir, else a new one (persisted unless in dev mode).
func nodeID(cfg *config.Config) (string, error) {
	if cfg.NodeID != "" {
		return strings.ToLower(cfg.NodeID), nil
	}
	if cfg.DataDir == "" || cfg.DevMode {
		return newUUID(), nil
	}
	path := filepath.Join(cfg.DataDir, "node-id")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return strings.TrimSpace(string(b)), nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("agent: read node ID: %w", err)
	}
	id := newUUID()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("agent: data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(id), 0o600); err != nil {
		return "", fmt.Errorf("agent: write node ID: %w", err)
	}
	return id, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
