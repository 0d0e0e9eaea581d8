//go:build amd64 && gc && !purego

package md6

import (
	"unsafe"

	"github.com/aemp-go/aemp/md6/asm"
	"github.com/klauspost/cpuid/v2"
)

// archKernels are the amd64 assembly kernels (package asm).
var archKernels = []*Kernel{
	{
		Name:           "avx2",
		compress:       asm.Compress1AVX2,
		lanes:          4,
		compressN:      compress4AVX2,
		compressLeaves: compress4AVX2Leaves,
		minBatch:       2,
		supported:      func() bool { return hasAVX2(&cpuid.CPU) },
		priority:       1,
	},
	{
		Name:           "avx512",
		compress:       asm.Compress1AVX512,
		lanes:          8,
		compressN:      compress8AVX512,
		compressLeaves: compress8AVX512Leaves,
		minBatch:       4,
		supported:      func() bool { return hasAVX512(&cpuid.CPU) },
		priority:       2,
	},
}

// hasAVX2 reports whether c can run the avx2 kernel (cpuid also checks
// that the OS saves the ymm state).
func hasAVX2(c *cpuid.CPUInfo) bool { return c.Supports(cpuid.AVX2) }

// hasAVX512 reports whether c can run the avx512 kernel: AVX-512 F and VL
// with the OS saving the zmm and opmask state, and AVX2 (its leaf loader
// uses ymm VPSHUFB; every AVX-512 CPU has it).
func hasAVX512(c *cpuid.CPUInfo) bool {
	return c.Supports(cpuid.AVX512F, cpuid.AVX512VL, cpuid.AVX2)
}

func compress4AVX2(c, h, b []uint64, r int) {
	_, _, _ = c[16*4-1], h[25*4-1], b[64*4-1]
	asm.Compress4AVX2((*[16][4]uint64)(unsafe.Pointer(&c[0])), (*[25][4]uint64)(unsafe.Pointer(&h[0])), (*[64][4]uint64)(unsafe.Pointer(&b[0])), r)
}

func compress8AVX512(c, h, b []uint64, r int) {
	_, _, _ = c[16*8-1], h[25*8-1], b[64*8-1]
	asm.Compress8AVX512((*[16][8]uint64)(unsafe.Pointer(&c[0])), (*[25][8]uint64)(unsafe.Pointer(&h[0])), (*[64][8]uint64)(unsafe.Pointer(&b[0])), r)
}

func compress4AVX2Leaves(c, h []uint64, leaves []byte, r int) {
	_, _, _ = c[16*4-1], h[25*4-1], leaves[512*4-1]
	asm.Compress4AVX2Leaves((*[16][4]uint64)(unsafe.Pointer(&c[0])), (*[25][4]uint64)(unsafe.Pointer(&h[0])), (*[4][512]byte)(unsafe.Pointer(&leaves[0])), r)
}

func compress8AVX512Leaves(c, h []uint64, leaves []byte, r int) {
	_, _, _ = c[16*8-1], h[25*8-1], leaves[512*8-1]
	asm.Compress8AVX512Leaves((*[16][8]uint64)(unsafe.Pointer(&c[0])), (*[25][8]uint64)(unsafe.Pointer(&h[0])), (*[8][512]byte)(unsafe.Pointer(&leaves[0])), r)
}
