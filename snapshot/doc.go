// Package snapshot writes, reads and verifies snapshot archives in
// Consul's format, so that the files `shoal snapshot save` and
// GET /v1/snapshot produce are read by `consul snapshot save` (which
// verifies what it downloads) and `consul snapshot inspect`, and back.
//
// # Format
//
// An archive is a gzip-compressed tar with three regular files, in this
// order:
//
//	meta.json   the Raft snapshot metadata (Meta, shaped as raft.SnapshotMeta)
//	state.bin   the FSM's snapshot stream, Meta.Size bytes
//	SHA256SUMS  "<hex sha256>  <name>\n" for meta.json and state.bin
//
// # Guarantees
//
// Read verifies everything before it reports success: the gzip and tar
// framing (a truncated file fails), that both members are present and no
// other, that state.bin is exactly Meta.Size bytes, and both checksums.
// Because state.bin is streamed to the caller's writer while it is hashed,
// callers must treat what they received as garbage unless Read returned
// nil: spool it to a temporary file (Spool does) and use it only then.
//
// Every integrity failure wraps ErrCorrupt, and the more specific
// ErrTruncated, ErrChecksum, ErrMissingFile, ErrUnexpectedFile or
// ErrSize where one applies; match them with errors.Is.
//
// The package is pure: standard library only, no Raft, networking or HTTP,
// so the CLI can use it too. The server converts Meta to raft.SnapshotMeta.
package snapshot
