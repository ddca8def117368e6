package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/server/fsm"
)

// ErrDamagedData marks a server that cannot start from its own Raft data
// (log, stable store or snapshots). The process must exit and an operator
// decide; docs/reliability.md says how to recover.
var ErrDamagedData = errors.New("raft data damaged")

// damaged wraps a start-up failure of the Raft data under dir in
// ErrDamagedData, with what to do about it.
func damaged(dir string, err error) error {
	return fmt.Errorf("%w in %s: %w\n"+
		"This server cannot start from its data. To recover (docs/reliability.md, \"Recovery\"):\n"+
		"  - if the other servers have a leader: stop this server, move %s aside, start it again;\n"+
		"    it rejoins and copies the state from the leader;\n"+
		"  - if too few servers are left to elect a leader: on each server that can start, write\n"+
		"    raft/peers.json in its data dir listing those servers, and start them",
		ErrDamagedData, dir, err, dir)
}

// newRaft is raft.NewRaft, turning its panics on unreadable log entries
// (it panics when it cannot read back an entry it replays at start-up)
// into an error.
func newRaft(dir string, rc *raft.Config, f raft.FSM, logs raft.LogStore, stable raft.StableStore,
	snaps raft.SnapshotStore, trans raft.Transport) (r *raft.Raft, err error) {
	defer func() {
		if p := recover(); p != nil {
			perr, ok := p.(error)
			if !ok {
				perr = fmt.Errorf("%v", p)
			}
			r, err = nil, damaged(dir, fmt.Errorf("reading the raft log: %w", perr))
		}
	}()
	r, err = raft.NewRaft(rc, f, logs, stable, snaps, trans)
	if err != nil {
		return nil, damaged(dir, err)
	}
	return r, nil
}

// recoverPeers applies a peers.json that an operator put into the Raft
// directory, as Consul does: the file replaces the Raft configuration (the
// list of servers) stored in the log, for a cluster that lost its quorum
// for good. The file is removed once applied; a file that cannot be read
// stops the start-up.
func recoverPeers(dir string, rc *raft.Config, logs raft.LogStore, stable raft.StableStore,
	snaps raft.SnapshotStore, trans raft.Transport) (bool, error) {
	path := filepath.Join(dir, "peers.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	conf, err := raft.ReadConfigJSON(path)
	if err != nil {
		return false, fmt.Errorf("server: recovery file %s: %w (see docs/reliability.md, \"Recovery\")", path, err)
	}
	// RecoverCluster replays the log into a scratch FSM to find the last
	// index; the real FSM is filled by NewRaft afterwards.
	scratch, err := fsm.New(rc.Logger)
	if err != nil {
		return false, err
	}
	if err := recoverCluster(dir, rc, scratch, logs, stable, snaps, trans, conf); err != nil {
		return false, err
	}
	if err := os.Remove(path); err != nil {
		return false, fmt.Errorf("server: remove %s after recovery: %w", path, err)
	}
	return true, nil
}

func recoverCluster(dir string, rc *raft.Config, f raft.FSM, logs raft.LogStore, stable raft.StableStore,
	snaps raft.SnapshotStore, trans raft.Transport, conf raft.Configuration) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = damaged(dir, fmt.Errorf("recovering from peers.json: %v", p))
		}
	}()
	if err := raft.RecoverCluster(rc, f, logs, stable, snaps, trans, conf); err != nil {
		return fmt.Errorf("server: recover from %s: %w", filepath.Join(dir, "peers.json"), err)
	}
	return nil
}
