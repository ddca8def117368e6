package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Snapshot formats. Raft keeps snapshots on disk across upgrades, so
// Restore reads every format ever written; Persist writes the newest.
//
// Format 1: the msgpack integer 1, then pairs (table name, row), closed by
// an empty table name.
//
// Format 2, framed as Consul frames its FSM snapshots so that
// `consul snapshot inspect` reads Shoal's: a msgpack map header
// {"LastIndex": highest index, "ShoalFormat": 2, "TableNames": {type as a
// decimal string: table name}}, then records of one type
// byte (the table's Table.Type) and the msgpack row, closed by a record of
// type recordEnd whose value is the number of records before it. Type
// bytes stay below 128, so they are also one-byte msgpack integers.
const (
	formatV1      = 1
	formatCurrent = 2
)

// recordEnd is the type byte of format 2's closing record; it lets a
// snapshot truncated at a record boundary be told from a complete one.
const recordEnd byte = 127

// snapshotHeader is format 2's header. Consul's SnapshotHeader has the
// same LastIndex field and ignores the others.
type snapshotHeader struct {
	LastIndex   uint64
	ShoalFormat int
	// TableNames names the tables by record type (as a decimal string),
	// for readers that have no schema (`shoal snapshot inspect`); Restore
	// goes by type alone. Its keys are strings because Consul's decoder
	// reads every map with string keys: integer keys made `consul snapshot
	// inspect` fail ("readContainerLen: Unrecognized descriptor byte").
	TableNames map[string]string `codec:",omitempty"`
	// Tables is TableNames as the first builds of format 2 wrote it; read,
	// never written.
	Tables map[byte]string `codec:",omitempty"`
}

// tableName is the name of the table of record type typ, "" if unknown.
func (h *snapshotHeader) tableName(typ byte) string {
	if n, ok := h.TableNames[strconv.Itoa(int(typ))]; ok {
		return n
	}
	return h.Tables[typ]
}

// msgpackHandle is built once and shared: a codec handle caches the
// encoding plan of every type it meets, so a new handle per command (or
// per RPC connection) would rebuild that cache each time. A handle is safe
// for concurrent use once configured; nothing changes it afterwards.
var msgpackHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	h.WriteExt = true
	h.MapType = reflect.TypeOf(map[string]any(nil))
	return h
}()

// MsgpackHandle is the codec used for snapshots, Raft commands and server
// RPC. It is shared: callers must not change its settings.
func MsgpackHandle() *codec.MsgpackHandle { return msgpackHandle }

// Snapshot is a point-in-time read view of the whole store, taken by the FSM
// and persisted by Raft in the background.
type Snapshot struct {
	tables []Table
	tx     *memdb.Txn
}

// Snapshot starts a consistent read view; Persist writes it; Release frees it.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{tables: s.tables, tx: s.ReadTxn()}
}

// Persist writes every row of every table in the current format.
func (sn *Snapshot) Persist(w io.Writer) error {
	enc := codec.NewEncoder(w, MsgpackHandle())
	hdr := snapshotHeader{LastIndex: MaxIndex(sn.tx), ShoalFormat: formatCurrent, TableNames: map[string]string{}}
	for _, t := range sn.tables {
		hdr.TableNames[strconv.Itoa(int(t.Type))] = t.Schema.Name
	}
	if err := enc.Encode(&hdr); err != nil {
		return fmt.Errorf("state: snapshot header: %w", err)
	}
	var records uint64
	for _, t := range sn.tables {
		it, err := sn.tx.Get(t.Schema.Name, "id")
		if err != nil {
			return fmt.Errorf("state: snapshot %s: %w", t.Schema.Name, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if err := enc.Encode(t.Type); err != nil {
				return fmt.Errorf("state: snapshot %s: %w", t.Schema.Name, err)
			}
			if err := enc.Encode(raw); err != nil {
				return fmt.Errorf("state: snapshot %s: %w", t.Schema.Name, err)
			}
			records++
		}
	}
	if err := enc.Encode(recordEnd); err != nil {
		return fmt.Errorf("state: snapshot trailer: %w", err)
	}
	if err := enc.Encode(records); err != nil {
		return fmt.Errorf("state: snapshot trailer: %w", err)
	}
	return nil
}

// Release ends the read view.
func (sn *Snapshot) Release() { sn.tx.Abort() }

// ErrSnapshotTruncated means a snapshot stream ended before its trailer.
var ErrSnapshotTruncated = errors.New("state: restore: snapshot truncated")

// Restore replaces the whole database with the snapshot read from r (any
// format), then closes the old abandon channel so blocked queries re-run
// against the new data. The snapshot is decoded into a new database that
// replaces the old one only once complete: on error the store is left
// unchanged and the abandon channel open.
func (s *Store) Restore(r io.Reader) error {
	db, err := newDB(s.tables)
	if err != nil {
		return err
	}
	br := bufio.NewReader(r)
	first, err := br.Peek(1)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotTruncated, err)
	}
	dec := codec.NewDecoder(br, MsgpackHandle())
	tx := db.Txn(true)
	defer tx.Abort()
	if first[0] == formatV1 {
		err = s.restoreV1(tx, dec)
	} else {
		err = s.restoreV2(tx, dec)
	}
	if err != nil {
		return err
	}
	tx.Commit()

	s.mu.Lock()
	old := s.abandonCh
	s.db, s.abandonCh = db, make(chan struct{})
	s.mu.Unlock()
	close(old)
	return nil
}

func (s *Store) restoreV1(tx *memdb.Txn, dec *codec.Decoder) error {
	byName := make(map[string]Table, len(s.tables))
	for _, t := range s.tables {
		byName[t.Schema.Name] = t
	}
	var version int
	if err := dec.Decode(&version); err != nil {
		return fmt.Errorf("state: restore header: %w", err)
	}
	for {
		var name string
		if err := dec.Decode(&name); err != nil {
			return decodeErr(err)
		}
		if name == "" {
			return nil
		}
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("state: restore: unknown table %q", name)
		}
		if err := restoreRow(tx, dec, t); err != nil {
			return err
		}
	}
}

func (s *Store) restoreV2(tx *memdb.Txn, dec *codec.Decoder) error {
	byType := make(map[byte]Table, len(s.tables))
	for _, t := range s.tables {
		byType[t.Type] = t
	}
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return fmt.Errorf("state: restore header: %w", err)
	}
	if hdr.ShoalFormat != formatCurrent {
		return fmt.Errorf("state: restore: unsupported snapshot format %d", hdr.ShoalFormat)
	}
	var records uint64
	for {
		var typ byte
		if err := dec.Decode(&typ); err != nil {
			return decodeErr(err)
		}
		if typ == recordEnd {
			var n uint64
			if err := dec.Decode(&n); err != nil {
				return decodeErr(err)
			}
			if n != records {
				return fmt.Errorf("state: restore: trailer counts %d records, read %d", n, records)
			}
			return nil
		}
		t, ok := byType[typ]
		if !ok {
			return fmt.Errorf("state: restore: unknown record type %d", typ)
		}
		if err := restoreRow(tx, dec, t); err != nil {
			return err
		}
		records++
	}
}

func restoreRow(tx *memdb.Txn, dec *codec.Decoder, t Table) error {
	row := t.New()
	if err := dec.Decode(row); err != nil {
		return fmt.Errorf("state: restore %s: %w", t.Schema.Name, decodeErr(err))
	}
	if err := tx.Insert(t.Schema.Name, row); err != nil {
		return fmt.Errorf("state: restore %s: %w", t.Schema.Name, err)
	}
	return nil
}

func decodeErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", ErrSnapshotTruncated, err)
	}
	return fmt.Errorf("state: restore: %w", err)
}

// RecordStats counts the records of one type in a snapshot stream.
type RecordStats struct {
	Type byte
	// Name is the table's name as the snapshot's header gives it ("" if
	// it does not).
	Name  string
	Count int
	// Size is the bytes the records take in the stream.
	Size int64
}

// ScanSnapshot walks a snapshot stream of the current format without
// building a store, as `shoal snapshot inspect` does, and returns the
// header's LastIndex and per-type statistics in type order. It returns an
// error if the stream is not complete and well-formed. Format 1 streams,
// which only Raft's own snapshots of older servers hold, are refused.
func ScanSnapshot(r io.Reader) (lastIndex uint64, stats []RecordStats, err error) {
	cr := &countingReader{r: bufio.NewReader(r)}
	dec := codec.NewDecoder(cr, MsgpackHandle())
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return 0, nil, fmt.Errorf("state: scan header: %w", err)
	}
	if hdr.ShoalFormat != formatCurrent {
		return 0, nil, fmt.Errorf("state: scan: unsupported snapshot format %d", hdr.ShoalFormat)
	}
	byType := map[byte]*RecordStats{}
	var records uint64
	for {
		start := cr.n
		var typ byte
		if err := dec.Decode(&typ); err != nil {
			return 0, nil, decodeErr(err)
		}
		if typ == recordEnd {
			var n uint64
			if err := dec.Decode(&n); err != nil {
				return 0, nil, decodeErr(err)
			}
			if n != records {
				return 0, nil, fmt.Errorf("state: scan: trailer counts %d records, read %d", n, records)
			}
			break
		}
		var row codec.Raw
		if err := dec.Decode(&row); err != nil {
			return 0, nil, decodeErr(err)
		}
		st := byType[typ]
		if st == nil {
			st = &RecordStats{Type: typ, Name: hdr.tableName(typ)}
			byType[typ] = st
		}
		st.Count++
		st.Size += cr.n - start
		records++
	}
	for t := 0; t < 256; t++ {
		if st := byType[byte(t)]; st != nil {
			stats = append(stats, *st)
		}
	}
	return hdr.LastIndex, stats, nil
}

// countingReader counts the bytes the decoder has taken. It is a
// ByteScanner over a bufio.Reader, so the decoder takes bytes one by one
// and the count is exact.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func (c *countingReader) UnreadByte() error {
	err := c.r.UnreadByte()
	if err == nil {
		c.n--
	}
	return err
}
