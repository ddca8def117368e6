package rpcapi

import "github.com/shoalproject/shoal/kv"

// TxnRequest is a transaction that writes (Txn.Apply).
type TxnRequest struct {
	WriteRequest
	Ops []kv.TxnOp
}

// TxnReadRequest is a transaction of reads only (Txn.Read), which honours
// the consistency modes.
type TxnReadRequest struct {
	QueryOptions
	Ops []kv.TxnOp
}

// TxnResponse answers both: Results when every operation succeeded, else
// Errors (and nothing was applied).
type TxnResponse struct {
	Results []kv.TxnResult
	Errors  kv.TxnErrors
}

// TxnReadResponse answers Txn.Read.
type TxnReadResponse struct {
	QueryMeta
	TxnResponse
}
