package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
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

// diskHint tells the operator what to do about the common causes.
func diskHint(err error) string {
	switch {
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
