package engine

import (
	"crypto/rand"
	"encoding/base64"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// peer is another node: its authenticated connection, the addresses it is
// known to listen on, and the messages queued while it is not connected.
type peer struct {
	id   string // "" until a connection to one of its addresses authenticated
	conn atomic.Pointer[conn]

	mu   sync.Mutex
	seed bool
	// gen is the AnyEvent::MP generation the node showed in its last
	// handshake (handshake.Gen1 or Gen2; 0 when never connected). It
	// decides the kill request and how long messages wait for a connection.
	gen int8
	// gone: removed from the table; a Send that still holds it must look
	// the node up again.
	gone bool
	// downSince is when the peer last had no connection; a peer idle that
	// long (no connection, queue, seed or dial) is forgotten.
	downSince uint32 // monoMillis (32 bits keep the peer at 48 bytes)
	// ext holds what only some peers need; nil for a node that connected
	// to us and has nothing queued, the common case on a busy listener.
	ext *peerExt
}

// peerExt is the part of a peer that only nodes we dial or queue for
// need: their addresses, connection attempts and queued messages.
type peerExt struct {
	addrs       []string
	dialing     map[string]bool // addresses with an attempt in progress
	lastAttempt int64           // monotonic nanoseconds (monoNow)
	queue       []queued
	queueBytes  int
	queuedSince int64
}

// noExt stands for a missing peerExt when reading; never written.
var noExt peerExt

// rx returns p's extension for reading (never nil); p.mu must be held.
func (p *peer) rx() *peerExt {
	if p.ext == nil {
		return &noExt
	}
	return p.ext
}

// wx returns p's extension for writing, creating it; p.mu must be held.
func (p *peer) wx() *peerExt {
	if p.ext == nil {
		p.ext = &peerExt{}
	}
	return p.ext
}

// trimExt drops an extension that holds nothing; p.mu must be held.
func (p *peer) trimExt() {
	if e := p.ext; e != nil && len(e.addrs) == 0 && len(e.dialing) == 0 && len(e.queue) == 0 {
		p.ext = nil
	}
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow returns monotonic nanoseconds since the process started: a
// timestamp in 8 bytes instead of a time.Time's 24 (a peer keeps three).
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// monoMillis returns monoNow in milliseconds, in 32 bits (it wraps after
// 49 days: only differences of it are meaningful; see sinceMillis).
func monoMillis() uint32 { return millisOf(monoNow()) }

// millisOf converts a monoNow value to monoMillis.
func millisOf(mono int64) uint32 { return uint32(mono / int64(time.Millisecond)) }

// sinceMillis returns the time from then to now, two monoMillis values.
// It is signed (a timestamp taken just after now gives a small negative
// duration) and correct while they are less than 24 days apart.
func sinceMillis(now, then uint32) time.Duration {
	return time.Duration(int32(now-then)) * time.Millisecond
}

// monoAt converts a time read from the clock to monoNow's scale.
func monoAt(t time.Time) int64 { return int64(t.Sub(monoEpoch)) }

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

// queued is a message waiting for a connection.
type queued struct {
	port string
	args []any
}

// peerFor returns the peer of a node ID, creating it.
func (n *Node) peerFor(id string) *peer {
	if p, ok := n.peers.load(id); ok {
		return p
	}
	return n.peers.loadOrStore(id, &peer{id: id, downSince: monoMillis()})
}

// peerForAddr returns a peer, keyed by its address until its node ID is
// known, for an address to connect to (a seed).
func (n *Node) peerForAddr(addr string) *peer {
	key := "\x00addr:" + addr
	return n.peers.loadOrStore(key, &peer{ext: &peerExt{addrs: []string{addr}}, downSince: monoMillis()})
}

func (p *peer) markSeed(addr string) {
	p.mu.Lock()
	p.seed = true
	if e := p.wx(); !slices.Contains(e.addrs, addr) {
		e.addrs = append(e.addrs, addr)
	}
	p.mu.Unlock()
}

func (p *peer) dialDone(addr string) {
	p.mu.Lock()
	if p.ext != nil {
		delete(p.ext.dialing, addr)
	}
	p.mu.Unlock()
}

// Send delivers a message to a port: locally at once (no encoding), or on
// the connection to the port's node. Without a connection the message is
// queued and, when addresses of the node are known, a connection is
// opened; after monitor-timeout without one the queue is dropped and a
// node event reports "unable to connect". Send never blocks; it returns
// ErrBackpressure when the connection's unsent bytes are above the
// high-water mark. The arguments must not be changed after the call.
func (n *Node) Send(portID string, args ...any) error {
	if n.closing.Load() {
		return ErrClosed
	}
	node, port := SplitPortID(portID)
	if node == n.id || node == "" {
		n.deliverLocal(port, args)
		return nil
	}
	return n.sendTo(node, port, args)
}

func (n *Node) sendTo(node, port string, args []any) error {
	return n.sendToPeer(n.peerFor(node), port, args)
}

// sendToPeer sends on p's connection, or queues for p.
func (n *Node) sendToPeer(p *peer, port string, args []any) error {
	if c := p.conn.Load(); c != nil {
		return c.send(port, args)
	}
	return n.enqueue(p, port, args)
}

// sendNodePort sends a request to another node's node port "".
func (n *Node) sendNodePort(node string, args ...any) {
	if p, ok := n.peers.load(node); ok {
		if c := p.conn.Load(); c != nil {
			c.send("", args)
		}
	}
}

// enqueue keeps a message for a node that is not connected.
func (n *Node) enqueue(p *peer, port string, args []any) error {
	p.mu.Lock()
	if p.gone { // forgotten meanwhile: start over with the table's entry
		p.mu.Unlock()
		return n.sendTo(p.id, port, args)
	}
	if c := p.conn.Load(); c != nil { // connected meanwhile
		p.mu.Unlock()
		return c.send(port, args)
	}
	size := len(port) + 16
	for _, a := range args {
		size += approxSize(a)
	}
	// Each node's queue stops at the high-water mark, and all queues
	// together at four times it.
	if p.rx().queueBytes+size > n.cfg.HighWaterMark || n.queuedBytes.Load()+int64(size) > 4*int64(n.cfg.HighWaterMark) {
		p.mu.Unlock()
		return ErrQueueFull
	}
	e := p.wx()
	if len(e.queue) == 0 {
		e.queuedSince = monoNow()
	}
	e.queue = append(e.queue, queued{port, args})
	e.queueBytes += size
	n.queuedBytes.Add(int64(size))
	p.mu.Unlock()
	n.connectPeer(p, false)
	return nil
}

// approxSize estimates the encoded size of a value for queue accounting.
func approxSize(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 2
	case []byte:
		return len(v) + 2
	case []any:
		s := 2
		for _, e := range v {
			s += approxSize(e) + 1
		}
		return s
	case map[string]any:
		s := 2
		for k, e := range v {
			s += len(k) + 3 + approxSize(e)
		}
		return s
	}
	return 8
}

// connectPeer starts connection attempts to every known address of p
// that has none in progress; with force, even if one was made recently.
func (n *Node) connectPeer(p *peer, force bool) {
	if n.closing.Load() || p.conn.Load() != nil {
		return
	}
	p.mu.Lock()
	now := monoNow()
	e := p.ext
	if e == nil || len(e.addrs) == 0 || !force && time.Duration(now-e.lastAttempt) < n.cfg.ConnectInterval {
		p.mu.Unlock()
		return
	}
	var todo []string
	for _, a := range e.addrs {
		if !e.dialing[a] {
			if e.dialing == nil {
				e.dialing = map[string]bool{}
			}
			e.dialing[a] = true
			todo = append(todo, a)
		}
	}
	if len(todo) > 0 {
		e.lastAttempt = now
	}
	p.mu.Unlock()
	for _, a := range todo {
		go n.dial(a, p)
	}
}

// checkPeers drops queues older than monitor-timeout and reconnects seeds.
func (n *Node) checkPeers(now time.Time, peers []*peer) {
	mono := monoAt(now)
	for _, p := range peers {
		if p.conn.Load() != nil {
			continue
		}
		p.mu.Lock()
		// A 1.x node gives up on an unreachable node after
		// monitor-timeout, a 2.x node after connect-interval; we follow
		// the generation the node showed last (1.x when never seen).
		wait, reason := n.cfg.MonitorTimeout, ReasonUnableToConnect
		if p.gen == handshake.Gen2 {
			wait, reason = n.cfg.ConnectInterval, ReasonConnectTimeout
			if len(p.rx().addrs) == 0 {
				reason = ReasonNoKnownAddress
			}
		}
		var dropped int
		if e := p.ext; e != nil && len(e.queue) > 0 && time.Duration(mono-e.queuedSince) >= wait {
			dropped = len(e.queue)
			n.queuedBytes.Add(-int64(e.queueBytes))
			e.queue, e.queueBytes = nil, 0
			p.trimExt()
		}
		seed, waiting := p.seed, len(p.rx().queue) > 0
		id := p.id
		// Forget a node that has been idle for monitor-timeout, so that
		// node IDs seen once (anonymous nodes, made-up destinations) do
		// not accumulate.
		forget := !seed && !waiting && len(p.rx().dialing) == 0 && p.id != "" &&
			sinceMillis(millisOf(mono), p.downSince) >= n.cfg.MonitorTimeout
		if forget {
			p.gone = true
		}
		p.mu.Unlock()
		if dropped > 0 {
			n.stats.dropped.Add(int64(dropped))
			n.emit(NodeEvent{Node: id, Reason: reason})
			n.nodePorts.nodeDown(n, id, reason)
		}
		if forget {
			n.peers.delete(id, p)
			continue
		}
		if seed || waiting {
			n.connectPeer(p, false)
		}
	}
}

// attach makes c the connection of node id, replacing an older one
// ("switched connections", as Perl does), and sends what was queued.
func (n *Node) attach(c *conn, id, dialAddr string, res *handshake.Result) {
	p := n.peerFor(id)
	// Set even when c loses to an older connection below: it names the
	// node in c's logs and messages; detach checks that c is p's
	// connection before touching p.
	c.peer = p
	if dialAddr != "" {
		n.adoptAddr(dialAddr, p)
	}
	p.mu.Lock()
	if old := p.conn.Load(); old != nil && old != c && !n.keepNewer(old, c, id) {
		p.mu.Unlock()
		c.closeWith(ReasonSwitched)
		return
	}
	old := p.conn.Swap(c)
	var q []queued
	if e := p.ext; e != nil {
		q = e.queue
		n.queuedBytes.Add(-int64(e.queueBytes))
		e.queue, e.queueBytes = nil, 0
		p.trimExt()
	}
	p.gen = int8(res.Generation)
	p.mu.Unlock()
	if old != nil && old != c {
		old.closeWith(ReasonSwitched)
	}
	n.emit(NodeEvent{Node: id, Up: true, Addr: c.addr(),
		Auth: res.PeerAuth, SendFraming: res.SendFraming, RecvFraming: res.RecvFraming})
	for _, m := range q {
		c.send(m.port, m.args)
	}
}

// adoptAddr records that addr, which we dialled, belongs to p's node: the
// address-keyed seed entry, if any, is merged into p, so the seed is not
// dialled again while the node is connected (a connection the node opened
// to us counts too), and is redialled when it goes down.
func (n *Node) adoptAddr(addr string, p *peer) {
	ap, ok := n.peers.load("\x00addr:" + addr)
	if !ok || ap == p {
		return
	}
	ap.mu.Lock()
	seed := ap.seed
	ap.mu.Unlock()
	p.mu.Lock()
	if e := p.wx(); !slices.Contains(e.addrs, addr) {
		e.addrs = append(e.addrs, addr)
	}
	p.seed = p.seed || seed
	p.mu.Unlock()
	n.peers.delete("\x00addr:"+addr, ap)
}

// dropSeed stops dialling addr, a seed that turned out to be this node.
func (n *Node) dropSeed(addr string) {
	key := "\x00addr:" + addr
	p, ok := n.peers.load(key)
	if !ok {
		return
	}
	p.mu.Lock()
	wasSeed := p.seed
	p.seed = false
	p.mu.Unlock()
	n.peers.delete(key, p)
	if wasSeed {
		n.log.Info("seed is this node itself; not dialling it again", "addr", addr)
	}
}

// detach forgets c as the connection of its node.
func (n *Node) detach(c *conn, reason string) {
	p := c.peer
	if p == nil {
		return
	}
	if p.conn.CompareAndSwap(c, nil) {
		p.mu.Lock()
		p.downSince = monoMillis()
		p.mu.Unlock()
		n.nodePorts.nodeDown(n, p.id, reason)
		n.emit(NodeEvent{Node: p.id, Reason: reason, Addr: c.addr()})
		p.mu.Lock()
		seed := p.seed
		p.mu.Unlock()
		if seed && !n.closing.Load() {
			n.connectPeer(p, true)
		}
	}
}

// keepNewer decides which of two authenticated connections to the same
// node survives. When both were opened from the same side the newer one
// wins, as in AnyEvent::MP. When the two nodes connected to each other at
// the same time, "newer" can differ between the two ends, so both would
// close a different one; instead both keep the connection opened by the
// node with the smaller ID.
func (n *Node) keepNewer(old, c *conn, id string) bool {
	oldOut, newOut := old.outbound, c.outbound
	if oldOut == newOut {
		return true
	}
	weOpenedNew := newOut
	return weOpenedNew == (n.id < id)
}

// generation returns the AnyEvent::MP generation node showed last.
func (n *Node) generation(node string) int {
	if p, ok := n.peers.load(node); ok {
		p.mu.Lock()
		defer p.mu.Unlock()
		return int(p.gen)
	}
	return 0
}

// isConnected tells the handshake whether a node already has an
// authenticated connection ("already connected" rule).
func (n *Node) isConnected(id string) bool {
	if p, ok := n.peers.load(id); ok {
		return p.conn.Load() != nil
	}
	return false
}

func cryptoRead(b []byte)       { rand.Read(b) }
func base64Raw(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
