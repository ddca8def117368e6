package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
)

// KVS serves the key/value store.
type KVS struct{ s *Server }

// Apply performs a KV write; reply reports whether it took effect. The
// leader stamps the request with its clock, which lock acquisition compares
// with lock delays.
func (e *KVS) Apply(args *rpcapi.KVSRequest, reply *bool) error {
	if done, err := e.s.forward("KVS.Apply", args, args, reply); done {
		return err
	}
	args.Now = time.Now().UnixNano()
	if b := e.s.kvBatcher(); b != nil && kv.Batchable(args.Op) {
		ok, err := b.apply(&args.Request)
		*reply = ok
		return err
	}
	res, err := e.s.raftApply(fsm.KVSRequestType, &args.Request)
	if err != nil {
		return err
	}
	ok, _ := res.(bool)
	*reply = ok
	return nil
}

// Group commit of KV writes on the leader: concurrent plain writes
// (kv.Batchable) share one Raft entry of up to maxKVBatch writes, so a
// busy leader appends, replicates and applies one entry, in one memdb
// transaction, where it would have handled dozens. While
// maxKVBatchesInFlight entries are in Raft, new writes queue and form the
// next batch; an idle leader sends a lone write at once.
//
// One entry in flight makes the batches as large as the load: measured
// side by side (tools/sidebyside, 32 clients), 1 against 2 and 4 entries
// in flight gave 1.3× and 1.2× the puts per second for 13 % and 19 % less
// server CPU per put, with the same p99. Each write still waits for its
// own entry to be stored on a majority.
const (
	maxKVBatch           = 256
	maxKVBatchesInFlight = 1
)

type kvBatcher struct {
	s        *Server
	ch       chan *pendingKV
	inflight chan struct{}

	mu     sync.RWMutex // orders enqueues before closing
	closed bool
}

type pendingKV struct {
	req  *kv.Request
	ok   bool
	err  error
	done chan struct{}
}

func newKVBatcher(s *Server) *kvBatcher {
	return &kvBatcher{s: s, ch: make(chan *pendingKV, 1024), inflight: make(chan struct{}, maxKVBatchesInFlight)}
}

// apply submits one write and waits for its result. If leadership is
// lost first it returns errNotLeader, which the caller's forwarding
// retries on the new leader.
func (b *kvBatcher) apply(req *kv.Request) (bool, error) {
	p := &pendingKV{req: req, done: make(chan struct{})}
	queued := false
	b.mu.RLock()
	if !b.closed {
		select {
		case b.ch <- p:
			queued = true
		default: // the queue is full: send this one alone
		}
	}
	b.mu.RUnlock()
	if !queued {
		res, err := b.s.raftApply(fsm.KVSRequestType, req)
		ok, _ := res.(bool)
		return ok, err
	}
	<-p.done
	return p.ok, p.err
}

// run forms and sends batches until stop is closed, then fails what is
// still queued.
func (b *kvBatcher) run(stop chan struct{}) {
	for {
		select {
		case <-stop:
			b.close()
			return
		case p := <-b.ch:
			select {
			case b.inflight <- struct{}{}:
			case <-stop:
				b.finish([]*pendingKV{p}, nil, errNotLeader)
				b.close()
				return
			}
			batch := []*pendingKV{p}
		fill:
			for len(batch) < maxKVBatch {
				select {
				case q := <-b.ch:
					batch = append(batch, q)
				default:
					break fill
				}
			}
			go func() {
				defer func() { <-b.inflight }()
				b.send(batch)
			}()
		}
	}
}

func (b *kvBatcher) send(batch []*pendingKV) {
	if len(batch) == 1 {
		res, err := b.s.raftApply(fsm.KVSRequestType, batch[0].req)
		ok, _ := res.(bool)
		b.finish(batch, []bool{ok}, err)
		return
	}
	req := kv.BatchRequest{Ops: make([]kv.Request, len(batch))}
	for i, p := range batch {
		req.Ops[i] = *p.req
	}
	res, err := b.s.raftApply(fsm.KVSBatchRequestType, &req)
	oks, _ := res.([]bool)
	if err == nil && len(oks) != len(batch) {
		err = fmt.Errorf("kv batch: %d results for %d writes", len(oks), len(batch))
	}
	b.finish(batch, oks, err)
}

func (b *kvBatcher) finish(batch []*pendingKV, oks []bool, err error) {
	for i, p := range batch {
		if err == nil {
			p.ok = oks[i]
		}
		p.err = err
		close(p.done)
	}
}

// close stops accepting writes and fails the queued ones.
func (b *kvBatcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	for {
		select {
		case p := <-b.ch:
			b.finish([]*pendingKV{p}, nil, errNotLeader)
		default:
			return
		}
	}
}

// Get reads one key. A missing key answers no entries and an index that
// still moves forward (its tombstone's, or the reaped floor).
func (e *KVS) Get(args *rpcapi.KeyRequest, reply *rpcapi.IndexedEntries) error {
	if done, err := e.s.forward("KVS.Get", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, ent, err := kv.Get(tx, ws, args.Key)
		reply.Entries = nil
		if ent != nil {
			reply.Entries = []*kv.Entry{ent}
		}
		return idx, err
	})
}

// List reads every key under a prefix.
func (e *KVS) List(args *rpcapi.KeyRequest, reply *rpcapi.IndexedEntries) error {
	if done, err := e.s.forward("KVS.List", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, ents, err := kv.List(tx, ws, args.Key)
		reply.Entries = ents
		return idx, err
	})
}

// ListKeys lists the keys under a prefix, optionally cut at a separator.
func (e *KVS) ListKeys(args *rpcapi.KeyListRequest, reply *rpcapi.IndexedKeyList) error {
	if done, err := e.s.forward("KVS.ListKeys", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, keys, err := kv.Keys(tx, ws, args.Prefix, args.Seperator)
		reply.Keys = keys
		return idx, err
	})
}
