package command

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// startLiveAgent starts a one-server cluster for t, for the CLI tests that
// need a real agent (monitor, event, rtt), and returns its node.
func startLiveAgent(t *testing.T) *testcluster.Node {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
	}})
	return c.WaitForLeader(10 * time.Second)
}

// syncUi is a cli.Ui safe to read while a command writes to it.
type syncUi struct {
	mu       sync.Mutex
	out, err strings.Builder
}

func (u *syncUi) Ask(string) (string, error)       { return "", nil }
func (u *syncUi) AskSecret(string) (string, error) { return "", nil }
func (u *syncUi) Output(s string)                  { u.mu.Lock(); u.out.WriteString(s + "\n"); u.mu.Unlock() }
func (u *syncUi) Info(s string)                    { u.Output(s) }
func (u *syncUi) Error(s string)                   { u.mu.Lock(); u.err.WriteString(s + "\n"); u.mu.Unlock() }
func (u *syncUi) Warn(s string)                    { u.Error(s) }
func (u *syncUi) String() string                   { u.mu.Lock(); defer u.mu.Unlock(); return u.out.String() }

var _ cli.Ui = (*syncUi)(nil)

// TestMonitorCommandStreamsLogs runs `shoal monitor` against a real agent
// and sees a log line the agent writes while it runs.
func TestMonitorCommandStreamsLogs(t *testing.T) {
	n := startLiveAgent(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"text", []string{"-log-level=debug"}, "[ERROR]"},
		{"json", []string{"-log-level=debug", "-log-json"}, `"@level":"error"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ui := &syncUi{}
			c := newMonitorCommand(ui)
			stop := make(chan struct{})
			c.stop = stop
			done := make(chan int)
			go func() { done <- c.Run(append([]string{"-http-addr=" + n.HTTPAddr()}, tc.args...)) }()
			marker := "monitor-cli-" + tc.name
			testcluster.Eventually(t, 10*time.Second, func() error {
				resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/kv/" + marker + "?dc=nosuchdc")
				if err == nil {
					resp.Body.Close()
				}
				for _, line := range strings.Split(ui.String(), "\n") {
					if strings.Contains(line, marker) && strings.Contains(line, tc.want) {
						return nil
					}
				}
				return errNotYet
			})
			close(stop)
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s", code, ui.err.String())
			}
		})
	}
}

var errNotYet = errors.New("not yet")
