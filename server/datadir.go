package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DiskError is a failed read or write in a server's data dir. Err is the
// cause, so errors.Is(err, syscall.ENOSPC) or errors.Is(err,
// syscall.EROFS) tell a full or read-only disk. Its text, which is what an
// HTTP client gets in the body of a 500, names the data dir.
type DiskError struct {
	Dir string // the server's data dir
	Op  string // what failed, e.g. "append to raft log"
	Err error
}

func (e *DiskError) Error() string {
	return fmt.Sprintf("server: data dir %s: %s: %v%s", e.Dir, e.Op, e.Err, diskHint(e.Err))
}

func (e *DiskError) Unwrap() error { return e.Err }

// ErrDataDirGone is the cause of the DiskError a server stops with when
// its data dir was removed, or another directory put at its path, while
// it ran (watchDataDir).
var ErrDataDirGone = errors.New("removed or replaced while the server ran")

// diskHint tells the operator what to do about the common causes.
func diskHint(err error) string {
	switch {
	case errors.Is(err, ErrDataDirGone):
		return " (the server stopped: its Raft log and snapshots are gone from that path. Start it again with the data dir restored from a backup, " +
			"or, in a cluster of three or more servers, with an empty data dir: the leader replaces the old server at this address by the new one, which copies the state from the others)"
	case errors.Is(err, syscall.ENOSPC):
		return " (disk full: free space in the data dir)"
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return " (data dir not writable: make it writable to the server)"
	}
	return ""
}

// probeName is the file checkDataDir writes and removes.
const probeName = ".shoal-write-probe"

// checkDataDir reports whether dir (created if missing) takes a write that
// reaches the disk: it creates, writes and fsyncs a probe file, removes it
// and fsyncs the directory. A server checks this before opening Raft so
// that a read-only or full data dir stops it with one clear error instead
// of a failure deep inside the log store.
func checkDataDir(dir string) error {
	fail := func(op string, err error) error {
		return &DiskError{Dir: dir, Op: "write check: " + op, Err: err}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail("create", err)
	}
	path := filepath.Join(dir, probeName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fail("create probe file", err)
	}
	_, werr := f.Write([]byte("shoal\n"))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	rerr := os.Remove(path)
	if werr != nil {
		return fail("write probe file", werr)
	}
	if rerr != nil {
		return fail("remove probe file", rerr)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fail("open", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fail("fsync", err)
	}
	return nil
}

// dataDirIdentity is what watchDataDir compares: the data dir's file
// info at start.
func dataDirIdentity(dir string) (os.FileInfo, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, &DiskError{Dir: dir, Op: "stat", Err: err}
	}
	return fi, nil
}

// dataDirChanged reports, as a DiskError wrapping ErrDataDirGone, that dir
// no longer exists or is another directory than at (os.SameFile). Other
// stat errors (a network file system that does not answer) are not
// reported: they may pass.
func dataDirChanged(dir string, at os.FileInfo) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &DiskError{Dir: dir, Op: "watch", Err: fmt.Errorf("%w: it no longer exists", ErrDataDirGone)}
	case err != nil:
		return nil
	case !os.SameFile(at, fi):
		return &DiskError{Dir: dir, Op: "watch", Err: fmt.Errorf("%w: another directory is at its path", ErrDataDirGone)}
	}
	return nil
}

// watchDataDir checks every cfg.DataDirCheckInterval that the data dir is
// the one the server opened. A server whose data dir was removed keeps
// its open log segments, so it goes on until the next segment must be
// created, and then can append nothing, for ever: a voter that counts
// toward the quorum but cannot store, whose state stops moving while it
// answers stale reads. So the server reports the loss through
// cfg.OnFatal, once, and stops checking; the caller stops it.
func (s *Server) watchDataDir(at os.FileInfo) {
	t := time.NewTicker(s.cfg.DataDirCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.shutdownCh:
			return
		case <-t.C:
		}
		if err := dataDirChanged(s.cfg.DataDir, at); err != nil {
			s.logger.Error("the data dir is gone: stopping", "error", err)
			if s.cfg.OnFatal != nil {
				s.cfg.OnFatal(err)
			}
			return
		}
	}
}
