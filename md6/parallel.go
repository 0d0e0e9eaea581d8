package md6

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// WithParallel makes long writes hash on up to workers goroutines
// (workers <= 0: runtime.GOMAXPROCS(0)); the digest is the same. Without
// it, or with workers = 1, a digest uses only the calling goroutine. Only
// tree mode with L >= 5 (the default L = 64 is) runs in parallel, and only
// the whole 128 KiB subtrees of a Write of at least 512 KiB; each worker
// keeps its own tree state (about 30 KiB with the avx512 kernel).
func WithParallel(workers int) Option {
	return func(p *params) {
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		p.workers = workers
	}
}

const (
	// subtreeLevels is the height k of the subtrees hashed in parallel:
	// 4^k leaves (128 KiB) under one node of level k+1.
	subtreeLevels = 4
	subtreeLeaves = 1 << (2 * subtreeLevels)
	subtreeBytes  = subtreeLeaves * BlockSize
	// parallelMin is the shortest write that is split among goroutines.
	parallelMin = 4 * subtreeBytes
)

// writeParallel hashes the whole subtrees at the start of p (the current
// leaf is empty) on dg.workers goroutines and returns the rest of p. Each
// subtree is the complete tree under one node of level k+1 =
// subtreeLevels+1: its leaves are full and not the last (more of p
// follows), so it is known not to hold the root, and its output is the
// next child of level k+2 (docs/md6.md section 6.4: only the node
// contents matter, not the order of compression).
func (dg *Digest) writeParallel(p []byte) []byte {
	const k = subtreeLevels
	if dg.l < k+1 {
		return p // levels 1..k+1 must be tree levels
	}
	// Reach a subtree boundary the ordinary way.
	pre := int((subtreeLeaves - dg.leafIdx%subtreeLeaves) % subtreeLeaves * BlockSize)
	count := 0
	if len(p) > pre {
		count = (len(p) - pre - 1) / subtreeBytes // a byte must follow
	}
	if count < 2 {
		return p
	}
	dg.writeLeaves(p[:pre])
	p = p[pre:]
	// Every node below level k+2 is now complete: compress those still
	// waiting for a batch, so that the subtree outputs enter level k+2
	// after them.
	dg.drain(k + 1)

	outs := make([][ChunkWords]uint64, count)
	first := dg.leafIdx / subtreeLeaves // index of the first subtree root at level k+1
	var next atomic.Int64
	work := func(w *Digest) {
		for {
			i := int(next.Add(1) - 1)
			if i >= count {
				return
			}
			outs[i] = w.subtree(p[i*subtreeBytes:(i+1)*subtreeBytes], first+uint64(i))
		}
	}
	n := min(dg.workers, count)
	for len(dg.helpers) < n {
		dg.helpers = append(dg.helpers, dg.helper())
	}
	var wg sync.WaitGroup
	for _, w := range dg.helpers[1:n] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(w)
		}()
	}
	work(dg.helpers[0])
	wg.Wait()

	dg.leafIdx += uint64(count) * subtreeLeaves
	for ell := 2; ell <= k+1; ell++ {
		dg.level(ell).index = dg.leafIdx >> (2 * (ell - 1))
	}
	for i := range outs {
		dg.push(k+2, &outs[i])
	}
	return p[count*subtreeBytes:]
}

// helper returns a digest with the parameters of dg that hashes subtrees.
func (dg *Digest) helper() *Digest {
	return &Digest{d: dg.d, r: dg.r, l: dg.l, keylen: dg.keylen, kern: dg.kern,
		lanes: dg.lanes, key: dg.key, v: dg.v, capture: subtreeLevels + 2,
		sink: new([ChunkWords]uint64)}
}

// subtree returns the output of node index of level subtreeLevels+1, the
// root of the subtree whose leaves are data (subtreeBytes bytes).
func (dg *Digest) subtree(data []byte, index uint64) [ChunkWords]uint64 {
	const k = subtreeLevels
	dg.leafIdx = index << (2 * k)
	dg.queued = 0
	for ell := 2; ell <= k+1; ell++ {
		lv := dg.level(ell)
		lv.full, lv.words, lv.index = 0, 0, index<<(2*(k+1-ell))
	}
	dg.writeLeaves(data)
	dg.drain(k + 1) // the root's output goes to dg.sink
	return *dg.sink
}

// drain compresses every complete node still waiting for a batch at
// levels 1..top, bottom-up, so that their outputs reach level top+1.
func (dg *Digest) drain(top int) {
	if n := dg.queued; n > 0 {
		dg.queued = 0
		dg.compressLeaves(dg.batch, dg.leafIdx-uint64(n), n)
	}
	for ell := 2; ell <= top && ell-2 < len(dg.levels); ell++ {
		if dg.levels[ell-2].full > 0 {
			dg.flush(ell)
		}
	}
}
