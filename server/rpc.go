package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"reflect"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	msgpackrpc "github.com/hashicorp/net-rpc-msgpackrpc/v2"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/state"
	"github.com/shoalproject/shoal/tlsutil"
)

// The first byte of every connection to the server port says what follows.
const (
	connRaft byte = 0x01 // Raft transport
	connRPC  byte = 0x02 // net/rpc with the msgpack codec, multiplexed by call sequence
	// connSnapshot carries one snapshot save or restore as a stream
	// (snapshot.go).
	connSnapshot byte = 0x03
	// connTLS is followed by a TLS handshake, then by one of the bytes
	// above inside the encrypted stream (tls.go).
	connTLS byte = 0x04
)

// Sentinel errors of the server port's connection rules (tls.go).
var (
	// errPlaintextRefused: a plaintext connection reached a server that
	// requires TLS (verify_incoming).
	errPlaintextRefused = errors.New("plaintext connection refused: TLS is required")
	// errTLSNotConfigured: a TLS connection reached a server without a
	// certificate.
	errTLSNotConfigured = errors.New("TLS connection refused: no certificate configured")
)

// rpcTimeout bounds dialing and a non-blocking call.
const rpcTimeout = 10 * time.Second

// Consul's RPC counters (its telemetry reference): calls an agent makes
// (to its own server too), calls a server reads off the network, and reads
// a server runs.
var (
	metricClientRPC  = []string{"client", "rpc"}
	metricRPCRequest = []string{"rpc", "request"}
	metricRPCQuery   = []string{"rpc", "query"}
)

// raftLayer is the raft.StreamLayer that shares the server port: it is fed
// the connections whose first byte is connRaft and dials with that byte.
type raftLayer struct {
	addr   net.Addr
	tls    *tlsutil.Configurator // nil: plaintext
	connCh chan net.Conn

	closeOnce sync.Once
	closed    chan struct{}
}

func newRaftLayer(addr net.Addr, tc *tlsutil.Configurator) *raftLayer {
	return &raftLayer{addr: addr, tls: tc, connCh: make(chan net.Conn), closed: make(chan struct{})}
}

// handoff passes an accepted Raft connection to the transport.
func (l *raftLayer) handoff(c net.Conn) {
	select {
	case l.connCh <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.connCh:
		return c, nil
	case <-l.closed:
		return nil, errors.New("raft layer closed")
	}
}

func (l *raftLayer) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *raftLayer) Addr() net.Addr { return l.addr }

func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return dialServer(ctx, l.tls, string(address), connRaft)
}

// serveListener accepts connections on the server port until it is closed.
func (s *Server) serveListener() {
	for {
		c, err := s.listener.Accept()
		if err != nil {
			select {
			case <-s.shutdownCh:
				return
			default:
			}
			s.logger.Error("rpc accept failed", "error", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go s.handleConn(c)
	}
}

func (s *Server) handleConn(c net.Conn) {
	remote := c.RemoteAddr()
	c, typ, err := acceptConn(c, s.cfg.TLS)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.logger.Warn("connection refused", "remote", remote, "error", err)
		}
		return
	}
	switch typ {
	case connRaft:
		s.raftLayer.handoff(c)
	case connRPC:
		s.trackConn(c)
		defer s.untrackConn(c)
		s.rpcServer.ServeCodec(s.aclCodec(serverCodec{newCodec(c)}))
	case connSnapshot:
		s.trackConn(c)
		defer s.untrackConn(c)
		s.handleSnapshotConn(c)
	default:
		s.logger.Warn("unknown connection type", "byte", typ, "remote", remote)
		c.Close()
	}
}

func (s *Server) trackConn(c net.Conn) {
	s.connsMu.Lock()
	s.conns[c] = struct{}{}
	s.connsMu.Unlock()
}

func (s *Server) untrackConn(c net.Conn) {
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
}

// codec is the msgpack RPC codec with a race-free Close: the library's
// Close sets an unguarded flag that its reader goroutine reads, so closing
// the connection itself (which fails the pending read) is used instead.
type codec struct {
	*msgpackrpc.MsgpackCodec
	conn io.Closer
}

func newCodec(conn io.ReadWriteCloser) *codec {
	return &codec{msgpackrpc.NewCodecFromHandle(true, true, conn, state.MsgpackHandle()), conn}
}

func (c *codec) Close() error { return c.conn.Close() }

// serverCodec counts requests as a server reads them.
type serverCodec struct{ *codec }

func (c serverCodec) ReadRequestHeader(r *rpc.Request) error {
	err := c.codec.ReadRequestHeader(r)
	if err == nil {
		metrics.IncrCounter(metricRPCRequest, 1)
	}
	return err
}

// connPool keeps one multiplexed RPC connection per server address: net/rpc
// runs concurrent calls over it, matched by sequence number. A dial runs
// outside the pool's lock, once per address however many calls wait for
// it (as Consul's pool does), so a server that does not answer delays only
// the calls to it.
type connPool struct {
	tls *tlsutil.Configurator // nil: plaintext
	// dial opens a connection for RPC; dialServer unless a test sets it.
	dial func(ctx context.Context, addr string) (net.Conn, error)

	mu      sync.Mutex
	clients map[string]*rpc.Client
	dialing map[string]*pendingDial
	closed  bool
	ctx     context.Context // of the dials; cancelled by Close
	cancel  context.CancelFunc
}

// pendingDial is one dial in flight, shared by the calls that wait for it.
type pendingDial struct {
	done chan struct{}
	c    *rpc.Client
	err  error
}

func newConnPool(tc *tlsutil.Configurator) *connPool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &connPool{tls: tc, clients: map[string]*rpc.Client{}, dialing: map[string]*pendingDial{}, ctx: ctx, cancel: cancel}
	p.dial = func(ctx context.Context, addr string) (net.Conn, error) { return dialServer(ctx, p.tls, addr, connRPC) }
	return p
}

// errDial marks a failure to reach a server: nothing was sent, so any
// request may be retried elsewhere.
var errDial = errors.New("dial failed")

// client returns the connection to addr, dialing it if there is none. It
// returns when ctx is done even if the dial goes on (for later calls).
func (p *connPool) client(ctx context.Context, addr string) (*rpc.Client, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: pool closed", errDial)
	}
	if c, ok := p.clients[addr]; ok {
		p.mu.Unlock()
		return c, nil
	}
	d, ok := p.dialing[addr]
	if !ok {
		d = &pendingDial{done: make(chan struct{})}
		p.dialing[addr] = d
		go p.dialFor(addr, d)
	}
	p.mu.Unlock()
	select {
	case <-d.done:
		return d.c, d.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", errDial, addr, ctx.Err())
	}
}

// dialFor dials addr for the calls waiting on d (bounded by dialServer's
// timeout and by Close).
func (p *connPool) dialFor(addr string, d *pendingDial) {
	conn, err := p.dial(p.ctx, addr)
	p.mu.Lock()
	delete(p.dialing, addr)
	switch {
	case err != nil:
		d.err = err
	case p.closed:
		conn.Close()
		d.err = fmt.Errorf("%w: pool closed", errDial)
	default:
		d.c = rpc.NewClientWithCodec(newCodec(conn))
		p.clients[addr] = d.c
	}
	p.mu.Unlock()
	close(d.done)
}

func (p *connPool) drop(addr string, c *rpc.Client) {
	p.mu.Lock()
	if p.clients[addr] == c {
		delete(p.clients, addr)
	}
	p.mu.Unlock()
	c.Close()
}

// RPC calls method on the server at addr. It returns an error if ctx is
// done first; reply must then not be read.
func (p *connPool) RPC(ctx context.Context, addr, method string, args, reply any) error {
	c, err := p.client(ctx, addr)
	if err != nil {
		return err
	}
	call := c.Go(method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := call.Error; err != nil {
		var se rpc.ServerError
		if !errors.As(err, &se) {
			// The connection broke: drop it so the next call redials.
			p.drop(addr, c)
		}
		return err
	}
	return nil
}

func (p *connPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.cancel()
	for addr, c := range p.clients {
		c.Close()
		delete(p.clients, addr)
	}
}

// inmemCodec serves one in-process call without serialisation: it hands
// the caller's args to the endpoint and copies the endpoint's reply back.
type inmemCodec struct {
	method string
	args   any
	reply  any
	err    error
}

func (c *inmemCodec) ReadRequestHeader(req *rpc.Request) error {
	req.ServiceMethod = c.method
	return nil
}

func (c *inmemCodec) ReadRequestBody(args any) error {
	if args == nil {
		return nil
	}
	src := reflect.Indirect(reflect.ValueOf(c.args))
	dst := reflect.Indirect(reflect.ValueOf(args))
	dst.Set(src)
	return nil
}

func (c *inmemCodec) WriteResponse(resp *rpc.Response, reply any) error {
	if resp.Error != "" {
		c.err = rpc.ServerError(resp.Error)
		return nil
	}
	if reply != nil {
		dst := reflect.Indirect(reflect.ValueOf(c.reply))
		dst.Set(reflect.Indirect(reflect.ValueOf(reply)))
	}
	return nil
}

func (c *inmemCodec) Close() error { return nil }

// isServerError reports whether err came from the remote endpoint (as
// opposed to the connection).
func isServerError(err error) bool {
	var se rpc.ServerError
	return errors.As(err, &se)
}
