package md6

import (
	"crypto/hmac"
	"hash"
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

// HMAC256 returns HMAC-MD6-256 (64-byte block) of data under key.
func HMAC256(key, data []byte) (mac [32]byte) {
	h := NewHMAC(key)
	h.Write(data)
	h.Sum(mac[:0])
	return mac
}
