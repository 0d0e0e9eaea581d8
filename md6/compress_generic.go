package md6

// This file holds the portable compression function f (docs/md6.md
// section 3). It is the reference every assembly kernel is compared
// against.

// Tap distances and per-step shift amounts (docs/md6.md section 2) are
// written into the unrolled round below as constants:
//
//	A[t] = g_s(S_j ^ A[t-89] ^ A[t-17] ^ (A[t-18] & A[t-21]) ^ (A[t-31] & A[t-67]))
//	g_s(x) = y ^ (y << l_s), y = x ^ (x >> r_s)
//
// With a window a = A[t0-89 : t0+16] for the first step t0 of a round,
// A[t-89] is a[s], A[t-17] is a[s+72], A[t-18] is a[s+71], A[t-21] is
// a[s+68], A[t-31] is a[s+58] and A[t-67] is a[s+22].

// windowRounds is how many rounds the generic kernel computes into its
// scratch array before it slides the last 89 words back to the front.
const windowRounds = 16

// compressGeneric computes C = f(N) with r rounds: the last 16 of the
// 16r words the step function produces (for r = 0: N[73..88]).
func compressGeneric(c *[ChunkWords]uint64, n *[InputWords]uint64, r int) {
	var buf [InputWords + windowRounds*16]uint64
	copy(buf[:InputWords], n[:])
	off := 0
	for j := 0; j < r; j++ {
		if off == windowRounds*16 {
			copy(buf[:InputWords], buf[off:off+InputWords])
			off = 0
		}
		roundGeneric((*[InputWords + 16]uint64)(buf[off:off+InputWords+16]), roundConstants[j])
		off += 16
	}
	copy(c[:], buf[off+InputWords-ChunkWords:off+InputWords])
}

// roundGeneric computes the 16 steps of one round into a[89..104] from
// a[0..88]; k is the round constant S_j.
func roundGeneric(a *[InputWords + 16]uint64, k uint64) {
	var x uint64
	x = k ^ a[0] ^ a[72] ^ (a[71] & a[68]) ^ (a[58] & a[22])
	x ^= x >> 10
	a[89] = x ^ (x << 11)
	x = k ^ a[1] ^ a[73] ^ (a[72] & a[69]) ^ (a[59] & a[23])
	x ^= x >> 5
	a[90] = x ^ (x << 24)
	x = k ^ a[2] ^ a[74] ^ (a[73] & a[70]) ^ (a[60] & a[24])
	x ^= x >> 13
	a[91] = x ^ (x << 9)
	x = k ^ a[3] ^ a[75] ^ (a[74] & a[71]) ^ (a[61] & a[25])
	x ^= x >> 10
	a[92] = x ^ (x << 16)
	x = k ^ a[4] ^ a[76] ^ (a[75] & a[72]) ^ (a[62] & a[26])
	x ^= x >> 11
	a[93] = x ^ (x << 15)
	x = k ^ a[5] ^ a[77] ^ (a[76] & a[73]) ^ (a[63] & a[27])
	x ^= x >> 12
	a[94] = x ^ (x << 9)
	x = k ^ a[6] ^ a[78] ^ (a[77] & a[74]) ^ (a[64] & a[28])
	x ^= x >> 2
	a[95] = x ^ (x << 27)
	x = k ^ a[7] ^ a[79] ^ (a[78] & a[75]) ^ (a[65] & a[29])
	x ^= x >> 7
	a[96] = x ^ (x << 15)
	x = k ^ a[8] ^ a[80] ^ (a[79] & a[76]) ^ (a[66] & a[30])
	x ^= x >> 14
	a[97] = x ^ (x << 6)
	x = k ^ a[9] ^ a[81] ^ (a[80] & a[77]) ^ (a[67] & a[31])
	x ^= x >> 15
	a[98] = x ^ (x << 2)
	x = k ^ a[10] ^ a[82] ^ (a[81] & a[78]) ^ (a[68] & a[32])
	x ^= x >> 7
	a[99] = x ^ (x << 29)
	x = k ^ a[11] ^ a[83] ^ (a[82] & a[79]) ^ (a[69] & a[33])
	x ^= x >> 13
	a[100] = x ^ (x << 8)
	x = k ^ a[12] ^ a[84] ^ (a[83] & a[80]) ^ (a[70] & a[34])
	x ^= x >> 11
	a[101] = x ^ (x << 15)
	x = k ^ a[13] ^ a[85] ^ (a[84] & a[81]) ^ (a[71] & a[35])
	x ^= x >> 7
	a[102] = x ^ (x << 5)
	x = k ^ a[14] ^ a[86] ^ (a[85] & a[82]) ^ (a[72] & a[36])
	x ^= x >> 6
	a[103] = x ^ (x << 31)
	x = k ^ a[15] ^ a[87] ^ (a[86] & a[83]) ^ (a[73] & a[37])
	x ^= x >> 12
	a[104] = x ^ (x << 9)
}
