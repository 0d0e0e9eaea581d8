//go:build arm64 && gc && !purego

package md6

import (
	"unsafe"

	"github.com/aemp-go/aemp/md6/asm"
	"github.com/klauspost/cpuid/v2"
)

// archKernels are the arm64 assembly kernels (package asm).
var archKernels = []*Kernel{
	{
		Name:           "neon",
		compress:       asm.Compress1NEON,
		lanes:          2,
		compressN:      compress2NEON,
		compressLeaves: compress2NEONLeaves,
		minBatch:       2,
		supported:      func() bool { return hasNEON(&cpuid.CPU) },
		priority:       1,
	},
}

// hasNEON reports whether c has Advanced SIMD (every arm64 CPU Go runs on
// has; cpuid reads it from the OS's hardware capabilities).
func hasNEON(c *cpuid.CPUInfo) bool { return c.Supports(cpuid.ASIMD) }

func compress2NEON(c, h, b []uint64, r int) {
	_, _, _ = c[16*2-1], h[25*2-1], b[64*2-1]
	asm.Compress2NEON((*[16][2]uint64)(unsafe.Pointer(&c[0])), (*[25][2]uint64)(unsafe.Pointer(&h[0])), (*[64][2]uint64)(unsafe.Pointer(&b[0])), r)
}

func compress2NEONLeaves(c, h []uint64, leaves []byte, r int) {
	_, _, _ = c[16*2-1], h[25*2-1], leaves[512*2-1]
	asm.Compress2NEONLeaves((*[16][2]uint64)(unsafe.Pointer(&c[0])), (*[25][2]uint64)(unsafe.Pointer(&h[0])), (*[2][512]byte)(unsafe.Pointer(&leaves[0])), r)
}
