package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/go-memdb"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/state"
)

// errNotReady means this leader has not yet applied its predecessors' log.
var errNotReady = errors.New("leader not ready for consistent reads")

// forward decides where a request runs. It returns handled=false when this
// server must serve it; otherwise it has forwarded it to the leader (and
// returns the leader's error). It waits up to RPCHoldTimeout for a leader.
func (s *Server) forward(method string, info rpcapi.RPCInfo, args, reply any) (handled bool, err error) {
	if info.IsRead() && info.AllowStaleRead() {
		return false, nil
	}
	deadline := time.Now().Add(s.cfg.RPCHoldTimeout)
	for attempt := 0; ; attempt++ {
		if s.IsLeader() {
			if !info.IsRead() || s.readyForReads.Load() {
				return false, nil
			}
		} else if addr, _ := s.raft.LeaderWithID(); addr != "" {
			ctx, cancel := callContext(context.Background(), args)
			err := s.pool.RPC(ctx, string(addr), method, args, reply)
			cancel()
			if err == nil || !retryable(info, err) {
				return true, err
			}
		}
		if time.Now().After(deadline) {
			return true, rpcapi.ErrNoLeader
		}
		select {
		case <-time.After(retryDelay(attempt)):
		case <-s.shutdownCh:
			return true, errShutdown
		}
	}
}

// isBlockingQuery reports whether args ask to block until data changes.
func isBlockingQuery(args any) bool {
	q, ok := args.(rpcapi.Query)
	return ok && q.Options().MinQueryIndex > 0
}

// callContext bounds a forwarded call: blocking queries get their wait plus
// slack, everything else the RPC timeout.
func callContext(ctx context.Context, args any) (context.Context, context.CancelFunc) {
	d := rpcTimeout
	if isBlockingQuery(args) {
		o := args.(rpcapi.Query).Options()
		d = maxQueryTime(o) + maxQueryTime(o)/16 + rpcTimeout
	}
	return context.WithTimeout(ctx, d)
}

// retryable reports whether a failed forward may be sent again: a leader
// change always; a broken connection for reads, and for writes only when
// nothing was sent.
func retryable(info rpcapi.RPCInfo, err error) bool {
	if rpcapi.IsErrNoLeader(err) || errors.Is(err, errDial) || rpcapi.IsRemote(err, errNotLeader) || rpcapi.IsRemote(err, errNotReady) {
		return true
	}
	return info.IsRead() && !isServerError(err)
}

func retryDelay(attempt int) time.Duration {
	base := time.Duration(min(10<<attempt, 200)) * time.Millisecond
	return base/2 + rand.N(base/2+1)
}

// maxQueryTime is how long a blocking query with options o blocks
// (rpcapi.QueryWait), before its jitter.
func maxQueryTime(o *rpcapi.QueryOptions) time.Duration { return rpcapi.QueryWait(o.MaxQueryTime) }

// queryFn runs one read against the store, adds what it read to ws and
// fills in the reply (including meta.Index).
type queryFn func(ws memdb.WatchSet, st *state.Store) error

// txnQueryFn runs one read in tx, adds what it read to ws, fills in the
// reply and returns the index of the data it read (meta.Index).
type txnQueryFn func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error)

// readQuery is the read endpoints' blockingQuery: each run gets one read
// transaction of the current store, aborted when fn returns, and fn's
// index becomes meta.Index (also when fn fails, as a reply carries it).
func (s *Server) readQuery(opts *rpcapi.QueryOptions, meta *rpcapi.QueryMeta, fn txnQueryFn) error {
	return s.blockingQuery(opts, meta, func(ws memdb.WatchSet, st *state.Store) error {
		tx := st.ReadTxn()
		defer tx.Abort()
		idx, err := fn(ws, tx)
		meta.Index = idx
		return err
	})
}

// blockingQuery serves a read: it verifies leadership for consistent
// reads, then runs fn, and while the result's index has not passed the
// caller's MinQueryIndex, waits on the watch set for a change and runs it
// again — never polling.
func (s *Server) blockingQuery(opts *rpcapi.QueryOptions, meta *rpcapi.QueryMeta, fn queryFn) error {
	metrics.IncrCounter(metricRPCQuery, 1)
	var ctx context.Context = context.Background()
	if !opts.AllowStale {
		// forward() sent this read here because this server leads; prove
		// that no newer leader exists (readgate.go).
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		err := s.reads.wait(rctx, opts.RequireConsistent)
		cancel()
		if err != nil {
			return err
		}
	}
	if opts.MinQueryIndex > 0 {
		wait := maxQueryTime(opts)
		wait += rand.N(wait/16 + 1)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
		go func() {
			select {
			case <-s.shutdownCh:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	for {
		// Only a query that may block needs to know what it read: the
		// others run with a nil watch set, which records nothing.
		var ws memdb.WatchSet
		st := s.State()
		abandon := st.AbandonCh()
		if opts.MinQueryIndex > 0 {
			ws = memdb.NewWatchSet()
			ws.Add(abandon)
		}
		if err := fn(ws, st); err != nil {
			return err
		}
		s.setQueryMeta(opts, meta)
		if meta.Index < 1 {
			meta.Index = 1
		}
		if opts.MinQueryIndex == 0 || meta.Index > opts.MinQueryIndex {
			return nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return nil // timed out: answer with the current result
		}
		select {
		case <-abandon:
			// A snapshot restore replaced the state: its indexes may be
			// lower than the caller's, so re-running the query could block
			// until the timeout. Answer now, as Consul does, with the
			// restored state; a watcher that sees the index go backwards
			// starts again from it.
			return s.rerunAfterRestore(opts, meta, fn)
		default:
		}
	}
}

func (s *Server) setQueryMeta(opts *rpcapi.QueryOptions, meta *rpcapi.QueryMeta) {
	leader, _ := s.raft.LeaderWithID()
	meta.KnownLeader = leader != ""
	switch {
	case s.IsLeader():
		meta.LastContact = 0
	default:
		meta.LastContact = time.Since(s.raft.LastContact())
	}
	switch {
	case opts.AllowStale:
		meta.ConsistencyLevel = rpcapi.ConsistencyStale
	case opts.RequireConsistent:
		meta.ConsistencyLevel = rpcapi.ConsistencyConsistent
	default:
		meta.ConsistencyLevel = rpcapi.ConsistencyDefault
	}
}

// rerunAfterRestore answers a blocked query woken by a snapshot restore:
// one more run against the new state, without blocking.
func (s *Server) rerunAfterRestore(opts *rpcapi.QueryOptions, meta *rpcapi.QueryMeta, fn queryFn) error {
	ws := memdb.NewWatchSet()
	if err := fn(ws, s.State()); err != nil {
		return err
	}
	s.setQueryMeta(opts, meta)
	if meta.Index < 1 {
		meta.Index = 1
	}
	return nil
}
