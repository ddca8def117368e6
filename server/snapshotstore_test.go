package server

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestSnapshotStoreRemovesFailedSnapshots checks that a cancelled
// snapshot and temporary directories left by an earlier run are removed,
// and that a snapshot being written and a finished one are kept.
func TestSnapshotStoreRemovesFailedSnapshots(t *testing.T) {
	base := t.TempDir()
	logger := hclog.NewNullLogger()
	s, err := newSnapshotStore(base, 2, logger)
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("")
	create := func(index uint64) raft.SnapshotSink {
		t.Helper()
		sink, err := s.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, trans)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write([]byte("state")); err != nil {
			t.Fatal(err)
		}
		return sink
	}
	dir := filepath.Join(base, "snapshots")
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return !errors.Is(err, os.ErrNotExist)
	}

	done := create(10)
	if err := done.Close(); err != nil {
		t.Fatal(err)
	}
	cancelled := create(11)
	_ = cancelled.Cancel()
	open := create(12)
	leftover := "1-9-123.tmp" // as a crashed run leaves it
	if err := os.MkdirAll(filepath.Join(dir, leftover), 0o755); err != nil {
		t.Fatal(err)
	}
	// The sweep a failed Create (or a start) runs keeps the open sink's dir.
	s.mu.Lock()
	s.sweepLocked()
	s.mu.Unlock()

	cases := []struct {
		name string
		want bool
	}{
		{"finished snapshot", true},
		{"cancelled snapshot", false},
		{"snapshot being written", true},
		{"leftover temporary dir", false},
	}
	names := []string{done.ID(), cancelled.ID() + snapshotTmpSuffix, open.ID() + snapshotTmpSuffix, leftover}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := exists(names[i]); got != tc.want {
				t.Fatalf("%s exists = %v, want %v", names[i], got, tc.want)
			}
		})
	}
	if err := open.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := newSnapshotStore(base, 2, logger); err != nil {
		t.Fatal(err)
	}
}
