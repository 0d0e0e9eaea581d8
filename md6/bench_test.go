package md6

import (
	"fmt"
	"testing"
)

var benchSizes = []int{64, 512, 4 << 10, 64 << 10, 1 << 20, 16 << 20}

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

// BenchmarkParallel measures one-shot MD6-256 WithParallel(0) (one
// goroutine per GOMAXPROCS) with every kernel this CPU runs; compare with
// BenchmarkSum256 of the same size.
func BenchmarkParallel(b *testing.B) {
	for _, k := range Kernels() {
		if !k.Supported() {
			continue
		}
		for _, n := range []int{1 << 20, 16 << 20} {
			b.Run(fmt.Sprintf("impl=%s/size=%s", k.Name, sizeName(n)), func(b *testing.B) {
				msg := make([]byte, n)
				for i := range msg {
					msg[i] = byte(i)
				}
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					d, _ := New(256, WithKernel(k), WithParallel(0))
					d.Write(msg)
					d.Sum(nil)
				}
			})
		}
	}
}

// BenchmarkCompressN measures one multi-buffer call (104 rounds) per
// kernel; the bytes are the 512-byte blocks of all lanes.
func BenchmarkCompressN(b *testing.B) {
	for _, k := range Kernels() {
		if !k.Supported() || k.Lanes() == 1 {
			continue
		}
		b.Run("impl="+k.Name, func(b *testing.B) {
			n := make([]uint64, InputWords*k.Lanes())
			c := make([]uint64, ChunkWords*k.Lanes())
			for i := range n {
				n[i] = uint64(i) * 0x9e3779b97f4a7c15
			}
			b.SetBytes(int64(BlockSize * k.Lanes()))
			for b.Loop() {
				k.CompressN(c, n, 104)
			}
		})
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

// BenchmarkStream measures MD6-256 of 1 MiB written in 32 KiB pieces (as
// io.Copy does) with every kernel this CPU runs.
func BenchmarkStream(b *testing.B) {
	for _, k := range Kernels() {
		if !k.Supported() {
			continue
		}
		b.Run("impl="+k.Name, func(b *testing.B) {
			msg := make([]byte, 1<<20)
			for i := range msg {
				msg[i] = byte(i)
			}
			b.SetBytes(int64(len(msg)))
			d, _ := New(256, WithKernel(k))
			for b.Loop() {
				d.Reset()
				for i := 0; i < len(msg); i += 32 << 10 {
					d.Write(msg[i : i+32<<10])
				}
				d.Sum(nil)
			}
		})
	}
}
