package md6

import (
	"fmt"
	"testing"
)

var benchSizes = []int{64, 512, 4 << 10, 64 << 10, 1 << 20}

// BenchmarkSum256 measures one-shot MD6-256 with every kernel this CPU runs.
func BenchmarkSum256(b *testing.B) {
	for _, k := range Kernels() {
		if !k.Supported() {
			continue
		}
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("impl=%s/size=%s", k.Name, sizeName(n)), func(b *testing.B) {
				msg := make([]byte, n)
				for i := range msg {
					msg[i] = byte(i)
				}
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					d, _ := New(256, WithKernel(k))
					d.Write(msg)
					d.Sum(nil)
				}
			})
		}
	}
}

// BenchmarkCompress measures one compression (104 rounds) per kernel.
func BenchmarkCompress(b *testing.B) {
	for _, k := range Kernels() {
		if !k.Supported() {
			continue
		}
		b.Run("impl="+k.Name, func(b *testing.B) {
			var n [InputWords]uint64
			var c [ChunkWords]uint64
			for i := range n {
				n[i] = uint64(i) * 0x9e3779b97f4a7c15
			}
			b.SetBytes(BlockSize)
			for b.Loop() {
				k.Compress(&c, &n, 104)
			}
		})
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
