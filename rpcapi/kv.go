package rpcapi

import "github.com/shoalproject/shoal/kv"

// KVSRequest wraps a KV write.
type KVSRequest struct {
	WriteRequest
	kv.Request
}

// KeyRequest reads one key, or a prefix when used with KVS.List.
type KeyRequest struct {
	QueryOptions
	Key string
}

// IndexedEntries answers KV reads.
type IndexedEntries struct {
	QueryMeta
	Entries []*kv.Entry
}
