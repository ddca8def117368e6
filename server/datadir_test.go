package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestCheckDataDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		dir     string
		wantErr error // nil: no error
	}{
		{"existing dir", base, nil},
		{"missing dir is created", filepath.Join(base, "a", "b"), nil},
		{"under a file", filepath.Join(file, "data"), syscall.ENOTDIR},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDataDir(tc.dir)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(tc.dir, probeName)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("probe file left behind: %v", err)
				}
				return
			}
			var de *DiskError
			if !errors.As(err, &de) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want a *DiskError wrapping %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.dir) {
				t.Fatalf("error %q does not name the data dir %s", err, tc.dir)
			}
		})
	}
}

func TestDiskErrorText(t *testing.T) {
	cases := []struct {
		name string
		err  error
		is   error
		want string
	}{
		{"full", fmt.Errorf("write seg.wal: %w", syscall.ENOSPC), syscall.ENOSPC, "disk full"},
		{"read-only", &os.PathError{Op: "open", Path: "x", Err: syscall.EROFS}, syscall.EROFS, "not writable"},
		{"other", syscall.EIO, syscall.EIO, "input/output error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := error(&DiskError{Dir: "/data", Op: "append to raft log", Err: tc.err})
			if !errors.Is(err, tc.is) {
				t.Fatalf("errors.Is(%v, %v) is false", err, tc.is)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "server: data dir /data: append to raft log: ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q lacks the data dir, the op or %q", msg, tc.want)
			}
		})
	}
}

func TestDataDirChanged(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string // in the error; "" for none
	}{
		{"untouched", func(*testing.T, string) {}, ""},
		{"a file written in it", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"removed", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, "no longer exists"},
		{"replaced", func(t *testing.T, dir string) {
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "another directory is at its path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			at, err := dataDirIdentity(dir)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, dir)
			err = dataDirChanged(dir, at)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("reported %v", err)
				}
				return
			}
			var de *DiskError
			if !errors.Is(err, ErrDataDirGone) || !errors.As(err, &de) || de.Dir != dir {
				t.Fatalf("got %v, want a DiskError for %s wrapping ErrDataDirGone", err, dir)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "Start it again") {
				t.Fatalf("message %q lacks %q or what to do", msg, tc.want)
			}
		})
	}
}

// TestServerReportsARemovedDataDir runs a server on a data dir, removes
// the dir, and expects OnFatal once with ErrDataDirGone; nothing before.
func TestServerReportsARemovedDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	fatal := make(chan error, 4)
	s, err := NewServer(Config{
		NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
		BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t), DataDir: dir,
		RaftTimeoutOverride: 50 * time.Millisecond, DataDirCheckInterval: 20 * time.Millisecond,
		OnFatal: func(err error) { fatal <- err },
		Logger:  hclog.New(&hclog.LoggerOptions{Level: hclog.Error}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	waitReady(t, s)
	select {
	case err := <-fatal:
		t.Fatalf("OnFatal before the data dir changed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-fatal:
		if !errors.Is(err, ErrDataDirGone) {
			t.Fatalf("OnFatal(%v), want ErrDataDirGone", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnFatal was not called within 5s of removing the data dir")
	}
	select {
	case err := <-fatal:
		t.Fatalf("OnFatal called again: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}
