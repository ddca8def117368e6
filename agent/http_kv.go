package agent

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// maxKVSize is Consul's default limit on a value (kv_max_value_size).
const maxKVSize = 512 * 1024

func (a *Agent) kvRoutes() []route {
	return []route{
		{"/v1/kv/{key...}", []string{http.MethodGet, http.MethodPut, http.MethodDelete}, a.kvEndpoint},
	}
}

func (a *Agent) kvEndpoint(w http.ResponseWriter, r *http.Request) (any, error) {
	key := strings.TrimPrefix(r.URL.Path, "/v1/kv/")
	switch r.Method {
	case http.MethodGet:
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
	q := r.URL.Query()
	_, recurse := q["recurse"]
	method := "KVS.Get"
	if recurse {
		method = "KVS.List"
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
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(reply.Entries[0].Value)
		return nil, nil
	}
	return reply.Entries, nil
}

func (a *Agent) kvPut(w http.ResponseWriter, r *http.Request, key string) (any, error) {
	if key == "" {
		return nil, badRequest("Missing key name")
	}
	q := r.URL.Query()
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: key}}}
	if s := q.Get("flags"); s != "" {
		f, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, badRequest("Invalid flags: %v", err)
		}
		args.Entry.Flags = f
	}
	if s := q.Get("cas"); s != "" {
		idx, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, badRequest("Invalid cas index: %v", err)
		}
		args.Op, args.Entry.ModifyIndex = kv.OpCAS, idx
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxKVSize+1))
	if err != nil {
		return nil, badRequest("Request body read failed: %v", err)
	}
	if len(body) > maxKVSize {
		return nil, HTTPError{Code: http.StatusRequestEntityTooLarge,
			Msg: "Request body(" + strconv.Itoa(len(body)) + " bytes) too large, max size: " + strconv.Itoa(maxKVSize) + " bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size."}
	}
	args.Entry.Value = body
	var ok bool
	if err := a.delegate.RPC(r.Context(), "KVS.Apply", &args, &ok); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *Agent) kvDelete(w http.ResponseWriter, r *http.Request, key string) (any, error) {
	q := r.URL.Query()
	args := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: key}}}
	if _, ok := q["recurse"]; ok {
		args.Op = kv.OpDeleteTree
	} else if s := q.Get("cas"); s != "" {
		idx, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, badRequest("Invalid cas index: %v", err)
		}
		args.Op, args.Entry.ModifyIndex = kv.OpDeleteCAS, idx
	}
	var ok bool
	if err := a.delegate.RPC(r.Context(), "KVS.Apply", &args, &ok); err != nil {
		return nil, err
	}
	return ok, nil
}
