//go:build arm64 && gc && !purego

package asm

import "unsafe"

// ASIMD is part of every arm64 CPU Go runs on.
func singleKernels() []kernel1 {
	return []kernel1{{"neon", true, Compress1NEON}}
}

func multiKernels() []kernelN {
	return []kernelN{
		{"neonx2", true, 2, func(c, h, b []uint64, r int) {
			Compress2NEON((*[16][2]uint64)(unsafe.Pointer(&c[0])), (*[25][2]uint64)(unsafe.Pointer(&h[0])), (*[64][2]uint64)(unsafe.Pointer(&b[0])), r)
		}, func(c, h []uint64, l []byte, r int) {
			Compress2NEONLeaves((*[16][2]uint64)(unsafe.Pointer(&c[0])), (*[25][2]uint64)(unsafe.Pointer(&h[0])), (*[2][512]byte)(unsafe.Pointer(&l[0])), r)
		}},
	}
}
