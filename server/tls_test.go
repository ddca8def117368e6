package server

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/internal/tlstest"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/tlsutil"
)

// newTLSServer starts a single in-memory server whose server port uses tc.
func newTLSServer(t *testing.T, tc *tlsutil.Configurator) *Server {
	t.Helper()
	s, err := NewServer(Config{
		NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
		BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t),
		RaftTimeoutOverride: 50 * time.Millisecond, TLS: tc,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	waitReady(t, s)
	return s
}

// rpcAs calls Status.RaftStats on s through a pool configured with tc.
func rpcAs(s *Server, tc *tlsutil.Configurator) error {
	p := newConnPool(tc)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stats rpcapi.RaftStats
	return p.RPC(ctx, net.JoinHostPort("127.0.0.1", itoa(s.cfg.RPCPort)), "Status.RaftStats", &struct{}{}, &stats)
}

// raftAccepted opens a Raft connection to s with tc and reports whether
// the server kept it open for the Raft transport (a refused one is closed
// at once).
func raftAccepted(t *testing.T, s *Server, tc *tlsutil.Configurator) bool {
	t.Helper()
	l := newRaftLayer(nil, tc)
	c, err := l.Dial(raft.ServerAddress("127.0.0.1:"+itoa(s.cfg.RPCPort)), 5*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestServerPortTLSRules checks who may use a server port that requires
// TLS with every verification on, one Consul hole per named case.
func TestServerPortTLSRules(t *testing.T) {
	pki := tlstest.New(t)
	s := newTLSServer(t, pki.Configurator(t, pki.Server, nil))
	noCert := pki.Configurator(t, tlstest.Pair{}, func(c *tlsutil.Config) {
		c.VerifyIncomingRPC, c.VerifyIncomingHTTPS = false, false
	})
	cases := []struct {
		name     string
		tc       *tlsutil.Configurator
		wantRPC  bool
		wantRaft bool
	}{
		{"server certificate: RPC and Raft", pki.Configurator(t, pki.Server, nil), true, true},
		{"client certificate: RPC only, no Raft (CVE-2021-37219)", pki.Configurator(t, pki.Client, nil), true, false},
		{"server certificate of another datacenter: no Raft", pki.Configurator(t, pki.ServerDC2, nil), true, false},
		{"plaintext refused under verify_incoming (CVE-2018-19653)", nil, false, false},
		{"TLS without a client certificate refused", noCert, false, false},
		// The caller trusts the cluster's CA, but its own certificate
		// comes from another CA.
		{"certificate of an untrusted CA refused", pki.Configurator(t, pki.Untrusted, nil), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := rpcAs(s, tc.tc)
			if (err == nil) != tc.wantRPC {
				t.Errorf("RPC: err %v, want accepted=%v", err, tc.wantRPC)
			}
			if got := raftAccepted(t, s, tc.tc); got != tc.wantRaft {
				t.Errorf("Raft accepted=%v, want %v", got, tc.wantRaft)
			}
		})
	}
}

// TestOutgoingChecksServerHostname is the regression test of Consul
// CVE-2019-9764: with verify_server_hostname a dialer refuses a peer whose
// certificate, though signed by the CA, does not name server.dc1.consul.
func TestOutgoingChecksServerHostname(t *testing.T) {
	pki := tlstest.New(t)
	// A "server" presenting a client certificate, not checking its callers.
	impostor := newTLSServer(t, pki.Configurator(t, pki.Client, func(c *tlsutil.Config) {
		c.VerifyIncomingRPC, c.VerifyServerHostname = false, false
	}))
	cases := []struct {
		name string
		edit func(*tlsutil.Config)
		want bool
	}{
		{"verify_server_hostname refuses a client certificate", nil, false},
		{"verify_outgoing alone checks only the CA", func(c *tlsutil.Config) { c.VerifyServerHostname = false }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := rpcAs(impostor, pki.Configurator(t, pki.Server, tc.edit))
			if (err == nil) != tc.want {
				t.Fatalf("err %v, want accepted=%v", err, tc.want)
			}
		})
	}
}

// TestTLSOptionalAcceptsBoth checks the upgrade path: with a certificate
// but without verify_incoming, plaintext and TLS connections both work.
func TestTLSOptionalAcceptsBoth(t *testing.T) {
	pki := tlstest.New(t)
	s := newTLSServer(t, pki.Configurator(t, pki.Server, func(c *tlsutil.Config) {
		c.VerifyIncomingRPC, c.VerifyServerHostname = false, false
	}))
	if err := rpcAs(s, nil); err != nil {
		t.Fatalf("plaintext: %v", err)
	}
	if err := rpcAs(s, pki.Configurator(t, pki.Client, nil)); err != nil {
		t.Fatalf("tls: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
