package mesh

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"net/netip"
)

// ErrNoVIP means every address of the VIP range is taken.
var ErrNoVIP = errors.New("mesh: no free virtual IP in the range")

// ChooseVIP picks a free address of rng for service: scanning from a
// position derived from the name (so that agents racing for the same
// service mostly pick the same one), skipping the range's first two
// addresses (network and gateway-like .1) and its last (broadcast).
func ChooseVIP(rng netip.Prefix, taken map[netip.Addr]bool, service string) (netip.Addr, error) {
	rng = rng.Masked()
	size := uint32(1) << (32 - rng.Bits())
	if !rng.Addr().Is4() || size < 4 {
		return netip.Addr{}, ErrNoVIP
	}
	usable := size - 3
	h := fnv.New32a()
	_, _ = h.Write([]byte(service))
	start := h.Sum32() % usable
	base := binary.BigEndian.Uint32(rng.Addr().AsSlice())
	for i := uint32(0); i < usable; i++ {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+2+(start+i)%usable)
		if a := netip.AddrFrom4(b); !taken[a] {
			return a, nil
		}
	}
	return netip.Addr{}, ErrNoVIP
}
