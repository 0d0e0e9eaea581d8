package md6

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestParallel compares WithParallel digests, written in pieces that
// start anywhere in the tree, with the sequential generic kernel.
func TestParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	msg := make([]byte, 12*subtreeBytes+3*BlockSize+77)
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	for _, k := range Kernels() {
		if !k.Supported() {
			continue
		}
		t.Run(k.Name, func(t *testing.T) {
			for try := range 6 {
				l := []int{64, 5, 6, 7, 4, 64}[try]
				r := 1 + rng.IntN(4)
				opts := []Option{WithL(l), WithRounds(r), WithKey([]byte("par"))}
				size := len(msg) - rng.IntN(3*subtreeBytes)
				want, _ := SumBits(200, msg, uint64(size)*8, append(opts, WithKernel(genericKernel))...)
				// One write, then writes that begin off a subtree boundary.
				got, _ := SumBits(200, msg, uint64(size)*8, append(opts, WithKernel(k), WithParallel(3))...)
				if !bytes.Equal(got, want) {
					t.Fatalf("L=%d size %d: one write %x, sequential %x", l, size, got, want)
				}
				dg, _ := New(200, append(opts, WithKernel(k), WithParallel(2))...)
				for pos := 0; pos < size; {
					n := min(size-pos, rng.IntN(6*subtreeBytes))
					dg.Write(msg[pos : pos+n])
					pos += n
					if rng.IntN(3) == 0 {
						part, _ := SumBits(200, msg, uint64(pos)*8, append(opts, WithKernel(genericKernel))...)
						if got := dg.Sum(nil); !bytes.Equal(got, part) {
							t.Fatalf("L=%d: Sum after %d bytes %x, sequential %x", l, pos, got, part)
						}
					}
				}
				if got := dg.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("L=%d size %d: pieces %x, sequential %x", l, size, got, want)
				}
			}
		})
	}
}
