package command

import (
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
)

// membersRoute answers /v1/agent/members with a single server.
func membersRoute() map[string]route {
	return map[string]route{
		"GET /v1/agent/members": {body: `[{"Name":"s1","Addr":"10.0.0.1","Port":8301,"Tags":{"role":"server","dc":"dc1"},"Status":1}]`},
	}
}

func TestHTTPAddrPrecedence(t *testing.T) {
	tests := []struct {
		name      string
		flag      bool
		shoalEnv  bool
		consulEnv bool
		want      string // which agent must get the request
	}{
		{name: "flag beats both env vars", flag: true, shoalEnv: true, consulEnv: true, want: "flag"},
		{name: "SHOAL_HTTP_ADDR beats CONSUL_HTTP_ADDR", shoalEnv: true, consulEnv: true, want: "shoal"},
		{name: "CONSUL_HTTP_ADDR alone", consulEnv: true, want: "consul"},
		{name: "flag alone", flag: true, want: "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearHTTPEnv(t)
			agents := map[string]*fakeAgent{
				"flag":   newFakeAgent(t, membersRoute()),
				"shoal":  newFakeAgent(t, membersRoute()),
				"consul": newFakeAgent(t, membersRoute()),
			}
			var args []string
			if tt.flag {
				args = append(args, "-http-addr", agents["flag"].addr())
			}
			if tt.shoalEnv {
				t.Setenv(envShoalHTTPAddr, agents["shoal"].addr())
			}
			if tt.consulEnv {
				t.Setenv(envConsulHTTPAddr, agents["consul"].addr())
			}
			got := runCommandEnv(t, newMembers, args...)
			if got.code != 0 {
				t.Fatalf("exit code = %d, stderr %q", got.code, got.stderr)
			}
			for name, a := range agents {
				n := len(a.requests())
				if name == tt.want && n != 1 {
					t.Errorf("agent %q got %d requests, want 1", name, n)
				}
				if name != tt.want && n != 0 {
					t.Errorf("agent %q got %d requests, want 0", name, n)
				}
			}
		})
	}
}

func TestHTTPAddrDefault(t *testing.T) {
	tests := []struct {
		name      string
		flag      string
		shoalEnv  string
		consulEnv string
		want      string
	}{
		{name: "default", want: "127.0.0.1:8500"},
		{name: "consul env", consulEnv: "10.0.0.3:8500", want: "10.0.0.3:8500"},
		{name: "shoal env", shoalEnv: "10.0.0.2:8500", consulEnv: "10.0.0.3:8500", want: "10.0.0.2:8500"},
		{name: "flag", flag: "unix:///tmp/a.sock", shoalEnv: "10.0.0.2:8500", want: "unix:///tmp/a.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearHTTPEnv(t)
			t.Setenv(envShoalHTTPAddr, tt.shoalEnv)
			t.Setenv(envConsulHTTPAddr, tt.consulEnv)
			h := httpFlags{addr: tt.flag}
			if got := h.address(); got != tt.want {
				t.Errorf("address() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTokenPrecedence(t *testing.T) {
	tests := []struct {
		name      string
		flag      string
		shoalEnv  string
		consulEnv string
		want      string
	}{
		{name: "none", want: ""},
		{name: "consul env", consulEnv: "c", want: "c"},
		{name: "shoal env", shoalEnv: "s", consulEnv: "c", want: "s"},
		{name: "flag", flag: "f", shoalEnv: "s", consulEnv: "c", want: "f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearHTTPEnv(t)
			t.Setenv(envShoalHTTPToken, tt.shoalEnv)
			t.Setenv(envConsulHTTPToken, tt.consulEnv)
			agent := newFakeAgent(t, membersRoute())
			args := []string{"-http-addr", agent.addr()}
			if tt.flag != "" {
				args = append(args, "-token", tt.flag)
			}
			got := runCommandEnv(t, newMembers, args...)
			if got.code != 0 {
				t.Fatalf("exit code = %d, stderr %q", got.code, got.stderr)
			}
			assertRequests(t, agent, []request{{Method: "GET", Path: "/v1/agent/members", Token: tt.want}})
		})
	}
}

func TestHTTPAddrForms(t *testing.T) {
	tcp := newFakeAgent(t, membersRoute())
	unixAgent, sock := newUnixFakeAgent(t, membersRoute())
	tests := []struct {
		name  string
		addr  string
		agent *fakeAgent
	}{
		{name: "host:port", addr: tcp.addr(), agent: tcp},
		{name: "http URL", addr: "http://" + tcp.addr(), agent: tcp},
		{name: "unix socket", addr: "unix://" + sock, agent: unixAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.agent.requests())
			got := runCommand(t, newMembers, "-http-addr", tt.addr)
			assertResult(t, got, 0, "Node  Address        Status  Type    DC\ns1    10.0.0.1:8301  alive   server  dc1\n")
			if n := len(tt.agent.requests()) - before; n != 1 {
				t.Errorf("agent got %d requests, want 1", n)
			}
		})
	}
}

// newUnixFakeAgent starts a fake agent listening on a unix socket and
// returns it with the socket path.
func newUnixFakeAgent(t *testing.T, routes map[string]route) (*fakeAgent, string) {
	t.Helper()
	// Keep the path short: unix socket paths are limited to ~104 bytes.
	dir, err := os.MkdirTemp("", "shoal")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "http.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen on %s: %v", sock, err)
	}
	a := &fakeAgent{}
	a.Server = httptest.NewUnstartedServer(a.handler(routes))
	a.Listener = l
	a.Start()
	t.Cleanup(a.Close)
	return a, sock
}

func TestUnreachableAgent(t *testing.T) {
	tests := []struct {
		name   string
		newCmd func(cli.Ui) cli.Command
		args   []string
	}{
		{name: "members", newCmd: newMembers},
		{name: "join", newCmd: newJoin, args: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "leave", newCmd: newLeave},
		{name: "force-leave", newCmd: newForceLeave, args: []string{"n1"}},
		{name: "info", newCmd: newInfo},
		{name: "list-peers", newCmd: newListPeers},
		{name: "remove-peer", newCmd: newRemovePeer, args: []string{"-id", "x"}},
	}
	for _, tt := range tests {
		for _, via := range []string{"flag", envShoalHTTPAddr, envConsulHTTPAddr} {
			t.Run(tt.name+"/"+via, func(t *testing.T) {
				clearHTTPEnv(t)
				dead := deadAddr(t)
				args := tt.args
				if via == "flag" {
					args = append([]string{"-http-addr", dead}, args...)
				} else {
					t.Setenv(via, dead)
				}
				got := runCommandEnv(t, tt.newCmd, args...)
				assertUnreachable(t, got, dead)
			})
		}
	}
}

func TestUnreachableUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	got := runCommand(t, newMembers, "-http-addr", "unix://"+sock)
	assertUnreachable(t, got, "unix://"+sock)
}

// assertUnreachable checks for exit 1, no output and exactly one error line
// naming the agent address.
func assertUnreachable(t *testing.T, got result, addr string) {
	t.Helper()
	if got.code != 1 {
		t.Errorf("exit code = %d, want 1", got.code)
	}
	if got.stdout != "" {
		t.Errorf("stdout = %q, want empty", got.stdout)
	}
	prefix := "Error connecting to Shoal agent at " + addr + ": "
	if !strings.HasPrefix(got.stderr, prefix) {
		t.Errorf("stderr = %q, want prefix %q", got.stderr, prefix)
	}
	if strings.Count(got.stderr, "\n") != 1 || !strings.HasSuffix(got.stderr, "\n") {
		t.Errorf("stderr = %q, want exactly one line", got.stderr)
	}
}

func TestBadAddressScheme(t *testing.T) {
	got := runCommand(t, newMembers, "-http-addr", "ftp://10.0.0.1:8500")
	assertResult(t, got, 1, "", "Error creating HTTP client for Shoal agent at ftp://10.0.0.1:8500: Unknown protocol scheme: ftp")
	if strings.Count(got.stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want exactly one line", got.stderr)
	}
}

func TestAgentError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "multi-line body is flattened",
			err:  errString("Unexpected response code: 500 (line one\nline two\r\nline three)"),
			want: "Error doing it: Unexpected response code: 500 (line one line two line three)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agentError("127.0.0.1:8500", "doing it", tt.err); got != tt.want {
				t.Errorf("agentError = %q, want %q", got, tt.want)
			}
		})
	}
}

// errString is a trivial error for tests.
type errString string

func (e errString) Error() string { return string(e) }
