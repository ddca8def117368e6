package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// floorKV answers Consul's KV API just enough for the floor target's
// workloads, from memory: PUT commits the write through the floor's log
// (floorlog.go), after which every server keeps the key's answer (its
// JSON, built once), bumps the index and wakes the blocked; GET returns
// the key's prebuilt answer with X-Consul-Index, or 404; GET ?index=N
// blocks until this server's index passes N. Three of them (-floor) are
// the floor of a write, of a read and of a blocking-query wake on this
// machine: the HTTP work, the forwarding, the replication and the fsyncs,
// and nothing else (no store, no Raft, no consistency check on reads).
type floorKV struct {
	// write commits one write (set by lead or follow before serving).
	write func(context.Context, floorWrite) error

	mu      sync.Mutex
	index   uint64
	wake    chan struct{}
	answers map[string][]byte // key → its JSON answer
}

func newFloorKV() *floorKV {
	return &floorKV{index: 1, wake: make(chan struct{}), answers: map[string][]byte{}}
}

// apply makes a committed batch visible and wakes the blocked.
func (f *floorKV) apply(ws []floorWrite) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range ws {
		f.index++
		answer, err := json.Marshal([]floorPair{{Key: w.key, Value: w.val, CreateIndex: f.index, ModifyIndex: f.index}})
		if err == nil {
			f.answers[w.key] = answer
		}
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *floorKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/v1/kv/")
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := f.write(r.Context(), floorWrite{key: key, val: body}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("true"))
		return
	}
	var after uint64 // ?index: block while the index has not passed it, as Consul
	if q := r.URL.Query().Get("index"); q != "" {
		var err error
		if after, err = strconv.ParseUint(q, 10, 64); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	idx, wake, answer := f.index, f.wake, f.answers[key]
	f.mu.Unlock()
	// A follower may not have applied yet what the index was read from
	// elsewhere: it blocks until it has passed it, not only while equal.
	for after > 0 && idx <= after {
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		idx, wake, answer = f.index, f.wake, f.answers[key]
		f.mu.Unlock()
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("X-Consul-Knownleader", "true")
	w.Header().Set("X-Consul-Lastcontact", "0")
	if answer == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(answer)
}

// floorPair is Consul's KVPair as JSON (Value as base64, as encoding/json
// writes a []byte).
type floorPair struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	CreateIndex uint64
	ModifyIndex uint64
}

// serveFloor is the -serve-floor mode: one floor server on addr until ctx
// is done, its log in dir. With leader empty it leads, taking its
// followers on repl; otherwise it follows the leader at that address.
func serveFloor(ctx context.Context, addr, repl, leader, dir string) error {
	kv := newFloorKV()
	if leader == "" {
		rl, err := net.Listen("tcp", repl)
		if err != nil {
			return err
		}
		if err := kv.lead(ctx, rl, dir); err != nil {
			rl.Close()
			return err
		}
	} else if err := kv.follow(ctx, leader, dir); err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: kv}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// floorCluster starts three floor servers (this program, -serve-floor)
// on 127.0.0.ipBase+i, the first leading.
func floorCluster(ctx context.Context, sup *supervisor, self, dir string, ipBase int) (*cluster, error) {
	c := &cluster{name: "floor"}
	var repl string
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", ipBase+i)
		ports, err := freePorts(ip, 2)
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("%s:%d", ip, ports[0])
		d, err := mkdir(dir, fmt.Sprintf("floor%d", i+1))
		if err != nil {
			return nil, err
		}
		args := []string{"-serve-floor", addr, "-floor-dir", d}
		if i == 0 {
			repl = fmt.Sprintf("%s:%d", ip, ports[1])
			args = append(args, "-floor-repl", repl)
		} else {
			args = append(args, "-floor-leader", repl)
		}
		pr, err := sup.start(dir, fmt.Sprintf("floor%d", i+1), self, args...)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, pr)
		c.http = append(c.http, addr)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	return c, waitReady(ctx, c, func(ctx context.Context, addr string) bool {
		// Any answer will do: a key never written is a 404.
		_, _, err := fetch(ctx, hc, "http://"+addr+"/v1/kv/k")
		return err == nil
	})
}
