package compat

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/testcluster"
)

// EnvConsulBin names a real `consul` binary for TestConsulCLI;
// scripts/consul-cli.sh builds one (Consul 1.14.11, the last MPL release
// line that builds from the Go module proxy) and runs this test with it.
const EnvConsulBin = "SHOAL_CONSUL_BIN"

// consulCLI runs the real consul CLI against node and returns its output.
func consulCLI(t *testing.T, bin string, n *testcluster.Node, args ...string) (string, error) {
	t.Helper()
	return consulCLIEnv(t, bin, []string{"CONSUL_HTTP_ADDR=" + n.HTTPAddr()}, args...)
}

// consulCLIEnv runs the real consul CLI with env added to the environment.
func consulCLIEnv(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestConsulCLI drives Shoal with the real `consul` command line, the way
// an operator who switches from Consul keeps using it: KV, catalog,
// services, members, Raft peers, locks and snapshots, through a server and
// through the client agent.
func TestConsulCLI(t *testing.T) {
	bin := os.Getenv(EnvConsulBin)
	if bin == "" {
		t.Skipf("%s is not set: scripts/consul-cli.sh builds consul and runs this test", EnvConsulBin)
	}
	for _, v := range []via{entries[0], entries[2]} {
		t.Run(v.name, func(t *testing.T) {
			run := func(want string, args ...string) string {
				t.Helper()
				out, err := consulCLI(t, bin, v.node, args...)
				if err != nil || !strings.Contains(out, want) {
					t.Errorf("consul %s: %v\n%s\nwant output containing %q", strings.Join(args, " "), err, out, want)
				}
				return out
			}
			key := "cli/" + v.name
			run("Success! Data written to: "+key, "kv", "put", key, "hello")
			run("hello", "kv", "get", key)
			run(key+":hello", "kv", "get", "-recurse", "cli/")
			run("Success! Deleted key: "+key, "kv", "delete", key)
			if out, err := consulCLI(t, bin, v.node, "kv", "get", key); err == nil {
				t.Errorf("kv get of a deleted key succeeded: %s", out)
			}

			run("Registered service: cli-web", "services", "register", "-name=cli-web", "-port=8080", "-tag=v1")
			run("cli-web", "catalog", "services")
			run(v.node.Name, "catalog", "nodes", "-service=cli-web")
			run("Deregistered service: cli-web", "services", "deregister", "-id=cli-web")

			members := run("alive", "members")
			for _, n := range cluster.Nodes[:3] {
				line := lineWith(members, n.Name)
				if !strings.Contains(line, "server") {
					t.Errorf("consul members shows server %s as %q, want type server", n.Name, line)
				}
			}
			peers := run("leader", "operator", "raft", "list-peers")
			for _, n := range cluster.Nodes[:3] {
				f := strings.Fields(lineWith(peers, n.Name))
				// Node ID Address State Voter RaftProtocol CommitIndex ...
				if len(f) < 7 || f[4] != "true" || f[6] == "0" {
					t.Errorf("list-peers line for %s: %q, want a voter with its commit index", n.Name, f)
				}
			}

			// consul lock runs the child while it holds the lock.
			run("locked-child-ran", "lock", "cli-lock/"+v.name, "echo locked-child-ran")

			snap := filepath.Join(t.TempDir(), "backup.snap")
			run("Saved and verified snapshot", "snapshot", "save", snap)
			run("Index", "snapshot", "inspect", snap)

			// The endpoints added for issue 12, through their commands.
			run("Event ID:", "event", "-name=cli-"+v.name, "payload")
			run("Estimated "+cluster.Nodes[0].Name+" <-> "+cluster.Nodes[1].Name+" rtt:", "rtt", cluster.Nodes[0].Name, cluster.Nodes[1].Name)
			// -near sorts by estimated RTT; on one host the estimates are
			// all alike, so only check that every node is listed.
			near := run(v.node.Name, "catalog", "nodes", "-near="+v.node.Name)
			for _, n := range cluster.Nodes {
				if lineWith(near, n.Name) == "" {
					t.Errorf("catalog nodes -near=%s lacks %s:\n%s", v.node.Name, n.Name, near)
				}
			}
			detailed := run("role=consul", "members", "-detailed")
			if !strings.Contains(lineWith(detailed, v.node.Name), "alive") {
				t.Errorf("members -detailed lacks %s alive:\n%s", v.node.Name, detailed)
			}
			run("agent:", "info")
			run("CleanupDeadServers", "operator", "autopilot", "get-config")
			run("Configuration updated!", "operator", "autopilot", "set-config", "-cleanup-dead-servers=false")
			run("CleanupDeadServers = false", "operator", "autopilot", "get-config")
			run("Configuration updated!", "operator", "autopilot", "set-config", "-cleanup-dead-servers=true")
			run("CleanupDeadServers = true", "operator", "autopilot", "get-config")
			run("Healthy:", "operator", "autopilot", "state")

			run("Success!", "kv", "put", key+"/a", "1")
			export := run(`"key": "`+key+`/a"`, "kv", "export", key+"/")
			run("Success!", "kv", "delete", "-recurse", key+"/")
			imp := filepath.Join(t.TempDir(), "kv.json")
			if err := os.WriteFile(imp, []byte(export), 0o600); err != nil {
				t.Fatal(err)
			}
			run("Imported: "+key+"/a", "kv", "import", "@"+imp)
			run("1", "kv", "get", key+"/a")
			run("Success!", "kv", "delete", "-recurse", key+"/")
		})
	}
}

// lineWith returns the first line of out that contains s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
