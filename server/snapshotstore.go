package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// snapshotTmpSuffix marks a snapshot raft's FileSnapshotStore is still
// writing (its tmpSuffix); it ignores such directories when listing.
const snapshotTmpSuffix = ".tmp"

// snapshotStore is raft's FileSnapshotStore without its leak on a full
// disk (hashicorp/raft#714, v1.8.0): when a snapshot fails because
// meta.json cannot be written (in Create or Close) or state.bin cannot be
// flushed (in Cancel), it leaves the snapshot's temporary directory, with
// as much of the state as fitted, and never removes it; a failed flush
// also leaves state.bin open. Raft tries again at every snapshot interval,
// so each attempt took whatever space had been freed and the disk stayed
// full. snapshotStore empties and removes a failed snapshot's directory,
// and, at start and after a failed Create, every temporary directory no
// sink is writing.
type snapshotStore struct {
	*raft.FileSnapshotStore
	dir    string // the snapshots directory
	logger hclog.Logger

	mu   sync.Mutex
	live map[string]bool // IDs of the sinks being written
}

// newSnapshotStore opens a FileSnapshotStore in base (its snapshots go in
// base/snapshots) keeping retain snapshots, and removes temporary
// directories left by earlier runs.
func newSnapshotStore(base string, retain int, logger hclog.Logger) (*snapshotStore, error) {
	fss, err := raft.NewFileSnapshotStoreWithLogger(base, retain, logger)
	if err != nil {
		return nil, err
	}
	s := &snapshotStore{FileSnapshotStore: fss, dir: filepath.Join(base, "snapshots"), logger: logger, live: map[string]bool{}}
	s.mu.Lock()
	s.sweepLocked()
	s.mu.Unlock()
	return s, nil
}

// Create implements raft.SnapshotStore.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		s.sweepLocked()
		return nil, err
	}
	s.live[sink.ID()] = true
	return &snapshotSink{SnapshotSink: sink, store: s}, nil
}

// done forgets a sink and, if it failed, removes its temporary directory.
func (s *snapshotStore) done(id string, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, id)
	if failed {
		s.removeLocked(id + snapshotTmpSuffix)
	}
}

// sweepLocked removes the temporary directories no sink is writing.
func (s *snapshotStore) sweepLocked() {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		s.logger.Warn("cannot list snapshots to remove failed ones", "error", err)
		return
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() && strings.HasSuffix(name, snapshotTmpSuffix) && !s.live[strings.TrimSuffix(name, snapshotTmpSuffix)] {
			s.removeLocked(name)
		}
	}
}

func (s *snapshotStore) removeLocked(name string) {
	path := filepath.Join(s.dir, name)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return
	}
	// raft's sink leaves state.bin open when its flush fails (until the
	// garbage collector finalizes the file), which would hold the space of
	// the removed file: truncate it first.
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			_ = os.Truncate(p, 0)
		}
		return nil
	})
	if err := os.RemoveAll(path); err != nil {
		s.logger.Error("cannot remove a failed snapshot", "path", path, "error", err)
		return
	}
	s.logger.Info("removed a failed snapshot", "path", path)
}

// snapshotSink reports to its store when it is done.
type snapshotSink struct {
	raft.SnapshotSink
	store *snapshotStore
}

// Close implements raft.SnapshotSink.
func (k *snapshotSink) Close() error {
	err := k.SnapshotSink.Close()
	k.store.done(k.ID(), err != nil)
	return err
}

// Cancel implements raft.SnapshotSink.
func (k *snapshotSink) Cancel() error {
	err := k.SnapshotSink.Cancel()
	k.store.done(k.ID(), true)
	return err
}
