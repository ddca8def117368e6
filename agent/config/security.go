package config

import (
	"fmt"
	"strings"

	"github.com/shoalproject/shoal/keyring"
	"github.com/shoalproject/shoal/tlsutil"
)

// Security holds gossip encryption and TLS, under Consul's key names. It
// is embedded in Config, so its keys sit at the top level of a file.
type Security struct {
	// Encrypt is the base64 gossip encryption key, 16, 24 or 32 bytes
	// (-encrypt; `shoal keygen` makes one). Default none. Once the data dir
	// holds a keyring file (serf/local.keyring) that file wins.
	Encrypt string `json:"encrypt"`
	// EncryptVerifyIncoming and EncryptVerifyOutgoing refuse and never send
	// unencrypted gossip. Default true; set false only while moving a
	// running cluster to encryption.
	EncryptVerifyIncoming *bool `json:"encrypt_verify_incoming"`
	EncryptVerifyOutgoing *bool `json:"encrypt_verify_outgoing"`

	// Consul's legacy top-level TLS keys; the tls block overrides them.
	CAFile               string `json:"ca_file"`
	CAPath               string `json:"ca_path"`
	CertFile             string `json:"cert_file"`
	KeyFile              string `json:"key_file"`
	VerifyIncoming       bool   `json:"verify_incoming"`
	VerifyIncomingRPC    bool   `json:"verify_incoming_rpc"`
	VerifyIncomingHTTPS  bool   `json:"verify_incoming_https"`
	VerifyOutgoing       bool   `json:"verify_outgoing"`
	VerifyServerHostname bool   `json:"verify_server_hostname"`

	// TLS is Consul 1.12's tls { defaults, internal_rpc, https } block.
	TLS TLSBlock `json:"tls"`
}

// TLSBlock is the tls block: defaults apply to both internal RPC and the
// HTTPS API unless the internal_rpc or https block sets the same key.
type TLSBlock struct {
	Defaults    TLSSection `json:"defaults"`
	InternalRPC TLSSection `json:"internal_rpc"`
	HTTPS       TLSSection `json:"https"`
}

// TLSSection is one part of the tls block. A nil or empty field is unset.
type TLSSection struct {
	CAFile               string `json:"ca_file"`
	CAPath               string `json:"ca_path"`
	CertFile             string `json:"cert_file"`
	KeyFile              string `json:"key_file"`
	VerifyIncoming       *bool  `json:"verify_incoming"`
	VerifyOutgoing       *bool  `json:"verify_outgoing"`
	VerifyServerHostname *bool  `json:"verify_server_hostname"`
}

// TLSConfig resolves the legacy keys and the tls block into the settings
// of the agent's listeners and dialers (see tlsutil.Config).
func (c *Config) TLSConfig() tlsutil.Config {
	s := c.Security
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	flag := func(legacy bool, vals ...*bool) bool {
		for _, v := range vals {
			if v != nil {
				return *v
			}
		}
		return legacy
	}
	d, rpc, https := s.TLS.Defaults, s.TLS.InternalRPC, s.TLS.HTTPS
	out := tlsutil.Config{
		CAFile:   pick(rpc.CAFile, d.CAFile, s.CAFile),
		CAPath:   pick(rpc.CAPath, d.CAPath, s.CAPath),
		CertFile: pick(rpc.CertFile, d.CertFile, s.CertFile),
		KeyFile:  pick(rpc.KeyFile, d.KeyFile, s.KeyFile),
		VerifyIncomingRPC: flag(s.VerifyIncoming || s.VerifyIncomingRPC,
			rpc.VerifyIncoming, d.VerifyIncoming),
		VerifyIncomingHTTPS: flag(s.VerifyIncoming || s.VerifyIncomingHTTPS,
			https.VerifyIncoming, d.VerifyIncoming),
		VerifyOutgoing:       flag(s.VerifyOutgoing, rpc.VerifyOutgoing, d.VerifyOutgoing),
		VerifyServerHostname: flag(s.VerifyServerHostname, rpc.VerifyServerHostname, d.VerifyServerHostname),
		Datacenter:           c.Datacenter,
		Domain:               strings.TrimSuffix(c.Domain, "."),
	}
	// The HTTPS API may use its own certificate; Shoal serves one
	// certificate per agent, so a different one is refused by Validate.
	return out
}

// validateSecurity checks the gossip key and the TLS settings.
func (c *Config) validateSecurity() error {
	if c.Encrypt != "" {
		if _, err := keyring.Decode(c.Encrypt); err != nil {
			return fmt.Errorf("-encrypt: %w", err)
		}
	}
	t := c.TLSConfig()
	if err := t.Validate(); err != nil {
		return err
	}
	h := c.TLS.HTTPS
	if (h.CertFile != "" && h.CertFile != t.CertFile) || (h.KeyFile != "" && h.KeyFile != t.KeyFile) ||
		(h.CAFile != "" && h.CAFile != t.CAFile) || (h.CAPath != "" && h.CAPath != t.CAPath) {
		return fmt.Errorf("tls.https: a certificate or CA different from internal RPC's is not supported; set them in tls.defaults")
	}
	if c.Ports.HTTPS > 0 && t.CertFile == "" {
		return fmt.Errorf("-https-port %d requires cert_file and key_file", c.Ports.HTTPS)
	}
	return nil
}
