package md6

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestKernels runs every kernel this CPU supports over the test vectors
// and compares it with the generic kernel on random inputs. A kernel added
// to the registry is tested here without further work.
func TestKernels(t *testing.T) {
	vs, _ := loadVectors(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range Kernels() {
		t.Run(k.Name, func(t *testing.T) {
			if !k.Supported() {
				t.Skipf("this CPU cannot run %s", k.Name)
			}
			for i := 0; i < 2000; i++ {
				var n [InputWords]uint64
				for j := range n {
					n[j] = rng.Uint64()
				}
				r := rng.IntN(MaxRounds + 1)
				var want, got [ChunkWords]uint64
				compressGeneric(&want, &n, r)
				k.Compress(&got, &n, r)
				if got != want {
					t.Fatalf("r=%d: %x, generic %x", r, got, want)
				}
			}
			for _, v := range vs {
				if testing.Short() && v.bits > 1<<24 {
					continue
				}
				msg := stream(t, v.msg, int((v.bits+7)/8))
				got, err := SumBits(v.d, msg, v.bits, v.opts(WithKernel(k))...)
				if err != nil {
					t.Fatal(err)
				}
				if h := hex.EncodeToString(got); h != v.want {
					t.Fatalf("%s: got %s want %s", v.name(), h, v.want)
				}
			}
		})
	}
}

func TestChooseKernel(t *testing.T) {
	yes := func() bool { return true }
	no := func() bool { return false }
	gen := &Kernel{Name: "generic", supported: yes}
	fast := &Kernel{Name: "fast", supported: yes, priority: 2}
	faster := &Kernel{Name: "faster", supported: no, priority: 3}
	ks := []*Kernel{gen, fast, faster}
	if k, err := choose(ks, ""); k != fast || err != nil {
		t.Errorf("automatic: %v %v", k.Name, err)
	}
	if k, err := choose(ks, " GENERIC "); k != gen || err != nil {
		t.Errorf("forced generic: %v %v", k.Name, err)
	}
	if k, err := choose(ks, "faster"); k != fast || err == nil || !strings.Contains(err.Error(), "does not support") {
		t.Errorf("unsupported: %v %v", k.Name, err)
	}
	if k, err := choose(ks, "neon2"); k != fast || err == nil || !strings.Contains(err.Error(), "no such kernel") {
		t.Errorf("unknown: %v %v", k.Name, err)
	}
	// Without any SIMD kernel supported, generic is the choice.
	if k, _ := choose([]*Kernel{gen, faster}, ""); k != gen {
		t.Errorf("fallback: %v", k.Name)
	}
}
