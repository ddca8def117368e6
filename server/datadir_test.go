package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
