// Package registrytest runs a real image registry for tests: Debian's
// docker-registry (the CNCF distribution registry) on a free port, with its
// own config file and storage directory under t.TempDir, optionally behind
// htpasswd basic auth (the password file written with apache2-utils'
// htpasswd). Nothing else is reachable from the machines Shoal is tested
// on, so pulls are tested against it. Engines treat registries on
// 127.0.0.0/8 as insecure (plain HTTP) by default; a registry on another
// address needs the engine's --insecure-registry.
//
// Push tags and pushes an image from an engine to it.
package registrytest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/internal/testenv"
)

// Binary is where Debian installs the registry.
const Binary = "/usr/bin/docker-registry"

// Registry is a running registry.
type Registry struct {
	// Addr is host:port, the registry part of image references.
	Addr string
	// Username and Password are set when the registry requires them.
	Username, Password string
}

// Options configure Start.
type Options struct {
	// Host is the address to listen on; default 127.0.0.1.
	Host string
	// Username and Password, when set, put the registry behind htpasswd
	// basic auth with that one user.
	Username, Password string
}

// Start runs a registry until the test ends (stopped by PID in Cleanup).
// It skips (fails under SHOAL_TEST_STRICT=1) when the registry, or
// htpasswd when auth is asked, is not installed.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		testenv.Skip(t, "registrytest: %s missing (apt-get install docker-registry)", Binary)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	dir := t.TempDir()
	auth := ""
	if opts.Username != "" {
		htpasswd, err := exec.LookPath("htpasswd")
		if err != nil {
			testenv.Skip(t, "registrytest: htpasswd missing (apt-get install apache2-utils)")
		}
		pwfile := filepath.Join(dir, "htpasswd")
		if out, err := exec.Command(htpasswd, "-Bbc", pwfile, opts.Username, opts.Password).CombinedOutput(); err != nil {
			t.Fatalf("registrytest: htpasswd: %v: %s", err, out)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: shoal-test\n    path: %s\n", pwfile)
	}
	var (
		cmd  *exec.Cmd
		addr string
		logf = filepath.Join(dir, "registry.log")
	)
	// A free port can be taken between probing and binding: try a few.
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort(opts.Host)
		if err != nil {
			t.Fatalf("registrytest: %v", err)
		}
		addr = net.JoinHostPort(opts.Host, strconv.Itoa(port))
		cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s",
			filepath.Join(dir, "storage"), addr, auth)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		lf, err := os.Create(logf)
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(Binary, "serve", cfgPath)
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			lf.Close()
			t.Fatalf("registrytest: start: %v", err)
		}
		lf.Close()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitReady(addr, exited); err == nil {
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-exited
				}
			})
			return &Registry{Addr: addr, Username: opts.Username, Password: opts.Password}
		} else if !errors.Is(err, errExited) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			log, _ := os.ReadFile(logf)
			t.Fatalf("registrytest: registry at %s: %v\n%s", addr, err, log)
		}
	}
	log, _ := os.ReadFile(logf)
	t.Fatalf("registrytest: the registry would not start:\n%s", log)
	return nil
}

var errExited = errors.New("registry exited")

// waitReady waits for the registry's /v2/ to answer (200, or 401 behind
// auth).
func waitReady(addr string, exited <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errExited
		default:
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("not answering after 20s")
}

// freePort asks the kernel for a free TCP port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Ref is the reference of repo:tag in the registry.
func (r *Registry) Ref(repoTag string) string { return r.Addr + "/" + repoTag }

// Push tags the engine's image src as ref (in this registry) and pushes it,
// logging in when the registry has a user. The local tag is removed again,
// so that a pull of ref has to fetch it.
func (r *Registry) Push(t testing.TB, host, src, ref string) {
	t.Helper()
	c, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: ref}); err != nil {
		t.Fatalf("registrytest: tag %s as %s: %v", src, ref, err)
	}
	b, _ := json.Marshal(registry.AuthConfig{Username: r.Username, Password: r.Password, ServerAddress: r.Addr})
	resp, err := c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: base64.URLEncoding.EncodeToString(b)})
	if err != nil {
		t.Fatalf("registrytest: push %s: %v", ref, err)
	}
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			t.Fatalf("registrytest: push %s: %v", ref, err)
		}
		if msg.Error != nil {
			t.Fatalf("registrytest: push %s: %s", ref, msg.Error.Message)
		}
	}
	if _, err := c.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err != nil {
		t.Fatalf("registrytest: untag %s: %v", ref, err)
	}
}
