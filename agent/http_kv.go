package agent

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// maxKVSize is Consul's default limit on a value (kv_max_value_size).
const maxKVSize = 512 * 1024

// kvRoutes returns every route of the KV subsystem: keys, sessions and
// transactions.
func (a *Agent) kvRoutes() []route {
	routes := []route{
		{"/v1/kv/{key...}", []string{http.MethodGet, http.MethodPut, http.MethodDelete}, a.kvEndpoint},
	}
	routes = append(routes, a.sessionRoutes()...)
	return append(routes, a.txnRoutes()...)
}

func (a *Agent) kvEndpoint(w http.ResponseWriter, r *http.Request) (any, error) {
	key, err := kvKey(strings.TrimPrefix(r.URL.Path, "/v1/kv/"))
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case http.MethodGet:
		if _, ok := query(r)["keys"]; ok {
			return a.kvKeys(w, r, key)
		}
		return a.kvGet(w, r, key)
	case http.MethodPut:
		return a.kvPut(w, r, key)
	default:
		return a.kvDelete(w, r, key)
	}
}

func (a *Agent) kvGet(w http.ResponseWriter, r *http.Request, key string) (any, error) {
	args := rpcapi.KeyRequest{Key: key}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	q := query(r)
	_, recurse := q["recurse"]
	method := "KVS.Get"
	if recurse {
		method = "KVS.List"
	} else if key == "" {
		return nil, badRequest("Missing key name")
	}
	var reply rpcapi.IndexedEntries
	if err := a.delegate.RPC(r.Context(), method, &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if len(reply.Entries) == 0 {
		w.WriteHeader(http.StatusNotFound)
		return nil, nil
	}
	if _, raw := q["raw"]; raw && !recurse {
		// Served as inert text: a value holding HTML or script never runs
		// in a browser that opens it (Consul CVE-2020-25864).
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
		_, _ = w.Write(reply.Entries[0].Value)
		return nil, nil
	}
	return reply.Entries, nil
}

// kvKeys answers ?keys: 404 when nothing matches, except for the root,
// which answers an empty list (as Consul).
func (a *Agent) kvKeys(w http.ResponseWriter, r *http.Request, prefix string) (any, error) {
	args := rpcapi.KeyListRequest{Prefix: prefix, Seperator: query(r).Get("separator")}
	if err := parseQuery(r, &args.QueryOptions); err != nil {
		return nil, err
	}
	var reply rpcapi.IndexedKeyList
	if err := a.delegate.RPC(r.Context(), "KVS.ListKeys", &args, &reply); err != nil {
		return nil, err
	}
	setMeta(w, &reply.QueryMeta)
	if len(reply.Keys) == 0 && prefix != "" {
		w.WriteHeader(http.StatusNotFound)
		return nil, nil
	}
	if reply.Keys == nil {
		reply.Keys = []string{}
	}
	return reply.Keys, nil
}

func parseUintParam(v string, what string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest("Invalid %s: %v", what, err)
	}
	return n, nil
}

func (a *Agent) kvPut(w http.ResponseWriter, r *http.Request, key string) (any, error) {
	if key == "" {
		return nil, badRequest("Missing key name")
	}
	q := query(r)
	if err := conflictingFlags(q, "cas", "acquire", "release"); err != nil {
		return nil, err
	}
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: key}}}
	args.Datacenter = q.Get("dc")
	if s := q.Get("flags"); s != "" {
		f, err := parseUintParam(s, "flags")
		if err != nil {
			return nil, err
		}
		args.Entry.Flags = f
	}
	if _, ok := q["cas"]; ok {
		idx, err := parseUintParam(q.Get("cas"), "cas index")
		if err != nil {
			return nil, err
		}
		args.Op, args.Entry.ModifyIndex = kv.OpCAS, idx
	}
	if _, ok := q["acquire"]; ok {
		args.Op, args.Entry.Session = kv.OpLock, q.Get("acquire")
	}
	if _, ok := q["release"]; ok {
		args.Op, args.Entry.Session = kv.OpUnlock, q.Get("release")
	}
	if r.ContentLength > maxKVSize {
		return nil, tooLarge(r.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxKVSize+1))
	if err != nil {
		return nil, badRequest("Request body read failed: %v", err)
	}
	if len(body) > maxKVSize {
		return nil, tooLarge(int64(len(body)))
	}
	if len(body) > 0 {
		args.Entry.Value = body
	}
	var ok bool
	if err := a.delegate.RPC(r.Context(), "KVS.Apply", &args, &ok); err != nil {
		return nil, err
	}
	return ok, nil
}

func tooLarge(n int64) error {
	return HTTPError{Code: http.StatusRequestEntityTooLarge,
		Msg: fmt.Sprintf("Request body(%d bytes) too large, max size: %d bytes. See %s.", n, maxKVSize,
			"https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size")}
}

func (a *Agent) kvDelete(w http.ResponseWriter, r *http.Request, key string) (any, error) {
	q := query(r)
	if err := conflictingFlags(q, "recurse", "cas"); err != nil {
		return nil, err
	}
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: key}}}
	args.Datacenter = q.Get("dc")
	if _, ok := q["recurse"]; ok {
		args.Op = kv.OpDeleteTree
	} else if key == "" {
		return nil, badRequest("Missing key name")
	}
	if _, ok := q["cas"]; ok {
		idx, err := parseUintParam(q.Get("cas"), "cas index")
		if err != nil {
			return nil, err
		}
		args.Op, args.Entry.ModifyIndex = kv.OpDeleteCAS, idx
	}
	var ok bool
	if err := a.delegate.RPC(r.Context(), "KVS.Apply", &args, &ok); err != nil {
		return nil, err
	}
	return ok, nil
}

// kvKey cleans a key taken from the URL as Consul does (path.Clean,
// keeping a trailing slash) and refuses, with 400, keys with leading or
// trailing whitespace or a ".." segment (Consul's validateKVKey). The
// empty key (the root) passes: each method decides whether it needs one.
func kvKey(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	key := path.Clean(raw)
	if strings.HasSuffix(raw, "/") && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	if strings.TrimSpace(key) != key {
		return "", badRequest("invalid key name, leading/trailing spaces are not allowed")
	}
	for _, p := range strings.Split(key, "/") {
		if p == ".." {
			return "", badRequest("invalid key name, path traversal is not allowed")
		}
	}
	return key, nil
}

// conflictingFlags refuses a request carrying more than one of flags,
// which do not compose (Consul's 400 "Conflicting flags").
func conflictingFlags(q url.Values, flags ...string) error {
	var found []string
	for _, f := range flags {
		if _, ok := q[f]; ok {
			found = append(found, f)
		}
	}
	if len(found) > 1 {
		return badRequest("Conflicting flags: %s", q.Encode())
	}
	return nil
}
