package md6

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
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

// TestKernelsMulti compares the multi-buffer entry points (word rows and
// leaf bytes) of every supported kernel with the generic kernel, lane by
// lane, for every r in 0..255.
func TestKernelsMulti(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range Kernels() {
		t.Run(k.Name, func(t *testing.T) {
			if !k.Supported() {
				t.Skipf("this CPU cannot run %s", k.Name)
			}
			lanes := k.Lanes()
			if k.compressN != nil && (lanes < 2 || lanes > maxLanes || k.compressLeaves == nil || k.minBatch < 1) {
				t.Fatalf("lanes %d, minBatch %d", lanes, k.minBatch)
			}
			n := make([]uint64, InputWords*lanes)
			c := make([]uint64, ChunkWords*lanes)
			leaves := make([]byte, BlockSize*lanes)
			for r := 0; r <= MaxRounds; r++ {
				for i := range n {
					n[i] = rng.Uint64()
				}
				// Half of the calls take the blocks as big-endian bytes.
				viaLeaves := k.compressLeaves != nil && r%2 == 1
				if viaLeaves {
					for lane := range lanes {
						for w := range BlockWords {
							binary.BigEndian.PutUint64(leaves[lane*BlockSize+8*w:], n[(offB+w)*lanes+lane])
						}
					}
					k.compressLeaves(c, n[:offB*lanes], leaves, r)
				} else {
					k.CompressN(c, n, r)
				}
				for lane := range lanes {
					var in [InputWords]uint64
					var want [ChunkWords]uint64
					for w := range in {
						in[w] = n[w*lanes+lane]
					}
					compressGeneric(&want, &in, r)
					for w := range want {
						if got := c[w*lanes+lane]; got != want[w] {
							t.Fatalf("r=%d lane %d/%d word %d (leaves %v): %x, generic %x", r, lane, lanes, w, viaLeaves, got, want[w])
						}
					}
				}
			}
		})
	}
}

// TestTreeBatching hashes messages whose sizes leave every number of
// nodes waiting at every level, in one write and in random pieces with
// Sum in between, with every kernel (multi-buffer kernels also with every
// batch forced through the kernel and with none), and compares with the
// generic kernel, whose tree code the vectors check.
func TestTreeBatching(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	msg := make([]byte, 700*BlockSize)
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	sizes := []int{0, 1, BlockSize - 1, BlockSize, BlockSize + 1, 2 * BlockSize, 3*BlockSize + 5,
		4 * BlockSize, 4*BlockSize + 1, 8 * BlockSize, 8*BlockSize + 1, 9 * BlockSize, 16 * BlockSize,
		17*BlockSize + 100, 32*BlockSize + 1, 36 * BlockSize, 64*BlockSize + 1, 129 * BlockSize,
		256*BlockSize + 3, 511 * BlockSize, 512*BlockSize + 1, len(msg)}
	// Every number of leaves (and so of waiting leaves and level-2 nodes)
	// up to a few batches, then random sizes.
	for n := 1; n <= 4*maxLanes+1; n++ {
		sizes = append(sizes, n*BlockSize, n*BlockSize+1)
	}
	for range 20 {
		sizes = append(sizes, rng.IntN(len(msg)+1))
	}
	for _, k := range Kernels() {
		if !k.Supported() || k == genericKernel {
			continue
		}
		variants := []*Kernel{k}
		if k.compressN != nil {
			always, never := *k, *k
			always.Name, always.minBatch = k.Name+"/minBatch=1", 1
			never.Name, never.minBatch = k.Name+"/minBatch=lanes", k.lanes
			variants = append(variants, &always, &never)
		}
		for _, kv := range variants {
			t.Run(kv.Name, func(t *testing.T) {
				for _, size := range sizes {
					l := []int{64, 1, 2, 3, 4, 5, 0}[rng.IntN(7)]
					r := 1 + rng.IntN(8)
					var key []byte
					if rng.IntN(3) == 0 {
						key = msg[:1+rng.IntN(MaxKeySize)]
					}
					d := 1 + rng.IntN(MaxSize)
					opts := []Option{WithL(l), WithRounds(r), WithKey(key)}
					want, err := SumBits(d, msg, uint64(size)*8, append(opts, WithKernel(genericKernel))...)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := SumBits(d, msg, uint64(size)*8, append(opts, WithKernel(kv))...)
					if !bytes.Equal(got, want) {
						t.Fatalf("size %d d=%d L=%d r=%d keylen %d: one write %x, generic %x", size, d, l, r, len(key), got, want)
					}
					dg, _ := New(d, append(opts, WithKernel(kv))...)
					for pos := 0; pos < size; {
						n := min(size-pos, rng.IntN(3*BlockSize*kv.Lanes()))
						if rng.IntN(4) == 0 {
							n = min(size-pos, rng.IntN(BlockSize+2))
						}
						dg.Write(msg[pos : pos+n])
						pos += n
						if rng.IntN(8) == 0 {
							part, _ := SumBits(d, msg, uint64(pos)*8, append(opts, WithKernel(genericKernel))...)
							if got := dg.Sum(nil); !bytes.Equal(got, part) {
								t.Fatalf("size %d L=%d: Sum after %d bytes %x, generic %x", size, l, pos, got, part)
							}
						}
					}
					if got := dg.Sum(nil); !bytes.Equal(got, want) {
						t.Fatalf("size %d d=%d L=%d r=%d: pieces %x, generic %x", size, d, l, r, got, want)
					}
				}
			})
		}
	}
}

// TestDispatch checks that the kernel in use is the best one this CPU
// supports (run under qemu-x86_64-static -cpu qemu64, see the Makefile,
// that is generic).
func TestDispatch(t *testing.T) {
	want, _ := choose(registry, "")
	if env := strings.TrimSpace(os.Getenv(EnvImpl)); env != "" {
		want, _ = choose(registry, env)
	}
	if Implementation() != want.Name || active != want {
		t.Fatalf("in use: %s, want %s", Implementation(), want.Name)
	}
	t.Logf("kernel in use: %s", Implementation())
	if want := os.Getenv("AEMP_MD6_WANT_IMPL"); want != "" && Implementation() != want {
		t.Fatalf("in use: %s, AEMP_MD6_WANT_IMPL=%s", Implementation(), want)
	}
	for _, k := range registry {
		if k.Supported() && k.priority > active.priority && os.Getenv(EnvImpl) == "" {
			t.Errorf("%s is supported and better than %s", k.Name, active.Name)
		}
	}
}
