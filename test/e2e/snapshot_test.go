package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestSnapshotCLIAndKillNine saves a snapshot with the CLI, refuses a
// truncated copy, restores the good one, kill -9s every server right after
// the restore returned, and finds the restored state after the restart:
// a restore that returned is committed and on disk.
func TestSnapshotCLIAndKillNine(t *testing.T) {
	addrs := []string{"127.0.0.61", "127.0.0.62", "127.0.0.63"}
	ports := proccluster.Ports{HTTP: 18560, Serf: 18561, Server: 18562}
	procs := proccluster.ServersOn(shoalBin, t.TempDir(), addrs, nil, ports)
	runProcs(t, procs)
	leader := waitLeader(t, procs, ports, 20*time.Second)
	follower := followerOf(procs, leader)
	putKV := func(key, val string) {
		t.Helper()
		testcluster.Eventually(t, 10*time.Second, func() error {
			code, body, err := leader.Put("/v1/kv/"+key, val)
			if err != nil || code != 200 {
				return fmt.Errorf("put %s: %d %q %v", key, code, body, err)
			}
			return nil
		})
	}
	// wantKV checks key on every running server (stale reads); want ""
	// means absent.
	wantKV := func(key, want string) {
		t.Helper()
		testcluster.Eventually(t, 20*time.Second, func() error {
			for _, p := range procs {
				code, body, err := p.Get("/v1/kv/" + key + "?stale&raw")
				switch {
				case err != nil:
					return fmt.Errorf("%s: %v", p.Name, err)
				case want == "" && code != 404:
					return fmt.Errorf("%s: %s = %d %q, want absent", p.Name, key, code, body)
				case want != "" && (code != 200 || body != want):
					return fmt.Errorf("%s: %s = %d %q, want %q", p.Name, key, code, body, want)
				}
			}
			return nil
		})
	}

	putKV("snap/kept", "1")
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.snap")
	out, err := cli(t, follower, "snapshot", "save", file)
	if err != nil || !strings.Contains(out, "Saved and verified snapshot to index") {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	out, err = cli(t, follower, "snapshot", "inspect", file)
	if err != nil || !strings.Contains(out, "Index") || !strings.Contains(out, "Term") {
		t.Fatalf("snapshot inspect: %v\n%s", err, out)
	}
	t.Logf("inspect:\n%s", out)

	putKV("snap/kept", "2")
	putKV("snap/lost", "x")

	// A truncated copy is refused by the CLI, and by the server when sent
	// over HTTP directly; nothing changes.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.snap")
	if err := os.WriteFile(bad, data[:len(data)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, leader, "snapshot", "restore", bad); err == nil || !strings.Contains(out, "Error verifying snapshot file") {
		t.Fatalf("restore of a truncated file: %v\n%s", err, out)
	}
	if code, body, err := leader.Put("/v1/snapshot", string(data[:len(data)-7])); err != nil || code != 400 {
		t.Fatalf("PUT /v1/snapshot of a truncated archive: %d %q %v, want 400", code, body, err)
	}
	wantKV("snap/kept", "2")
	wantKV("snap/lost", "x")

	// Restore through a follower (forwarded to the leader), then kill -9
	// every server at once.
	if out, err := cli(t, follower, "snapshot", "restore", file); err != nil || !strings.Contains(out, "Restored snapshot") {
		t.Fatalf("snapshot restore: %v\n%s", err, out)
	}
	for _, p := range procs {
		p.Kill9()
	}
	for _, p := range procs {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	leader = waitLeader(t, procs, ports, 30*time.Second)
	wantKV("snap/kept", "1")
	wantKV("snap/lost", "")

	// The cluster goes on writing after the restart.
	putKV("snap/new", "3")
	wantKV("snap/new", "3")
}
