package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Config is the TLS part of an agent's configuration, already resolved from
// Consul's legacy top-level keys and its tls { defaults, internal_rpc,
// https } block. The zero Config turns TLS off.
type Config struct {
	// CAFile is a PEM bundle of the CA certificates peers are checked
	// against. CAPath, if set, adds every *.pem / *.crt file of a directory.
	CAFile string
	CAPath string
	// CertFile and KeyFile are this agent's certificate and private key,
	// presented on the server port and the HTTPS API.
	CertFile string
	KeyFile  string

	// VerifyIncomingRPC requires a certificate signed by the CA from every
	// connection to the server port and refuses plaintext ones.
	VerifyIncomingRPC bool
	// VerifyIncomingHTTPS requires a CA-signed client certificate on the
	// HTTPS API.
	VerifyIncomingHTTPS bool
	// VerifyOutgoing makes RPC and Raft connections use TLS and check the
	// peer's certificate against the CA.
	VerifyOutgoing bool
	// VerifyServerHostname additionally checks that a server's certificate
	// names server.<Datacenter>.<Domain>, and refuses Raft connections from
	// certificates that do not. It implies VerifyOutgoing.
	VerifyServerHostname bool

	// Datacenter and Domain name the server role: server.<dc>.<domain>.
	// Domain defaults to "consul".
	Datacenter string
	Domain     string
}

// Enabled reports whether any TLS setting is on.
func (c Config) Enabled() bool {
	return c.CAFile != "" || c.CAPath != "" || c.CertFile != "" || c.KeyFile != "" ||
		c.VerifyIncomingRPC || c.VerifyIncomingHTTPS || c.VerifyOutgoing || c.VerifyServerHostname
}

// Validate reports the first inconsistency in c, naming the Consul key.
func (c Config) Validate() error {
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("cert_file and key_file must be set together")
	case (c.VerifyIncomingRPC || c.VerifyIncomingHTTPS) && c.CAFile == "" && c.CAPath == "":
		return errors.New("verify_incoming requires ca_file or ca_path")
	case (c.VerifyIncomingRPC || c.VerifyIncomingHTTPS) && c.CertFile == "":
		return errors.New("verify_incoming requires cert_file and key_file")
	case (c.VerifyOutgoing || c.VerifyServerHostname) && c.CAFile == "" && c.CAPath == "":
		return errors.New("verify_outgoing and verify_server_hostname require ca_file or ca_path")
	}
	return nil
}

// ServerName is the name a server certificate of datacenter dc in domain
// must carry, as in Consul: server.<dc>.<domain>.
func ServerName(dc, domain string) string {
	return "server." + dc + "." + trimDomain(domain)
}

// ClientName is the name Consul gives client agents' certificates.
func ClientName(dc, domain string) string {
	return "client." + dc + "." + trimDomain(domain)
}

func trimDomain(domain string) string {
	domain = strings.Trim(domain, ".")
	if domain == "" {
		return "consul"
	}
	return domain
}

// Configurator hands out the tls.Configs of one agent.
type Configurator struct {
	cfg  Config
	pool *x509.CertPool      // nil without a CA
	cert *tls.Certificate    // nil without cert_file
	cas  []*x509.Certificate // the CA certificates, for error messages
}

// NewConfigurator loads the files cfg names. It returns an error if one
// cannot be read or parsed, or if cfg is inconsistent.
func NewConfigurator(cfg Config) (*Configurator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if cfg.VerifyServerHostname {
		cfg.VerifyOutgoing = true
	}
	c := &Configurator{cfg: cfg}
	files := []string{}
	if cfg.CAFile != "" {
		files = append(files, cfg.CAFile)
	}
	if cfg.CAPath != "" {
		entries, err := os.ReadDir(cfg.CAPath)
		if err != nil {
			return nil, fmt.Errorf("tls: ca_path: %w", err)
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".pem" || ext == ".crt") {
				files = append(files, filepath.Join(cfg.CAPath, e.Name()))
			}
		}
	}
	if len(files) > 0 {
		c.pool = x509.NewCertPool()
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("tls: CA: %w", err)
			}
			if !c.pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls: CA %s: no PEM certificate found", f)
			}
		}
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: cert_file/key_file: %w", err)
		}
		c.cert = &cert
	}
	return c, nil
}

// Config returns the settings the Configurator was built from.
func (c *Configurator) Config() Config { return c.cfg }

// UseTLS reports whether outgoing RPC and Raft connections use TLS.
func (c *Configurator) UseTLS() bool { return c != nil && c.cfg.VerifyOutgoing }

// RequireTLS reports whether the server port refuses plaintext
// connections (verify_incoming; Consul CVE-2018-19653).
func (c *Configurator) RequireTLS() bool { return c != nil && c.cfg.VerifyIncomingRPC }

// CanServeTLS reports whether the agent has a certificate to serve TLS with.
func (c *Configurator) CanServeTLS() bool { return c != nil && c.cert != nil }

// ServerName is server.<dc>.<domain> for this agent's datacenter.
func (c *Configurator) ServerName() string { return ServerName(c.cfg.Datacenter, c.cfg.Domain) }

// IncomingRPCConfig is the server side of a TLS connection on the server
// port. With VerifyIncomingRPC the peer must present a CA-signed
// certificate.
func (c *Configurator) IncomingRPCConfig() *tls.Config {
	return c.serverConfig(c.cfg.VerifyIncomingRPC)
}

// IncomingHTTPSConfig is the TLS configuration of the HTTPS API.
func (c *Configurator) IncomingHTTPSConfig() *tls.Config {
	tc := c.serverConfig(c.cfg.VerifyIncomingHTTPS)
	// HTTP/2 first, as Consul's HTTPS API offers it: browsers open at most
	// six HTTP/1.1 connections to a host, which the UI's blocking queries
	// in a few open pages use up; over HTTP/2 they share one connection.
	tc.NextProtos = []string{"h2", "http/1.1"}
	return tc
}

func (c *Configurator) serverConfig(verify bool) *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ClientCAs: c.pool}
	if c.cert != nil {
		tc.Certificates = []tls.Certificate{*c.cert}
	}
	switch {
	case verify:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	case c.pool != nil:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc
}

// OutgoingRPCConfig is the client side of a TLS connection to a server.
// The peer's chain is always checked against the CA; with
// VerifyServerHostname its certificate must also name
// server.<dc>.<domain>. This agent's certificate, if any, is presented.
func (c *Configurator) OutgoingRPCConfig() *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.pool}
	if c.cert != nil {
		tc.Certificates = []tls.Certificate{*c.cert}
	}
	if c.cfg.VerifyServerHostname {
		tc.ServerName = c.ServerName()
		return tc
	}
	// Check the chain but not the name, as Consul does without
	// verify_server_hostname (peers are dialled by IP address).
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		return c.verifyChain(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
	}
	return tc
}

// verifyChain checks that certs chain to the CA.
func (c *Configurator) verifyChain(certs []*x509.Certificate, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return ErrNoCertificate
	}
	if c.pool == nil {
		return errors.New("tls: no CA to verify the peer against")
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: c.pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("tls: peer certificate: %w", err)
	}
	return nil
}

// ErrNoCertificate means the peer presented no certificate.
var ErrNoCertificate = errors.New("tls: peer presented no certificate")

// ErrNotServer means a peer's certificate does not name
// server.<dc>.<domain>: it may not act as a server.
var ErrNotServer = errors.New("tls: certificate is not a server certificate of this datacenter")

// VerifyServerPeer reports, for an accepted TLS connection, whether the
// peer may act as a server (send Raft traffic): without
// VerifyServerHostname any peer may; with it, its verified certificate
// must name server.<dc>.<domain>. It returns ErrNotServer otherwise.
func (c *Configurator) VerifyServerPeer(cs tls.ConnectionState) error {
	if c == nil || !c.cfg.VerifyServerHostname {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: %w", ErrNotServer, ErrNoCertificate)
	}
	leaf := cs.PeerCertificates[0]
	if err := c.verifyChain(cs.PeerCertificates, x509.ExtKeyUsageClientAuth); err != nil {
		return fmt.Errorf("%w: %w", ErrNotServer, err)
	}
	if !slices.Contains(leaf.DNSNames, c.ServerName()) {
		return fmt.Errorf("%w: it names %v, want %s", ErrNotServer, leaf.DNSNames, c.ServerName())
	}
	return nil
}
