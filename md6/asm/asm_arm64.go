//go:build arm64 && gc && !purego

package asm

import "unsafe"

// Compress1NEON computes c = f(n) with r rounds (0..255) using NEON: a
// round is eight 2-lane vectors, shifted per lane with USHL.
func Compress1NEON(c *[16]uint64, n *[89]uint64, r int) {
	checkRounds(r)
	compress1NEON(c, n, r)
}

// Compress2NEON computes 2 compressions with r rounds (0..255) at once,
// one per lane of the 128-bit registers. Inputs and outputs are
// word-major: h[w][i] is word w (0..24) of input i, b[w][i] its word 25+w,
// and c[w][i] receives word w of output i.
func Compress2NEON(c *[16][2]uint64, h *[25][2]uint64, b *[64][2]uint64, r int) {
	checkRounds(r)
	compress2NEON(c, h, unsafe.Pointer(b), r, 0)
}

// Compress2NEONLeaves is Compress2NEON with the data blocks given as
// message bytes: B of input i is leaves[i] read as 64 big-endian words.
func Compress2NEONLeaves(c *[16][2]uint64, h *[25][2]uint64, leaves *[2][512]byte, r int) {
	checkRounds(r)
	compress2NEON(c, h, unsafe.Pointer(leaves), r, 1)
}

//go:noescape
func compress1NEON(c *[16]uint64, n *[89]uint64, r int)

// compress2NEON reads b as *[64][2]uint64 when leaves is 0, else as
// *[2][512]byte.
//
//go:noescape
func compress2NEON(c *[16][2]uint64, h *[25][2]uint64, b unsafe.Pointer, r int, leaves int)
