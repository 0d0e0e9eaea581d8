//go:build amd64 && gc && !purego

package md6

import (
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// TestDispatchAMD64 checks the choice of kernel for CPUs with fewer
// features than this one: without AVX2 only generic is left, AVX2
// without AVX-512 gets avx2, and AVX-512 F without VL is not enough.
func TestDispatchAMD64(t *testing.T) {
	needs := map[string]func(*cpuid.CPUInfo) bool{"avx2": hasAVX2, "avx512": hasAVX512}
	for _, c := range []struct {
		disable []cpuid.FeatureID
		enable  []cpuid.FeatureID
		want    string
	}{
		{[]cpuid.FeatureID{cpuid.AVX2, cpuid.AVX512F, cpuid.AVX512VL}, nil, "generic"},
		{[]cpuid.FeatureID{cpuid.AVX2}, []cpuid.FeatureID{cpuid.AVX512F, cpuid.AVX512VL}, "generic"},
		{[]cpuid.FeatureID{cpuid.AVX512F, cpuid.AVX512VL}, []cpuid.FeatureID{cpuid.AVX2}, "avx2"},
		{[]cpuid.FeatureID{cpuid.AVX512VL}, []cpuid.FeatureID{cpuid.AVX2, cpuid.AVX512F}, "avx2"},
		{nil, []cpuid.FeatureID{cpuid.AVX2, cpuid.AVX512F, cpuid.AVX512VL}, "avx512"},
	} {
		cpu := cpuid.CPU // a copy
		cpu.Enable(c.enable...)
		cpu.Disable(c.disable...)
		ks := []*Kernel{genericKernel}
		for _, k := range archKernels {
			k2 := *k
			need := needs[k.Name]
			k2.supported = func() bool { return need(&cpu) }
			ks = append(ks, &k2)
		}
		if k, err := choose(ks, ""); err != nil || k.Name != c.want {
			t.Errorf("disable %v enable %v: chose %s (%v), want %s", c.disable, c.enable, k.Name, err, c.want)
		}
	}
}
