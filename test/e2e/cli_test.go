package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestCLIJoinInfoForceLeave drives a client agent with the CLI: join,
// members, info, version, then kill -9 it and force-leave it.
func TestCLIJoinInfoForceLeave(t *testing.T) {
	procs, ports := startServers(t, 3)
	leader := waitLeader(t, procs, ports, 20*time.Second)

	dir := t.TempDir()
	client := &proccluster.Proc{
		Name: "c1", Bin: shoalBin, Addr: "127.0.0.9",
		HTTP:    fmt.Sprintf("127.0.0.9:%d", ports.HTTP),
		DataDir: filepath.Join(dir, "c1"), LogPath: filepath.Join(dir, "c1.log"),
	}
	client.Args = []string{"agent", "-node", "c1", "-bind", client.Addr, "-client", client.Addr,
		"-data-dir", client.DataDir, "-http-port", fmt.Sprint(ports.HTTP),
		"-serf-lan-port", fmt.Sprint(ports.Serf), "-dns-port", "-1", "-overlay=false"}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Kill9()
		if t.Failed() {
			t.Logf("---- c1 log ----\n%s", client.Log())
		}
	})
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, _, err := client.Get("/v1/agent/self")
		return err
	})

	out, err := cli(t, client, "join", fmt.Sprintf("%s:%d", leader.Addr, ports.Serf))
	if err != nil || !strings.Contains(out, "Successfully joined cluster by contacting 1 nodes") {
		t.Fatalf("join: %v\n%s", err, out)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		out, err := cli(t, client, "members")
		if err != nil {
			return err
		}
		if strings.Count(out, "alive") != 4 || !strings.Contains(out, "client") {
			return fmt.Errorf("members:\n%s", out)
		}
		return nil
	})
	// The client forwards to the servers.
	testcluster.Eventually(t, 10*time.Second, func() error {
		code, body, err := client.Put("/v1/kv/from-client", "ok")
		if err != nil || code != 200 {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		return nil
	})
	out, err = cli(t, client, "info")
	if err != nil || !strings.Contains(out, "known_servers = 3") || !strings.Contains(out, "server = false") {
		t.Fatalf("info: %v\n%s", err, out)
	}
	out, err = cli(t, client, "version")
	if err != nil || !strings.Contains(out, "Shoal v") {
		t.Fatalf("version: %v\n%s", err, out)
	}

	client.Kill9()
	testcluster.Eventually(t, 20*time.Second, func() error {
		out, err := cli(t, leader, "members")
		if err != nil || !strings.Contains(out, "failed") {
			return fmt.Errorf("c1 not failed yet: %v\n%s", err, out)
		}
		return nil
	})
	if out, err := cli(t, leader, "force-leave", "c1"); err != nil {
		t.Fatalf("force-leave: %v\n%s", err, out)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		out, err := cli(t, leader, "members")
		if err != nil || !strings.Contains(out, "left") {
			return fmt.Errorf("c1 not left: %v\n%s", err, out)
		}
		return nil
	})
	// The leader deregisters a node that left.
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, body, err := leader.Get("/v1/catalog/nodes")
		if err != nil || strings.Contains(body, `"c1"`) {
			return fmt.Errorf("c1 still in catalog: %v %s", err, body)
		}
		return nil
	})
}
