package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// errTxnUnsupported answers transaction operations other than KV ones.
var errTxnUnsupported = errors.New("Shoal transactions support KV operations only")

// maxTxnLen is Consul's default limit on a transaction body (txn_max_req_len).
const maxTxnLen = 512 * 1024

func (a *Agent) txnRoutes() []route {
	return []route{{"/v1/txn", []string{http.MethodPut}, a.txn}}
}

// txnOpBody is one operation of a /v1/txn body, as Consul's api.TxnOp.
type txnOpBody struct {
	KV *struct {
		Verb    kv.Op
		Key     string
		Value   []byte
		Flags   uint64
		Index   uint64
		Session string
	}
	Node    json.RawMessage
	Service json.RawMessage
	Check   json.RawMessage
}

// txnResultBody is one result, as Consul's: {"KV": {...}}.
type txnResultBody struct {
	KV *kv.Entry
}

// txnResponseBody is the answer, as Consul's TxnResponse.
type txnResponseBody struct {
	Results []txnResultBody
	Errors  kv.TxnErrors
}

func (a *Agent) txn(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.ContentLength > maxTxnLen {
		return nil, HTTPError{Code: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("Request body(%d bytes) too large, max size: %d bytes.", r.ContentLength, maxTxnLen)}
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxTxnLen+1))
	if err != nil {
		return nil, badRequest("Failed to read body: %v", err)
	}
	if len(data) > maxTxnLen {
		return nil, HTTPError{Code: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("Request body too large, max size: %d bytes.", maxTxnLen)}
	}
	var body []txnOpBody
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, badRequest("Failed to parse body: %v", err)
	}
	if len(body) > kv.MaxTxnOps {
		return nil, HTTPError{Code: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("Transaction contains too many operations (%d > %d)", len(body), kv.MaxTxnOps)}
	}
	ops := make([]kv.TxnOp, 0, len(body))
	for i, op := range body {
		if op.KV == nil {
			return nil, badRequest("op %d: %v", i, errTxnUnsupported)
		}
		if len(op.KV.Value) > maxKVSize {
			return nil, HTTPError{Code: http.StatusRequestEntityTooLarge,
				Msg: fmt.Sprintf("Value for key %q is too large (%d > %d bytes)", op.KV.Key, len(op.KV.Value), maxKVSize)}
		}
		ops = append(ops, kv.TxnOp{Verb: op.KV.Verb, Entry: kv.Entry{
			Key: op.KV.Key, Value: op.KV.Value, Flags: op.KV.Flags, ModifyIndex: op.KV.Index, Session: op.KV.Session}})
	}
	req := kv.TxnRequest{Ops: ops}
	var resp rpcapi.TxnResponse
	if req.IsRead() {
		args := rpcapi.TxnReadRequest{Ops: ops}
		if err := parseQuery(r, &args.QueryOptions); err != nil {
			return nil, err
		}
		var reply rpcapi.TxnReadResponse
		if err := a.delegate.RPC(r.Context(), "Txn.Read", &args, &reply); err != nil {
			return nil, err
		}
		setMeta(w, &reply.QueryMeta)
		resp = reply.TxnResponse
	} else {
		args := rpcapi.TxnRequest{Ops: ops}
		args.Datacenter = query(r).Get("dc")
		if err := a.delegate.RPC(r.Context(), "Txn.Apply", &args, &resp); err != nil {
			return nil, err
		}
	}
	out := txnResponseBody{Errors: resp.Errors}
	if len(resp.Errors) == 0 {
		out.Results = make([]txnResultBody, len(resp.Results))
		for i, res := range resp.Results {
			out.Results[i] = txnResultBody{KV: res.KV}
		}
		return out, nil
	}
	writeJSONStatus(w, r, http.StatusConflict, out)
	return nil, nil
}
