package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// TestDamagedLogIsReportedNotPanicked: a server whose Raft log cannot be
// read back exits start-up with ErrDamagedData, an error naming its data
// dir and saying how to recover, instead of panicking (raft.NewRaft panics
// on an entry it cannot read; issue 11 saw servers panic-loop for good).
func TestDamagedLogIsReportedNotPanicked(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(t *testing.T, walDir string)
	}{
		{"the meta database replaced by garbage", func(t *testing.T, walDir string) {
			if err := os.WriteFile(filepath.Join(walDir, "wal-meta.db"), []byte(strings.Repeat("garbage", 1000)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{
				NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
				BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t), DataDir: t.TempDir(),
				RaftTimeoutOverride: 50 * time.Millisecond, Logger: hclog.NewNullLogger(),
			}
			s, err := NewServer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			waitReady(t, s)
			for i := 0; i < 50; i++ {
				var ok bool
				req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: fmt.Sprintf("k%d", i), Value: []byte("v")}}}
				if err := s.RPC(context.Background(), "KVS.Apply", &req, &ok); err != nil {
					t.Fatal(err)
				}
			}
			s.Shutdown()
			dir := filepath.Join(cfg.DataDir, "raft")
			tc.corrupt(t, filepath.Join(dir, "wal"))

			s2, err := NewServer(cfg)
			if err == nil {
				s2.Shutdown()
				t.Fatal("a server started from a damaged log")
			}
			if !errors.Is(err, ErrDamagedData) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "peers.json") {
				t.Fatalf("start-up error does not name the damage, the dir and the recovery: %v", err)
			}
			t.Logf("start-up error: %v", err)
		})
	}
}

func segments(t *testing.T, walDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no wal segments in %s: %v", walDir, err)
	}
	return m
}

// TestUnreadableSealedSegmentIsReported: raft.NewRaft panics when it
// cannot read back an entry of its log (raft-wal's "sealed segment has no
// index block", hashicorp/raft-wal#31). newRaft reports it as
// ErrDamagedData with the data dir instead. The log is a real raft-wal
// log with small segments, one of them cut short.
func TestUnreadableSealedSegmentIsReported(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(walDir, wal.WithMetaStore(meta), wal.WithSegmentSize(16*1024))
	if err != nil {
		t.Fatal(err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = "s1"
	rc.Logger = hclog.NewNullLogger()
	_, trans := raft.NewInmemTransport("s1")
	snaps := raft.NewInmemSnapshotStore()
	conf := raft.Configuration{Servers: []raft.Server{{ID: "s1", Address: trans.LocalAddr(), Suffrage: raft.Voter}}}
	if err := raft.BootstrapCluster(rc, w, w, snaps, trans, conf); err != nil {
		t.Fatal(err)
	}
	for i := uint64(2); i < 200; i++ {
		// One entry per append: a segment seals between appends.
		if err := w.StoreLog(&raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: make([]byte, 512)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	meta.Close()
	segs := segments(t, walDir)
	if len(segs) < 2 {
		t.Fatalf("want a sealed segment, have %d segments", len(segs))
	}
	fi, err := os.Stat(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(segs[0], fi.Size()/2); err != nil {
		t.Fatal(err)
	}

	meta = &metadb.BoltMetaDB{}
	defer meta.Close()
	w, err = wal.Open(walDir, wal.WithMetaStore(meta))
	if err != nil {
		t.Fatalf("raft-wal opens sealed segments lazily, yet refused: %v", err)
	}
	defer w.Close()
	r, err := newRaft(dir, rc, fsmNoop{}, w, w, snaps, trans)
	if err == nil {
		r.Shutdown()
		t.Fatal("raft started from a log it cannot read")
	}
	if !errors.Is(err, ErrDamagedData) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error does not name the damage and the dir: %v", err)
	}
	t.Logf("start-up error: %v", err)
}

type fsmNoop struct{}

func (fsmNoop) Apply(*raft.Log) any                 { return nil }
func (fsmNoop) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (fsmNoop) Restore(io.ReadCloser) error         { return nil }

// TestPeersJSONRecoversALostQuorum: two of three servers are gone for
// good; the survivor cannot elect itself. An operator writes
// raft/peers.json listing only the survivor (Consul's manual recovery);
// at its next start the server applies it, removes the file, leads alone
// and still holds every write.
func TestPeersJSONRecoversALostQuorum(t *testing.T) {
	servers := newCluster(t, 3)
	leader := waitLeader(t, servers)
	for i := 0; i < 20; i++ {
		var ok bool
		req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: fmt.Sprintf("k%02d", i), Value: []byte("v")}}}
		if err := leader.RPC(context.Background(), "KVS.Apply", &req, &ok); err != nil {
			t.Fatal(err)
		}
	}
	survivor := servers[0]
	// Let the survivor apply everything before the others disappear.
	eventually(t, 10*time.Second, func() error {
		var reply rpcapi.IndexedEntries
		err := survivor.RPC(context.Background(), "KVS.List", &rpcapi.KeyRequest{QueryOptions: rpcapi.QueryOptions{AllowStale: true}, Key: "k"}, &reply)
		if err != nil || len(reply.Entries) != 20 {
			return fmt.Errorf("survivor has %d keys (%v)", len(reply.Entries), err)
		}
		return nil
	})
	for _, s := range servers {
		s.Shutdown()
	}
	cfg := survivor.cfg
	peers := filepath.Join(cfg.DataDir, "raft", "peers.json")
	body := fmt.Sprintf(`[{"id": %q, "address": "127.0.0.1:%d", "non_voter": false}]`, cfg.NodeID, cfg.RPCPort)
	if err := os.WriteFile(peers, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.BootstrapExpect = 0
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	waitLeader(t, []*Server{s})
	if _, err := os.Stat(peers); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("peers.json still there after recovery: %v", err)
	}
	var reply rpcapi.IndexedEntries
	if err := s.RPC(context.Background(), "KVS.List", &rpcapi.KeyRequest{Key: "k"}, &reply); err != nil || len(reply.Entries) != 20 {
		t.Fatalf("after recovery: %d keys, %v", len(reply.Entries), err)
	}
	var ok bool
	req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "new", Value: []byte("v")}}}
	if err := s.RPC(context.Background(), "KVS.Apply", &req, &ok); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
}

// eventually retries fn until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
