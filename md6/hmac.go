package md6

import (
	"crypto/hmac"
	"hash"
	"sync"
)

// HMACBlockSize is the HMAC block size Perl's Digest::HMAC uses by default
// and AnyEvent::MP's hmac_md6_64_256 names: 64 bytes. It has nothing to do
// with MD6's own 512-byte block.
const HMACBlockSize = 64

// hmacHash presents MD6-256 to crypto/hmac with a 64-byte block.
type hmacHash struct{ *Digest }

func (hmacHash) BlockSize() int { return HMACBlockSize }

// NewHMAC returns HMAC-MD6-256 with a 64-byte block under key, identical to
// Perl's Digest::HMAC_MD6 (hmac_md6_hex KEY, DATA, 64, 256): keys longer
// than 64 bytes are first hashed with MD6-256.
func NewHMAC(key []byte) hash.Hash {
	return hmac.New(func() hash.Hash {
		d, _ := New(256)
		return hmacHash{d}
	}, key)
}

// hmacDigests holds MD6-256 digests for HMAC256 (a Digest is several
// KiB; a node computes two HMACs per handshake).
var hmacDigests = sync.Pool{New: func() any {
	d, _ := New(256)
	return d
}}

// HMAC256 returns HMAC-MD6-256 (64-byte block) of data under key. It is
// NewHMAC's result computed directly, with one digest and no allocation
// beyond it: the handshake computes two per connection.
func HMAC256(key, data []byte) (mac [32]byte) {
	d := hmacDigests.Get().(*Digest)
	defer hmacDigests.Put(d)
	d.Reset()
	var k, pad [HMACBlockSize]byte
	if len(key) > HMACBlockSize {
		d.Write(key)
		d.Sum(k[:0])
		d.Reset()
	} else {
		copy(k[:], key)
	}
	for i := range pad {
		pad[i] = k[i] ^ 0x36
	}
	d.Write(pad[:])
	d.Write(data)
	var inner [32]byte
	d.Sum(inner[:0])
	d.Reset()
	for i := range pad {
		pad[i] = k[i] ^ 0x5c
	}
	d.Write(pad[:])
	d.Write(inner[:])
	d.Sum(mac[:0])
	return mac
}
