package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// fullFiler is raft-wal's segment filer on a disk that can be full: while
// full, creating a segment leaves an empty file and fails with ENOSPC, as
// preallocating it on a full disk does; while broken, recovering the tail
// at open fails too.
type fullFiler struct {
	*segment.Filer
	dir          string
	full, broken atomic.Bool
}

func (f *fullFiler) Create(info types.SegmentInfo) (types.SegmentWriter, error) {
	if f.full.Load() {
		if err := os.WriteFile(filepath.Join(f.dir, segment.FileName(info)), nil, 0o644); err != nil {
			return nil, err
		}
		return nil, &os.PathError{Op: "fallocate", Path: segment.FileName(info), Err: syscall.ENOSPC}
	}
	return f.Filer.Create(info)
}

func (f *fullFiler) RecoverTail(info types.SegmentInfo) (types.SegmentWriter, error) {
	if f.broken.Load() {
		return nil, &os.PathError{Op: "write", Path: segment.FileName(info), Err: syscall.ENOSPC}
	}
	return f.Filer.RecoverTail(info)
}

// TestWALStoreReopensAfterFailedRotation checks that raft-wal, wedged
// (ErrSealed) by a segment rotation that failed on a full disk, is
// reopened and takes appends again without losing an entry, while readers
// run; and that while it cannot be reopened appends fail with a
// *DiskError, the stable store still works, and a later append reopens it.
func TestWALStoreReopensAfterFailedRotation(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ff := &fullFiler{Filer: segment.NewFiler(walDir, fs.New()), dir: walDir}
	const segSize = 16 << 10
	s, err := openWALStore(dir, walDir, hclog.NewNullLogger(), wal.WithSegmentFiler(ff), wal.WithSegmentSize(segSize), wal.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs raft.LogStore = logCache{LogCache: mustCache(t, s), store: s}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var last atomic.Uint64
	readers.Add(1)
	go func() { // as raft's replication does
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if i := last.Load(); i > 0 {
				var l raft.Log
				_ = s.GetLog(i, &l)
			}
		}
	}()
	defer func() { close(stop); readers.Wait() }()

	payload := make([]byte, 1<<10)
	idx := uint64(0)
	store := func() error {
		err := logs.StoreLogs([]*raft.Log{{Index: idx + 1, Term: 1, Data: payload}})
		if err == nil {
			idx++
			last.Store(idx)
		}
		return err
	}
	appendN := func(n int) error {
		for i := 0; i < n; i++ {
			if err := store(); err != nil {
				return fmt.Errorf("append %d: %w", idx+1, err)
			}
			time.Sleep(time.Millisecond) // let the background rotation run
		}
		return nil
	}

	steps := []struct {
		name         string
		full, broken bool
		wantErr      error // nil: every append succeeds
	}{
		{"rotations fail, reopen recovers", true, false, nil},
		{"reopen fails too", true, true, wal.ErrSealed},
		{"space back", false, false, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ff.full.Store(st.full)
			ff.broken.Store(st.broken)
			err := appendN(5 * segSize / len(payload))
			if st.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var de *DiskError
			if !errors.As(err, &de) || de.Dir != dir || !errors.Is(err, st.wantErr) {
				t.Fatalf("got %v, want a *DiskError for %s wrapping %v", err, dir, st.wantErr)
			}
			if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
				t.Fatalf("stable store with the log closed: %v", err)
			}
		})
	}
	for i := uint64(1); i <= idx; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || l.Index != i {
			t.Fatalf("entry %d of %d: %v", i, idx, err)
		}
	}
	if n, err := s.LastIndex(); err != nil || n != idx {
		t.Fatalf("last index %d, %v; want %d", n, err, idx)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("stable store: %d, %v", v, err)
	}
	t.Logf("%d entries", idx)
}

func mustCache(t *testing.T, s raft.LogStore) *raft.LogCache {
	t.Helper()
	c, err := raft.NewLogCache(64, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
