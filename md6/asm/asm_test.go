//go:build (amd64 || arm64) && gc && !purego

package asm

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// Shift amounts r_s and l_s (docs/md6.md section 2).
var (
	testR = [16]uint{10, 5, 13, 10, 11, 12, 2, 7, 14, 15, 7, 13, 11, 7, 6, 12}
	testL = [16]uint{11, 24, 9, 16, 15, 9, 27, 15, 6, 2, 29, 8, 15, 5, 31, 9}
)

// refCompress is docs/md6.md section 3 written out literally,
// independent of package md6 (this package imports nothing of ours, not
// even in tests).
func refCompress(n *[89]uint64, r int) (c [16]uint64) {
	a := make([]uint64, 89+16*r)
	copy(a, n[:])
	s := uint64(0x0123456789abcdef)
	for j := 0; j < r; j++ {
		for i := 0; i < 16; i++ {
			t := 89 + 16*j + i
			x := s ^ a[t-89] ^ a[t-17] ^ (a[t-18] & a[t-21]) ^ (a[t-31] & a[t-67])
			x ^= x >> testR[i]
			a[t] = x ^ (x << testL[i])
		}
		s = (s<<1 | s>>63) ^ (s & 0x7311c2812425cfa0)
	}
	copy(c[:], a[len(a)-16:])
	return c
}

type kernel1 struct {
	name string
	ok   bool
	f    func(c *[16]uint64, n *[89]uint64, r int)
}

type kernelN struct {
	name   string
	ok     bool
	lanes  int
	f      func(c, h, b []uint64, r int)        // word-major, 16/25/64 rows of lanes
	leaves func(c, h []uint64, l []byte, r int) // l: lanes blocks of 512 bytes
}

// TestKernels checks every kernel the CPU runs against refCompress for
// every r in 0..255 (package md6 tests them further, on real messages).
func TestKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range singleKernels() {
		t.Run(k.name, func(t *testing.T) {
			if !k.ok {
				t.Skip("not supported by this CPU")
			}
			for r := 0; r <= MaxRounds; r++ {
				var n [89]uint64
				for i := range n {
					n[i] = rng.Uint64()
				}
				var got [16]uint64
				k.f(&got, &n, r)
				if want := refCompress(&n, r); got != want {
					t.Fatalf("r=%d: got %x\nwant %x", r, got, want)
				}
			}
		})
	}
	for _, k := range multiKernels() {
		t.Run(k.name, func(t *testing.T) {
			if !k.ok {
				t.Skip("not supported by this CPU")
			}
			for r := 0; r <= MaxRounds; r++ {
				h := make([]uint64, 25*k.lanes)
				b := make([]uint64, 64*k.lanes)
				c := make([]uint64, 16*k.lanes)
				for i := range h {
					h[i] = rng.Uint64()
				}
				for i := range b {
					b[i] = rng.Uint64()
				}
				if r%2 == 1 {
					// Leaf mode: the same blocks as big-endian bytes.
					l := make([]byte, 512*k.lanes)
					for lane := 0; lane < k.lanes; lane++ {
						for w := 0; w < 64; w++ {
							binary.BigEndian.PutUint64(l[512*lane+8*w:], b[w*k.lanes+lane])
						}
					}
					k.leaves(c, h, l, r)
				} else {
					k.f(c, h, b, r)
				}
				for lane := 0; lane < k.lanes; lane++ {
					var n [89]uint64
					for w := range n {
						if w < 25 {
							n[w] = h[w*k.lanes+lane]
						} else {
							n[w] = b[(w-25)*k.lanes+lane]
						}
					}
					want := refCompress(&n, r)
					for w := range want {
						if c[w*k.lanes+lane] != want[w] {
							t.Fatalf("r=%d lane %d word %d: got %x want %x", r, lane, w, c[w*k.lanes+lane], want[w])
						}
					}
				}
			}
		})
	}
}

func TestRoundsChecked(t *testing.T) {
	for _, k := range singleKernels() {
		if !k.ok {
			continue
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: r=256 accepted", k.name)
				}
			}()
			var n [89]uint64
			var c [16]uint64
			k.f(&c, &n, 256)
		}()
	}
}

// BenchmarkKernels reports one call of every kernel with r = 104 (MD6-256);
// the bytes are the 512-byte blocks compressed.
func BenchmarkKernels(b *testing.B) {
	for _, k := range singleKernels() {
		if !k.ok {
			continue
		}
		b.Run(k.name, func(b *testing.B) {
			var n [89]uint64
			var c [16]uint64
			for i := range n {
				n[i] = uint64(i) * 0x9e3779b97f4a7c15
			}
			b.SetBytes(512)
			for b.Loop() {
				k.f(&c, &n, 104)
			}
		})
	}
	for _, k := range multiKernels() {
		if !k.ok {
			continue
		}
		b.Run(k.name, func(b *testing.B) {
			h := make([]uint64, 25*k.lanes)
			bl := make([]uint64, 64*k.lanes)
			c := make([]uint64, 16*k.lanes)
			b.SetBytes(512 * int64(k.lanes))
			for b.Loop() {
				k.f(c, h, bl, 104)
			}
		})
	}
}
