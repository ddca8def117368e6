package tlsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CAFileNames returns the names `tls ca create` writes for domain, as
// Consul's: <domain>-agent-ca.pem and <domain>-agent-ca-key.pem.
func CAFileNames(domain string) (cert, key string) {
	d := trimDomain(domain)
	return d + "-agent-ca.pem", d + "-agent-ca-key.pem"
}

// WriteCA creates a CA and writes its certificate and key into dir under
// CAFileNames. It refuses to overwrite existing files.
func WriteCA(dir string, opts CAOptions) (certPath, keyPath string, err error) {
	pair, err := GenerateCA(opts)
	if err != nil {
		return "", "", err
	}
	cn, kn := CAFileNames(opts.Domain)
	certPath, keyPath = filepath.Join(dir, cn), filepath.Join(dir, kn)
	if err := writePair(pair, certPath, keyPath); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// WriteCert signs a certificate with the CA in caCertPath and caKeyPath
// and writes it into dir as Consul names it:
// <dc>-<server|client>-<domain>-<n>.pem and …-<n>-key.pem, n the first
// free number.
func WriteCert(dir, caCertPath, caKeyPath string, opts CertOptions) (certPath, keyPath string, err error) {
	var ca PEMPair
	if ca.Cert, err = os.ReadFile(caCertPath); err != nil {
		return "", "", fmt.Errorf("tls: CA: %w", err)
	}
	if ca.Key, err = os.ReadFile(caKeyPath); err != nil {
		return "", "", fmt.Errorf("tls: CA key: %w", err)
	}
	pair, err := GenerateCert(ca, opts)
	if err != nil {
		return "", "", err
	}
	dc, role := opts.Datacenter, "server"
	if dc == "" {
		dc = "dc1"
	}
	if opts.Client {
		role = "client"
	}
	prefix := fmt.Sprintf("%s-%s-%s", dc, role, trimDomain(opts.Domain))
	for n := 0; ; n++ {
		certPath = filepath.Join(dir, fmt.Sprintf("%s-%d.pem", prefix, n))
		keyPath = filepath.Join(dir, fmt.Sprintf("%s-%d-key.pem", prefix, n))
		if _, err := os.Stat(certPath); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err := writePair(pair, certPath, keyPath); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// ErrExists means a file to be written already exists.
var ErrExists = errors.New("file already exists")

func writePair(p PEMPair, certPath, keyPath string) error {
	for _, f := range []string{certPath, keyPath} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("tls: %s: %w", f, ErrExists)
		}
	}
	if err := os.WriteFile(certPath, p.Cert, 0o644); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(keyPath, p.Key, 0o600); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}
