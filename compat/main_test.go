package compat

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// cluster is shared by every test of the package.
var cluster *testcluster.Cluster

// via names the three ways into the cluster every test exercises.
type via struct {
	name string
	node *testcluster.Node
}

var (
	entryMu sync.Mutex
	entries []via
)

func TestMain(m *testing.M) {
	tb := &mainTB{}
	code := func() int {
		defer tb.cleanup()
		cluster = testcluster.New(tb, testcluster.Options{Servers: 3, Clients: 1})
		if tb.failed {
			return 1
		}
		leader := cluster.WaitForLeader(20 * time.Second)
		if tb.failed {
			return 1
		}
		var follower *testcluster.Node
		for _, n := range cluster.Nodes[:3] {
			if n != leader {
				follower = n
				break
			}
		}
		client := cluster.Nodes[3]
		entries = []via{{"leader", leader}, {"follower", follower}, {"client", client}}
		// Sessions default to the agent node's serfHealth check: wait until
		// the leader has registered every node with it passing.
		testcluster.Eventually(tb, 20*time.Second, func() error {
			checks, _, err := leader.API(tb).Health().State(api.HealthPassing, nil)
			if err != nil {
				return err
			}
			n := 0
			for _, c := range checks {
				if c.CheckID == "serfHealth" {
					n++
				}
			}
			if n < 4 {
				return fmt.Errorf("%d passing serfHealth checks, want 4", n)
			}
			return nil
		})
		if tb.failed {
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// forEach runs fn as a subtest through the leader, a follower and the
// client agent.
func forEach(t *testing.T, fn func(t *testing.T, n *testcluster.Node, c *api.Client)) {
	for _, v := range entries {
		t.Run(v.name, func(t *testing.T) { fn(t, v.node, v.node.API(t)) })
	}
}

// rawHTTP sends a request to the node's HTTP API.
func rawHTTP(t *testing.T, n *testcluster.Node, method, path string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// mainTB is the testing.TB the shared cluster is started with, outside
// any test: failures are printed and remembered, cleanups run at exit.
type mainTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
	failed   bool
}

func (m *mainTB) Helper() {}
func (m *mainTB) Cleanup(f func()) {
	m.mu.Lock()
	m.cleanups = append(m.cleanups, f)
	m.mu.Unlock()
}
func (m *mainTB) TempDir() string {
	d, err := os.MkdirTemp("", "shoal-compat-")
	if err != nil {
		panic(err)
	}
	m.dirs = append(m.dirs, d)
	return d
}
func (m *mainTB) Log(args ...any) {
	if os.Getenv("SHOAL_TEST_LOG") != "" {
		fmt.Fprintln(os.Stderr, args...)
	}
}
func (m *mainTB) Logf(format string, args ...any) { m.Log(fmt.Sprintf(format, args...)) }
func (m *mainTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compat: "+format+"\n", args...)
	m.failed = true
	panic(errSetupFailed)
}
func (m *mainTB) Fatal(args ...any) { m.Fatalf("%s", fmt.Sprint(args...)) }
func (m *mainTB) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compat: "+format+"\n", args...)
	m.failed = true
}
func (m *mainTB) Failed() bool { return m.failed }
func (m *mainTB) Name() string { return "TestMain" }

var errSetupFailed = fmt.Errorf("compat: cluster setup failed")

func (m *mainTB) cleanup() {
	if r := recover(); r != nil && r != errSetupFailed {
		panic(r)
	}
	for i := len(m.cleanups) - 1; i >= 0; i-- {
		m.cleanups[i]()
	}
	for _, d := range m.dirs {
		os.RemoveAll(d)
	}
}
