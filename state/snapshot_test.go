package state

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
)

// testRow is the row type of the test tables.
type testRow struct {
	Key   string
	Value string
}

func testTable(name string, typ byte) Table {
	return Table{
		Schema: &memdb.TableSchema{
			Name: name,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		New:  func() any { return new(testRow) },
		Type: typ,
	}
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(testTable("kvs", 2), testTable("things", 110))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fill writes rows to both tables at index 7.
func fill(t *testing.T, s *Store, rows ...string) {
	t.Helper()
	tx := s.WriteTxn()
	for _, k := range rows {
		for _, table := range []string{"kvs", "things"} {
			if err := tx.Insert(table, &testRow{Key: k, Value: table + ":" + k}); err != nil {
				t.Fatal(err)
			}
			if err := UpdateIndex(tx, table, 7); err != nil {
				t.Fatal(err)
			}
		}
	}
	tx.Commit()
}

func persist(t *testing.T, s *Store) []byte {
	t.Helper()
	sn := s.Snapshot()
	defer sn.Release()
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// v1Stream encodes rows in format 1, as Shoal wrote it before format 2.
func v1Stream(t *testing.T, rows ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, MsgpackHandle())
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(enc.Encode(formatV1))
	for _, k := range rows {
		must(enc.Encode("kvs"))
		must(enc.Encode(&testRow{Key: k, Value: "kvs:" + k}))
	}
	must(enc.Encode(""))
	return buf.Bytes()
}

func rowsOf(t *testing.T, s *Store, table string) []string {
	t.Helper()
	tx := s.ReadTxn()
	defer tx.Abort()
	it, err := tx.Get(table, "id")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*testRow).Value)
	}
	return out
}

func TestRestoreFormats(t *testing.T) {
	src := newTestStore(t)
	fill(t, src, "a", "b")
	tests := []struct {
		name       string
		stream     []byte
		wantKVs    []string
		wantThings []string
		wantIndex  uint64
	}{
		{"current format", persist(t, src), []string{"kvs:a", "kvs:b"}, []string{"things:a", "things:b"}, 7},
		{"format 1", v1Stream(t, "x"), []string{"kvs:x"}, nil, 0},
		{"empty store", persist(t, newTestStore(t)), nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newTestStore(t)
			fill(t, dst, "old")
			abandon := dst.AbandonCh()
			if err := dst.Restore(bytes.NewReader(tc.stream)); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			select {
			case <-abandon:
			default:
				t.Error("Restore did not close the abandon channel")
			}
			if got := rowsOf(t, dst, "kvs"); !equal(got, tc.wantKVs) {
				t.Errorf("kvs %v, want %v", got, tc.wantKVs)
			}
			if got := rowsOf(t, dst, "things"); !equal(got, tc.wantThings) {
				t.Errorf("things %v, want %v", got, tc.wantThings)
			}
			if got := dst.LatestIndex(); got != tc.wantIndex {
				t.Errorf("index %d, want %d", got, tc.wantIndex)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConsulReadsSnapshot reads a snapshot the way Consul's
// fsm.ReadSnapshot does (used by `consul snapshot inspect`): a header
// decoded into a struct with LastIndex, then each record's type byte read
// from the stream itself and its value decoded as interface{}, until EOF.
func TestConsulReadsSnapshot(t *testing.T) {
	src := newTestStore(t)
	fill(t, src, "a", "b", "c")
	r := bytes.NewReader(persist(t, src))
	dec := codec.NewDecoder(r, MsgpackHandle())
	var header struct{ LastIndex uint64 }
	if err := dec.Decode(&header); err != nil {
		t.Fatalf("header: %v", err)
	}
	if header.LastIndex != 7 {
		t.Errorf("LastIndex %d, want 7", header.LastIndex)
	}
	counts := map[byte]int{}
	typ := make([]byte, 1)
	for {
		if _, err := r.Read(typ); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var val any
		if err := dec.Decode(&val); err != nil {
			t.Fatalf("record of type %d: %v", typ[0], err)
		}
		if typ[0] == 2 {
			if m, ok := val.(map[string]any); !ok || m["Key"] == nil {
				t.Errorf("KVS record %#v has no Key (consul snapshot inspect -kvdetails reads it)", val)
			}
		}
		counts[typ[0]]++
	}
	want := map[byte]int{2: 3, 110: 3, 100: 2, recordEnd: 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("records of type %d: %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
}

func TestRestoreRejects(t *testing.T) {
	src := newTestStore(t)
	fill(t, src, "a", "b")
	good := persist(t, src)
	// The trailer is the last two bytes: recordEnd and the count.
	noTrailer := good[:len(good)-2]
	badCount := append(bytes.Clone(noTrailer), recordEnd, 0x01)
	unknownType := append(bytes.Clone(noTrailer), 0x33, 0xc0, recordEnd, 0x04)
	tests := []struct {
		name      string
		stream    []byte
		truncated bool
	}{
		{"empty", nil, true},
		{"truncated at a record boundary", noTrailer, true},
		{"truncated inside a record", good[:len(good)/2], true},
		{"format 1 without its end", v1Stream(t, "x")[:len(v1Stream(t, "x"))-1], true},
		{"trailer count differs", badCount, false},
		{"unknown record type", unknownType, false},
		{"unknown format", []byte{0x81, 0xab, 'S', 'h', 'o', 'a', 'l', 'F', 'o', 'r', 'm', 'a', 't', 0x09}, false},
		{"garbage", []byte{0xc1, 0x00}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newTestStore(t)
			fill(t, dst, "keep")
			abandon := dst.AbandonCh()
			err := dst.Restore(bytes.NewReader(tc.stream))
			if err == nil {
				t.Fatal("Restore accepted a bad stream")
			}
			if got := errors.Is(err, ErrSnapshotTruncated); got != tc.truncated {
				t.Errorf("errors.Is(%v, ErrSnapshotTruncated) = %v, want %v", err, got, tc.truncated)
			}
			if got := rowsOf(t, dst, "kvs"); !equal(got, []string{"kvs:keep"}) {
				t.Errorf("a failed restore changed the store: %v", got)
			}
			select {
			case <-abandon:
				t.Error("a failed restore closed the abandon channel")
			default:
			}
		})
	}
}

func TestNewStoreChecksTypes(t *testing.T) {
	tests := []struct {
		name   string
		tables []Table
		ok     bool
	}{
		{"distinct types", []Table{testTable("a", 2), testTable("b", 3)}, true},
		{"no type", []Table{testTable("a", 0)}, false},
		{"type of the trailer", []Table{testTable("a", recordEnd)}, false},
		{"shared type", []Table{testTable("a", 2), testTable("b", 2)}, false},
		{"same type as the index table", []Table{testTable("a", 100)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewStore(tc.tables...)
			if (err == nil) != tc.ok {
				t.Errorf("NewStore: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestScanSnapshot(t *testing.T) {
	src := newTestStore(t)
	fill(t, src, "a", "b", "c")
	good := persist(t, src)
	last, stats, err := ScanSnapshot(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if last != 7 {
		t.Errorf("LastIndex %d, want 7", last)
	}
	want := map[byte]int{2: 3, 100: 2, 110: 3}
	names := map[byte]string{2: "kvs", 100: TableIndex, 110: "things"}
	var total int64
	for _, st := range stats {
		if want[st.Type] != st.Count || st.Size <= 0 || st.Name != names[st.Type] {
			t.Errorf("type %d: %+v, want count %d, name %q", st.Type, st, want[st.Type], names[st.Type])
		}
		total += st.Size
		delete(want, st.Type)
	}
	if len(want) != 0 {
		t.Errorf("types missing: %v", want)
	}
	// Records take everything but the header and the 2-byte trailer.
	var hdr bytes.Buffer
	if err := codec.NewEncoder(&hdr, MsgpackHandle()).Encode(&snapshotHeader{LastIndex: 7, ShoalFormat: formatCurrent, TableNames: stringKeys(names)}); err != nil {
		t.Fatal(err)
	}
	if want := int64(len(good) - hdr.Len() - 2); total != want {
		t.Errorf("record sizes sum to %d, want %d", total, want)
	}

	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"truncated", good[:len(good)-2]},
		{"format 1", v1Stream(t, "x")},
		{"garbage", []byte{0xc1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ScanSnapshot(bytes.NewReader(tc.stream)); err == nil {
				t.Error("ScanSnapshot accepted a bad stream")
			}
		})
	}
}

func stringKeys(m map[byte]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strconv.Itoa(int(k))] = v
	}
	return out
}

// TestSnapshotHeaderReadsAsConsuls: Consul's snapshot reader decodes the
// header into its SnapshotHeader{LastIndex} with a handle that reads every
// map with string keys, skipping Shoal's other fields; a header map with
// integer keys broke `consul snapshot inspect`. Headers written by the
// first builds of format 2 (integer keys) still name their tables.
func TestSnapshotHeaderReadsAsConsuls(t *testing.T) {
	names := map[byte]string{2: "kvs", 100: TableIndex}
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, MsgpackHandle())
	if err := enc.Encode(&snapshotHeader{LastIndex: 9, ShoalFormat: formatCurrent, TableNames: stringKeys(names)}); err != nil {
		t.Fatal(err)
	}
	var consuls struct{ LastIndex uint64 }
	if err := codec.NewDecoder(bytes.NewReader(buf.Bytes()), MsgpackHandle()).Decode(&consuls); err != nil || consuls.LastIndex != 9 {
		t.Fatalf("read as Consul's header: %+v, %v", consuls, err)
	}
	var generic any // what Consul's inspect does with each value
	if err := codec.NewDecoder(bytes.NewReader(buf.Bytes()), MsgpackHandle()).Decode(&generic); err != nil {
		t.Fatalf("read as a generic value: %v", err)
	}

	buf.Reset()
	if err := enc.Encode(&snapshotHeader{LastIndex: 9, ShoalFormat: formatCurrent, Tables: names}); err != nil {
		t.Fatal(err)
	}
	var old snapshotHeader
	if err := codec.NewDecoder(bytes.NewReader(buf.Bytes()), MsgpackHandle()).Decode(&old); err != nil {
		t.Fatal(err)
	}
	if old.tableName(2) != "kvs" || old.tableName(100) != TableIndex || old.tableName(7) != "" {
		t.Errorf("old header names %v", old.Tables)
	}
}
