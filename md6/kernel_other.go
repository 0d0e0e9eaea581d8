//go:build !((amd64 || arm64) && gc && !purego)

package md6

// archKernels is empty: this build has no assembly kernels (another
// architecture, gccgo, or the purego tag).
var archKernels []*Kernel
