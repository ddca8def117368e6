package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	msgpack "github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/snapshot"
	"github.com/shoalproject/shoal/state"
)

// Snapshots travel over their own connection type (connSnapshot), as in
// Consul, not as a net/rpc call: an archive can be as large as the state,
// and net/rpc would hold it whole in memory, twice, inside one message.
//
// The exchange on a connSnapshot connection:
//
//	client → server  connSnapshot, frame(snapshotRequest), [archive, half-close]
//	server → client  frame(snapshotResponse), [archive], close
//
// A frame is a 4-byte big-endian length and that many bytes of msgpack.
// A restore carries the archive from the client; a save, to it, after a
// response without error.

// snapshotOp says what a snapshot connection asks for.
type snapshotOp uint8

const (
	snapshotSave    snapshotOp = 1
	snapshotRestore snapshotOp = 2
)

// maxSnapshotFrame bounds a request or response header.
const maxSnapshotFrame = 1 << 20

type snapshotRequest struct {
	Op snapshotOp
	rpcapi.QueryOptions
}

// Error kinds of a snapshotResponse, so that the sentinels survive the
// trip: errors otherwise cross the wire as their text only.
const (
	errKindCorrupt  = "corrupt"
	errKindNoLeader = "no-leader"
)

type snapshotResponse struct {
	Error     string
	ErrorKind string
	// ArchiveSize is the length of the archive that follows a save.
	ArchiveSize int64
	rpcapi.QueryMeta
}

// ArchiveSizer is implemented by the archive streams SnapshotSave returns:
// Size is the archive's length in bytes, so that the HTTP answer can carry
// a Content-Length and a short transfer is detected by the client.
type ArchiveSizer interface {
	ArchiveSize() int64
}

func writeFrame(w io.Writer, v any) error {
	var body []byte
	if err := msgpack.NewEncoderBytes(&body, state.MsgpackHandle()).Encode(v); err != nil {
		return err
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	if _, err := w.Write(append(hdr[:], body...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxSnapshotFrame {
		return fmt.Errorf("snapshot frame of %d bytes exceeds %d", n, maxSnapshotFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	return msgpack.NewDecoderBytes(body, state.MsgpackHandle()).Decode(v)
}

// remoteError is an error that crossed a snapshot connection: its text,
// and the sentinel it wrapped on the other side, if one is known.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func encodeError(resp *snapshotResponse, err error) {
	resp.Error = err.Error()
	switch {
	case errors.Is(err, snapshot.ErrCorrupt):
		resp.ErrorKind = errKindCorrupt
	case rpcapi.IsErrNoLeader(err):
		resp.ErrorKind = errKindNoLeader
	}
}

func decodeError(resp *snapshotResponse) error {
	if resp.Error == "" {
		return nil
	}
	e := &remoteError{msg: resp.Error}
	switch resp.ErrorKind {
	case errKindCorrupt:
		e.kind = snapshot.ErrCorrupt
	case errKindNoLeader:
		e.kind = rpcapi.ErrNoLeader
	}
	return e
}

// handleSnapshotConn serves one connSnapshot connection.
func (s *Server) handleSnapshotConn(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(rpcTimeout))
	var req snapshotRequest
	if err := readFrame(c, &req); err != nil {
		s.logger.Warn("snapshot: bad request", "remote", c.RemoteAddr(), "error", err)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.shutdownCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	var resp snapshotResponse
	switch req.Op {
	case snapshotSave:
		rc, meta, err := s.SnapshotSave(ctx, req.QueryOptions)
		resp.QueryMeta = meta
		if err != nil {
			encodeError(&resp, err)
			_ = writeFrame(c, &resp)
			return
		}
		defer rc.Close()
		if as, ok := rc.(ArchiveSizer); ok {
			resp.ArchiveSize = as.ArchiveSize()
		}
		if err := writeFrame(c, &resp); err != nil {
			return
		}
		if _, err := io.Copy(c, rc); err != nil {
			s.logger.Warn("snapshot: send failed", "remote", c.RemoteAddr(), "error", err)
		}
	case snapshotRestore:
		if err := s.SnapshotRestore(rpcapi.WithAuthToken(ctx, req.AuthToken), req.Datacenter, c); err != nil {
			encodeError(&resp, err)
		}
		_ = writeFrame(c, &resp)
	default:
		encodeError(&resp, fmt.Errorf("snapshot: unknown operation %d", req.Op))
		_ = writeFrame(c, &resp)
	}
}

// snapshotRemote runs a snapshot operation on the server at addr. For a
// restore, archive is sent whole first. For a save, the returned reader
// streams the archive; the caller must close it. Cancelling ctx closes the
// connection.
func (p *connPool) snapshotRemote(ctx context.Context, addr string, req *snapshotRequest, archive io.Reader) (io.ReadCloser, rpcapi.QueryMeta, error) {
	var meta rpcapi.QueryMeta
	conn, err := dialServer(ctx, p.tls, addr, connSnapshot)
	if err != nil {
		return nil, meta, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (io.ReadCloser, rpcapi.QueryMeta, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, meta, ctx.Err()
		}
		return nil, meta, err
	}
	if err := writeFrame(conn, req); err != nil {
		return fail(fmt.Errorf("%w: %s: %w", errDial, addr, err))
	}
	if archive != nil {
		if _, err := io.Copy(conn, archive); err != nil {
			return fail(fmt.Errorf("snapshot: send to %s: %w", addr, err))
		}
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return fail(fmt.Errorf("snapshot: send to %s: %w", addr, err))
		}
	}
	var resp snapshotResponse
	if err := readFrame(conn, &resp); err != nil {
		return fail(fmt.Errorf("snapshot: response from %s: %w", addr, err))
	}
	if err := decodeError(&resp); err != nil {
		return fail(err)
	}
	if req.Op != snapshotSave {
		stop()
		conn.Close()
		return nil, resp.QueryMeta, nil
	}
	return &streamConn{Conn: conn, stop: stop, size: resp.ArchiveSize}, resp.QueryMeta, nil
}

// streamConn is the archive stream of a remote save.
type streamConn struct {
	net.Conn
	stop func() bool
	size int64
}

// ArchiveSize implements ArchiveSizer.
func (c *streamConn) ArchiveSize() int64 { return c.size }

func (c *streamConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// leaderAddr waits, up to the hold timeout, for a leader other than this
// server and returns its address; "" means this server leads.
func (s *Server) leaderAddr(ctx context.Context) (string, error) {
	deadline := time.Now().Add(s.cfg.RPCHoldTimeout)
	for attempt := 0; ; attempt++ {
		if s.IsLeader() {
			return "", nil
		}
		if addr, _ := s.raft.LeaderWithID(); addr != "" {
			return string(addr), nil
		}
		if time.Now().After(deadline) {
			return "", rpcapi.ErrNoLeader
		}
		select {
		case <-time.After(retryDelay(attempt)):
		case <-ctx.Done():
			return "", ctx.Err()
		case <-s.shutdownCh:
			return "", errShutdown
		}
	}
}

// SnapshotSave takes a snapshot of the state and returns the archive
// stream, which the caller must close. It runs on the leader unless
// opts.AllowStale, in which case this server's own state is saved. The
// meta's Index is the snapshot's Raft index.
func (s *Server) SnapshotSave(ctx context.Context, opts rpcapi.QueryOptions) (io.ReadCloser, rpcapi.QueryMeta, error) {
	var meta rpcapi.QueryMeta
	if err := s.checkSnapshotToken(opts.AuthToken); err != nil {
		return nil, meta, err
	}
	if !opts.AllowStale {
		addr, err := s.leaderAddr(ctx)
		if err != nil {
			return nil, meta, err
		}
		if addr != "" {
			return s.pool.snapshotRemote(ctx, addr, &snapshotRequest{Op: snapshotSave, QueryOptions: opts}, nil)
		}
	}
	// Set the meta first: pessimistic if more is applied meanwhile.
	s.setQueryMeta(&opts, &meta)
	future := s.raft.Snapshot()
	if err := future.Error(); err != nil {
		return nil, meta, fmt.Errorf("snapshot: take: %w", err)
	}
	rm, rc, err := future.Open()
	if err != nil {
		return nil, meta, fmt.Errorf("snapshot: open: %w", err)
	}
	defer rc.Close()
	archive, err := snapshot.WriteTemp("", archiveMeta(rm), rc)
	if err != nil {
		return nil, meta, err
	}
	meta.Index = rm.Index
	return tempArchive{archive}, meta, nil
}

// SnapshotRestore replaces the whole state with the archive read from r,
// on the leader (forwarding it there). The archive is verified in full —
// checksums, then that its state decodes — before anything changes: a bad
// one returns an error wrapping snapshot.ErrCorrupt and changes nothing.
// On success the restore is committed: raft.Restore installs it on the
// leader, replicates it and commits an entry after it.
func (s *Server) SnapshotRestore(ctx context.Context, dc string, r io.Reader) error {
	if err := s.checkSnapshotToken(ctxToken(ctx)); err != nil {
		return err
	}
	addr, err := s.leaderAddr(ctx)
	if err != nil {
		return err
	}
	if addr != "" {
		req := &snapshotRequest{Op: snapshotRestore, QueryOptions: rpcapi.QueryOptions{Datacenter: dc, AuthToken: ctxToken(ctx)}}
		_, _, err := s.pool.snapshotRemote(ctx, addr, req, r)
		return err
	}
	sp, err := snapshot.Spool(r, "")
	if err != nil {
		return err
	}
	defer sp.Close()
	if err := fsm.VerifySnapshot(sp); err != nil {
		return fmt.Errorf("%w: state.bin is not a Shoal state: %w", snapshot.ErrCorrupt, err)
	}
	if _, err := sp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("snapshot: rewind: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.raft.Restore(raftMeta(sp.Meta), sp, 0); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("snapshot: restore: %w (%w)", rpcapi.ErrNoLeader, err)
		}
		return fmt.Errorf("snapshot: restore: %w", err)
	}
	s.logger.Info("snapshot restored", "snapshot_index", sp.Meta.Index, "raft_index", s.raft.LastIndex())
	// The leader's own duties hold state read from the old store: give
	// every restored session a fresh TTL, as a new leader does.
	s.rearmSessionTimers()
	return nil
}

func archiveMeta(m *raft.SnapshotMeta) *snapshot.Meta {
	out := &snapshot.Meta{
		Version: int(m.Version), ID: m.ID, Index: m.Index, Term: m.Term, Peers: m.Peers,
		ConfigurationIndex: m.ConfigurationIndex, Size: m.Size,
	}
	for _, srv := range m.Configuration.Servers {
		out.Configuration.Servers = append(out.Configuration.Servers,
			snapshot.Server{Suffrage: int(srv.Suffrage), ID: string(srv.ID), Address: string(srv.Address)})
	}
	return out
}

func raftMeta(m *snapshot.Meta) *raft.SnapshotMeta {
	out := &raft.SnapshotMeta{
		Version: raft.SnapshotVersion(m.Version), ID: m.ID, Index: m.Index, Term: m.Term, Peers: m.Peers,
		ConfigurationIndex: m.ConfigurationIndex, Size: m.Size,
	}
	for _, srv := range m.Configuration.Servers {
		out.Configuration.Servers = append(out.Configuration.Servers, raft.Server{
			Suffrage: raft.ServerSuffrage(srv.Suffrage), ID: raft.ServerID(srv.ID), Address: raft.ServerAddress(srv.Address)})
	}
	return out
}

// tempArchive is a local save's archive, with its size.
type tempArchive struct{ *snapshot.TempArchive }

// ArchiveSize implements ArchiveSizer.
func (t tempArchive) ArchiveSize() int64 { return t.Size }
