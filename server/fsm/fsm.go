// Package fsm is Shoal's Raft finite state machine: it decodes typed
// commands from the Raft log and applies them to the state store, one write
// transaction per command, through a dispatch table.
//
// Apply is deterministic: no clock, no I/O, no context. Every server applies
// the same log to the same result.
package fsm

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/state"
)

// MessageType tags each Raft log entry with the command it carries.
type MessageType uint8

// Command types are persisted in Raft logs: never renumber, only add. Each
// domain declares its own in its file, within its range:
//
//	catalog.go   0, 1, 10-19
//	kv.go        2, 20-29 (KV, sessions, transactions)
//	sched.go     30-39
//	overlay.go   40-49
//	acl.go       50-59

// IgnoreUnknownTypeFlag marks a command that servers which do not know its
// type may skip (as Consul does); without it an unknown type is fatal,
// because skipping would let servers diverge.
const IgnoreUnknownTypeFlag MessageType = 128

// Encode serialises a command for raft.Apply.
func Encode(t MessageType, msg any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(byte(t))
	if err := codec.NewEncoder(&buf, state.MsgpackHandle()).Encode(msg); err != nil {
		return nil, fmt.Errorf("fsm: encode %d: %w", t, err)
	}
	return buf.Bytes(), nil
}

// command decodes one command's body and applies it inside tx, returning
// its result. Commands are built by register, never by hand.
type command func(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error)

// commands is the dispatch table: command type to command.
type commands map[MessageType]command

// register adds the command of type t, whose body is a T, to c: the body
// is decoded here, once for every command, and apply gets it typed. name
// labels decode errors. A type registered twice is a programming error
// and panics.
func register[T any](c commands, t MessageType, name string, apply func(tx *memdb.Txn, idx uint64, req *T) (any, error)) {
	if _, dup := c[t]; dup {
		panic(fmt.Sprintf("fsm: command type %d registered twice", t))
	}
	c[t] = func(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
		var req T
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("fsm: decode %s: %w", name, err)
		}
		return apply(tx, idx, &req)
	}
}

// newCommands builds the dispatch table from each domain's registrations.
func newCommands(domains ...func(commands)) commands {
	c := commands{}
	for _, register := range domains {
		register(c)
	}
	return c
}

// FSM implements raft.FSM over a state.Store.
type FSM struct {
	logger   hclog.Logger
	store    *state.Store
	commands commands
}

// New builds an FSM over an empty store holding every table.
func New(logger hclog.Logger) (*FSM, error) {
	tables := append(append(append(kv.Tables(), catalog.Tables()...), allocs.Tables()...), acl.Tables()...)
	store, err := state.NewStore(tables...)
	if err != nil {
		return nil, err
	}
	return &FSM{
		logger:   logger.Named("fsm"),
		store:    store,
		commands: newCommands(catalogCommands, kvCommands, schedCommands, aclCommands),
	}, nil
}

// State is the store the FSM writes; readers use it directly.
func (f *FSM) State() *state.Store { return f.store }

// Apply implements raft.FSM. It returns the command's result, or an error
// value when the command was rejected (the store is then unchanged).
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) == 0 {
		return nil
	}
	t := MessageType(l.Data[0])
	cmd, ok := f.commands[t&^IgnoreUnknownTypeFlag]
	if !ok {
		if t&IgnoreUnknownTypeFlag != 0 {
			f.logger.Warn("ignoring unknown command type", "type", t, "index", l.Index)
			return nil
		}
		panic(fmt.Errorf("fsm: unknown command type %d at index %d", t, l.Index))
	}
	dec := codec.NewDecoderBytes(l.Data[1:], state.MsgpackHandle())
	tx := f.store.WriteTxn()
	res, err := cmd(tx, l.Index, dec)
	if err != nil {
		tx.Abort()
		return err
	}
	tx.Commit()
	return res
}

// Snapshot implements raft.FSM: a memdb read view, persisted later by Raft.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{f.store.Snapshot()}, nil
}

// Restore implements raft.FSM, replacing all state with the snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.store.Restore(rc)
}

// VerifySnapshot decodes a snapshot stream (what Persist writes) into a
// scratch store and returns an error if Restore would reject it. The FSM's
// own state is not touched. Raft panics when an FSM restore fails during a
// user restore, so servers call this before raft.Restore.
func VerifySnapshot(r io.Reader) error {
	scratch, err := New(hclog.NewNullLogger())
	if err != nil {
		return err
	}
	return scratch.store.Restore(r)
}

type snapshot struct{ sn *state.Snapshot }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.sn.Persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.sn.Release() }
