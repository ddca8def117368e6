package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
)

// SpecVersion is one entry of a service's spec history, as
// GET /v1/shoal/services/{name}/versions lists it.
type SpecVersion struct {
	// ID numbers the service's versions from 1 (the entry's Seq); pass it
	// to the rollback endpoint.
	ID uint64
	// Version is what the replicas run (sched.Spec.Version), Digest the
	// whole spec (sched.Spec.Digest).
	Version, Digest string
	// Time is when the leader first evaluated the version.
	Time     time.Time
	Replicas int
	Mode     string
	Driver   string
	Image    string
	// Current reports whether the spec stored now is this version.
	Current bool
	// Spec is the raw spec document.
	Spec string
}

// specHistory reads a service's recorded versions, oldest first (a
// blocking query when r asks for one and block is set), and the spec
// stored now.
func (a *Agent) specHistory(r *http.Request, name string, block bool) ([]sched.HistoryEntry, *kv.Entry, rpcapi.QueryMeta, error) {
	args := rpcapi.KeyRequest{Key: sched.HistoryFolder(name)}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, nil, rpcapi.QueryMeta{}, err
	}
	if !block {
		args.MinQueryIndex = 0
	}
	var reply rpcapi.IndexedEntries
	if err := a.delegate.RPC(r.Context(), "KVS.List", &args, &reply); err != nil {
		return nil, nil, rpcapi.QueryMeta{}, err
	}
	var out []sched.HistoryEntry
	for _, e := range reply.Entries {
		var h sched.HistoryEntry
		if _, ok := sched.ParseHistorySeq(e.Key); ok && json.Unmarshal(e.Value, &h) == nil {
			out = append(out, h)
		}
	}
	cur, err := a.currentSpec(r, name, args.QueryOptions)
	return out, cur, reply.QueryMeta, err
}

// currentSpec reads the spec stored for name now; nil means none.
func (a *Agent) currentSpec(r *http.Request, name string, q rpcapi.QueryOptions) (*kv.Entry, error) {
	args := rpcapi.KeyRequest{Key: sched.SpecPrefix + name}
	args.QueryOptions = q
	args.MinQueryIndex = 0 // never blocks: the history read did
	var reply rpcapi.IndexedEntries
	if err := a.delegate.RPC(r.Context(), "KVS.Get", &args, &reply); err != nil {
		return nil, err
	}
	if len(reply.Entries) == 0 {
		return nil, nil
	}
	return reply.Entries[0], nil
}

func (a *Agent) schedVersions(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	hist, cur, meta, err := a.specHistory(r, name, true)
	if err != nil {
		return nil, err
	}
	setMeta(w, &meta)
	if len(hist) == 0 {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: "No versions recorded for service: " + name}
	}
	curDigest := ""
	if cur != nil {
		if s, err := sched.ParseSpec(cur.Value); err == nil {
			curDigest = s.Digest()
		}
	}
	out := make([]SpecVersion, 0, len(hist))
	for _, h := range slices.Backward(hist) {
		v := SpecVersion{ID: h.Seq, Version: h.Version, Digest: h.Digest, Time: h.Time, Spec: string(h.Spec),
			Current: h.Digest == curDigest}
		if s, err := sched.ParseSpec(h.Spec); err == nil {
			v.Replicas, v.Mode, v.Driver, v.Image = s.Count(), string(s.Mode), string(s.Driver), s.Image
		}
		out = append(out, v)
	}
	return out, nil
}

// RollbackResult is the answer of a rollback: the version now stored.
type RollbackResult struct {
	ID              uint64
	Version, Digest string
	// Index is the spec's new ModifyIndex.
	Index uint64
}

// schedRollback writes a recorded version back to shoal/services/<name>:
// a compare-and-set against ?cas= or, without it, against the spec read
// here, so that a concurrent deploy is never overwritten (409).
func (a *Agent) schedRollback(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	q := query(r)
	id, err := strconv.ParseUint(q.Get("version"), 10, 64)
	if err != nil || id == 0 {
		return nil, badRequest("Invalid version %q: want the ID of an entry of /v1/shoal/services/%s/versions", q.Get("version"), name)
	}
	var cas uint64
	_, hasCAS := q["cas"]
	if hasCAS {
		if cas, err = parseUintParam(q.Get("cas"), "cas index"); err != nil {
			return nil, err
		}
	}
	hist, cur, _, err := a.specHistory(r, name, false)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(hist, func(h sched.HistoryEntry) bool { return h.Seq == id })
	if i < 0 {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("Service %s has no version %d", name, id)}
	}
	h := hist[i]
	spec, err := sched.ParseSpec(h.Spec)
	if err == nil && spec.Name != name {
		err = fmt.Errorf("spec name %q does not match the service %q", spec.Name, name)
	}
	if err == nil {
		err = sched.Limits{MaxReplicas: a.cfg.Scheduler.MaxReplicas}.Check(spec)
	}
	if err != nil {
		return nil, badRequest("Version %d is not deployable: %v", id, err)
	}
	if !hasCAS && cur != nil {
		cas = cur.ModifyIndex
	}
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpCAS, Entry: kv.Entry{Key: sched.SpecPrefix + name, Value: h.Spec, ModifyIndex: cas}}}
	var ok bool
	if err := a.delegate.RPC(r.Context(), "KVS.Apply", &args, &ok); err != nil {
		return nil, err
	}
	if !ok {
		return nil, HTTPError{Code: http.StatusConflict,
			Msg: fmt.Sprintf("Spec of %s changed since index %d: read it again and retry", name, cas)}
	}
	res := RollbackResult{ID: id, Version: h.Version, Digest: h.Digest}
	if now, err := a.currentSpec(r, name, rpcapi.QueryOptions{}); err == nil && now != nil {
		res.Index = now.ModifyIndex
	}
	return res, nil
}
