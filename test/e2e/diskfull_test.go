package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// diskAddr is the address of the server the disk tests start.
const diskAddr = "127.0.0.74"

// TestDiskFullAndReadOnlyDataDir runs one server whose data dir is a small
// tmpfs. It fills the disk and checks that writes fail with a 5xx naming
// the data dir and the full disk, that no acknowledged write is lost, that
// writes succeed again without a restart once space is freed, and that a
// restart keeps every acknowledged key. Then it makes the data dir
// read-only: the server must refuse to start (exit 1, naming the data
// dir, no panic), and start with every key once it is writable again.
//
// raft-wal preallocates its 64 MiB log segments, so a full disk shows
// first when the next segment cannot be created (the server reopens the
// log, which then grows without preallocation) and then as ENOSPC on
// append: the tmpfs leaves room for one segment and a few MiB.
func TestDiskFullAndReadOnlyDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "mounting a tmpfs needs root")
	}
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "data")
	mountTmpfs(t, dataDir, "80m")
	fp := testcluster.FreePorts(t, 3)
	p := &proccluster.Proc{
		Name: "disk", Bin: shoalBin, Addr: diskAddr, DataDir: dataDir,
		HTTP:    fmt.Sprintf("%s:%d", diskAddr, fp[0]),
		LogPath: filepath.Join(tmp, "disk.log"),
		Args: []string{"agent", "-server", "-bootstrap-expect", "1", "-node", "disk",
			"-data-dir", dataDir, "-bind", diskAddr, "-client", diskAddr, "-overlay=false",
			"-dns-port", "-1", "-http-port", fmt.Sprint(fp[0]), "-serf-lan-port", fmt.Sprint(fp[1]),
			"-server-port", fmt.Sprint(fp[2])},
	}
	runProcs(t, []*proccluster.Proc{p}) // registered after the unmount: runs first
	acked := map[string]string{}        // key -> value of every acknowledged write
	put := func(key, value string) (int, string, error) {
		code, body, err := p.Put("/v1/kv/"+key, value)
		if err == nil && code == 200 && strings.TrimSpace(body) == "true" {
			acked[key] = value
		}
		return code, body, err
	}
	waitWritable := func(timeout time.Duration) {
		t.Helper()
		n := 0
		testcluster.Eventually(t, timeout, func() error {
			n++
			key := fmt.Sprintf("probe/%d", n)
			if code, body, err := put(key, key); err != nil || code != 200 {
				return fmt.Errorf("put %s: %d %q %v", key, code, body, err)
			}
			return nil
		})
	}
	checkAcked := func(when, query string) {
		t.Helper()
		for key, want := range acked {
			code, body, err := p.Get("/v1/kv/" + key + "?raw" + query)
			if err != nil || code != 200 || body != want {
				t.Fatalf("%s: acknowledged key %s: HTTP %d, %d bytes (want %d), %v", when, key, code, len(body), len(want), err)
			}
		}
		t.Logf("%s: all %d acknowledged keys present", when, len(acked))
	}
	waitWritable(20 * time.Second)

	// Leave a few MiB beside the preallocated segment, then fill them.
	filler := filepath.Join(dataDir, "filler")
	if err := fallocate(filler, 10<<20); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 400<<10)
	var failures []string
	start := time.Now()
	for i := 0; i < 260 && len(failures) < 3; i++ {
		key := fmt.Sprintf("big/%03d", i)
		code, body, err := put(key, key+pad)
		switch {
		case err != nil:
			t.Fatalf("put %s: %v (a write must get an answer, not a broken connection)", key, err)
		case code == 200:
		case code >= 500:
			failures = append(failures, body)
		default:
			t.Fatalf("put %s on a full disk: HTTP %d %q, want a 5xx", key, code, body)
		}
	}
	if len(failures) == 0 {
		t.Fatalf("the disk never filled: %d writes acknowledged", len(acked))
	}
	t.Logf("disk full after %d acknowledged writes (%v): %q", len(acked), time.Since(start).Round(time.Millisecond), failures[0])
	// Some failures may be of a write refused while the server re-elects
	// itself; one at least must say why.
	named := false
	for _, body := range failures {
		named = named || strings.Contains(body, "data dir "+dataDir) &&
			strings.Contains(body, "no space left on device") && strings.Contains(body, "disk full")
	}
	if !named {
		t.Fatalf("no failed write names the data dir and the full disk: %q", failures)
	}
	if strings.Contains(p.Log(), "panic") {
		t.Fatal("the server panicked on a full disk")
	}
	// A lone server with a full disk has no leader ready for reads (its
	// barrier is a write): read its local state.
	checkAcked("disk full", "&stale")

	// Freeing space is enough: writes succeed again without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitWritable(15 * time.Second)
	checkAcked("space freed", "")

	// A crash and restart keeps every acknowledged write.
	p.Kill9()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritable(20 * time.Second)
	checkAcked("restarted", "")

	// A read-only data dir stops the server at start-up with one clear
	// error naming it.
	p.Kill9()
	if out, err := runCmd("mount", "-o", "remount,ro", dataDir); err != nil {
		t.Fatalf("remount ro: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, shoalBin, p.Args...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("start on a read-only data dir: want exit 1, got %v\n%s", err, out)
	}
	last := strings.TrimSpace(string(out))
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.Contains(last, "data dir "+dataDir) || !strings.Contains(last, "read-only file system") {
		t.Fatalf("start on a read-only data dir: last line %q does not name the data dir and the cause", last)
	}
	if strings.Contains(string(out), "panic") {
		t.Fatalf("start on a read-only data dir panicked:\n%s", out)
	}
	t.Logf("read-only start-up: %s", last)

	if out, err := runCmd("mount", "-o", "remount,rw", dataDir); err != nil {
		t.Fatalf("remount rw: %v: %s", err, out)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritable(20 * time.Second)
	checkAcked("writable again", "")
}

// mountTmpfs mounts a tmpfs of the given size on dir and unmounts it when
// the test ends.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir); err != nil {
		testenv.Skip(t, "mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		// The processes are killed (and waited for) first; a busy mount
		// still gets a few tries.
		var err error
		for i := 0; i < 50; i++ {
			if err = syscall.Unmount(dir, 0); err == nil || errors.Is(err, syscall.EINVAL) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("unmount %s: %v", dir, err)
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	})
}

// fallocate creates path with size bytes allocated.
func fallocate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		f.Close()
		return fmt.Errorf("fallocate %s: %w", path, err)
	}
	return f.Close()
}

// TestDiskFullLeaderStepsDown runs three servers, each on its own tmpfs,
// and fills the leader's: the write that meets the full disk fails with a
// 5xx, the leader steps down, and writes go on through another leader.
// Once space is freed the old leader catches up without a restart; after
// every server is restarted (kill -9), every server holds every
// acknowledged write and none that the full disk refused.
func TestDiskFullLeaderStepsDown(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	fp := testcluster.FreePorts(t, 3)
	ports := proccluster.Ports{HTTP: fp[0], Serf: fp[1], Server: fp[2]}
	procs := proccluster.ServersOn(shoalBin, dir, []string{"127.0.0.75", "127.0.0.76", "127.0.0.77"}, nil, ports)
	for _, p := range procs {
		// Room for the preallocated 64 MiB segment and the next one.
		mountTmpfs(t, p.DataDir, "200m")
	}
	runProcs(t, procs)
	leader := waitLeader(t, procs, ports, 30*time.Second)
	// Leave the leader a few MiB beside its first segment.
	filler := filepath.Join(leader.DataDir, "filler")
	if err := fallocate(filler, (200-64-6)<<20); err != nil {
		t.Fatal(err)
	}

	acked := map[string]string{}
	refused := map[string]bool{}
	pad := strings.Repeat("x", 400<<10)
	var diskErr string
	after := 0   // writes acknowledged after the first refused one
	unknown := 0 // writes answered with a 5xx
	for i := 0; i < 300 && after < 5; i++ {
		key := fmt.Sprintf("big/%03d", i)
		code, body, err := leader.Put("/v1/kv/"+key, key+pad)
		switch {
		case err != nil:
			t.Fatalf("put %s: %v", key, err)
		case code == 200:
			acked[key] = key + pad
			if unknown > 0 {
				after++
			}
		case code >= 500:
			// Only a write the full disk refused is known not to be
			// applied; any other 5xx leaves its outcome open.
			if strings.Contains(body, "no space left on device") && strings.Contains(body, "data dir "+leader.DataDir) {
				diskErr = body
				refused[key] = true
			}
			unknown++
		default:
			t.Fatalf("put %s: HTTP %d %q, want 200 or a 5xx", key, code, body)
		}
	}
	if diskErr == "" || after < 5 {
		t.Fatalf("%d acknowledged, %d refused, %d acknowledged after a refusal; no refusal named the leader's full data dir %s",
			len(acked), len(refused), after, leader.DataDir)
	}
	newLeader := waitLeader(t, procs, ports, 10*time.Second)
	t.Logf("%s's disk filled after %d writes: %q; %d refused by the disk, %d 5xx in all; leader now %s",
		leader.Name, len(acked), diskErr, len(refused), unknown, newLeader.Name)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Without a restart, the old leader catches up once it has room.
	checkKeys := func(p *proccluster.Proc) error {
		code, body, err := p.Get("/v1/kv/big/?keys&stale")
		if err != nil || code != 200 {
			return fmt.Errorf("%s: keys: %d %v", p.Name, code, err)
		}
		for key := range acked {
			if !strings.Contains(body, `"`+key+`"`) {
				return fmt.Errorf("%s lacks acknowledged %s", p.Name, key)
			}
		}
		for key := range refused {
			if strings.Contains(body, `"`+key+`"`) {
				return fmt.Errorf("%s holds %s, whose write the full disk refused", p.Name, key)
			}
		}
		return nil
	}
	testcluster.Eventually(t, 20*time.Second, func() error { return checkKeys(leader) })

	for _, p := range procs {
		p.Kill9()
	}
	for _, p := range procs {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waitLeader(t, procs, ports, 30*time.Second)
	for _, p := range procs {
		testcluster.Eventually(t, 30*time.Second, func() error { return checkKeys(p) })
	}
	for key, want := range acked {
		code, body, err := leader.Get("/v1/kv/" + key + "?raw&stale")
		if err != nil || code != 200 || body != want {
			t.Fatalf("%s: %s: HTTP %d, %d bytes (want %d), %v", leader.Name, key, code, len(body), len(want), err)
		}
	}
	t.Logf("after restart every server holds all %d acknowledged keys", len(acked))
}

// TestRemovedDataDirStopsTheServer deletes a follower's data dir while the
// cluster runs. The follower could go on only until its log needs a new
// segment, then store nothing while still counting as a voter and
// answering stale reads; it must instead exit with status 1 and say why.
// Started again on an empty data dir, as the message says, it must come
// back as a voter in place of its old self with every acknowledged write.
func TestRemovedDataDirStopsTheServer(t *testing.T) {
	procs, ports := startServers(t, 3)
	leader := waitLeader(t, procs, ports, 20*time.Second)
	if code, body, err := leader.Put("/v1/kv/before", "1"); err != nil || code != 200 || strings.TrimSpace(body) != "true" {
		t.Fatalf("put: %d %q %v", code, body, err)
	}
	f := followerOf(procs, leader)
	if err := os.RemoveAll(f.DataDir); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	testcluster.Eventually(t, 20*time.Second, func() error {
		if f.Running() {
			return fmt.Errorf("%s still runs", f.Name)
		}
		return nil
	})
	t.Logf("%s exited %v after its data dir was removed", f.Name, time.Since(removed).Round(time.Millisecond))
	if code := f.ExitCode(); code != 1 {
		t.Fatalf("%s exited with status %d, want 1", f.Name, code)
	}
	log := f.Log()
	if !strings.Contains(log, "Agent stopped: server: data dir "+f.DataDir+": watch: removed or replaced while the server ran") {
		t.Fatalf("%s's output does not say that its data dir %s was removed:\n%s", f.Name, f.DataDir, log)
	}
	if strings.Contains(log, "panic") {
		t.Fatalf("%s panicked:\n%s", f.Name, log)
	}

	if code, body, err := leader.Put("/v1/kv/after", "2"); err != nil || code != 200 || strings.TrimSpace(body) != "true" {
		t.Fatalf("put with one server down: %d %q %v", code, body, err)
	}
	// Started on an empty data dir, it is a new server at the old one's
	// address: the leader swaps them, and it copies the state.
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		for key, want := range map[string]string{"before": "1", "after": "2"} {
			code, body, err := f.Get("/v1/kv/" + key + "?stale&raw")
			if err != nil || code != 200 || body != want {
				return fmt.Errorf("restarted %s: %s = %d %q %v", f.Name, key, code, body, err)
			}
		}
		out, err := cli(t, leader, "operator", "raft", "list-peers")
		if err != nil || strings.Count(out, "true") != 3 || strings.Count(out, f.Name) != 1 {
			return fmt.Errorf("list-peers: %v\n%s", err, out)
		}
		return nil
	})
}
