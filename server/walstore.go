package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// errLogStoreClosed is returned by a walStore whose WAL could not be
// reopened; the next StoreLogs tries again.
var errLogStoreClosed = errors.New("raft log closed after a failed reopen")

// walStore is the Raft log and stable store of a server with a data dir:
// raft-wal, which it reopens when a disk error has wedged it.
//
// raft-wal creates each new segment (64 MiB, preallocated) in the
// background once the tail fills. If that fails, for instance because the
// disk is full, it only logs "rotate error" and every later append fails
// with wal.ErrSealed, even once space is back: only a reopen recovers
// (recovery takes the new segment as the tail). So when StoreLogs meets
// ErrSealed, walStore closes the WAL, opens it again from the same dir and
// retries the append once. A reopen that fails leaves the log closed (every
// log call fails) and is tried again at the next StoreLogs.
//
// The stable store (the current term and vote) is raft-wal's meta
// database, which stays open throughout, so that Raft, which panics when
// it cannot save its term, never sees it closed.
//
// Raft calls the methods from several goroutines; mu makes a reopen
// exclusive. Append errors come back as *DiskError.
type walStore struct {
	dir    string // the server's data dir, for errors
	walDir string
	meta   *metadb.BoltMetaDB // owned: raft-wal's Close leaves it open
	opts   []walOpt
	logger hclog.Logger

	mu sync.RWMutex
	w  *wal.WAL // nil after a failed reopen

	errMu   sync.Mutex
	lastErr error // the last StoreLogs error, for logCache
}

// walOpt has the shape of raft-wal's option type, which is unexported.
type walOpt = func(*wal.WAL)

// openWALStore opens the WAL in walDir; dataDir names the server's data dir
// in errors.
func openWALStore(dataDir, walDir string, logger hclog.Logger, opts ...walOpt) (*walStore, error) {
	s := &walStore{dir: dataDir, walDir: walDir, meta: &metadb.BoltMetaDB{}, opts: opts, logger: logger}
	w, err := s.open()
	if err != nil {
		_ = s.meta.Close()
		return nil, err
	}
	s.w = w
	return s, nil
}

func (s *walStore) open() (*wal.WAL, error) {
	// raft-wal's option type is unexported: apply ours in one option.
	w, err := wal.Open(s.walDir, wal.WithMetaStore(s.meta), func(w *wal.WAL) {
		for _, o := range s.opts {
			o(w)
		}
	})
	if err != nil {
		return nil, &DiskError{Dir: s.dir, Op: "open raft log " + s.walDir, Err: err}
	}
	return w, nil
}

// reopenLocked replaces failed, a WAL that returned ErrSealed, unless another caller
// already has. It reports whether the log is open. s.mu must be held.
func (s *walStore) reopenLocked(failed *wal.WAL) bool {
	if s.w != failed && s.w != nil {
		return true
	}
	if s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
	w, err := s.open()
	if err != nil {
		s.logger.Error("reopening the raft log failed; retrying at the next write", "error", err)
		return false
	}
	s.logger.Info("reopened the raft log after a failed segment rotation", "dir", s.walDir)
	s.w = w
	return true
}

// current returns the open WAL, holding a read lock until release.
func (s *walStore) current() (w *wal.WAL, release func(), err error) {
	s.mu.RLock()
	if s.w == nil {
		s.mu.RUnlock()
		return nil, nil, &DiskError{Dir: s.dir, Op: "raft log", Err: errLogStoreClosed}
	}
	return s.w, s.mu.RUnlock, nil
}

// FirstIndex implements raft.LogStore.
func (s *walStore) FirstIndex() (uint64, error) {
	w, release, err := s.current()
	if err != nil {
		return 0, err
	}
	defer release()
	return w.FirstIndex()
}

// LastIndex implements raft.LogStore.
func (s *walStore) LastIndex() (uint64, error) {
	w, release, err := s.current()
	if err != nil {
		return 0, err
	}
	defer release()
	return w.LastIndex()
}

// GetLog implements raft.LogStore.
func (s *walStore) GetLog(index uint64, log *raft.Log) error {
	w, release, err := s.current()
	if err != nil {
		return err
	}
	defer release()
	return w.GetLog(index, log)
}

// StoreLog implements raft.LogStore.
func (s *walStore) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore. A wedged WAL is reopened and the
// append retried once.
func (s *walStore) StoreLogs(logs []*raft.Log) error {
	err := s.storeLogs(logs)
	if err != nil {
		err = &DiskError{Dir: s.dir, Op: "append to raft log", Err: err}
	}
	s.errMu.Lock()
	s.lastErr = err
	s.errMu.Unlock()
	return err
}

func (s *walStore) storeLogs(logs []*raft.Log) error {
	s.mu.RLock()
	w := s.w
	var err error = errLogStoreClosed
	if w != nil {
		err = w.StoreLogs(logs)
	}
	s.mu.RUnlock()
	if w != nil && !errors.Is(err, wal.ErrSealed) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reopenLocked(w) {
		return fmt.Errorf("%w (a new log segment could not be created, see the raft.wal log; it needs %d MiB free)",
			wal.ErrSealed, wal.DefaultSegmentSize>>20)
	}
	return s.w.StoreLogs(logs)
}

// takeErr returns the last StoreLogs error and forgets it.
func (s *walStore) takeErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	err := s.lastErr
	s.lastErr = nil
	return err
}

// DeleteRange implements raft.LogStore.
func (s *walStore) DeleteRange(min, max uint64) error {
	w, release, err := s.current()
	if err != nil {
		return err
	}
	defer release()
	if err := w.DeleteRange(min, max); err != nil {
		return &DiskError{Dir: s.dir, Op: "truncate raft log", Err: err}
	}
	return nil
}

// Set implements raft.StableStore, as raft-wal does, on its meta database.
func (s *walStore) Set(key, val []byte) error {
	if err := s.meta.SetStable(key, val); err != nil {
		return &DiskError{Dir: s.dir, Op: "save raft state", Err: err}
	}
	return nil
}

// Get implements raft.StableStore; a missing key is nil.
func (s *walStore) Get(key []byte) ([]byte, error) { return s.meta.GetStable(key) }

// SetUint64 implements raft.StableStore with raft-wal's encoding.
func (s *walStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.LittleEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore; a missing key is 0.
func (s *walStore) GetUint64(key []byte) (uint64, error) {
	raw, err := s.Get(key)
	switch {
	case err != nil:
		return 0, err
	case len(raw) == 0:
		return 0, nil
	case len(raw) != 8:
		return 0, fmt.Errorf("server: raft stable key %q holds %d bytes, not a uint64", key, len(raw))
	}
	return binary.LittleEndian.Uint64(raw), nil
}

// Close closes the WAL, then its meta database.
func (s *walStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.w != nil {
		err = s.w.Close()
		s.w = nil
	}
	return errors.Join(err, s.meta.Close())
}

// logCache is raft.LogCache, which flattens a StoreLogs error to text
// (%q), with the store's error put back, so that Raft answers an Apply
// with the *DiskError and errors.Is(err, syscall.ENOSPC) works.
type logCache struct {
	*raft.LogCache
	store *walStore
}

// StoreLog implements raft.LogStore.
func (c logCache) StoreLog(log *raft.Log) error { return c.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore.
func (c logCache) StoreLogs(logs []*raft.Log) error {
	err := c.LogCache.StoreLogs(logs)
	if serr := c.store.takeErr(); err != nil && serr != nil {
		return serr
	}
	return err
}
