package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
)

// workload runs the register and lock clients of a run.
type workload struct {
	cfg     Config
	rec     *Recorder
	servers []*proccluster.Proc
	keys    []string // register keys, under the run's prefix
	lockKey string
	// readQuery is the query of the clients' reads ("consistent" or
	// "" for default-mode reads); checked says whether their order is
	// checked (both are: docs/reliability.md promises linearizable reads
	// in both modes).
	readQuery string
	checked   bool
	nextProc  atomic.Int64
}

func newWorkload(cfg Config, rec *Recorder, servers []*proccluster.Proc, prefix string) *workload {
	w := &workload{cfg: cfg, rec: rec, servers: servers, lockKey: prefix + "lock",
		readQuery: "consistent", checked: true}
	if cfg.Mode == ModeDefault {
		w.readQuery = ""
	}
	for i := 0; i < cfg.Keys; i++ {
		w.keys = append(w.keys, fmt.Sprintf("%sk%d", prefix, i))
	}
	w.nextProc.Store(int64(cfg.Clients + len(servers)))
	return w
}

// lockClients is the number of lock clients: one per server.
func (w *workload) lockClients() int { return len(w.servers) }

// run starts every client and returns once stop is closed and they have
// all finished their last operation.
func (w *workload) run(ctx context.Context, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i := 0; i < w.cfg.Clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			w.registerClient(ctx, stop, id, rand.New(rand.NewSource(w.cfg.Seed+int64(id)+1)))
		}(i)
	}
	for i := 0; i < w.lockClients(); i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			w.lockClient(ctx, stop, id, rand.New(rand.NewSource(w.cfg.Seed-int64(id)-1)))
		}(w.cfg.Clients + i)
	}
	wg.Wait()
}

func stopped(stop <-chan struct{}, pause time.Duration) bool {
	select {
	case <-stop:
		return true
	case <-time.After(pause):
		return false
	}
}

// record adds op, timed from call; after an Unknown outcome the client
// continues as a new process (the old one may still be in flight).
func (w *workload) record(op Op, process *int, call time.Duration, err error) Op {
	op.Process, op.Call, op.Return, op.Outcome = *process, call, w.rec.Now(), outcomeOf(err)
	if err != nil {
		op.Err = err.Error()
	}
	w.rec.Add(op)
	if op.Outcome == Unknown {
		*process = int(w.nextProc.Add(1))
	}
	return op
}

// registerClient reads, writes and CASes random keys through one server.
func (w *workload) registerClient(ctx context.Context, stop <-chan struct{}, id int, rng *rand.Rand) {
	srv := w.servers[id%len(w.servers)]
	api := newAPIClient(srv.HTTP, w.cfg.OpTimeout)
	process := id
	for seq := 0; !stopped(stop, w.cfg.ThinkTime); seq++ {
		key := w.keys[rng.Intn(len(w.keys))]
		base := Op{Client: id, Key: key, Server: srv.Name}
		switch r := rng.Intn(10); {
		case r < 4: // read
			op := base
			op.Kind, op.Checked = KindRead, w.checked
			call := w.rec.Now()
			e, err := api.get(ctx, key, w.readQuery)
			op.Value = valueOf(e)
			w.record(op, &process, call, err)
		case r < 7: // write
			op := base
			op.Kind, op.Value = KindWrite, fmt.Sprintf("w%d-%d", id, seq)
			call := w.rec.Now()
			_, err := api.put(ctx, key, "", op.Value)
			op.Result = err == nil
			w.record(op, &process, call, err)
		default: // read, then CAS on the index read
			rd := base
			rd.Kind, rd.Checked = KindRead, w.checked
			call := w.rec.Now()
			e, err := api.get(ctx, key, w.readQuery)
			rd.Value = valueOf(e)
			if w.record(rd, &process, call, err).Outcome != OK {
				continue
			}
			var idx uint64
			if e != nil {
				idx = e.ModifyIndex
			}
			op := base
			op.Kind, op.Expect, op.Value = KindCAS, rd.Value, fmt.Sprintf("c%d-%d", id, seq)
			call = w.rec.Now()
			ok, err := api.put(ctx, key, fmt.Sprintf("cas=%d", idx), op.Value)
			op.Result = ok
			w.record(op, &process, call, err)
		}
	}
}

func valueOf(e *kvEntry) string {
	if e == nil {
		return ""
	}
	return string(e.Value)
}

// lockClient acquires and releases the lock key with a session of its
// own, through one server. After any operation of unknown outcome it
// destroys its session (retrying until the server answers 200: that frees
// the lock if the session held it, and makes a late acquire of the session
// fail) and continues with a new one, so that no operation of its current
// session is still in flight.
func (w *workload) lockClient(ctx context.Context, stop <-chan struct{}, id int, rng *rand.Rand) {
	srv := w.servers[id%len(w.servers)]
	api := newAPIClient(srv.HTTP, w.cfg.OpTimeout)
	process := id
	var sid string
	newSession := func() bool {
		for n := 0; ; n++ {
			var err error
			if sid, err = api.createSession(ctx, fmt.Sprintf("chaos-lock-%d-%d", id, n)); err == nil {
				return true
			}
			if stopped(stop, 200*time.Millisecond) {
				return false
			}
		}
	}
	op := func(kind Kind) Op {
		o := Op{Client: id, Kind: kind, Key: w.lockKey, Session: sid, Server: srv.Name}
		call := w.rec.Now()
		var ok bool
		var err error
		if kind == KindDestroy {
			err = api.destroySession(ctx, sid)
			ok = err == nil
		} else {
			ok, err = api.put(ctx, w.lockKey, string(kind)+"="+sid, sid)
		}
		o.Result = ok
		return w.record(o, &process, call, err)
	}
	// abandon destroys the session; false if stop came first.
	abandon := func() bool {
		for op(KindDestroy).Outcome != OK {
			if stopped(stop, 200*time.Millisecond) {
				return false
			}
		}
		return true
	}
	if !newSession() {
		return
	}
	for !stopped(stop, w.cfg.ThinkTime+time.Duration(rng.Intn(30))*time.Millisecond) {
		a := op(KindAcquire)
		if a.Outcome == OK && a.Result {
			time.Sleep(time.Duration(20+rng.Intn(80)) * time.Millisecond) // the critical section
			a = op(KindRelease)
		}
		if a.Outcome == Unknown && (!abandon() || !newSession()) {
			return
		}
	}
	// Leave the lock free.
	op(KindRelease)
}

// finalReads reads every key (and the lock's holder) with ?consistent
// through server leader and adds the reads to the history.
func (w *workload) finalReads(ctx context.Context, leader *proccluster.Proc) error {
	api := newAPIClient(leader.HTTP, 10*time.Second)
	process := int(w.nextProc.Add(1))
	for _, k := range append(append([]string(nil), w.keys...), w.lockKey) {
		call := w.rec.Now()
		e, err := api.get(ctx, k, "consistent")
		if err != nil {
			return fmt.Errorf("chaos: final read of %s: %w", k, err)
		}
		op := Op{Process: process, Client: -1, Kind: KindRead, Key: k, Value: valueOf(e), Outcome: OK,
			Checked: true, Final: true, Server: leader.Name, Call: call, Return: w.rec.Now()}
		if k == w.lockKey {
			op.Key, op.Value = lockKeyMarker, ""
			if e != nil {
				op.Value = e.Session
			}
		}
		w.rec.Add(op)
	}
	return nil
}
