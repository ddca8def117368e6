package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	mdns "github.com/miekg/dns"
)

// Server answers DNS queries from a Reader. It implements mdns.Handler;
// Listen serves it on UDP and TCP sockets.
type Server struct {
	cfg    Config
	reader Reader
	lister ServiceLister // nil when reader cannot list services
	logger hclog.Logger
	// metricLabels label the query timers with the node, as Consul's.
	metricLabels []metrics.Label

	// domains are the served domains, lower case and fully qualified,
	// the longer first.
	domains   []string
	recursors []string

	// ctx bounds every lookup; Shutdown cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	// lastWarn is when a failed lookup was last logged (Unix nanoseconds):
	// with no server reachable every query fails, and one line a second
	// says so.
	lastWarn atomic.Int64

	mu        sync.Mutex
	listeners []*mdns.Server
	addrs     []net.Addr
	wg        sync.WaitGroup
}

// New returns a server for cfg reading from reader. It opens no socket.
func New(cfg Config, reader Reader, logger hclog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	s := &Server{cfg: cfg, reader: reader, logger: logger, metricLabels: []metrics.Label{{Name: "node", Value: cfg.NodeName}}}
	s.lister, _ = reader.(ServiceLister)
	s.domains = []string{strings.ToLower(mdns.Fqdn(cfg.Domain))}
	if cfg.AltDomain != "" {
		alt := strings.ToLower(mdns.Fqdn(cfg.AltDomain))
		if len(alt) > len(s.domains[0]) {
			s.domains = []string{alt, s.domains[0]}
		} else {
			s.domains = append(s.domains, alt)
		}
	}
	s.cfg.Datacenter = strings.ToLower(cfg.Datacenter)
	if len(cfg.ServiceTTL) > 0 {
		s.cfg.ServiceTTL = make(map[string]time.Duration, len(cfg.ServiceTTL))
		for k, v := range cfg.ServiceTTL {
			s.cfg.ServiceTTL[strings.ToLower(k)] = v
		}
	}
	for _, r := range cfg.Recursors {
		addr, _ := recursorAddr(r) // checked by Validate
		s.recursors = append(s.recursors, addr)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Listen serves on network ("udp" or "tcp") at addr and returns the bound
// address. It returns once the socket is open; serving continues until
// Shutdown.
func (s *Server) Listen(network, addr string) (net.Addr, error) {
	if s.ctx.Err() != nil {
		return nil, errors.New("dns: server shut down")
	}
	srv := &mdns.Server{Net: network, Handler: s}
	var bound net.Addr
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		srv.PacketConn, srv.UDPSize, bound = pc, 65535, pc.LocalAddr()
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
		srv.Listener, bound = ln, ln.Addr()
	default:
		return nil, fmt.Errorf("dns: unknown network %q", network)
	}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	s.mu.Lock()
	s.listeners = append(s.listeners, srv)
	s.addrs = append(s.addrs, bound)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.ActivateAndServe(); err != nil && s.ctx.Err() == nil {
			s.logger.Error("dns server failed", "network", network, "addr", bound, "error", err)
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		return bound, fmt.Errorf("dns: %s server on %s did not start", network, bound)
	}
	return bound, nil
}

// Addrs lists the addresses served, in the order Listen opened them.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Shutdown closes the sockets and cancels lookups in flight. Safe to call
// more than once.
func (s *Server) Shutdown() {
	s.cancel()
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.ShutdownContext(ctx)
		cancel()
	}
	s.wg.Wait()
}

// ServeDNS implements mdns.Handler.
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	m := s.Handle(req, network)
	if err := w.WriteMsg(m); err != nil {
		s.logger.Debug("failed to respond", "error", err)
	}
}

// Handle answers req as received over network ("udp" or "tcp"): the
// whole of ServeDNS but the socket.
func (s *Server) Handle(req *mdns.Msg, network string) *mdns.Msg {
	if len(req.Question) != 1 || req.Response {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeFormatError)
		return m
	}
	if req.Opcode != mdns.OpcodeQuery {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeNotImplemented)
		return m
	}
	start := time.Now()
	q := req.Question[0]
	lname := strings.ToLower(q.Name)
	domain, rest, ok := s.splitDomain(lname)
	if !ok {
		if strings.HasSuffix(lname, ".arpa.") {
			defer metrics.MeasureSinceWithLabels(metricPTRQuery, start, s.metricLabels)
			return s.handlePTR(req, lname, network)
		}
		return s.recurse(req, network)
	}
	defer metrics.MeasureSinceWithLabels(metricDomainQuery, start, s.metricLabels)

	m := s.newReply(req)
	ctx, cancel := s.queryContext()
	defer cancel()
	switch q.Qtype {
	case mdns.TypeSOA:
		m.Answer = append(m.Answer, s.soa(domain))
		m.Ns, m.Extra = s.nameservers(ctx, domain)
	case mdns.TypeNS:
		m.Answer, m.Extra = s.nameservers(ctx, domain)
	case mdns.TypeAXFR, mdns.TypeIXFR:
		m.Rcode = mdns.RcodeNotImplemented
	default:
		err := s.dispatch(ctx, req, m, domain, rest)
		m.Rcode = rcodeFor(err)
		switch {
		case m.Rcode == mdns.RcodeNameError || errors.Is(err, errNoData):
			m.Ns = append(m.Ns, s.soa(domain))
		case m.Rcode == mdns.RcodeServerFailure:
			m.Answer, m.Extra = nil, nil
			s.warnFailure("lookup failed", "name", q.Name, "type", mdns.Type(q.Qtype).String(), "error", err)
		}
	}
	setEDNS(req, m)
	s.trim(req, m, network)
	return m
}

// Consul's query timers: questions in a served domain, and reverse
// lookups; forwarded questions are not timed (as in Consul).
var (
	metricDomainQuery = []string{"dns", "domain_query"}
	metricPTRQuery    = []string{"dns", "ptr_query"}
)

func (s *Server) newReply(req *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = len(s.recursors) > 0
	m.Compress = !s.cfg.DisableCompression
	return m
}

// queryContext bounds one query's reads. Most never block: the agent's
// Reader answers from memory.
func (s *Server) queryContext() (context.Context, context.CancelFunc) {
	if s.cfg.QueryTimeout <= 0 {
		return s.ctx, func() {}
	}
	return context.WithTimeout(s.ctx, s.cfg.QueryTimeout)
}

// rcodeFor maps a lookup's outcome to a response code.
func rcodeFor(err error) int {
	switch {
	case err == nil, errors.Is(err, errNoData):
		return mdns.RcodeSuccess
	case errors.Is(err, errNameNotFound), errors.Is(err, ErrNoDatacenter):
		return mdns.RcodeNameError
	default:
		return mdns.RcodeServerFailure
	}
}

// setEDNS answers an EDNS0 request with an OPT record of the same size.
func setEDNS(req, m *mdns.Msg) {
	opt := req.IsEdns0()
	if opt == nil {
		return
	}
	size := opt.UDPSize()
	if size < mdns.MinMsgSize {
		size = mdns.MinMsgSize
	}
	m.SetEdns0(size, false)
}

// warnFailure logs a failed lookup at most once a second; the others at
// debug level.
func (s *Server) warnFailure(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last >= int64(time.Second) && s.lastWarn.CompareAndSwap(last, now) {
		s.logger.Warn(msg, args...)
		return
	}
	s.logger.Debug(msg, args...)
}
