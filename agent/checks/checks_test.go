package checks

import (
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Notify that keeps every result.
type recorder struct {
	mu      sync.Mutex
	results []result
}

type result struct{ id, status, output string }

func (r *recorder) UpdateCheck(id, status, output string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, result{id, status, output})
}

func (r *recorder) last(t *testing.T) result {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.results) == 0 {
		t.Fatal("no result reported")
	}
	return r.results[len(r.results)-1]
}

func (r *recorder) waitStatus(t *testing.T, want string, timeout time.Duration) result {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.results)
		var last result
		if n > 0 {
			last = r.results[n-1]
		}
		r.mu.Unlock()
		if n > 0 && last.status == want {
			return last
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("status %q not reported within %v", want, timeout)
	return result{}
}

func TestHTTPStatusMapping(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		body   string
		want   string
		output string
	}{
		{"ok", 200, "fine", Passing, "200 OK Output: fine"},
		{"no content", 204, "", Passing, "204 No Content"},
		{"too many requests", 429, "slow down", Warning, "429 Too Many Requests Output: slow down"},
		{"server error", 503, "down", Critical, "503 Service Unavailable Output: down"},
		{"not found", 404, "", Critical, "404 Not Found"},
		{"redirect target error", 500, "", Critical, "500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("User-Agent") != UserAgent || r.Header.Get("X-Test") != "yes" || r.Method != "POST" {
					w.WriteHeader(400)
					return
				}
				w.WriteHeader(tc.code)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			rec := &recorder{}
			c := &HTTP{CheckID: "c", URL: srv.URL, Method: "POST", Header: map[string][]string{"X-Test": {"yes"}},
				Timeout: time.Second, Notify: rec}
			c.Check()
			got := rec.last(t)
			if got.status != tc.want || !strings.Contains(got.output, tc.output) || !strings.HasPrefix(got.output, "HTTP POST "+srv.URL) {
				t.Fatalf("got %q %q, want %q containing %q", got.status, got.output, tc.want, tc.output)
			}
		})
	}
}

func TestHTTPOutputTruncatedAndTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		w.Write([]byte(strings.Repeat("x", 10000)))
	}))
	defer srv.Close()
	rec := &recorder{}
	c := &HTTP{CheckID: "c", URL: srv.URL, Timeout: time.Second, Notify: rec}
	c.Check()
	got := rec.last(t)
	if got.status != Passing || !strings.Contains(got.output, "Captured 4096 of 10000 bytes") || len(got.output) > 4096+200 {
		t.Fatalf("got %q with %d bytes of output", got.status, len(got.output))
	}
	c = &HTTP{CheckID: "c", URL: srv.URL + "/slow", Timeout: 100 * time.Millisecond, Notify: rec}
	c.Check()
	if got := rec.last(t); got.status != Critical {
		t.Fatalf("slow answer: got %q %q, want critical", got.status, got.output)
	}
}

func TestHTTPRunnerTurnsCritical(t *testing.T) {
	var mu sync.Mutex
	code := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(code)
	}))
	defer srv.Close()
	rec := &recorder{}
	c := &HTTP{CheckID: "c", URL: srv.URL, Interval: 50 * time.Millisecond, Notify: rec}
	c.Start()
	defer c.Stop()
	rec.waitStatus(t, Passing, 2*time.Second)
	mu.Lock()
	code = 500
	mu.Unlock()
	rec.waitStatus(t, Critical, 2*time.Second)
	c.Stop()
	c.Stop() // idempotent
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	rec := &recorder{}
	c := &TCP{CheckID: "t", Address: addr, Timeout: time.Second, Notify: rec}
	c.Check()
	if got := rec.last(t); got.status != Passing || got.output != "TCP connect "+addr+": Success" {
		t.Fatalf("open port: got %+v", got)
	}
	ln.Close()
	c.Check()
	if got := rec.last(t); got.status != Critical {
		t.Fatalf("closed port: got %+v", got)
	}
}

func TestTTL(t *testing.T) {
	rec := &recorder{}
	c := &TTL{CheckID: "ttl", TTL: 100 * time.Millisecond, Notify: rec}
	c.Start()
	defer c.Stop()
	c.SetStatus(Passing, "all good")
	if got := rec.last(t); got.status != Passing {
		t.Fatalf("got %+v", got)
	}
	got := rec.waitStatus(t, Critical, 2*time.Second)
	if got.output != "TTL expired (last output before timeout follows): all good" {
		t.Fatalf("expired output %q", got.output)
	}
}

func TestScript(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"exit 0", []string{"sh", "-c", "echo hello"}, Passing},
		{"exit 1", []string{"sh", "-c", "echo warn; exit 1"}, Warning},
		{"exit 2", []string{"sh", "-c", "exit 2"}, Critical},
		{"missing binary", []string{"/nonexistent/check"}, Critical},
		{"timeout", []string{"sleep", "5"}, Critical},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			c := &Script{CheckID: "s", Args: tc.args, Timeout: 300 * time.Millisecond, Notify: rec}
			c.Check()
			if got := rec.last(t); got.status != tc.want {
				t.Fatalf("got %+v, want %s", got, tc.want)
			}
		})
	}
}

func TestStatusHandler(t *testing.T) {
	rec := &recorder{}
	h := NewStatusHandler(rec, 2, 0, 3)
	h.UpdateCheck("c", Passing, "1")
	if len(rec.results) != 0 {
		t.Fatal("passing reported before success_before_passing")
	}
	h.UpdateCheck("c", Passing, "2")
	if rec.last(t).status != Passing {
		t.Fatal("want passing after 2 successes")
	}
	h.UpdateCheck("c", Critical, "f1")
	h.UpdateCheck("c", Critical, "f2")
	if rec.last(t).status != Passing {
		t.Fatal("critical reported before failures_before_critical")
	}
	h.UpdateCheck("c", Critical, "f3")
	if got := rec.last(t); got.status != Critical || got.output != "f3" {
		t.Fatalf("got %+v, want critical after 3 failures", got)
	}
}

// grpcHealthServer answers grpc.health.v1.Health/Check over cleartext
// HTTP/2 with the given serving status.
func grpcHealthServer(t *testing.T, status byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Protocols: new(http.Protocols), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/grpc.health.v1.Health/Check" || r.Header.Get("Content-Type") != "application/grpc" {
			w.WriteHeader(404)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		msg := []byte{0x08, status}
		frame := make([]byte, 5)
		binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
		w.Write(append(frame, msg...))
		w.Header().Set("Grpc-Status", "0")
	})}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestGRPC(t *testing.T) {
	cases := []struct {
		name   string
		status byte
		want   string
	}{
		{"serving", 1, Passing},
		{"not serving", 2, Critical},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := grpcHealthServer(t, tc.status)
			rec := &recorder{}
			c := &GRPC{CheckID: "g", Target: addr + "/my.Service", Timeout: time.Second, Notify: rec}
			c.Check()
			defer c.Stop()
			if got := rec.last(t); got.status != tc.want {
				t.Fatalf("got %+v, want %s", got, tc.want)
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		rec := &recorder{}
		c := &GRPC{CheckID: "g", Target: "127.0.0.1:1", Timeout: time.Second, Notify: rec}
		c.Check()
		if got := rec.last(t); got.status != Critical {
			t.Fatalf("got %+v", got)
		}
	})
}
