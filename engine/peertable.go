package engine

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
)

// peerTable maps node IDs (and "\x00addr:HOST:PORT" for seeds whose ID is
// not known yet) to peers: plain maps in shards under read-write locks, so
// lookups (one per Send) do not allocate and rarely contend, an insert
// touches one shard, and an entry costs a few dozen bytes (a node with
// 10,000 connected peers has 10,000 entries).
type peerTable struct {
	shards [peerShards]peerShard
	seed   maphash.Seed
	once   sync.Once
	n      atomic.Int64
}

const peerShards = 64

type peerShard struct {
	mu sync.RWMutex
	m  map[string]*peer
	_  [40]byte // keep shards on their own cache lines
}

func (t *peerTable) shard(key string) *peerShard {
	t.once.Do(func() { t.seed = maphash.MakeSeed() })
	return &t.shards[maphash.String(t.seed, key)%peerShards]
}

func (t *peerTable) load(key string) (*peer, bool) {
	sh := t.shard(key)
	sh.mu.RLock()
	p, ok := sh.m[key]
	sh.mu.RUnlock()
	return p, ok
}

// loadOrStore returns the peer under key, storing p if there is none.
func (t *peerTable) loadOrStore(key string, p *peer) *peer {
	sh := t.shard(key)
	sh.mu.RLock()
	q, ok := sh.m[key]
	sh.mu.RUnlock()
	if ok {
		return q
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if q, ok := sh.m[key]; ok {
		return q
	}
	if sh.m == nil {
		sh.m = map[string]*peer{}
	}
	sh.m[key] = p
	t.n.Add(1)
	return p
}

// delete removes key if it still maps to p.
func (t *peerTable) delete(key string, p *peer) {
	sh := t.shard(key)
	sh.mu.Lock()
	if sh.m[key] == p {
		delete(sh.m, key)
		t.n.Add(-1)
	}
	sh.mu.Unlock()
}

// all returns every peer.
func (t *peerTable) all() []*peer { return t.appendAll(nil) }

// appendAll appends every peer to dst.
func (t *peerTable) appendAll(dst []*peer) []*peer {
	dst = slices.Grow(dst, int(t.n.Load()))
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, p := range sh.m {
			dst = append(dst, p)
		}
		sh.mu.RUnlock()
	}
	return dst
}

// size returns the number of entries.
func (t *peerTable) size() int { return int(t.n.Load()) }
