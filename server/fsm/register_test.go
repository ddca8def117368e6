package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/kv"
)

// TestRegisterDecodesEveryCommand checks register's contract: every
// registered command decodes its body in one place, so a body that does
// not decode as the command's type is an error naming the command, and
// the store is unchanged.
func TestRegisterDecodesEveryCommand(t *testing.T) {
	f := newFSM(t)
	for typ := range f.commands {
		t.Run(fmt.Sprintf("type %d", typ), func(t *testing.T) {
			before := f.State().LatestIndex()
			// A msgpack string where every command expects a map.
			res := f.Apply(&raft.Log{Index: 1000, Type: raft.LogCommand, Data: []byte{byte(typ), 0xa3, 'b', 'a', 'd'}})
			err, ok := res.(error)
			if !ok || !strings.HasPrefix(err.Error(), "fsm: decode ") {
				t.Fatalf("type %d with a bad body: %v, want a decode error", typ, res)
			}
			if after := f.State().LatestIndex(); after != before {
				t.Fatalf("type %d: a rejected command moved the index from %d to %d", typ, before, after)
			}
		})
	}
}

// TestRegisterRejectsDuplicateType checks that two domains claiming one
// command type stop the FSM from being built.
func TestRegisterRejectsDuplicateType(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering a command type twice did not panic")
		}
	}()
	c := commands{}
	apply := func(tx *memdb.Txn, idx uint64, req *kv.Request) (any, error) { return nil, errors.New("unused") }
	register(c, KVSRequestType, "kv", apply)
	register(c, KVSRequestType, "kv again", apply)
}
