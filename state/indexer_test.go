package state

import (
	"bytes"
	"slices"
	"testing"

	"github.com/hashicorp/go-memdb"
)

type indexedRow struct {
	Name  string
	Tag   string
	Other int
}

// StringIndex builds the very keys memdb's StringFieldIndex builds, so a
// table can switch indexers without changing a lookup, a prefix query or a
// snapshot restored into it.
func TestStringIndexMatchesStringFieldIndex(t *testing.T) {
	typed := &StringIndex[indexedRow]{Of: func(r *indexedRow) string { return r.Name }}
	byName := &memdb.StringFieldIndex{Field: "Name"}
	for _, name := range []string{"", "a", "web/1", "ключ/значение", "nul\x00inside", "UPPER"} {
		row := &indexedRow{Name: name, Other: 7}
		okT, keyT, errT := typed.FromObject(row)
		okR, keyR, errR := byName.FromObject(row)
		if okT != okR || !bytes.Equal(keyT, keyR) || errT != nil || errR != nil {
			t.Errorf("%q: typed (%v, %q, %v), reflection (%v, %q, %v)", name, okT, keyT, errT, okR, keyR, errR)
		}
		argT, errT := typed.FromArgs(name)
		argR, errR := byName.FromArgs(name)
		if !bytes.Equal(argT, argR) || errT != nil || errR != nil {
			t.Errorf("%q args: typed (%q, %v), reflection (%q, %v)", name, argT, errT, argR, errR)
		}
		preT, _ := typed.PrefixFromArgs(name)
		preR, _ := byName.PrefixFromArgs(name)
		if !bytes.Equal(preT, preR) {
			t.Errorf("%q prefix: typed %q, reflection %q", name, preT, preR)
		}
	}
	if ok, _, err := typed.FromObject(&IndexEntry{Key: "kvs"}); ok || err == nil {
		t.Errorf("a row of another type gave ok %v, err %v; want an error", ok, err)
	}
}

// Rows indexed by StringIndex are found by key and by prefix; a row
// without its primary key is refused, one whose value is empty is missing
// from an AllowMissing index, and an update moves the row in every index.
func TestStringIndexInMemdb(t *testing.T) {
	db, err := memdb.NewMemDB(&memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		"rows": {Name: "rows", Indexes: map[string]*memdb.IndexSchema{
			"id":  {Name: "id", Unique: true, Indexer: &StringIndex[indexedRow]{Of: func(r *indexedRow) string { return r.Name }}},
			"tag": {Name: "tag", AllowMissing: true, Indexer: &StringIndex[indexedRow]{Of: func(r *indexedRow) string { return r.Tag }}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tx := db.Txn(true)
	for _, r := range []*indexedRow{{Name: "web/1", Tag: "a"}, {Name: "web/2"}, {Name: "db/1", Tag: "a"}} {
		if err := tx.Insert("rows", r); err != nil {
			t.Fatal(err)
		}
	}
	// Retagging a row moves it in the tag index.
	if err := tx.Insert("rows", &indexedRow{Name: "db/1", Tag: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Insert("rows", &indexedRow{}); err == nil {
		t.Error("a row without its primary key was inserted")
	}
	tx.Commit()
	rtx := db.Txn(false)
	if raw, err := rtx.First("rows", "id", "web/2"); err != nil || raw == nil || raw.(*indexedRow).Name != "web/2" {
		t.Errorf("First(web/2) = %v, %v", raw, err)
	}
	it, err := rtx.Get("rows", "id_prefix", "web/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		got = append(got, raw.(*indexedRow).Name)
	}
	if len(got) != 2 || got[0] != "web/1" || got[1] != "web/2" {
		t.Errorf("prefix web/ = %v, want [web/1 web/2]", got)
	}
	for tag, want := range map[string][]string{"a": {"web/1"}, "b": {"db/1"}, "": nil} {
		it, err := rtx.Get("rows", "tag", tag)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for raw := it.Next(); raw != nil; raw = it.Next() {
			got = append(got, raw.(*indexedRow).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("tag %q = %v, want %v", tag, got, want)
		}
	}
}
