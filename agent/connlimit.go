package agent

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// connLimitListener caps concurrent connections per client IP (Consul's
// limits.http_max_conns_per_client). A connection over the cap is answered
// 429 Too Many Requests, as Consul does, and closed. A limit of 0 means
// unlimited.
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
			go refuse(c)
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

// tooManyConns is Consul's answer to a client over its connection limit.
const tooManyConns = "Your IP is issuing too many concurrent connections, please rate limit your calls\n"

// refuse answers a connection over the limit with a 429 and closes it,
// giving the write at most refuseWriteTimeout.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		len(tooManyConns), tooManyConns)
}

// refuseWriteTimeout bounds the 429 answer (Consul: 10 ms).
const refuseWriteTimeout = 10 * time.Millisecond
