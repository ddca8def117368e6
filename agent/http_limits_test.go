package agent_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestHTTPHardening: what an agent exposed to untrusted clients relies on.
// A client over limits.http_max_conns_per_client is answered 429 (Consul's
// answer) while its other connections keep working; an idle keep-alive
// connection is closed after limits.http_idle_timeout; every response says
// its Content-Type and nosniff; a raw KV value is inert text.
func TestHTTPHardening(t *testing.T) {
	const limit = 4
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
		cfg.Limits.HTTPMaxConnsPerClient = limit
		cfg.Limits.HTTPIdleTimeout = 500 * time.Millisecond
	}})
	n := c.WaitForLeader(10 * time.Second)
	addr := n.HTTPAddr()

	// request sends one GET on conn and reads the answer.
	request := func(conn net.Conn, path string) (*http.Response, string, error) {
		if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
			return nil, "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	t.Run("over the per-client limit is 429", func(t *testing.T) {
		// Other clients of this test process (the cluster's own readiness
		// checks) may hold a connection or two from the same address, so
		// open connections until one is refused: that must happen by the
		// limit's count, and with Consul's answer.
		var held []net.Conn
		var refused *http.Response
		var body string
		for i := 0; i <= limit && refused == nil; i++ {
			conn := dial()
			resp, b, err := request(conn, "/v1/status/leader")
			switch {
			case err != nil:
				t.Fatalf("connection %d: %v", i, err)
			case resp.StatusCode == http.StatusTooManyRequests:
				refused, body = resp, b
			case resp.StatusCode == http.StatusOK:
				held = append(held, conn)
			default:
				t.Fatalf("connection %d: %d %q", i, resp.StatusCode, b)
			}
		}
		if refused == nil {
			t.Fatalf("%d connections served, limit %d", len(held), limit)
		}
		if !strings.Contains(body, "too many concurrent connections") || refused.Header.Get("Content-Type") == "" {
			t.Fatalf("refusal: %d %v %q, want Consul's 429", refused.StatusCode, refused.Header, body)
		}
		for _, conn := range held { // the others still serve
			if resp, _, err := request(conn, "/v1/status/leader"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("held connection: %v %v", resp, err)
			}
			conn.Close()
		}
	})

	t.Run("an idle keep-alive connection is closed", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		var conn net.Conn
		for { // the previous subtest's connections free their slots asynchronously
			conn = dial()
			resp, _, err := request(conn, "/v1/status/leader")
			if err == nil && resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no slot: %v %v", resp, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := conn.Read(make([]byte, 1))
		if !errors.Is(err, io.EOF) {
			t.Fatalf("idle connection read: %v after %v, want EOF (closed by the server)", err, time.Since(start))
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("closed after %v, want about 500ms", d)
		}
		conn.Close()
	})

	t.Run("types and a raw value that cannot run", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/kv/page", strings.NewReader("<script>alert(1)</script>"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cases := []struct {
			path, ctype, csp string
			code             int
		}{
			{"/v1/kv/page?raw", "text/plain; charset=utf-8", "default-src 'none'; sandbox", 200},
			{"/v1/kv/page", "application/json", "", 200},
			{"/v1/kv/missing", "text/plain; charset=utf-8", "", 404},
			{"/no/such/path", "text/plain; charset=utf-8", "", 404},
		}
		for _, tc := range cases {
			code, h, body := httpGet(t, "http://"+addr+tc.path)
			if code != tc.code || h.Get("Content-Type") != tc.ctype || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Content-Security-Policy") != tc.csp {
				t.Errorf("%s: %d %v, want %d %s nosniff csp %q", tc.path, code, h, tc.code, tc.ctype, tc.csp)
			}
			if tc.path == "/v1/kv/page?raw" && body != "<script>alert(1)</script>" {
				t.Errorf("raw body %q, want the stored bytes", body)
			}
		}
	})
}
