package command

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/snapshot"
	"github.com/shoalproject/shoal/state"
)

func newSnapshotSave(ui cli.Ui) cli.Command    { return newSnapshotSaveCommand(ui) }
func newSnapshotRestore(ui cli.Ui) cli.Command { return newSnapshotRestoreCommand(ui) }
func newSnapshotInspect(ui cli.Ui) cli.Command { return newSnapshotInspectCommand(ui) }

// testRow is a row of the test state's table.
type testRow struct{ Key, Value string }

// testState is a Shoal state stream with three rows in a table "kvs" and
// one in "things".
func testState(t *testing.T) []byte {
	t.Helper()
	table := func(name string, typ byte) state.Table {
		return state.Table{
			Schema: &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}}}},
			New:  func() any { return new(testRow) },
			Type: typ,
		}
	}
	st, err := state.NewStore(table("kvs", 2), table("things", 110))
	if err != nil {
		t.Fatal(err)
	}
	tx := st.WriteTxn()
	for _, k := range []string{"a", "b", "c"} {
		if err := tx.Insert("kvs", &testRow{Key: k, Value: strings.Repeat("v", 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Insert("things", &testRow{Key: "x"}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	sn := st.Snapshot()
	defer sn.Release()
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testArchive is a valid archive of testState at index 42, term 3.
func testArchive(t *testing.T) []byte {
	t.Helper()
	return archiveOf(t, testState(t))
}

func archiveOf(t *testing.T, stateBin []byte) []byte {
	t.Helper()
	meta := &snapshot.Meta{Version: 1, ID: "3-42-1700000000000", Index: 42, Term: 3, Size: int64(len(stateBin))}
	var buf bytes.Buffer
	if err := snapshot.Write(&buf, meta, bytes.NewReader(stateBin)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dirFiles lists the names in dir.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestSnapshotSave(t *testing.T) {
	const path = "/v1/snapshot"
	good := testArchive(t)
	tests := []struct {
		name     string
		args     []string
		existing []byte // content of FILE before the run, nil for none
		route    route
		wantCode int
		wantOut  string
		wantErr  []string
		wantFile []byte // FILE's content after the run, nil for absent
		wantReqs []request
	}{
		{
			name:     "saved and verified",
			route:    route{body: string(good)},
			wantOut:  "Saved and verified snapshot to index 42\n",
			wantFile: good,
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "stale",
			args:     []string{"-stale"},
			route:    route{body: string(good)},
			wantOut:  "Saved and verified snapshot to index 42\n",
			wantFile: good,
			wantReqs: []request{{Method: "GET", Path: path, Query: "stale="}},
		},
		{
			name:     "replaces an existing file",
			existing: []byte("old"),
			route:    route{body: string(good)},
			wantOut:  "Saved and verified snapshot to index 42\n",
			wantFile: good,
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "truncated download is not kept",
			route:    route{body: string(good[:len(good)/2])},
			wantCode: 1,
			wantErr:  []string{"Error verifying snapshot file: invalid snapshot archive: truncated"},
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "truncated download leaves an existing file alone",
			existing: []byte("old"),
			route:    route{body: string(good[:len(good)-3])},
			wantCode: 1,
			wantErr:  []string{"Error verifying snapshot file"},
			wantFile: []byte("old"),
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "agent error",
			route:    route{status: http.StatusInternalServerError, body: "No cluster leader"},
			wantCode: 1,
			wantErr:  []string{"Error saving snapshot: Unexpected response code: 500 (No cluster leader)"},
			wantReqs: []request{{Method: "GET", Path: path}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"GET " + path: tt.route})
			dir := t.TempDir()
			file := filepath.Join(dir, "backup.snap")
			if tt.existing != nil {
				writeFile(t, dir, "backup.snap", tt.existing)
			}
			args := append(append([]string{"-http-addr", agent.addr()}, tt.args...), file)
			got := runCommand(t, newSnapshotSave, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
			data, err := os.ReadFile(file)
			switch {
			case tt.wantFile == nil && err == nil:
				t.Errorf("FILE was written (%d bytes), want absent", len(data))
			case tt.wantFile != nil && !bytes.Equal(data, tt.wantFile):
				t.Errorf("FILE has %d bytes (%v), want %d", len(data), err, len(tt.wantFile))
			}
			want := 0
			if tt.wantFile != nil {
				want = 1
			}
			if names := dirFiles(t, dir); len(names) != want {
				t.Errorf("directory holds %v: temporary files left behind", names)
			}
		})
	}
}

func TestSnapshotRestore(t *testing.T) {
	const path = "/v1/snapshot"
	good := testArchive(t)
	tests := []struct {
		name     string
		file     []byte // nil: FILE does not exist
		route    route
		wantCode int
		wantOut  string
		wantErr  []string
		wantReqs []request
	}{
		{
			name:     "restored",
			file:     good,
			wantOut:  "Restored snapshot\n",
			wantReqs: []request{{Method: "PUT", Path: path}},
		},
		{
			name:     "truncated file is refused before sending",
			file:     good[:len(good)-10],
			wantCode: 1,
			wantErr:  []string{"Error verifying snapshot file", "truncated"},
		},
		{
			name:     "missing file",
			wantCode: 1,
			wantErr:  []string{"Error opening snapshot file"},
		},
		{
			name:     "refused by the agent",
			file:     good,
			route:    route{status: http.StatusBadRequest, body: "Snapshot restore refused, nothing changed"},
			wantCode: 1,
			wantErr:  []string{"Error restoring snapshot: Unexpected response code: 400 (Snapshot restore refused, nothing changed)"},
			wantReqs: []request{{Method: "PUT", Path: path}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"PUT " + path: tt.route})
			dir := t.TempDir()
			file := filepath.Join(dir, "backup.snap")
			if tt.file != nil {
				writeFile(t, dir, "backup.snap", tt.file)
			}
			got := runCommand(t, newSnapshotRestore, "-http-addr", agent.addr(), file)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}

func TestSnapshotInspect(t *testing.T) {
	good := testArchive(t)
	tests := []struct {
		name     string
		file     []byte
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{
			name: "metadata and records",
			file: good,
			wantOut: "ID       3-42-1700000000000\n" +
				fmt.Sprintf("Size     %d\n", len(testState(t))) +
				"Index    42\n" +
				"Term     3\n" +
				"Version  1\n" +
				"\n" +
				"Type    Count  Size\n" +
				"----    ----   ----\n" +
				"kvs     3      348B\n" +
				"things  1      15B\n" +
				"----    ----   ----\n" +
				"Total          363B\n",
		},
		{
			name:     "not a Shoal state",
			file:     archiveOf(t, []byte("consul state")),
			wantCode: 1,
			wantOut: "ID       3-42-1700000000000\n" +
				"Size     12\n" +
				"Index    42\n" +
				"Term     3\n" +
				"Version  1\n",
			wantErr: []string{"Error reading the state in", "not a Shoal snapshot?"},
		},
		{
			name:     "corrupt",
			file:     append(bytes.Clone(good[:len(good)-8]), 0, 0, 0, 0, 0, 0, 0, 0),
			wantCode: 1,
			wantErr:  []string{"Error verifying snapshot file", "invalid snapshot archive"},
		},
		{
			name:     "two files is a usage error",
			file:     good,
			args:     []string{"other"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments", "Usage: shoal snapshot inspect"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "backup.snap", tt.file)
			got := runCommand(t, newSnapshotInspect, append([]string{file}, tt.args...)...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0KB"}, {2970, "2.9KB"},
		{5 << 20, "5.0MB"}, {3 << 30, "3.0GB"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := byteSize(tc.n); got != tc.want {
				t.Errorf("byteSize(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
