package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/keyring"
)

// setupGossipEncryption gives the Serf config its keyring. With a data dir
// the keyring file there (serf/local.keyring) is the truth, as in Consul:
// it is created from cfg.EncryptKey at first start and rewritten by Serf
// on every keyring change, so rotated keys survive restarts; a key given
// later in the config does not replace it (a warning says so). Without a
// data dir the configured key is used alone.
func setupGossipEncryption(cfg Config, sc *serf.Config) error {
	mc := sc.MemberlistConfig
	var kr *memberlist.Keyring
	if cfg.DataDir != "" {
		if cfg.EncryptKey != "" {
			if err := keyring.Init(cfg.DataDir, cfg.EncryptKey); err != nil {
				return fmt.Errorf("server: %w", err)
			}
		}
		loaded, ok, err := keyring.Load(cfg.DataDir)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		if ok {
			kr = loaded
			sc.KeyringFile = filepath.Join(cfg.DataDir, keyring.FileName)
			if cfg.EncryptKey != "" {
				if key, _ := keyring.Decode(cfg.EncryptKey); !keyInRing(kr, key) {
					cfg.Logger.Warn("the encrypt key is not in the keyring file; the keyring file wins",
						"file", sc.KeyringFile)
				}
			}
		}
	} else if cfg.EncryptKey != "" {
		key, err := keyring.Decode(cfg.EncryptKey)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		if kr, err = memberlist.NewKeyring(nil, key); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	if kr == nil {
		return nil
	}
	mc.Keyring = kr
	mc.GossipVerifyIncoming = !cfg.EncryptAllowPlainIncoming
	mc.GossipVerifyOutgoing = !cfg.EncryptAllowPlainOutgoing
	return nil
}

func keyInRing(kr *memberlist.Keyring, key []byte) bool {
	for _, k := range kr.GetKeys() {
		if string(k) == string(key) {
			return true
		}
	}
	return false
}

// KeyringOp is a cluster-wide keyring operation.
type KeyringOp string

// The keyring operations of /v1/operator/keyring and `shoal keyring`.
const (
	KeyringList    KeyringOp = "list"
	KeyringInstall KeyringOp = "install"
	KeyringUse     KeyringOp = "use"
	KeyringRemove  KeyringOp = "remove"
)

// ErrNoEncryption means gossip encryption is off on this agent, so there is
// no keyring to change.
var ErrNoEncryption = errors.New("gossip encryption is not enabled on this agent")

// keyringOp runs op with key through Serf's KeyManager: a Serf query every
// member answers, so it completes across the live cluster. The response
// counts, per key, the members holding it; errors name the members that
// failed.
func keyringOp(s *serf.Serf, op KeyringOp, key string) (*serf.KeyResponse, error) {
	if !s.EncryptionEnabled() {
		return nil, ErrNoEncryption
	}
	km := s.KeyManager()
	switch op {
	case KeyringList:
		return km.ListKeys()
	case KeyringInstall:
		if _, err := keyring.Decode(key); err != nil {
			return nil, err
		}
		return km.InstallKey(key)
	case KeyringUse:
		return km.UseKey(key)
	case KeyringRemove:
		return km.RemoveKey(key)
	}
	return nil, fmt.Errorf("server: unknown keyring operation %q", op)
}

// KeyringOperation runs a keyring operation across the cluster.
func (s *Server) KeyringOperation(op KeyringOp, key string) (*serf.KeyResponse, error) {
	return keyringOp(s.serf, op, key)
}

// KeyringOperation runs a keyring operation across the cluster.
func (c *Client) KeyringOperation(op KeyringOp, key string) (*serf.KeyResponse, error) {
	return keyringOp(c.serf, op, key)
}
