package agent

import (
	"net"
	"sync"
)

// connLimitListener caps concurrent connections per client IP (Consul's
// limits.http_max_conns_per_client). A connection over the cap is closed
// at once. A limit of 0 means unlimited.
type connLimitListener struct {
	net.Listener
	limit int

	mu    sync.Mutex
	count map[string]int
}

func newConnLimitListener(ln net.Listener, limit int) net.Listener {
	if limit <= 0 {
		return ln
	}
	return &connLimitListener{Listener: ln, limit: limit, count: map[string]int{}}
}

func (l *connLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		if l.count[ip] >= l.limit {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.count[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *connLimitListener) release(ip string) {
	l.mu.Lock()
	if l.count[ip]--; l.count[ip] <= 0 {
		delete(l.count, ip)
	}
	l.mu.Unlock()
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
