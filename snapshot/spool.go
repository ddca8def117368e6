package snapshot

import (
	"fmt"
	"io"
	"os"
)

// Spooled is a verified state.bin kept in a temporary file. The caller
// owns it and must Close it, which removes the file.
type Spooled struct {
	Meta *Meta
	*os.File
}

// Close closes and removes the temporary file.
func (s *Spooled) Close() error {
	err := s.File.Close()
	if rerr := os.Remove(s.File.Name()); err == nil {
		err = rerr
	}
	return err
}

// Spool reads and verifies an archive from r, keeping state.bin in a
// temporary file in dir ("" means os.TempDir), rewound to its start. On
// error nothing is left behind.
func Spool(r io.Reader, dir string) (*Spooled, error) {
	f, err := os.CreateTemp(dir, "shoal-snapshot-state-*")
	if err != nil {
		return nil, fmt.Errorf("snapshot: spool: %w", err)
	}
	s := &Spooled{File: f}
	meta, err := Read(r, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.Meta = meta
	return s, nil
}

// TempArchive is an archive written to a temporary file. Read it from the
// start; Close removes it.
type TempArchive struct {
	*os.File
	Size int64
}

// Close closes and removes the temporary file.
func (t *TempArchive) Close() error {
	err := t.File.Close()
	if rerr := os.Remove(t.File.Name()); err == nil {
		err = rerr
	}
	return err
}

// WriteTemp writes an archive of meta and state to a temporary file in dir
// ("" means os.TempDir) and returns it rewound, so that a failure is known
// before the first byte is sent anywhere.
func WriteTemp(dir string, meta *Meta, state io.Reader) (*TempArchive, error) {
	f, err := os.CreateTemp(dir, "shoal-snapshot-*.tgz")
	if err != nil {
		return nil, fmt.Errorf("snapshot: temp archive: %w", err)
	}
	t := &TempArchive{File: f}
	if err := Write(f, meta, state); err != nil {
		_ = t.Close()
		return nil, err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("snapshot: temp archive: %w", err)
	}
	t.Size = size
	return t, nil
}
