//go:build (amd64 || arm64) && gc && !purego

package asm

// checkRounds panics unless 0 <= r <= MaxRounds: the kernels index their
// table of round constants with it.
func checkRounds(r int) {
	if uint(r) > MaxRounds {
		panic("md6/asm: rounds out of range 0..255")
	}
}
