package tlsutil

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWriteCertNamesAndRoles checks the files `shoal tls` writes: Consul's
// file names, and the names each role's certificate carries.
func TestWriteCertNamesAndRoles(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey, err := WriteCA(dir, CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(caCert) != "consul-agent-ca.pem" || filepath.Base(caKey) != "consul-agent-ca-key.pem" {
		t.Fatalf("CA files %s %s", caCert, caKey)
	}
	if _, _, err := WriteCA(dir, CAOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second CA overwrote the first: %v", err)
	}
	cases := []struct {
		name      string
		opts      CertOptions
		wantFile  string
		wantNames []string
	}{
		{"server", CertOptions{Server: true}, "dc1-server-consul-0.pem", []string{"server.dc1.consul", "localhost"}},
		{"second server", CertOptions{Server: true}, "dc1-server-consul-1.pem", []string{"server.dc1.consul", "localhost"}},
		{"client", CertOptions{Client: true}, "dc1-client-consul-0.pem", []string{"client.dc1.consul", "localhost"}},
		{"server of dc2 with extra names", CertOptions{Server: true, Datacenter: "dc2", Domain: "shoal",
			DNSNames: []string{"s1.example.com"}}, "dc2-server-shoal-0.pem",
			[]string{"server.dc2.shoal", "localhost", "s1.example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certPath, keyPath, err := WriteCert(dir, caCert, caKey, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(certPath) != tc.wantFile || keyPath != certPath[:len(certPath)-4]+"-key.pem" {
				t.Fatalf("files %s %s, want %s", certPath, keyPath, tc.wantFile)
			}
			data, _ := os.ReadFile(certPath)
			b, _ := pem.Decode(data)
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cert.DNSNames, tc.wantNames) {
				t.Fatalf("names %v, want %v", cert.DNSNames, tc.wantNames)
			}
			if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
				t.Fatalf("key mode %v", fi.Mode())
			}
		})
	}
	if _, _, err := WriteCert(dir, caCert, caKey, CertOptions{}); err == nil {
		t.Fatal("a certificate with no role was written")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"off", Config{}, true},
		{"full", Config{CAFile: "ca", CertFile: "c", KeyFile: "k", VerifyIncomingRPC: true, VerifyServerHostname: true}, true},
		{"cert without key", Config{CertFile: "c"}, false},
		{"verify_incoming without CA", Config{CertFile: "c", KeyFile: "k", VerifyIncomingRPC: true}, false},
		{"verify_incoming without certificate", Config{CAFile: "ca", VerifyIncomingHTTPS: true}, false},
		{"verify_outgoing without CA", Config{VerifyOutgoing: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
