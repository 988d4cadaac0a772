package hooks

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// keySize is the length in bytes of a call key: 128 bits of SHA-256.
const keySize = 16

// Key returns the idempotency key of the call on channel uniqueID of the
// FreeSWITCH instance coreUUID: 32 lowercase hex digits, the first 128 bits
// of SHA-256 over the uvarint length of coreUUID, coreUUID and uniqueID. The
// length prefix keeps ("ab", "c") and ("a", "bc") apart. The key is safe in a
// URL and a header, and the same for every event of one channel, so the
// spool can drop a repeated call across restarts. Changing this function
// would let an upgrade deliver spooled calls twice.
func Key(coreUUID, uniqueID string) string {
	return formatKey(callKey(coreUUID, uniqueID))
}

func callKey(coreUUID, uniqueID string) [keySize]byte {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(coreUUID)+len(uniqueID))
	buf = binary.AppendUvarint(buf, uint64(len(coreUUID)))
	buf = append(buf, coreUUID...)
	buf = append(buf, uniqueID...)
	sum := sha256.Sum256(buf)

	var key [keySize]byte
	copy(key[:], sum[:keySize])
	return key
}

func formatKey(key [keySize]byte) string {
	return hex.EncodeToString(key[:])
}

// keyRing is a set of the most recently added keys, bounded by size. When it
// is full, adding a key evicts the oldest one.
type keyRing struct {
	set  map[[keySize]byte]struct{}
	ring [][keySize]byte
	size int
	next int // the slot the next key overwrites once the ring is full
}

func newKeyRing(size int) *keyRing {
	initial := min(size, 1024)
	return &keyRing{
		set:  make(map[[keySize]byte]struct{}, initial),
		ring: make([][keySize]byte, 0, initial),
		size: size,
	}
}

func (r *keyRing) contains(key [keySize]byte) bool {
	_, ok := r.set[key]
	return ok
}

func (r *keyRing) add(key [keySize]byte) {
	if r.contains(key) {
		return
	}
	if len(r.ring) < r.size {
		r.ring = append(r.ring, key)
		r.set[key] = struct{}{}
		return
	}
	delete(r.set, r.ring[r.next])
	r.ring[r.next] = key
	r.set[key] = struct{}{}
	r.next = (r.next + 1) % r.size
}
