package md6

import (
	"encoding/binary"
	"errors"
)

// Digest is a streaming MD6 computation. It implements hash.Hash; its
// memory is bounded by the height of the tree (one 512-byte block per
// level), never by the length of the message.
type Digest struct {
	d, r, l, keylen int
	kern            *Kernel
	key             [8]uint64 // K: the key, zero-padded, as big-endian words
	v               uint64    // control word V without z and p

	// Level 1: message bits of the current leaf (or, for L = 0, of the
	// data part of the current sequential node).
	leaf     [BlockSize]byte
	leafBits int
	leafIdx  uint64
	chain    [ChunkWords]uint64 // L = 0: chaining value of the current node

	levels []level // levels[i] is level i+2

	// Scratch for the kernel call: kept here so that calling the kernel
	// through a function value does not move them to the heap per call.
	n [InputWords]uint64
	c [ChunkWords]uint64
}

// level is the node being filled at one tree level (or the SEQ level).
type level struct {
	b     [BlockWords]uint64
	words int    // words of b holding data (including a chaining value)
	index uint64 // index of this node within its level
}

// New returns an MD6 digest of d bits (1..512). Without options it hashes
// in tree mode (L = 64) with no key and the default number of rounds.
func New(d int, opts ...Option) (*Digest, error) {
	p := params{l: DefaultL, rounds: -1}
	for _, o := range opts {
		o(&p)
	}
	if d < 1 || d > MaxSize {
		return nil, &ParamError{ErrSize, d}
	}
	if len(p.key) > MaxKeySize {
		return nil, &ParamError{ErrKey, len(p.key)}
	}
	if p.l < 0 || p.l > MaxL {
		return nil, &ParamError{ErrL, p.l}
	}
	if p.rounds == -1 {
		p.rounds = DefaultRounds(d, len(p.key))
	}
	if p.rounds < 0 || p.rounds > MaxRounds {
		return nil, &ParamError{ErrRounds, p.rounds}
	}
	if p.kernel == nil {
		p.kernel = active
	}
	dg := &Digest{d: d, r: p.rounds, l: p.l, keylen: len(p.key), kern: p.kernel}
	var kb [MaxKeySize]byte
	copy(kb[:], p.key)
	for i := range dg.key {
		dg.key[i] = binary.BigEndian.Uint64(kb[8*i:])
	}
	dg.v = uint64(dg.r)<<48 | uint64(dg.l)<<40 | uint64(dg.keylen)<<12 | uint64(d)
	return dg, nil
}

// leafCap is how many message bytes one level-1 node holds: a whole block
// in tree mode, three quarters of it (after the chaining value) for L = 0.
func (dg *Digest) leafCap() int {
	if dg.l == 0 {
		return BlockSize - ChunkWords*8
	}
	return BlockSize
}

// Size returns the digest length in bytes, ceil(d/8).
func (dg *Digest) Size() int { return (dg.d + 7) / 8 }

// Bits returns the digest length in bits.
func (dg *Digest) Bits() int { return dg.d }

// BlockSize returns MD6's data block size, 512 bytes. Writes of whole
// blocks avoid a copy.
func (dg *Digest) BlockSize() int { return BlockSize }

// Reset returns the digest to its initial state, keeping its parameters.
func (dg *Digest) Reset() {
	dg.leafBits = 0
	dg.leafIdx = 0
	dg.chain = [ChunkWords]uint64{}
	dg.levels = dg.levels[:0]
}

// Write adds p to the message. It never fails.
func (dg *Digest) Write(p []byte) (int, error) {
	n := len(p)
	if dg.leafBits&7 != 0 {
		for _, b := range p {
			dg.putBits(b, 8)
		}
		return n, nil
	}
	capB := dg.leafCap()
	for len(p) > 0 {
		if dg.leafBits == capB*8 {
			// More input follows, so the held-back node is not the last.
			dg.processLeaf(dg.leaf[:capB])
			dg.leafBits = 0
		}
		if dg.leafBits == 0 {
			for len(p) > capB {
				dg.processLeaf(p[:capB])
				p = p[capB:]
			}
		}
		k := copy(dg.leaf[dg.leafBits/8:capB], p)
		dg.leafBits += 8 * k
		p = p[k:]
	}
	return n, nil
}

// ErrShortBits is returned by WriteBits when data holds fewer than nbits bits.
var ErrShortBits = errors.New("md6: fewer bytes than the bit count needs")

// WriteBits adds the first nbits bits of data to the message, taking the
// most significant bit of each byte first; the unused low bits of a last
// partial byte are ignored. Writes may end in the middle of a byte: the
// message is a bit string, and later writes continue right after it.
func (dg *Digest) WriteBits(data []byte, nbits uint64) error {
	if uint64(len(data)) < (nbits+7)/8 {
		return ErrShortBits
	}
	whole := nbits / 8
	dg.Write(data[:whole])
	if rem := int(nbits & 7); rem != 0 {
		dg.putBits(data[whole]&topBits(rem), rem)
	}
	return nil
}

// putBits appends the n (1..8) most significant bits of v; the other bits
// of v must be zero.
func (dg *Digest) putBits(v byte, n int) {
	capBits := dg.leafCap() * 8
	for n > 0 {
		if dg.leafBits == capBits {
			dg.processLeaf(dg.leaf[:capBits/8])
			dg.leafBits = 0
		}
		off := dg.leafBits & 7
		i := dg.leafBits >> 3
		dg.leaf[i] = dg.leaf[i]&topBits(off) | v>>off
		take := min(n, 8-off)
		dg.leafBits += take
		v <<= take
		n -= take
	}
}

// Sum appends the digest of the message written so far to b. It does not
// change the state: writing may go on.
func (dg *Digest) Sum(b []byte) []byte {
	root := dg.finish()
	return appendDigest(b, &root, dg.d)
}

// appendDigest appends the last d bits of the root output, serialized as
// 128 big-endian bytes, packed MSB first into ceil(d/8) bytes.
func appendDigest(b []byte, root *[ChunkWords]uint64, d int) []byte {
	var full [ChunkWords * 8]byte
	for i, w := range root {
		binary.BigEndian.PutUint64(full[8*i:], w)
	}
	nb := (d + 7) / 8
	out := full[len(full)-nb:]
	if s := uint(8 - d%8); s != 8 {
		for i := range out {
			v := out[i] << s
			if i+1 < len(out) {
				v |= out[i+1] >> (8 - s)
			}
			out[i] = v
		}
	}
	return append(b, out...)
}

// processLeaf compresses a full level-1 node (data holds leafCap bytes)
// that is known not to be the last one, and passes its output on.
func (dg *Digest) processLeaf(data []byte) {
	n := &dg.n
	if dg.l == 0 {
		copy(n[offB:], dg.chain[:])
		loadWords(n[offB+ChunkWords:], data)
		dg.chain = *dg.compress(1, dg.leafIdx, false, 0)
		dg.leafIdx++
		return
	}
	loadWords(n[offB:], data)
	c := *dg.compress(1, dg.leafIdx, false, 0)
	dg.leafIdx++
	dg.push(2, c)
}

// level returns the node being filled at level ell >= 2.
func (dg *Digest) level(ell int) *level {
	for len(dg.levels) < ell-1 {
		dg.levels = append(dg.levels, level{})
	}
	return &dg.levels[ell-2]
}

// push adds a child output to level ell during streaming: every node that
// fills up is compressed at once (more input is known to follow).
func (dg *Digest) push(ell int, out [ChunkWords]uint64) {
	for {
		lv := dg.level(ell)
		if ell == dg.l+1 { // the sequential level above the tree
			if lv.words == 0 {
				lv.words = ChunkWords // chaining value of node 0: zeros
			}
			copy(lv.b[lv.words:], out[:])
			lv.words += ChunkWords
			if lv.words == BlockWords {
				c := dg.compressBlock(&lv.b, ell, lv.index, false, 0)
				lv.index++
				lv.b = [BlockWords]uint64{}
				copy(lv.b[:], c[:])
				lv.words = ChunkWords
			}
			return
		}
		copy(lv.b[lv.words:], out[:])
		lv.words += ChunkWords
		if lv.words < BlockWords {
			return
		}
		out = dg.compressBlock(&lv.b, ell, lv.index, false, 0)
		lv.index++
		lv.b = [BlockWords]uint64{}
		lv.words = 0
		ell++
	}
}

// finish compresses the pending nodes bottom-up and returns the root
// output. Only the kernel scratch changes: writing may go on afterwards.
func (dg *Digest) finish() [ChunkWords]uint64 {
	b := dg.n[offB:]
	if dg.l == 0 {
		copy(b, dg.chain[:])
		b = b[ChunkWords:]
	}
	loadMessage(b, dg.leaf[:], dg.leafBits)
	root := dg.l == 0 || dg.leafIdx == 0
	out := *dg.compress(1, dg.leafIdx, root, dg.leafCap()*8-dg.leafBits)
	for ell := 2; !root; ell++ {
		// The node pending at this level gets out as its last child.
		b := dg.n[offB:]
		words, index := 0, uint64(0)
		if i := ell - 2; i < len(dg.levels) {
			lv := &dg.levels[i]
			copy(b, lv.b[:]) // zero beyond lv.words
			words, index = lv.words, lv.index
		} else {
			clear(b)
		}
		if ell == dg.l+1 && words == 0 {
			words = ChunkWords // first sequential node: zero chaining value
		}
		copy(b[words:], out[:])
		words += ChunkWords
		// A tree node is the root when it is the only one of its level;
		// the sequential level's last node always is.
		root = ell == dg.l+1 || index == 0
		out = *dg.compress(ell, index, root, (BlockWords-words)*64)
	}
	return out
}

// compressBlock compresses a node whose data block is held as words.
func (dg *Digest) compressBlock(b *[BlockWords]uint64, ell int, index uint64, z bool, pad int) [ChunkWords]uint64 {
	copy(dg.n[offB:], b[:])
	return *dg.compress(ell, index, z, pad)
}

// compress fills in Q, K, U and V around the data block already in dg.n,
// runs the kernel and returns its output (valid until the next call).
func (dg *Digest) compress(ell int, index uint64, z bool, pad int) *[ChunkWords]uint64 {
	n := &dg.n
	copy(n[offQ:], q[:])
	copy(n[offK:], dg.key[:])
	n[offU] = uint64(ell)<<56 | index&(1<<56-1)
	v := dg.v | uint64(pad)<<20
	if z {
		v |= 1 << 36
	}
	n[offV] = v
	dg.kern.compress(&dg.c, n, dg.r)
	return &dg.c
}

// loadMessage loads the first bits bits of src into dst as big-endian
// words, zero-filling the rest of dst and the unused bits of a partial
// last byte.
func loadMessage(dst []uint64, src []byte, bits int) {
	used := (bits + 7) / 8
	full := used / 8
	loadWords(dst[:full], src[:full*8])
	if tail := src[full*8 : used]; len(tail) > 0 {
		var w [8]byte
		copy(w[:], tail)
		dst[full] = binary.BigEndian.Uint64(w[:])
		full++
	}
	clear(dst[full:])
	if r := bits & 7; r != 0 {
		last := used - 1
		dst[last/8] &^= uint64(^topBits(r)) << (8 * (7 - last%8))
	}
}

// loadWords reads src as big-endian words into dst.
func loadWords(dst []uint64, src []byte) {
	for i := range dst {
		if len(src) < 8 {
			return
		}
		dst[i] = binary.BigEndian.Uint64(src)
		src = src[8:]
	}
}

// topBits returns a byte mask of its n (0..8) most significant bits.
func topBits(n int) byte { return byte(uint(0xff00) >> n) }
