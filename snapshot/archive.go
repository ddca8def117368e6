package snapshot

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"time"
)

// Member names inside an archive, as Consul names them.
const (
	FileMeta  = "meta.json"
	FileState = "state.bin"
	FileSums  = "SHA256SUMS"
)

// Sentinel errors of Read. Every integrity failure wraps ErrCorrupt; the
// others say which check failed and are wrapped alongside it.
var (
	// ErrCorrupt means the archive is not a valid snapshot: nothing read
	// from it may be used.
	ErrCorrupt = errors.New("invalid snapshot archive")
	// ErrTruncated means the archive ended early.
	ErrTruncated = errors.New("truncated")
	// ErrChecksum means a member does not match its SHA256SUMS entry.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrMissingFile means a required member or checksum is absent.
	ErrMissingFile = errors.New("missing file")
	// ErrUnexpectedFile means the archive holds a member it must not.
	ErrUnexpectedFile = errors.New("unexpected file")
	// ErrSize means state.bin's length differs from meta.json's Size.
	ErrSize = errors.New("state size differs from meta.json")
)

// Meta is raft.SnapshotMeta as meta.json carries it (same JSON field
// names), declared here so that the package need not import Raft.
type Meta struct {
	Version            int
	ID                 string
	Index              uint64
	Term               uint64
	Peers              []byte
	Configuration      Configuration
	ConfigurationIndex uint64
	Size               int64
}

// Configuration is raft.Configuration as JSON carries it.
type Configuration struct {
	Servers []Server
}

// Server is raft.Server as JSON carries it (Suffrage 0 is a voter).
type Server struct {
	Suffrage int
	ID       string
	Address  string
}

// Write writes an archive of meta and the state stream to w. state must
// yield exactly meta.Size bytes. Write does not close w.
func Write(w io.Writer, meta *Meta, state io.Reader) error {
	gz := gzip.NewWriter(w)
	if err := writeTar(gz, meta, state); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("snapshot: compress: %w", err)
	}
	return nil
}

func writeTar(w io.Writer, meta *Meta, state io.Reader) error {
	now := time.Now()
	tw := tar.NewWriter(w)
	sums := map[string][]byte{}

	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("snapshot: encode meta: %w", err)
	}
	metaJSON = append(metaJSON, '\n') // as Consul's json.Encoder writes it
	if err := writeMember(tw, FileMeta, metaJSON, now); err != nil {
		return err
	}
	h := sha256.Sum256(metaJSON)
	sums[FileMeta] = h[:]

	hdr := &tar.Header{Name: FileState, Mode: 0o600, Size: meta.Size, ModTime: now, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", FileState, err)
	}
	sh := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, sh), state)
	if err != nil {
		return fmt.Errorf("snapshot: write %s: %w", FileState, err)
	}
	if n != meta.Size {
		return fmt.Errorf("snapshot: write %s: %w: %d bytes, meta says %d", FileState, ErrSize, n, meta.Size)
	}
	sums[FileState] = sh.Sum(nil)

	if err := writeMember(tw, FileSums, encodeSums(sums), now); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("snapshot: close archive: %w", err)
	}
	return nil
}

func writeMember(tw *tar.Writer, name string, data []byte, mtime time.Time) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", name, err)
	}
	return nil
}

// encodeSums writes SHA256SUMS lines sorted by name, in sha256sum's format.
func encodeSums(sums map[string][]byte) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%x  %s\n", sums[n], n)
	}
	return b.Bytes()
}

// Read reads and verifies an archive from r, copying state.bin to state as
// it goes. It returns the metadata, or an error wrapping ErrCorrupt (and a
// more specific sentinel) if any check fails, or the write error of state.
// What was written to state must be discarded unless the error is nil.
func Read(r io.Reader, state io.Writer) (*Meta, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, corrupt("gzip header", err)
	}
	meta, err := readTar(gz, state)
	if err != nil {
		return nil, err
	}
	// Drain the gzip stream: its trailer (CRC-32 and length) is checked
	// only at the end, and a truncated trailer must fail too.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, corrupt("gzip trailer", err)
	}
	return meta, nil
}

// Verify reads an archive and checks it without keeping the state.
func Verify(r io.Reader) (*Meta, error) { return Read(r, io.Discard) }

// stateWriteError marks a failure of the caller's writer, which is not
// the archive's fault.
type stateWriteError struct{ err error }

func (e stateWriteError) Error() string { return e.err.Error() }
func (e stateWriteError) Unwrap() error { return e.err }

func readTar(r io.Reader, state io.Writer) (*Meta, error) {
	tr := tar.NewReader(r)
	hashes := map[string]hash.Hash{FileMeta: sha256.New(), FileState: sha256.New()}
	var (
		meta      *Meta
		metaBytes []byte
		stateSize int64 = -1
		sums      []byte
	)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, corrupt("tar header", err)
		}
		switch hdr.Name {
		case FileMeta:
			if metaBytes, err = io.ReadAll(tr); err != nil {
				return nil, corrupt(FileMeta, err)
			}
			hashes[FileMeta].Write(metaBytes)
		case FileState:
			n, err := io.Copy(io.MultiWriter(hashes[FileState], writerOf{state}), tr)
			if err != nil {
				var we stateWriteError
				if errors.As(err, &we) {
					return nil, fmt.Errorf("snapshot: copy %s: %w", FileState, we.err)
				}
				return nil, corrupt(FileState, err)
			}
			stateSize = n
		case FileSums:
			if sums, err = io.ReadAll(tr); err != nil {
				return nil, corrupt(FileSums, err)
			}
		default:
			// macOS tar adds "._" resource files to an archive repacked
			// there: they carry no data of ours. Anything else is refused.
			if strings.HasPrefix(hdr.Name, "._") {
				continue
			}
			return nil, fmt.Errorf("%w: %w %q", ErrCorrupt, ErrUnexpectedFile, hdr.Name)
		}
	}
	switch {
	case metaBytes == nil:
		return nil, fmt.Errorf("%w: %w: %s", ErrCorrupt, ErrMissingFile, FileMeta)
	case stateSize < 0:
		return nil, fmt.Errorf("%w: %w: %s", ErrCorrupt, ErrMissingFile, FileState)
	case sums == nil:
		return nil, fmt.Errorf("%w: %w: %s", ErrCorrupt, ErrMissingFile, FileSums)
	}
	if err := verifySums(sums, hashes); err != nil {
		return nil, err
	}
	meta = new(Meta)
	if err := json.Unmarshal(metaBytes, meta); err != nil {
		return nil, corrupt(FileMeta, err)
	}
	if meta.Size != stateSize {
		return nil, fmt.Errorf("%w: %w: %s has %d bytes, meta says %d",
			ErrCorrupt, ErrSize, FileState, stateSize, meta.Size)
	}
	return meta, nil
}

// writerOf tags the caller's write errors so they are not taken for a
// corrupt archive.
type writerOf struct{ w io.Writer }

func (w writerOf) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, stateWriteError{err}
	}
	return n, nil
}

// verifySums checks that SHA256SUMS lists each member once with the hash
// computed while reading it.
func verifySums(sums []byte, hashes map[string]hash.Hash) error {
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		hexSum, name, ok := strings.Cut(line, "  ")
		if !ok {
			return fmt.Errorf("%w: malformed %s line %q", ErrCorrupt, FileSums, line)
		}
		want, err := hex.DecodeString(hexSum)
		if err != nil || len(want) != sha256.Size {
			return fmt.Errorf("%w: malformed %s line %q", ErrCorrupt, FileSums, line)
		}
		h, ok := hashes[name]
		if !ok {
			return fmt.Errorf("%w: %w: %s lists %q", ErrCorrupt, ErrUnexpectedFile, FileSums, name)
		}
		if !bytes.Equal(want, h.Sum(nil)) {
			return fmt.Errorf("%w: %w: %s", ErrCorrupt, ErrChecksum, name)
		}
		seen[name] = true
	}
	for name := range hashes {
		if !seen[name] {
			return fmt.Errorf("%w: %w: no checksum for %s", ErrCorrupt, ErrMissingFile, name)
		}
	}
	return nil
}

// corrupt wraps a framing error: an unexpected end of data is ErrTruncated.
func corrupt(what string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w: %s: %w", ErrCorrupt, ErrTruncated, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
}
