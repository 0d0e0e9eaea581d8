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

// EnvImpl is the environment variable that forces a kernel by name.
const EnvImpl = "AEMP_MD6_IMPL"

// genericKernel is the portable Go kernel.
var genericKernel = &Kernel{
	Name:      "generic",
	compress:  compressGeneric,
	supported: func() bool { return true },
}

// registry lists every kernel compiled into this binary, generic first.
var registry = []*Kernel{genericKernel}

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
