package command

import (
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/cli"
)

// route is a canned response from the fake agent.
type route struct {
	status int
	body   string
}

// request is what the fake agent recorded about one request.
type request struct {
	Method string
	Path   string
	Query  string
	Token  string
}

// fakeAgent is an httptest.Server that answers Consul-shaped JSON for a
// fixed set of "METHOD /path" routes and records every request it gets.
type fakeAgent struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

// newFakeAgent starts a fake agent on loopback TCP; unknown routes get 404.
func newFakeAgent(t *testing.T, routes map[string]route) *fakeAgent {
	t.Helper()
	a := &fakeAgent{}
	a.Server = httptest.NewServer(a.handler(routes))
	t.Cleanup(a.Close)
	return a
}

// handler records each request and serves the matching route.
func (a *fakeAgent) handler(routes map[string]route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.reqs = append(a.reqs, request{
			Method: r.Method,
			Path:   r.URL.Path,
			Query:  r.URL.RawQuery,
			Token:  r.Header.Get("X-Consul-Token"),
		})
		a.mu.Unlock()
		rt, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			http.Error(w, "no such route", http.StatusNotFound)
			return
		}
		if rt.status == 0 {
			rt.status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rt.status)
		_, _ = w.Write([]byte(rt.body))
	})
}

// addr returns the agent's host:port.
func (a *fakeAgent) addr() string {
	return strings.TrimPrefix(a.URL, "http://")
}

// requests returns a copy of the requests received so far.
func (a *fakeAgent) requests() []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]request(nil), a.reqs...)
}

// assertRequests fails the test unless the agent received exactly want.
func assertRequests(t *testing.T, a *fakeAgent, want []request) {
	t.Helper()
	got := a.requests()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("agent received %+v, want %+v", got, want)
	}
}

// deadAddr returns a loopback host:port on which nothing is listening.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

// clearHTTPEnv blanks every variable that could redirect or alter requests,
// so tests do not depend on the developer's shell.
func clearHTTPEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{
		envShoalHTTPAddr, envShoalHTTPToken, envConsulHTTPAddr, envConsulHTTPToken,
		"CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_AUTH", "CONSUL_HTTP_SSL",
		"CONSUL_HTTP_SSL_VERIFY", "CONSUL_NAMESPACE", "CONSUL_PARTITION",
		"CONSUL_TLS_SERVER_NAME", "CONSUL_CACERT", "CONSUL_CAPATH",
		"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY",
	} {
		t.Setenv(name, "")
	}
}

// result is the outcome of running one command.
type result struct {
	code   int
	stdout string
	stderr string
}

// runCommand builds a command with newCmd on a mock UI, runs it with args in
// a clean environment and returns its exit code and output.
func runCommand(t *testing.T, newCmd func(cli.Ui) cli.Command, args ...string) result {
	t.Helper()
	clearHTTPEnv(t)
	return runCommandEnv(t, newCmd, args...)
}

// runCommandEnv is runCommand without clearing the environment, for tests
// that set SHOAL_*/CONSUL_* variables themselves.
func runCommandEnv(t *testing.T, newCmd func(cli.Ui) cli.Command, args ...string) result {
	t.Helper()
	ui := cli.NewMockUi()
	code := newCmd(ui).Run(args)
	return result{code: code, stdout: ui.OutputWriter.String(), stderr: ui.ErrorWriter.String()}
}

// assertResult checks the exit code, the exact stdout and that stderr
// contains every wantErr fragment (or is empty when there are none).
func assertResult(t *testing.T, got result, wantCode int, wantOut string, wantErr ...string) {
	t.Helper()
	if got.code != wantCode {
		t.Errorf("exit code = %d, want %d (stdout %q, stderr %q)", got.code, wantCode, got.stdout, got.stderr)
	}
	if got.stdout != wantOut {
		t.Errorf("stdout =\n%s\nwant\n%s", got.stdout, wantOut)
	}
	if len(wantErr) == 0 && got.stderr != "" {
		t.Errorf("stderr = %q, want empty", got.stderr)
	}
	for _, frag := range wantErr {
		if !strings.Contains(got.stderr, frag) {
			t.Errorf("stderr = %q, want it to contain %q", got.stderr, frag)
		}
	}
}

// Constructors adapted to func(cli.Ui) cli.Command for the tables.

func newMembers(ui cli.Ui) cli.Command    { return newMembersCommand(ui) }
func newJoin(ui cli.Ui) cli.Command       { return newJoinCommand(ui) }
func newLeave(ui cli.Ui) cli.Command      { return newLeaveCommand(ui) }
func newForceLeave(ui cli.Ui) cli.Command { return newForceLeaveCommand(ui) }
func newInfo(ui cli.Ui) cli.Command       { return newInfoCommand(ui) }
func newVersion(ui cli.Ui) cli.Command    { return newVersionCommand(ui) }
func newListPeers(ui cli.Ui) cli.Command  { return newRaftListPeersCommand(ui) }
func newRemovePeer(ui cli.Ui) cli.Command { return newRaftRemovePeerCommand(ui) }
