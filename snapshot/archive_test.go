package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var testMeta = Meta{
	Version: 1, ID: "2-10-1700000000000", Index: 10, Term: 2,
	Configuration:      Configuration{Servers: []Server{{ID: "a", Address: "127.0.0.1:8300"}}},
	ConfigurationIndex: 1,
}

var testState = bytes.Repeat([]byte("shoal state "), 1000)

// member is one file of a hand-built archive.
type member struct {
	name string
	data []byte
}

// goodMembers returns the members of a valid archive, built by hand the
// way Consul's snapshot/archive.go writes them.
func goodMembers(t *testing.T) []member {
	t.Helper()
	meta := testMeta
	meta.Size = int64(len(testState))
	var mj bytes.Buffer
	if err := json.NewEncoder(&mj).Encode(&meta); err != nil {
		t.Fatal(err)
	}
	return []member{
		{FileMeta, mj.Bytes()},
		{FileState, testState},
		{FileSums, sumsOf(map[string][]byte{FileMeta: mj.Bytes(), FileState: testState})},
	}
}

func sumsOf(files map[string][]byte) []byte {
	var b bytes.Buffer
	for name, data := range files {
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(data), name)
	}
	return b.Bytes()
}

func buildArchive(t *testing.T, members []member) []byte {
	t.Helper()
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o600, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeGood(t *testing.T) []byte {
	t.Helper()
	meta := testMeta
	meta.Size = int64(len(testState))
	var buf bytes.Buffer
	if err := Write(&buf, &meta, bytes.NewReader(testState)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		archive func(t *testing.T) []byte
	}{
		{"written by Write", writeGood},
		{"written as Consul does", func(t *testing.T) []byte { return buildArchive(t, goodMembers(t)) }},
		{"macOS resource file skipped", func(t *testing.T) []byte {
			return buildArchive(t, append([]member{{"._meta.json", []byte("x")}}, goodMembers(t)...))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var state bytes.Buffer
			meta, err := Read(bytes.NewReader(tc.archive(t)), &state)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !bytes.Equal(state.Bytes(), testState) {
				t.Errorf("state: got %d bytes, want %d", state.Len(), len(testState))
			}
			if meta.Index != testMeta.Index || meta.Term != testMeta.Term || meta.ID != testMeta.ID ||
				meta.Size != int64(len(testState)) || len(meta.Configuration.Servers) != 1 {
				t.Errorf("meta: got %+v", meta)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	tests := []struct {
		name    string
		archive func(t *testing.T) []byte
		want    error
	}{
		{"not gzip", func(t *testing.T) []byte { return []byte("this is not a snapshot") }, ErrCorrupt},
		{"empty file", func(t *testing.T) []byte { return nil }, ErrTruncated},
		{"truncated to half", func(t *testing.T) []byte { a := writeGood(t); return a[:len(a)/2] }, ErrTruncated},
		{"truncated gzip trailer", func(t *testing.T) []byte { a := writeGood(t); return a[:len(a)-4] }, ErrTruncated},
		{"flipped byte in compressed stream", func(t *testing.T) []byte {
			a := writeGood(t)
			a[len(a)/2] ^= 0xff
			return a
		}, ErrCorrupt},
		{"flipped byte in state.bin", func(t *testing.T) []byte {
			m := goodMembers(t)
			bad := bytes.Clone(m[1].data)
			bad[100] ^= 0x01
			m[1].data = bad
			return buildArchive(t, m)
		}, ErrChecksum},
		{"flipped byte in meta.json", func(t *testing.T) []byte {
			m := goodMembers(t)
			m[0].data = bytes.Replace(m[0].data, []byte(`"Index":10`), []byte(`"Index":11`), 1)
			return buildArchive(t, m)
		}, ErrChecksum},
		{"wrong checksum", func(t *testing.T) []byte {
			m := goodMembers(t)
			m[2].data = sumsOf(map[string][]byte{FileMeta: m[0].data, FileState: []byte("other")})
			return buildArchive(t, m)
		}, ErrChecksum},
		{"missing state.bin", func(t *testing.T) []byte {
			m := goodMembers(t)
			return buildArchive(t, []member{m[0], m[2]})
		}, ErrMissingFile},
		{"missing meta.json", func(t *testing.T) []byte {
			m := goodMembers(t)
			return buildArchive(t, []member{m[1], m[2]})
		}, ErrMissingFile},
		{"missing SHA256SUMS", func(t *testing.T) []byte {
			m := goodMembers(t)
			return buildArchive(t, m[:2])
		}, ErrMissingFile},
		{"checksum line missing", func(t *testing.T) []byte {
			m := goodMembers(t)
			m[2].data = sumsOf(map[string][]byte{FileMeta: m[0].data})
			return buildArchive(t, m)
		}, ErrMissingFile},
		{"unexpected member", func(t *testing.T) []byte {
			return buildArchive(t, append(goodMembers(t), member{"extra.txt", []byte("x")}))
		}, ErrUnexpectedFile},
		{"size differs from meta", func(t *testing.T) []byte {
			m := goodMembers(t)
			short := testState[:10]
			m[1].data = short
			m[2].data = sumsOf(map[string][]byte{FileMeta: m[0].data, FileState: short})
			return buildArchive(t, m)
		}, ErrSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(tc.archive(t)))
			if err == nil {
				t.Fatal("Verify succeeded, want an error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want errors.Is %v", err, tc.want)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want it to wrap ErrCorrupt", err)
			}
			t.Log(err)
		})
	}
}

func TestWriteSizeMismatch(t *testing.T) {
	meta := testMeta
	meta.Size = int64(len(testState)) + 1
	err := Write(&bytes.Buffer{}, &meta, bytes.NewReader(testState))
	if !errors.Is(err, ErrSize) {
		t.Fatalf("got %v, want ErrSize", err)
	}
}

func TestSpool(t *testing.T) {
	tests := []struct {
		name    string
		archive func(t *testing.T) []byte
		wantErr error
	}{
		{"valid", writeGood, nil},
		{"truncated", func(t *testing.T) []byte { a := writeGood(t); return a[:len(a)-100] }, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sp, err := Spool(bytes.NewReader(tc.archive(t)), dir)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
					t.Errorf("left behind: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := got.ReadFrom(sp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), testState) || sp.Meta.Index != testMeta.Index {
				t.Errorf("spooled %d bytes, meta %+v", got.Len(), sp.Meta)
			}
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(sp.Name()); !os.IsNotExist(err) {
				t.Errorf("temp file not removed: %v", err)
			}
		})
	}
}

func TestWriteTemp(t *testing.T) {
	dir := t.TempDir()
	meta := testMeta
	meta.Size = int64(len(testState))
	ta, err := WriteTemp(dir, &meta, bytes.NewReader(testState))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(ta)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Index != meta.Index {
		t.Errorf("index %d, want %d", got.Index, meta.Index)
	}
	if err := ta.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestConsulParsesSums parses SHA256SUMS as Consul's hashList.DecodeAndVerify
// does (fmt.Sscanf "%x  %s" per line) and checks every sum.
func TestConsulParsesSums(t *testing.T) {
	gz, err := gzip.NewReader(bytes.NewReader(writeGood(t)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	var names []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(tr); err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = b.Bytes()
		names = append(names, hdr.Name)
	}
	if want := []string{FileMeta, FileState, FileSums}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("members %v, want %v in that order", names, want)
	}
	seen := 0
	for _, line := range bytes.Split(bytes.TrimRight(files[FileSums], "\n"), []byte("\n")) {
		sha := make([]byte, sha256.Size)
		var name string
		if _, err := fmt.Sscanf(string(line), "%x  %s", &sha, &name); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if want := sha256.Sum256(files[name]); !bytes.Equal(sha, want[:]) {
			t.Errorf("%s: sum does not match", name)
		}
		seen++
	}
	if seen != 2 {
		t.Errorf("%d sums, want 2", seen)
	}
	var meta map[string]any
	if err := json.Unmarshal(files[FileMeta], &meta); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"Version", "ID", "Index", "Term", "Peers", "Configuration", "ConfigurationIndex", "Size"} {
		if _, ok := meta[field]; !ok {
			t.Errorf("meta.json lacks raft.SnapshotMeta's field %s", field)
		}
	}
}
