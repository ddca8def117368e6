package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The -floor target's writes: the least a cluster of three must do to
// acknowledge a write durably, and nothing more. One server leads for the
// whole run (no elections, no terms); the others connect to it once. A
// write that reaches a follower is forwarded to the leader; the leader
// gathers the writes that arrive while the previous batch commits into one
// batch (group commit, one batch in flight), sends it to both followers,
// appends it to its log file and fsyncs, and acknowledges the batch's
// writes once one follower has appended and fsynced it too (a majority of
// three has it on disk). Every server then applies the batch to its
// in-memory answers. No Raft, no msgpack, no store, no metrics: what a
// durable write costs on this machine in HTTP, forwarding, replication and
// fsync alone.

// Messages on a follower's one connection to the leader: a type byte, the
// payload's length (uint32) and the payload.
const (
	msgForward byte = 1 // follower → leader: id (uint64), then one write
	msgResults byte = 2 // leader → follower: ids (uint64 each) of committed forwarded writes
	msgBatch   byte = 3 // leader → follower: seq (uint64), then writes
	msgAck     byte = 4 // follower → leader: seq (uint64) of a batch on its disk
)

// maxFloorBatch bounds a batch, as Shoal's group commit does (256 writes).
const maxFloorBatch = 256

// maxFloorMessage bounds a message read off a connection.
const maxFloorMessage = 64 << 20

// errFloorClosed: the server is shutting down; the write's outcome is
// unknown to the caller.
var errFloorClosed = errors.New("floor server closed")

type floorWrite struct {
	key string
	val []byte
}

// appendWrite encodes w as key length, key, value length, value.
func appendWrite(b []byte, w floorWrite) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(w.key)))
	b = append(b, w.key...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(w.val)))
	return append(b, w.val...)
}

// decodeWrites decodes writes encoded by appendWrite.
func decodeWrites(b []byte) ([]floorWrite, error) {
	var ws []floorWrite
	for len(b) > 0 {
		var w floorWrite
		var ok bool
		var k []byte
		if k, b, ok = cutField(b); !ok {
			return nil, errors.New("floor: short write key")
		}
		if w.val, b, ok = cutField(b); !ok {
			return nil, errors.New("floor: short write value")
		}
		w.key = string(k)
		ws = append(ws, w)
	}
	return ws, nil
}

func cutField(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// floorConn is one framed connection; sends are serialised.
type floorConn struct {
	c  net.Conn
	br *bufio.Reader

	wmu sync.Mutex
	bw  *bufio.Writer
	hdr [5]byte
}

func newFloorConn(c net.Conn) *floorConn {
	return &floorConn{c: c, br: bufio.NewReaderSize(c, 64<<10), bw: bufio.NewWriterSize(c, 64<<10)}
}

// send writes one message and flushes it.
func (c *floorConn) send(typ byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.hdr[0] = typ
	binary.LittleEndian.PutUint32(c.hdr[1:], uint32(len(payload)))
	if _, err := c.bw.Write(c.hdr[:]); err != nil {
		return err
	}
	if _, err := c.bw.Write(payload); err != nil {
		return err
	}
	return c.bw.Flush()
}

// recv reads one message into a new buffer: a payload outlives the next
// recv (a forwarded write waits in the leader's queue, a batch in the
// follower's).
func (c *floorConn) recv() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[1:])
	if n > maxFloorMessage {
		return 0, nil, fmt.Errorf("floor: message of %d bytes", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(c.br, buf)
	return hdr[0], buf, err
}

// floorLog is a server's log file: each batch appended, then fsynced.
type floorLog struct{ f *os.File }

func openFloorLog(dir string) (*floorLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, "floor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &floorLog{f: f}, nil
}

func (l *floorLog) append(b []byte) error {
	if _, err := l.f.Write(b); err != nil {
		return err
	}
	return l.f.Sync()
}

func (l *floorLog) Close() error { return l.f.Close() }

// pendingWrite is a write waiting for its batch to commit: a local one
// (done) or one forwarded by a follower (from, id).
type pendingWrite struct {
	w    floorWrite
	done chan error
	from *floorConn
	id   uint64
}

// floorLeader commits writes for the floor cluster.
type floorLeader struct {
	kv    *floorKV
	log   *floorLog
	queue chan *pendingWrite
	acks  chan uint64

	mu        sync.Mutex
	followers []*floorConn
	inflight  []byte // the batch being committed, for a follower that joins meanwhile
}

// lead makes kv the leader: it accepts followers on l and commits writes
// until ctx is done.
func (kv *floorKV) lead(ctx context.Context, l net.Listener, dir string) error {
	log, err := openFloorLog(dir)
	if err != nil {
		return err
	}
	ld := &floorLeader{kv: kv, log: log, queue: make(chan *pendingWrite, 4096), acks: make(chan uint64, 64)}
	kv.write = ld.write
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go ld.commitLoop(ctx)
	go func() {
		defer log.Close()
		for {
			c, err := l.Accept()
			if err != nil {
				ld.mu.Lock()
				for _, f := range ld.followers {
					f.c.Close()
				}
				ld.mu.Unlock()
				return
			}
			fc := newFloorConn(c)
			ld.mu.Lock()
			ld.followers = append(ld.followers, fc)
			inflight := ld.inflight
			ld.mu.Unlock()
			if inflight != nil {
				_ = fc.send(msgBatch, inflight)
			}
			go ld.readFollower(ctx, fc)
		}
	}()
	return nil
}

func (ld *floorLeader) write(ctx context.Context, w floorWrite) error {
	p := &pendingWrite{w: w, done: make(chan error, 1)}
	select {
	case ld.queue <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readFollower takes a follower's forwarded writes and acks.
func (ld *floorLeader) readFollower(ctx context.Context, fc *floorConn) {
	defer func() {
		fc.c.Close()
		ld.mu.Lock()
		ld.followers = slices.DeleteFunc(ld.followers, func(x *floorConn) bool { return x == fc })
		ld.mu.Unlock()
	}()
	for {
		typ, b, err := fc.recv()
		if err != nil {
			return
		}
		switch {
		case typ == msgAck && len(b) == 8:
			select {
			case ld.acks <- binary.LittleEndian.Uint64(b):
			case <-ctx.Done():
				return
			}
		case typ == msgForward && len(b) >= 8:
			ws, err := decodeWrites(b[8:])
			if err != nil || len(ws) != 1 {
				return
			}
			select {
			case ld.queue <- &pendingWrite{w: ws[0], from: fc, id: binary.LittleEndian.Uint64(b)}:
			case <-ctx.Done():
				return
			}
		default:
			return
		}
	}
}

// commitLoop forms one batch at a time and commits it.
func (ld *floorLeader) commitLoop(ctx context.Context) {
	var seq uint64
	for {
		var batch []*pendingWrite
		select {
		case p := <-ld.queue:
			batch = append(batch, p)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < maxFloorBatch {
			select {
			case p := <-ld.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		seq++
		// A new payload per batch: a follower that joins during the
		// commit is sent it (inflight) after this loop has moved on.
		payload := binary.LittleEndian.AppendUint64(nil, seq)
		ws := make([]floorWrite, len(batch))
		for i, p := range batch {
			ws[i] = p.w
			payload = appendWrite(payload, p.w)
		}
		err := ld.commit(ctx, seq, payload)
		if err == nil {
			ld.kv.apply(ws)
		}
		results := map[*floorConn][]byte{}
		for _, p := range batch {
			if p.from == nil {
				p.done <- err
			} else if err == nil {
				results[p.from] = binary.LittleEndian.AppendUint64(results[p.from], p.id)
			}
		}
		for fc, ids := range results {
			_ = fc.send(msgResults, ids) // a follower that is gone has no one to tell
		}
		if err != nil {
			return // outcome unknown: the run's writes fail from here on
		}
	}
}

// commit sends the batch to the followers, stores it, and waits until one
// follower has stored it too.
func (ld *floorLeader) commit(ctx context.Context, seq uint64, payload []byte) error {
	ld.mu.Lock()
	followers := append([]*floorConn(nil), ld.followers...)
	ld.inflight = payload
	ld.mu.Unlock()
	defer func() {
		ld.mu.Lock()
		ld.inflight = nil
		ld.mu.Unlock()
	}()
	for _, fc := range followers {
		_ = fc.send(msgBatch, payload) // a lost follower just does not ack
	}
	if err := ld.log.append(payload[8:]); err != nil {
		return fmt.Errorf("floor log: %w", err)
	}
	for {
		select {
		case a := <-ld.acks:
			if a == seq {
				return nil
			}
		case <-ctx.Done():
			return errFloorClosed
		}
	}
}

// floorFollower forwards writes to the leader and stores its batches.
type floorFollower struct {
	fc     *floorConn
	nextID atomic.Uint64

	mu      sync.Mutex
	waiting map[uint64]chan error
}

// follow makes kv a follower of the leader at addr until ctx is done.
func (kv *floorKV) follow(ctx context.Context, addr, dir string) error {
	log, err := openFloorLog(dir)
	if err != nil {
		return err
	}
	c, err := dialFloorLeader(ctx, addr)
	if err != nil {
		log.Close()
		return err
	}
	f := &floorFollower{fc: newFloorConn(c), waiting: map[uint64]chan error{}}
	kv.write = f.write
	batches := make(chan []byte, 64)
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	go func() { // stores, acks and applies each batch, in order
		defer log.Close()
		for b := range batches {
			seq := b[:8]
			if log.append(b[8:]) != nil || f.fc.send(msgAck, seq) != nil {
				c.Close()
				continue
			}
			if ws, err := decodeWrites(b[8:]); err == nil {
				kv.apply(ws)
			}
		}
	}()
	go func() {
		defer close(batches)
		defer f.failAll()
		for {
			typ, b, err := f.fc.recv()
			if err != nil {
				return
			}
			switch {
			case typ == msgBatch && len(b) >= 8:
				batches <- b
			case typ == msgResults && len(b)%8 == 0:
				f.mu.Lock()
				for ; len(b) > 0; b = b[8:] {
					id := binary.LittleEndian.Uint64(b)
					if ch := f.waiting[id]; ch != nil {
						ch <- nil
						delete(f.waiting, id)
					}
				}
				f.mu.Unlock()
			default:
				return
			}
		}
	}()
	return nil
}

func (f *floorFollower) write(ctx context.Context, w floorWrite) error {
	id := f.nextID.Add(1)
	ch := make(chan error, 1)
	f.mu.Lock()
	if f.waiting == nil {
		f.mu.Unlock()
		return errFloorClosed
	}
	f.waiting[id] = ch
	f.mu.Unlock()
	msg := appendWrite(binary.LittleEndian.AppendUint64(make([]byte, 0, 16+len(w.key)+len(w.val)), id), w)
	if err := f.fc.send(msgForward, msg); err != nil {
		f.forget(id)
		return fmt.Errorf("floor forward: %w", err)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		f.forget(id)
		return ctx.Err()
	}
}

func (f *floorFollower) forget(id uint64) {
	f.mu.Lock()
	delete(f.waiting, id)
	f.mu.Unlock()
}

// failAll fails the writes still waiting when the connection ends: their
// outcome is unknown.
func (f *floorFollower) failAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.waiting {
		ch <- errFloorClosed
	}
	f.waiting = nil
}

// dialFloorLeader dials the leader, which starts at the same time: it
// retries for up to readyTimeout.
func dialFloorLeader(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("floor leader %s: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
