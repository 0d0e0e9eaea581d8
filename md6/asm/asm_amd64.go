//go:build amd64 && gc && !purego

package asm

import "unsafe"

// Compress1AVX2 computes c = f(n) with r rounds (0..255) using AVX2: a
// round is four ymm vectors of 4 steps each. The CPU must support AVX2.
func Compress1AVX2(c *[16]uint64, n *[89]uint64, r int) {
	checkRounds(r)
	compress1AVX2(c, n, r)
}

// Compress1AVX512 computes c = f(n) with r rounds (0..255) using AVX-512:
// a round is two zmm vectors of 8 steps each, combined with VPTERNLOGQ.
// The CPU must support AVX-512 F.
func Compress1AVX512(c *[16]uint64, n *[89]uint64, r int) {
	checkRounds(r)
	compress1AVX512(c, n, r)
}

// Compress4AVX2 computes 4 compressions with r rounds (0..255) at once,
// one per ymm lane. Inputs and outputs are word-major: h[w][i] is word w
// (0..24) of input i, b[w][i] its word 25+w, and c[w][i] receives word w of
// output i. The CPU must support AVX2.
func Compress4AVX2(c *[16][4]uint64, h *[25][4]uint64, b *[64][4]uint64, r int) {
	checkRounds(r)
	compress4AVX2(c, h, unsafe.Pointer(b), r, 0)
}

// Compress4AVX2Leaves is Compress4AVX2 with the data blocks given as
// message bytes: B of input i is leaves[i] read as 64 big-endian words
// (docs/md6.md section 5), so that the leaves of a tree need no conversion.
func Compress4AVX2Leaves(c *[16][4]uint64, h *[25][4]uint64, leaves *[4][512]byte, r int) {
	checkRounds(r)
	compress4AVX2(c, h, unsafe.Pointer(leaves), r, 1)
}

// Compress8AVX512 is Compress4AVX2 for 8 lanes of zmm registers. The CPU
// must support AVX-512 F and AVX2.
func Compress8AVX512(c *[16][8]uint64, h *[25][8]uint64, b *[64][8]uint64, r int) {
	checkRounds(r)
	compress8AVX512(c, h, unsafe.Pointer(b), r, 0)
}

// Compress8AVX512Leaves is Compress4AVX2Leaves for 8 lanes. The CPU must
// support AVX-512 F and AVX2.
func Compress8AVX512Leaves(c *[16][8]uint64, h *[25][8]uint64, leaves *[8][512]byte, r int) {
	checkRounds(r)
	compress8AVX512(c, h, unsafe.Pointer(leaves), r, 1)
}

//go:noescape
func compress1AVX2(c *[16]uint64, n *[89]uint64, r int)

//go:noescape
func compress1AVX512(c *[16]uint64, n *[89]uint64, r int)

// compress4AVX2 and compress8AVX512 read b as *[64][lanes]uint64 when
// leaves is 0, else as *[lanes][512]byte.
//
//go:noescape
func compress4AVX2(c *[16][4]uint64, h *[25][4]uint64, b unsafe.Pointer, r int, leaves int)

//go:noescape
func compress8AVX512(c *[16][8]uint64, h *[25][8]uint64, b unsafe.Pointer, r int, leaves int)
