// Command hello is the tiny HTTP server that Shoal's driver and end-to-end
// tests run, in a FROM-scratch image built by internal/dockertest (images are
// never pulled in tests) or as a plain process. Build it static:
//
//	CGO_ENABLED=0 go build -o hello ./testdata/hello
//
// Environment:
//
//	PORT         listen address: a port ("8080") or host:port; default ":8080"
//	VERSION      reported by "/" as "hello from <hostname> v<VERSION>"
//	FAIL_HEALTH  "1" makes /health answer 500 instead of 200
//	EXIT_AFTER   a duration ("2s", or seconds "2"): exit after it
//	EXIT_CODE    the exit code used with EXIT_AFTER; default 0
//	ALLOC_MB     allocate and touch this many MiB at start (to hit a memory limit)
//
// It prints one line to stdout and one to stderr when it starts, and exits 0
// on SIGTERM or SIGINT (it may run as PID 1, which gets no default signal
// handling).
//
// "hello -get URL" prints the body of a GET of URL (containers of the image
// have no wget or curl).
//
// "hello -health" is the image's HEALTHCHECK: it fetches /health from the
// server of the same PORT and exits 0 on 200, else 1.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := os.Getenv("PORT")
	switch {
	case addr == "":
		addr = ":8080"
	case !strings.Contains(addr, ":"):
		addr = ":" + addr
	}
	if len(os.Args) > 1 && os.Args[1] == "-health" {
		os.Exit(healthCheck(addr))
	}
	if len(os.Args) > 2 && os.Args[1] == "-get" {
		os.Exit(get(os.Args[2]))
	}
	host, _ := os.Hostname()
	version := os.Getenv("VERSION")

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s v%s\n", host, version)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("FAIL_HEALTH") == "1" {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("hello: listening on %s (version %q)\n", ln.Addr(), version)
	fmt.Fprintf(os.Stderr, "hello: stderr is here\n")
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			fmt.Fprintf(os.Stderr, "hello: %v\n", err)
			os.Exit(1)
		}
	}()

	if s := os.Getenv("ALLOC_MB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello: ALLOC_MB: %v\n", err)
			os.Exit(2)
		}
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hog = append(hog, b)
		}
		fmt.Printf("hello: allocated %d MiB\n", n)
	}

	var exitAfter <-chan time.Time
	if s := os.Getenv("EXIT_AFTER"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello: EXIT_AFTER: %v\n", err)
			os.Exit(2)
		}
		exitAfter = time.After(d)
	}
	code := 0
	if s := os.Getenv("EXIT_CODE"); s != "" {
		if code, err = strconv.Atoi(s); err != nil {
			fmt.Fprintf(os.Stderr, "hello: EXIT_CODE: %v\n", err)
			os.Exit(2)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		fmt.Printf("hello: %v, stopping\n", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		os.Exit(0)
	case <-exitAfter:
		fmt.Printf("hello: exiting with code %d\n", code)
		os.Exit(code)
	}
}

// healthCheck fetches /health from the server listening on addr.
func healthCheck(addr string) int {
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/health")
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: health: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "hello: health: %s\n", resp.Status)
		return 1
	}
	return 0
}

// get prints the body of a GET of url (a client inside containers, which
// have no wget: the image is FROM scratch), resolving names with the
// container's resolver.
func get(url string) int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: get: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Print(string(b))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

// hog keeps ALLOC_MB's memory reachable.
var hog [][]byte

// parseDuration accepts a Go duration or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}
