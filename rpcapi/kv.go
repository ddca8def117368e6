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

// KeyListRequest lists the keys under a prefix (KVS.ListKeys).
type KeyListRequest struct {
	QueryOptions
	Prefix string
	// Seperator, when set, cuts each key after its first occurrence past
	// the prefix (Consul's ?separator=, spelled as Consul spells it).
	Seperator string
}

// IndexedEntries answers KV reads.
type IndexedEntries struct {
	QueryMeta
	Entries []*kv.Entry
}

// IndexedKeyList answers KVS.ListKeys.
type IndexedKeyList struct {
	QueryMeta
	Keys []string
}
