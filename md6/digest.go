package md6

import (
	"encoding/binary"
	"errors"
)

// Digest is a streaming MD6 computation. It implements hash.Hash; its
// memory is bounded by the height of the tree (per level one batch of
// nodes for the multi-buffer kernel: lanes x 512 bytes), never by the
// length of the message.
type Digest struct {
	d, r, l, keylen int
	kern            *Kernel
	lanes           int       // tree nodes compressed together: kern.Lanes()
	key             [8]uint64 // K: the key, zero-padded, as big-endian words
	v               uint64    // control word V without z and p
	workers         int       // goroutines for large writes (WithParallel)

	// Level 1: message bits of the current leaf (or, for L = 0, of the
	// data part of the current sequential node).
	leaf     [BlockSize]byte
	leafBits int
	leafIdx  uint64             // index of the current leaf
	chain    [ChunkWords]uint64 // L = 0: chaining value of the current node

	// Full leaves known not to be the last one, waiting to be compressed
	// together (multi-buffer kernels only): queued blocks of BlockSize
	// bytes, the leaves leafIdx-queued .. leafIdx-1.
	batch  []byte
	queued int

	levels []level   // levels[i] is tree level i+2
	seq    *seqLevel // the sequential level L+1 above the tree, once reached

	helpers []*Digest           // WithParallel: one per goroutine, reused
	capture int                 // helpers: the level whose input is captured
	sink    *[ChunkWords]uint64 // helpers: the output sent to level capture

	// Scratch for the kernel calls: kept here so that calling the kernel
	// through a function value does not move them to the heap per call.
	n   [InputWords]uint64
	c   [ChunkWords]uint64
	hdr []uint64 // compressN rows 0..24: Q, K and V fixed, U per batch
	out []uint64 // compressN output rows
}

// level holds the nodes of one tree level that are not compressed yet, in
// the word-major layout of Kernel.compressN: word w of slot i is
// b[w*lanes+i]. Slots 0..full-1 hold complete nodes, each known not to be
// the last of its level; slot full holds the node being filled. When all
// lanes slots are complete they are compressed in one kernel call.
type level struct {
	b     []uint64 // BlockWords*lanes words, allocated on first use
	full  int      // complete nodes waiting
	words int      // words of the node being filled
	index uint64   // index within the level of the node in slot 0
}

// seqLevel is the node being filled at the sequential level L+1.
type seqLevel struct {
	b     [BlockWords]uint64
	words int    // words of b holding data (including the chaining value)
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
	dg := &Digest{d: d, r: p.rounds, l: p.l, keylen: len(p.key), kern: p.kernel,
		lanes: p.kernel.Lanes(), workers: p.workers}
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
	dg.queued = 0
	dg.chain = [ChunkWords]uint64{}
	for i := range dg.levels {
		lv := &dg.levels[i]
		lv.full, lv.words, lv.index = 0, 0, 0 // the buffer is kept
	}
	dg.levels = dg.levels[:0]
	if dg.seq != nil {
		*dg.seq = seqLevel{}
	}
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
			if dg.workers > 1 && len(p) >= parallelMin {
				p = dg.writeParallel(p)
			}
			// Every full leaf but the last, which might end the message.
			m := (len(p) - 1) / capB * capB
			dg.writeLeaves(p[:m])
			p = p[m:]
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

// writeLeaves takes the full level-1 nodes in p (a multiple of leafCap
// bytes), none of them the last of the message. The current leaf must be
// empty. Whole batches go to the multi-buffer kernel straight from p once
// no leaf is waiting (after the first leaves of p complete a batch).
func (dg *Digest) writeLeaves(p []byte) {
	capB := dg.leafCap()
	batch := dg.lanes * capB
	for len(p) >= capB {
		if dg.lanes > 1 && dg.l > 0 && dg.queued == 0 && len(p) >= batch {
			dg.compressLeaves(p[:batch], dg.leafIdx, dg.lanes)
			dg.leafIdx += uint64(dg.lanes)
			p = p[batch:]
			continue
		}
		dg.processLeaf(p[:capB])
		p = p[capB:]
	}
}

// processLeaf takes a full level-1 node (data holds leafCap bytes) that is
// known not to be the last one: for L = 0 it is compressed into the chain
// at once, otherwise it waits for a batch of leaves.
func (dg *Digest) processLeaf(data []byte) {
	n := &dg.n
	if dg.l == 0 {
		copy(n[offB:], dg.chain[:])
		loadWords(n[offB+ChunkWords:], data)
		dg.chain = *dg.compress(1, dg.leafIdx, false, 0)
		dg.leafIdx++
		return
	}
	if dg.lanes == 1 {
		loadWords(n[offB:], data)
		c := *dg.compress(1, dg.leafIdx, false, 0)
		dg.leafIdx++
		dg.push(2, &c)
		return
	}
	if dg.batch == nil {
		dg.batch = make([]byte, dg.lanes*BlockSize)
	}
	copy(dg.batch[dg.queued*BlockSize:], data)
	dg.queued++
	dg.leafIdx++
	if dg.queued == dg.lanes {
		dg.queued = 0
		dg.compressLeaves(dg.batch, dg.leafIdx-uint64(dg.lanes), dg.lanes)
	}
}

// compressLeaves compresses the k full leaves in data (not the last ones),
// numbered from first, and passes their outputs to level 2.
func (dg *Digest) compressLeaves(data []byte, first uint64, k int) {
	if dg.lanes > 1 && k >= dg.kern.minBatch {
		dg.kern.compressLeaves(dg.out, dg.header(1, first), data, dg.r)
		dg.emit(2, k)
		return
	}
	var outs [maxLanes][ChunkWords]uint64
	dg.leafOutputs(data, first, k, outs[:k])
	for i := range k {
		dg.push(2, &outs[i])
	}
}

// leafOutputs computes the outputs of the k full leaves in data, numbered
// from first, with z = 0 and p = 0.
func (dg *Digest) leafOutputs(data []byte, first uint64, k int, outs [][ChunkWords]uint64) {
	if dg.lanes > 1 && k >= dg.kern.minBatch {
		dg.kern.compressLeaves(dg.out, dg.header(1, first), data, dg.r)
		dg.gather(outs)
		return
	}
	for i := range k {
		loadWords(dg.n[offB:], data[i*BlockSize:])
		outs[i] = *dg.compress(1, first+uint64(i), false, 0)
	}
}

// level returns tree level ell (2 <= ell <= L), creating it when needed.
func (dg *Digest) level(ell int) *level {
	for len(dg.levels) < ell-1 {
		if len(dg.levels) < cap(dg.levels) {
			dg.levels = dg.levels[:len(dg.levels)+1] // reset by Reset, buffer kept
		} else {
			dg.levels = append(dg.levels, level{})
		}
	}
	lv := &dg.levels[ell-2]
	if lv.b == nil {
		lv.b = make([]uint64, BlockWords*dg.lanes)
	}
	return lv
}

// push adds a child output to tree level ell (or the sequential level)
// during streaming. More input is known to follow, so a node that fills
// up is not the last of its level: it waits for its batch.
func (dg *Digest) push(ell int, out *[ChunkWords]uint64) {
	if ell == dg.capture {
		*dg.sink = *out
		return
	}
	if ell == dg.l+1 {
		dg.pushSeq(out)
		return
	}
	lv := dg.level(ell)
	storeChunk(lv.b[lv.words*dg.lanes+lv.full:], dg.lanes, out)
	lv.words += ChunkWords
	if lv.words < BlockWords {
		return
	}
	lv.words = 0
	lv.full++
	if lv.full == dg.lanes {
		dg.flush(ell)
	}
}

// pushSeq adds a child output to the sequential level L+1. A node that
// fills up is compressed at once: more input follows, so it is not the
// last one, and the next node needs its output as chaining value.
func (dg *Digest) pushSeq(out *[ChunkWords]uint64) {
	if dg.seq == nil {
		dg.seq = new(seqLevel)
	}
	sq := dg.seq
	if sq.words == 0 {
		sq.words = ChunkWords // chaining value of node 0: zeros
	}
	copy(sq.b[sq.words:], out[:])
	sq.words += ChunkWords
	if sq.words == BlockWords {
		copy(dg.n[offB:], sq.b[:])
		c := dg.compress(dg.l+1, sq.index, false, 0)
		sq.index++
		sq.b = [BlockWords]uint64{}
		copy(sq.b[:], c[:])
		sq.words = ChunkWords
	}
}

// flush compresses the complete nodes waiting at tree level ell (none is
// the last of its level) and passes their outputs, in order, up a level.
func (dg *Digest) flush(ell int) {
	lv := &dg.levels[ell-2]
	k := lv.full
	if dg.lanes > 1 && k >= dg.kern.minBatch {
		dg.kern.compressN(dg.out, dg.header(ell, lv.index), lv.b, dg.r)
		lv.index += uint64(k)
		lv.full = 0
		dg.emit(ell+1, k) // may grow dg.levels: lv is not used below
		return
	}
	var outs [maxLanes][ChunkWords]uint64
	dg.levelOutputs(lv, ell, k, outs[:k])
	lv.index += uint64(k)
	lv.full = 0
	for i := range k {
		dg.push(ell+1, &outs[i])
	}
}

// emit passes the first k outputs of the last multi-buffer call, in
// order, to level up. When they make whole nodes there (k a multiple of 4
// and the level between nodes), they are written straight into its batch.
func (dg *Digest) emit(up, k int) {
	lanes := dg.lanes
	if k%4 == 0 && up <= dg.l && up != dg.capture {
		p := dg.level(up)
		if p.words == 0 && p.full+k/4 <= lanes {
			// Output i is child i%4 of the new node p.full + i/4: its word
			// w is word 16*(i%4)+w of that node.
			for i := range k {
				slot := p.full + i/4
				dst := p.b[ChunkWords*(i%4)*lanes+slot:]
				for w := range ChunkWords {
					dst[w*lanes] = dg.out[w*lanes+i]
				}
			}
			p.full += k / 4
			if p.full == lanes {
				dg.flush(up)
			}
			return
		}
	}
	var outs [maxLanes][ChunkWords]uint64
	dg.gather(outs[:k])
	for i := range k {
		dg.push(up, &outs[i])
	}
}

// levelOutputs computes the outputs of the first k complete nodes of lv,
// a tree level ell, with z = 0 and p = 0. It does not change lv.
func (dg *Digest) levelOutputs(lv *level, ell, k int, outs [][ChunkWords]uint64) {
	lanes := dg.lanes
	if lanes > 1 && k >= dg.kern.minBatch {
		dg.kern.compressN(dg.out, dg.header(ell, lv.index), lv.b, dg.r)
		dg.gather(outs)
		return
	}
	for i := range k {
		for w := range BlockWords {
			dg.n[offB+w] = lv.b[w*lanes+i]
		}
		outs[i] = *dg.compress(ell, lv.index+uint64(i), false, 0)
	}
}

// header returns the rows 0..24 of a multi-buffer kernel input for the
// nodes first, first+1, ... of level ell: Q and K in every lane, U, and V
// of a full node that is not the last one (z = 0, p = 0).
func (dg *Digest) header(ell int, first uint64) []uint64 {
	lanes := dg.lanes
	if dg.hdr == nil {
		dg.hdr = make([]uint64, offB*lanes)
		dg.out = make([]uint64, ChunkWords*lanes)
		for i := range lanes {
			for w, x := range q {
				dg.hdr[(offQ+w)*lanes+i] = x
			}
			for w, x := range dg.key {
				dg.hdr[(offK+w)*lanes+i] = x
			}
			dg.hdr[offV*lanes+i] = dg.v
		}
	}
	u := dg.hdr[offU*lanes : offU*lanes+lanes]
	for i := range u {
		u[i] = uint64(ell)<<56 | (first+uint64(i))&(1<<56-1)
	}
	return dg.hdr
}

// gather copies the first len(outs) outputs of the last multi-buffer call.
func (dg *Digest) gather(outs [][ChunkWords]uint64) {
	lanes := dg.lanes
	for i := range outs {
		o := &outs[i]
		for w := range o {
			o[w] = dg.out[w*lanes+i]
		}
	}
}

// maxLanes is the most lanes of any kernel; maxOuts bounds the outputs
// one level passes up during finish: up to maxLanes-1 waiting nodes plus
// the nodes formed from the partial node and at most maxOuts children,
// (maxLanes-1) + ceil((3+maxOuts)/4) <= maxOuts.
const (
	maxLanes = 8
	maxOuts  = maxLanes + 4
)

// finish compresses the pending nodes bottom-up and returns the root
// output. Only the kernel scratch changes: writing may go on afterwards.
func (dg *Digest) finish() [ChunkWords]uint64 {
	if dg.l == 0 {
		b := dg.n[offB:]
		copy(b, dg.chain[:])
		loadMessage(b[ChunkWords:], dg.leaf[:], dg.leafBits)
		return *dg.compress(1, dg.leafIdx, true, dg.leafCap()*8-dg.leafBits)
	}
	// The outputs of level ell-1, in order, waiting to enter level ell.
	var outs, next [maxOuts][ChunkWords]uint64
	n := dg.queued
	if n > 0 {
		dg.leafOutputs(dg.batch, dg.leafIdx-uint64(n), n, outs[:n])
	}
	loadMessage(dg.n[offB:], dg.leaf[:], dg.leafBits)
	root := dg.leafIdx == 0
	outs[n] = *dg.compress(1, dg.leafIdx, root, BlockSize*8-dg.leafBits)
	n++
	for ell := 2; !root; ell++ {
		if ell == dg.l+1 {
			return dg.finishSeq(outs[:n])
		}
		var lv level
		if ell-2 < len(dg.levels) {
			lv = dg.levels[ell-2]
		}
		m := 0
		if lv.full > 0 {
			dg.levelOutputs(&lv, ell, lv.full, next[:lv.full])
			m = lv.full
		}
		// The node being filled gets the outputs; every node but the last
		// one it turns into is full and not final.
		index := lv.index + uint64(lv.full)
		b := dg.n[offB : offB+BlockWords]
		w := lv.words
		for i := range w {
			b[i] = lv.b[i*dg.lanes+lv.full]
		}
		for i := range n {
			copy(b[w:], outs[i][:])
			w += ChunkWords
			if w == BlockWords && i < n-1 {
				next[m] = *dg.compress(ell, index, false, 0)
				m++
				index++
				w = 0
			}
		}
		clear(b[w:])
		// A tree node is the root when it is the only one of its level.
		root = index == 0
		next[m] = *dg.compress(ell, index, root, (BlockWords-w)*64)
		m++
		outs, n = next, m
	}
	return outs[0]
}

// finishSeq passes the outputs of level L to the sequential level L+1 and
// returns the output of its last node, the root.
func (dg *Digest) finishSeq(outs [][ChunkWords]uint64) [ChunkWords]uint64 {
	ell := dg.l + 1
	b := dg.n[offB : offB+BlockWords]
	var sq seqLevel
	if dg.seq != nil {
		sq = *dg.seq
	}
	copy(b, sq.b[:]) // zero beyond sq.words
	w, index := sq.words, sq.index
	if w == 0 {
		w = ChunkWords // first node: zero chaining value
	}
	for i := range outs {
		copy(b[w:], outs[i][:])
		w += ChunkWords
		if w == BlockWords && i < len(outs)-1 {
			c := dg.compress(ell, index, false, 0)
			index++
			clear(b)
			copy(b, c[:])
			w = ChunkWords
		}
	}
	return *dg.compress(ell, index, true, (BlockWords-w)*64)
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

// storeChunk writes the 16 words of c into every stride-th word of dst.
func storeChunk(dst []uint64, stride int, c *[ChunkWords]uint64) {
	dst = dst[:(ChunkWords-1)*stride+1]
	for w, x := range c {
		dst[w*stride] = x
	}
}
