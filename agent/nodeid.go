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
// data dir, else a new one (persisted unless in dev mode). An empty
// node-id file, which a write on a full disk left before Shoal wrote it
// atomically, holds no ID and is replaced.
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
	case err == nil && strings.TrimSpace(string(b)) != "":
		return strings.TrimSpace(string(b)), nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("agent: data dir %s: read node ID: %w", cfg.DataDir, err)
	}
	id := newUUID()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("agent: data dir %s: %w", cfg.DataDir, err)
	}
	if err := writeFileAtomic(path, []byte(id), 0o600); err != nil {
		return "", fmt.Errorf("agent: data dir %s: write node ID: %w", cfg.DataDir, err)
	}
	return id, nil
}

// writeFileAtomic writes path through a temporary file, fsynced and
// renamed into place, so that a full disk or a crash leaves either the old
// file or the new one, never a truncated one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
