package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shoalproject/shoal/tlsutil"
)

// TLS on the server port follows Consul's pool.RPCTLS: a dialer that uses
// TLS sends connTLS (0x04) in clear, runs the TLS handshake, then sends
// the usual type byte (connRaft, connRPC, connSnapshot) inside the
// encrypted stream. The listener peels the layers in the same order.
//
// Rules on the accepting side (Config.TLS):
//   - verify_incoming: a connection whose first byte is not connTLS is
//     closed (plaintext RPC refused: Consul CVE-2018-19653), and the TLS
//     handshake requires a CA-signed client certificate;
//   - verify_server_hostname: a Raft connection must come over TLS with a
//     certificate naming server.<dc>.<domain>, so an agent holding only a
//     client certificate cannot take part in Raft (Consul CVE-2021-37219).

// tlsHandshakeTimeout bounds the TLS handshake of a connection.
const tlsHandshakeTimeout = 10 * time.Second

// dialServer opens a connection of type typ to the server port at addr,
// over TLS when tc says outgoing connections use it. Errors wrap errDial:
// nothing was sent yet.
func dialServer(ctx context.Context, tc *tlsutil.Configurator, addr string, typ byte) (net.Conn, error) {
	d := net.Dialer{Timeout: rpcTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errDial, addr, err)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
		_ = tcp.SetKeepAlive(true)
	}
	fail := func(err error) (net.Conn, error) {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: %w", errDial, addr, err)
	}
	if tc.UseTLS() {
		if _, err := conn.Write([]byte{connTLS}); err != nil {
			return fail(err)
		}
		tconn := tls.Client(conn, tc.OutgoingRPCConfig())
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tconn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("tls handshake: %w", err))
		}
		conn = tconn
	}
	if _, err := conn.Write([]byte{typ}); err != nil {
		return fail(err)
	}
	return conn, nil
}

// acceptConn reads the connection's type byte, unwrapping TLS first when
// the connection starts with connTLS, and applies the rules above. It
// returns the (possibly TLS) connection and its type, or an error after
// which c has been closed.
func acceptConn(c net.Conn, tc *tlsutil.Configurator) (net.Conn, byte, error) {
	fail := func(err error) (net.Conn, byte, error) {
		c.Close()
		return nil, 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(rpcTimeout))
	typ, err := readByte(c)
	if err != nil {
		return fail(err)
	}
	var state *tls.ConnectionState
	if typ == connTLS {
		if !tc.CanServeTLS() {
			return fail(errTLSNotConfigured)
		}
		tconn := tls.Server(c, tc.IncomingRPCConfig())
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		err := tconn.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("tls handshake: %w", err))
		}
		c = tconn
		cs := tconn.ConnectionState()
		state = &cs
		if typ, err = readByte(c); err != nil {
			return fail(err)
		}
	} else if tc.RequireTLS() {
		return fail(errPlaintextRefused)
	}
	_ = c.SetReadDeadline(time.Time{})
	if typ == connRaft && tc != nil && tc.Config().VerifyServerHostname {
		if state == nil {
			return fail(fmt.Errorf("raft: %w", errPlaintextRefused))
		}
		if err := tc.VerifyServerPeer(*state); err != nil {
			return fail(fmt.Errorf("raft: %w", err))
		}
	}
	return c, typ, nil
}

func readByte(r io.Reader) (byte, error) {
	var b [1]byte
	_, err := io.ReadFull(r, b[:])
	return b[0], err
}
