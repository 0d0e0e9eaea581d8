package md6

import (
	"fmt"
	"os"
	"strings"
)

// Kernel is one implementation of the MD6 compression function. The
// generic Go kernel is always present; assembly kernels register
// themselves for the architectures and CPU features they need.
type Kernel struct {
	// Name is what AEMP_MD6_IMPL and Implementation use: "generic",
	// "avx2", "avx512" or "neon".
	Name string
	// compress computes c = f(n) with r rounds.
	compress func(c *[ChunkWords]uint64, n *[InputWords]uint64, r int)
	// lanes is how many compressions compressN computes in one call; 0
	// when the kernel has no multi-buffer entry point.
	lanes int
	// compressN computes lanes independent compressions with r rounds.
	// Inputs and outputs are word-major, lane i being input i: word w < 25
	// of input i is h[w*lanes+i], word 25+w is b[w*lanes+i], and word w of
	// output i goes to c[w*lanes+i]. h, b and c hold exactly 25, 64 and
	// 16 rows.
	compressN func(c, h, b []uint64, r int)
	// compressLeaves is compressN with the data blocks given as lanes
	// blocks of 512 message bytes (leaves), read as big-endian words.
	compressLeaves func(c, h []uint64, leaves []byte, r int)
	// minBatch is the least number of nodes for which one compressN call
	// (which always computes every lane) beats that many compress calls.
	minBatch int
	// supported reports whether this CPU can run the kernel.
	supported func() bool
	// priority orders the supported kernels: the highest is chosen.
	priority int
}

// Supported reports whether the CPU running this process can use k.
func (k *Kernel) Supported() bool { return k.supported() }

// Compress computes the 16-word output of the MD6 compression function of
// the 89-word input n with r rounds. It exists for tests and benchmarks.
func (k *Kernel) Compress(c *[ChunkWords]uint64, n *[InputWords]uint64, r int) {
	k.compress(c, n, r)
}

// Lanes returns how many compressions CompressN computes at once: 1 for a
// kernel without a multi-buffer entry point.
func (k *Kernel) Lanes() int {
	if k.compressN == nil {
		return 1
	}
	return k.lanes
}

// CompressN computes Lanes() compressions with r rounds in one call, the
// way tree levels use the kernel. n holds the 89-word inputs word-major
// (word w of input i is n[w*Lanes()+i]) and c receives the 16-word outputs
// the same way. It exists for tests and benchmarks.
func (k *Kernel) CompressN(c, n []uint64, r int) {
	lanes := k.Lanes()
	if len(n) < InputWords*lanes || len(c) < ChunkWords*lanes {
		panic("md6: CompressN: short buffers")
	}
	if k.compressN == nil {
		var in [InputWords]uint64
		var out [ChunkWords]uint64
		copy(in[:], n)
		k.compress(&out, &in, r)
		copy(c, out[:])
		return
	}
	k.compressN(c[:ChunkWords*lanes], n[:offB*lanes], n[offB*lanes:InputWords*lanes], r)
}

// EnvImpl is the environment variable that forces a kernel by name.
const EnvImpl = "AEMP_MD6_IMPL"

// genericKernel is the portable Go kernel.
var genericKernel = &Kernel{
	Name:      "generic",
	compress:  compressGeneric,
	supported: func() bool { return true },
}

// registry lists every kernel compiled into this binary, generic first;
// archKernels (kernel_amd64.go, kernel_arm64.go, kernel_other.go) are the
// assembly kernels of this architecture.
var registry = append([]*Kernel{genericKernel}, archKernels...)

// active is the kernel new digests use.
var active = genericKernel

// selectErr records why a kernel forced through AEMP_MD6_IMPL could not be used.
var selectErr error

func init() {
	active, selectErr = choose(registry, os.Getenv(EnvImpl))
}

// choose picks the supported kernel of highest priority, or the one named
// (case-insensitive) when name is not empty. A name that is unknown or not
// supported here is an error; the automatic choice is returned with it.
func choose(kernels []*Kernel, name string) (*Kernel, error) {
	best := kernels[0]
	for _, k := range kernels {
		if k.supported() && k.priority > best.priority {
			best = k
		}
	}
	name = strings.TrimSpace(strings.ToLower(name))
	if name == "" {
		return best, nil
	}
	for _, k := range kernels {
		if k.Name == name {
			if !k.supported() {
				return best, fmt.Errorf("md6: %s=%s: this CPU does not support the %s kernel", EnvImpl, name, name)
			}
			return k, nil
		}
	}
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.Name
	}
	return best, fmt.Errorf("md6: %s=%s: no such kernel in this build (have: %s)", EnvImpl, name, strings.Join(names, ", "))
}

// Implementation returns the name of the kernel new digests use.
func Implementation() string { return active.Name }

// ImplementationError returns why the kernel named in AEMP_MD6_IMPL is not
// in use, or nil. When it is not nil the automatic choice is in use.
func ImplementationError() error { return selectErr }

// Kernels returns every kernel compiled into this binary, supported here
// or not.
func Kernels() []*Kernel { return append([]*Kernel(nil), registry...) }
