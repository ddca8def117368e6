package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CAOptions describe a certificate authority to create.
type CAOptions struct {
	// Domain is the DNS domain the CA may sign names under. Default "consul".
	Domain string
	// Days of validity. Default 1825 (five years, as Consul).
	Days int
	// NameConstraint limits the CA to Domain and localhost, as Consul's
	// -name-constraint.
	NameConstraint bool
	// Now is the start of validity; zero means the current time.
	Now time.Time
}

// CertOptions describe an agent certificate to sign.
type CertOptions struct {
	// Server or Client role (exactly one), as `tls cert create -server|-client`.
	Server, Client bool
	// Datacenter. Default "dc1".
	Datacenter string
	// Domain. Default "consul".
	Domain string
	// Node, if set, adds <node>.server.<dc>.<domain> to a server certificate.
	Node string
	// DNSNames and IPAddresses are added to the certificate's names.
	DNSNames    []string
	IPAddresses []net.IP
	// Days of validity. Default 365.
	Days int
	// Now is the start of validity; zero means the current time.
	Now time.Time
}

// PEMPair is a certificate and its private key, both PEM-encoded.
type PEMPair struct {
	Cert, Key []byte
}

// GenerateCA creates a self-signed ECDSA P-256 certificate authority.
func GenerateCA(opts CAOptions) (PEMPair, error) {
	domain := trimDomain(opts.Domain)
	days := opts.Days
	if days == 0 {
		days = 1825
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	key, serial, id, err := newKeyMaterial("CA key")
	if err != nil {
		return PEMPair{}, err
	}
	name := fmt.Sprintf("Shoal Agent CA %d", serial)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{CommonName: name, Organization: []string{"Shoal"},
			Country: []string{"US"}, Locality: []string{"San Francisco"}, Province: []string{"CA"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          id,
		AuthorityKeyId:        id,
	}
	if opts.NameConstraint {
		tmpl.PermittedDNSDomainsCritical = true
		tmpl.PermittedDNSDomains = []string{domain, "localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return PEMPair{}, fmt.Errorf("tls: CA certificate: %w", err)
	}
	return encodePair(der, key)
}

// GenerateCert signs an agent certificate with the CA pair ca. A server
// certificate names server.<dc>.<domain> and localhost; a client's
// client.<dc>.<domain> and localhost; both carry 127.0.0.1 and allow
// server and client authentication, as Consul's.
func GenerateCert(ca PEMPair, opts CertOptions) (PEMPair, error) {
	if opts.Server == opts.Client {
		return PEMPair{}, errors.New("tls: a certificate is either for a server or for a client")
	}
	caCert, caKey, err := parsePair(ca)
	if err != nil {
		return PEMPair{}, err
	}
	dc := opts.Datacenter
	if dc == "" {
		dc = "dc1"
	}
	days := opts.Days
	if days == 0 {
		days = 365
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var names []string
	if opts.Server {
		names = append(names, ServerName(dc, opts.Domain))
		if opts.Node != "" {
			names = append(names, opts.Node+"."+ServerName(dc, opts.Domain))
		}
	} else {
		names = append(names, ClientName(dc, opts.Domain))
	}
	names = append(append(names, "localhost"), opts.DNSNames...)
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1)}, opts.IPAddresses...)
	key, serial, id, err := newKeyMaterial("key")
	if err != nil {
		return PEMPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:              names,
		IPAddresses:           ips,
		SubjectKeyId:          id,
		AuthorityKeyId:        caCert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return PEMPair{}, fmt.Errorf("tls: certificate: %w", err)
	}
	return encodePair(der, key)
}

func parsePair(p PEMPair) (*x509.Certificate, crypto.Signer, error) {
	cb, _ := pem.Decode(p.Cert)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, errors.New("tls: CA file holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA certificate: %w", err)
	}
	kb, _ := pem.Decode(p.Key)
	if kb == nil {
		return nil, nil, errors.New("tls: CA key file holds no PEM key")
	}
	var key any
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("tls: CA key cannot sign")
	}
	return cert, signer, nil
}

func encodePair(der []byte, key *ecdsa.PrivateKey) (PEMPair, error) {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return PEMPair{}, fmt.Errorf("tls: encode key: %w", err)
	}
	return PEMPair{
		Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}, nil
}

// newKeyMaterial makes what a new certificate needs: a P-256 key, a
// random serial number and the key's ID. what names the key in errors.
func newKeyMaterial(what string) (*ecdsa.PrivateKey, *big.Int, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tls: %s: %w", what, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, nil, err
	}
	id, err := keyID(key.Public())
	if err != nil {
		return nil, nil, nil, err
	}
	return key, serial, id, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tls: serial number: %w", err)
	}
	return n, nil
}

func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("tls: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}
