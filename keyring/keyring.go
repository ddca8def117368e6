// Package keyring handles Serf gossip encryption keys as Consul does:
// base64-encoded AES keys of 16, 24 or 32 bytes (`shoal keygen` makes 32),
// and the keyring file in the data dir (serf/local.keyring, a JSON list of
// keys, primary first) that keeps rotated keys across restarts.
package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/memberlist"
)

// FileName is the keyring file's path under the data dir, as Consul's.
const FileName = "serf/local.keyring"

// ErrBadKey means a key is not base64 of 16, 24 or 32 bytes.
var ErrBadKey = errors.New("gossip key must be base64 of 16, 24 or 32 bytes")

// Generate returns a new random 32-byte key, base64-encoded.
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keyring: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Decode decodes and checks a base64 key.
func Decode(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w: %w", ErrBadKey, err)
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("keyring: %w, got %d bytes", ErrBadKey, len(b))
}

// Load reads the keyring file of dataDir. It reports ok=false, without an
// error, when there is none.
func Load(dataDir string) (*memberlist.Keyring, bool, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %w", err)
	}
	var encoded []string
	if err := json.Unmarshal(data, &encoded); err != nil {
		return nil, false, fmt.Errorf("keyring: %s: %w", FileName, err)
	}
	if len(encoded) == 0 {
		return nil, false, fmt.Errorf("keyring: %s holds no key", FileName)
	}
	keys := make([][]byte, len(encoded))
	for i, s := range encoded {
		if keys[i], err = Decode(s); err != nil {
			return nil, false, err
		}
	}
	kr, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %w", err)
	}
	return kr, true, nil
}

// Init writes a keyring file holding key alone, unless one exists.
func Init(dataDir, key string) error {
	if _, err := Decode(key); err != nil {
		return err
	}
	path := filepath.Join(dataDir, FileName)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	data, _ := json.Marshal([]string{key})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return nil
}
