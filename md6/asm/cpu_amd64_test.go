//go:build amd64 && gc && !purego

package asm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

func singleKernels() []kernel1 {
	return []kernel1{
		{"avx2", cpu.X86.HasAVX2, Compress1AVX2},
		{"avx512", cpu.X86.HasAVX512F, Compress1AVX512},
	}
}

func multiKernels() []kernelN {
	return []kernelN{
		{"avx2x4", cpu.X86.HasAVX2, 4, func(c, h, b []uint64, r int) {
			Compress4AVX2((*[16][4]uint64)(unsafe.Pointer(&c[0])), (*[25][4]uint64)(unsafe.Pointer(&h[0])), (*[64][4]uint64)(unsafe.Pointer(&b[0])), r)
		}, func(c, h []uint64, l []byte, r int) {
			Compress4AVX2Leaves((*[16][4]uint64)(unsafe.Pointer(&c[0])), (*[25][4]uint64)(unsafe.Pointer(&h[0])), (*[4][512]byte)(unsafe.Pointer(&l[0])), r)
		}},
		{"avx512x8", cpu.X86.HasAVX512F && cpu.X86.HasAVX2, 8, func(c, h, b []uint64, r int) {
			Compress8AVX512((*[16][8]uint64)(unsafe.Pointer(&c[0])), (*[25][8]uint64)(unsafe.Pointer(&h[0])), (*[64][8]uint64)(unsafe.Pointer(&b[0])), r)
		}, func(c, h []uint64, l []byte, r int) {
			Compress8AVX512Leaves((*[16][8]uint64)(unsafe.Pointer(&c[0])), (*[25][8]uint64)(unsafe.Pointer(&h[0])), (*[8][512]byte)(unsafe.Pointer(&l[0])), r)
		}},
	}
}
