// Package tlstest writes a test PKI with the same code `shoal tls`
// uses: a CA, server and client certificates of dc1, and a certificate
// signed by a second, untrusted CA.
package tlstest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shoalproject/shoal/tlsutil"
)

// Pair is a certificate file and its key file.
type Pair struct{ Cert, Key string }

// PKI lists the files written under one directory.
type PKI struct {
	CA        Pair // the cluster's CA
	Server    Pair // server.dc1.consul
	Client    Pair // client.dc1.consul
	ServerDC2 Pair // server.dc2.consul, same CA
	// Untrusted is a server.dc1.consul certificate from another CA.
	Untrusted Pair
}

// New writes a PKI into a temporary directory removed after the test.
func New(t testing.TB) PKI {
	t.Helper()
	dir := t.TempDir()
	var p PKI
	var err error
	if p.CA.Cert, p.CA.Key, err = tlsutil.WriteCA(dir, tlsutil.CAOptions{}); err != nil {
		t.Fatal(err)
	}
	cert := func(opts tlsutil.CertOptions) Pair {
		c, k, err := tlsutil.WriteCert(dir, p.CA.Cert, p.CA.Key, opts)
		if err != nil {
			t.Fatal(err)
		}
		return Pair{c, k}
	}
	p.Server = cert(tlsutil.CertOptions{Server: true})
	p.Client = cert(tlsutil.CertOptions{Client: true})
	p.ServerDC2 = cert(tlsutil.CertOptions{Server: true, Datacenter: "dc2"})
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	oc, ok, err := tlsutil.WriteCA(other, tlsutil.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := tlsutil.WriteCert(other, oc, ok, tlsutil.CertOptions{Server: true})
	if err != nil {
		t.Fatal(err)
	}
	p.Untrusted = Pair{c, k}
	return p
}

// Config returns a tlsutil.Config for dc1 presenting pair, with every
// verification on.
func (p PKI) Config(pair Pair) tlsutil.Config {
	return tlsutil.Config{CAFile: p.CA.Cert, CertFile: pair.Cert, KeyFile: pair.Key,
		VerifyIncomingRPC: true, VerifyIncomingHTTPS: true, VerifyOutgoing: true,
		VerifyServerHostname: true, Datacenter: "dc1"}
}

// Configurator builds the Configurator of Config(pair), edited by edit if
// non-nil.
func (p PKI) Configurator(t testing.TB, pair Pair, edit func(*tlsutil.Config)) *tlsutil.Configurator {
	t.Helper()
	cfg := p.Config(pair)
	if edit != nil {
		edit(&cfg)
	}
	c, err := tlsutil.NewConfigurator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
