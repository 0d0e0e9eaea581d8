package engine

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aemp-go/aemp/framing"
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
	// txCodec is 1 + the framing.Codec.Index of the framing we last sent
	// to the node in (0: never connected); see enqueue.
	txCodec uint8
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
	// wantUntil (monoNow) keeps a node the mesh told us of dialled until
	// then, as Perl keeps connecting for a monitor timeout.
	wantUntil   int64
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
	if e := p.ext; e != nil && len(e.addrs) == 0 && len(e.dialing) == 0 && len(e.queue) == 0 && e.wantUntil == 0 {
		p.ext = nil
	}
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

// lastCodec returns the framing.Codec.Index of the framing the node's last
// connection sent in, or cbor's for a node never connected; p.mu must be
// held.
func (p *peer) lastCodec() uint8 {
	if p.txCodec == 0 {
		return uint8(framing.CBOR.Index())
	}
	return p.txCodec - 1
}
