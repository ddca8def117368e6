package command

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
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

// TestEventCommandFires runs `shoal event` against a real agent, which
// then lists the event.
func TestEventCommandFires(t *testing.T) {
	n := startLiveAgent(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"fires", []string{"-name=deploy", "v1.2"}, 0, "Event ID: "},
		{"no name", []string{"payload"}, 1, "Event name must be specified"},
		{"tag without service", []string{"-name=x", "-tag=a"}, 1, "Cannot provide tag filter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ui := cli.NewMockUi()
			code := newEventCommand(ui).Run(append([]string{"-http-addr=" + n.HTTPAddr()}, tc.args...))
			out := ui.OutputWriter.String() + ui.ErrorWriter.String()
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d %q, want %d %q", code, out, tc.code, tc.want)
			}
			if tc.code != 0 {
				return
			}
			id := strings.TrimSpace(strings.TrimPrefix(ui.OutputWriter.String(), "Event ID: "))
			testcluster.Eventually(t, 10*time.Second, func() error {
				evs, _, err := n.API(t).Event().List("deploy", nil)
				if err != nil {
					return err
				}
				if len(evs) != 1 || evs[0].ID != id || string(evs[0].Payload) != "v1.2" {
					return fmt.Errorf("events %+v, want %s", evs, id)
				}
				return nil
			})
			// `shoal watch -type event` without a handler prints the list.
			wui := cli.NewMockUi()
			if code := newWatchCommand(wui).Run([]string{"-http-addr=" + n.HTTPAddr(), "-type=event", "-name=deploy"}); code != 0 ||
				!strings.Contains(wui.OutputWriter.String(), id) {
				t.Fatalf("watch: exit %d %q %q", code, wui.OutputWriter.String(), wui.ErrorWriter.String())
			}
		})
	}
}

// TestRTTCommand runs `shoal rtt` against a real agent, here the agent's
// estimated distance to itself (its coordinate's height, twice).
func TestRTTCommand(t *testing.T) {
	n := startLiveAgent(t)
	addr := "-http-addr=" + n.HTTPAddr()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"to itself", []string{addr, n.Name}, 0, "Estimated " + n.Name + " <-> " + n.Name + " rtt: 0.0"},
		{"two names", []string{addr, n.Name, n.Name}, 0, " ms (using LAN coordinates)"},
		{"unknown node", []string{addr, "nosuchnode"}, 1, `Could not find a coordinate for node "nosuchnode"`},
		{"no node", []string{addr}, 1, "One or two node names must be specified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ui := cli.NewMockUi()
			code := newRTTCommand(ui).Run(tc.args)
			out := ui.OutputWriter.String() + ui.ErrorWriter.String()
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d %q, want %d %q", code, out, tc.code, tc.want)
			}
		})
	}
}

func TestLeavesOn(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name           string
		onTerm, skipOn *bool
		sig            os.Signal
		want           bool
	}{
		{"SIGTERM, unset: Shoal leaves", nil, nil, syscall.SIGTERM, true},
		{"SIGINT, unset: Shoal leaves", nil, nil, os.Interrupt, true},
		{"SIGTERM, leave_on_terminate = false", &no, nil, syscall.SIGTERM, false},
		{"SIGTERM, leave_on_terminate = true", &yes, nil, syscall.SIGTERM, true},
		{"SIGINT, skip_leave_on_interrupt = true", nil, &yes, os.Interrupt, false},
		{"SIGINT, skip_leave_on_interrupt = false", nil, &no, os.Interrupt, true},
		{"SIGINT ignores leave_on_terminate", &no, nil, os.Interrupt, true},
		{"SIGTERM ignores skip_leave_on_interrupt", nil, &yes, syscall.SIGTERM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{LeaveOnTerminate: tc.onTerm, SkipLeaveOnInterrupt: tc.skipOn}
			if got := leavesOn(cfg, tc.sig); got != tc.want {
				t.Fatalf("leavesOn(%v) = %v, want %v", tc.sig, got, tc.want)
			}
		})
	}
}
