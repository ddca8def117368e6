package sched

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HistoryPrefix is the KV prefix under which the leader keeps the spec
// versions of every service: HistoryKey(name, seq) holds one HistoryEntry.
// Like LastGoodPrefix it lies outside SpecPrefix. The history of a removed
// service is kept (a rollback re-creates it); delete the folder to forget it.
const HistoryPrefix = "shoal/history/"

// DefaultHistoryLimit is how many versions of one service the history keeps
// unless EvalConfig.HistoryLimit says otherwise; the oldest are deleted in
// the Raft entry that records a new one.
const DefaultHistoryLimit = 10

// HistoryEntry is one recorded spec version, stored as JSON under
// HistoryKey(Service, Seq).
type HistoryEntry struct {
	// Seq numbers a service's versions from 1 in the order the scheduler
	// first evaluated them; a rollback records the restored spec again,
	// under a new Seq (as Nomad's job versions).
	Seq uint64
	// Version is the spec's Version (what its replicas run); Digest
	// its Digest (the whole spec).
	Version, Digest string
	// Time is when the leader first evaluated the version.
	Time time.Time
	// Spec is the raw spec document, byte for byte as it was stored.
	Spec []byte
}

// HistoryRecord asks the FSM to append a version to a service's history
// (PlanRequest.History), in the same Raft entry as the plan that first
// evaluates it.
type HistoryRecord struct {
	Version string
	Digest  string
	Time    time.Time
	Spec    []byte
	// Keep is how many versions to keep, the new one included (>= 1).
	Keep int
}

// HistoryKey returns the KV key of a service's version seq: the number is
// zero-padded so that the keys list in Seq order.
func HistoryKey(service string, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d", HistoryPrefix, service, seq)
}

// HistoryFolder returns the KV prefix of one service's versions.
func HistoryFolder(service string) string { return HistoryPrefix + service + "/" }

// ParseHistorySeq returns the Seq a history key names, and whether key is
// one.
func ParseHistorySeq(key string) (uint64, bool) {
	i := strings.LastIndexByte(key, '/')
	if !strings.HasPrefix(key, HistoryPrefix) || i < len(HistoryPrefix) {
		return 0, false
	}
	n, err := strconv.ParseUint(key[i+1:], 10, 64)
	return n, err == nil && n > 0
}

// Digest returns a content hash of the whole spec (16 hex digits):
// unlike Version it changes with the replicas, constraints or update
// policy too, so that every change a user makes is a history entry.
func (s *Spec) Digest() string {
	c := s.Copy()
	c.Canonicalize()
	b, err := json.Marshal(c)
	if err != nil {
		panic("sched: a spec does not marshal: " + err.Error()) // programmer error: Spec is plain data
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// withHistory records in the service's status the Digest of the spec it
// plans and, when the digest is new to the status, adds the spec to the
// plan's History. It returns the request to submit: req, or a new
// status-only request when only the digest changed (a change that moves
// no replica, such as its constraints). A rejected spec keeps the last
// digest and so is not recorded; a rollback restores a version that was.
func (e *evaluator) withHistory(name string, req *PlanRequest) *PlanRequest {
	spec, old := e.specs[name], e.statuses[name]
	if spec == nil {
		if req != nil && req.Status != nil && old != nil {
			req.Status.SpecDigest = old.SpecDigest
		}
		return req
	}
	digest := spec.Digest()
	if req == nil {
		if old == nil || old.SpecDigest == digest {
			return nil
		}
		st := *old
		req = &PlanRequest{Service: name, Status: &st}
	}
	if req.Status == nil {
		return req
	}
	req.Status.SpecDigest = digest
	if old != nil && old.SpecDigest == digest || req.Rollback != nil {
		return req
	}
	keep := e.cfg.HistoryLimit
	if keep <= 0 {
		keep = DefaultHistoryLimit
	}
	req.History = &HistoryRecord{Version: req.Status.Version, Digest: digest, Time: e.cfg.Now, Spec: e.raw[name], Keep: keep}
	return req
}

// Append returns what recording rec changes in a service's history, whose
// entries are hist in ascending Seq: the entry to add, nil when rec's
// version is already the newest, and the Seqs to delete so that no more
// than rec.Keep entries remain. The FSM applies it; it is pure.
func (rec *HistoryRecord) Append(hist []HistoryEntry) (add *HistoryEntry, drop []uint64) {
	var last uint64
	if n := len(hist); n > 0 {
		if hist[n-1].Digest == rec.Digest {
			return nil, nil
		}
		last = hist[n-1].Seq
	}
	add = &HistoryEntry{Seq: last + 1, Version: rec.Version, Digest: rec.Digest, Time: rec.Time, Spec: rec.Spec}
	for i := 0; i < len(hist)+1-max(rec.Keep, 1); i++ {
		drop = append(drop, hist[i].Seq)
	}
	return add, drop
}
