package md6

import "hash"

// New256 returns a streaming MD6-256 (L = 64, 104 rounds, no key), the
// digest Perl's Digest::MD6 computes by default.
func New256() hash.Hash { d, _ := New(256); return d }

// New512 returns a streaming MD6-512 (L = 64, 168 rounds, no key).
func New512() hash.Hash { d, _ := New(512); return d }

// Sum256 returns the MD6-256 digest of data.
func Sum256(data []byte) (sum [32]byte) {
	d, _ := New(256)
	d.Write(data)
	root := d.finish()
	appendDigest(sum[:0], &root, 256)
	return sum
}

// Sum512 returns the MD6-512 digest of data.
func Sum512(data []byte) (sum [64]byte) {
	d, _ := New(512)
	d.Write(data)
	root := d.finish()
	appendDigest(sum[:0], &root, 512)
	return sum
}

// SumBits returns the d-bit MD6 digest of the first nbits bits of data,
// with the options of New.
func SumBits(d int, data []byte, nbits uint64, opts ...Option) ([]byte, error) {
	dg, err := New(d, opts...)
	if err != nil {
		return nil, err
	}
	if err := dg.WriteBits(data, nbits); err != nil {
		return nil, err
	}
	root := dg.finish()
	return appendDigest(nil, &root, d), nil
}
