package sched

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
)

// newID returns an allocation ID in UUID form, derived from the seed, the
// service, its version, the node, the slot and an attempt counter, and unique
// among the IDs this evaluation knows (every input allocation and every new
// one). Callers that pass a fresh seed per evaluation (such as the Raft
// index that triggered it) get IDs that never repeat.
func (c *cluster) newID(nodeID string, index int) string {
	var buf [8]byte
	for attempt := 0; ; attempt++ {
		h := sha256.New()
		binary.BigEndian.PutUint64(buf[:], c.seed)
		h.Write(buf[:])
		for _, s := range []string{c.spec.Name, c.version, nodeID, strconv.Itoa(index), strconv.Itoa(attempt)} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		id := formatUUID(h.Sum(nil))
		if _, taken := c.ids[id]; !taken {
			c.ids[id] = struct{}{}
			return id
		}
	}
}

// formatUUID formats the first 16 bytes of b as a version-4-shaped UUID.
func formatUUID(b []byte) string {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], u[10:16])
	return string(out[:])
}
