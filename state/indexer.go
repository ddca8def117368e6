package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// StringIndex is go-memdb's StringFieldIndex with the field read by a
// function instead of found by name through reflection, which memdb does
// for every index of every row it inserts (five times for a KV write that
// replaces a key: the primary key, then both indexes of the new row and of
// the one it replaces). Keys are the same bytes (the value and
// a zero terminator; an empty value is missing), and FromArgs and
// PrefixFromArgs are memdb's own, so queries are unchanged.
type StringIndex[T any] struct {
	memdb.StringFieldIndex
	// Of returns the indexed field of a row.
	Of func(*T) string
}

// FromObject implements memdb.SingleIndexer.
func (x *StringIndex[T]) FromObject(obj any) (bool, []byte, error) {
	row, ok := obj.(*T)
	if !ok {
		return false, nil, fmt.Errorf("state: string index on %T given %T", (*T)(nil), obj)
	}
	v := x.Of(row)
	if v == "" {
		return false, nil, nil
	}
	key := make([]byte, len(v)+1)
	copy(key, v)
	return true, key, nil
}
