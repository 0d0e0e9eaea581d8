package engine

import (
	"slices"

	"github.com/aemp-go/aemp/engine/handshake"
)

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
	// What was queued goes first, before the connection is published: a
	// Send that sees it comes after the queue, and a Send meanwhile waits
	// for p.mu in enqueue.
	if e := p.ext; e != nil && len(e.queue) > 0 {
		n.sendQueued(c, e.queue)
		n.queuedBytes.Add(-int64(e.queueBytes))
		e.queue, e.queueBytes = nil, 0
		p.trimExt()
	}
	old := p.conn.Swap(c)
	p.gen = int8(res.Generation)
	p.txCodec = c.txi + 1
	p.mu.Unlock()
	n.stats.handshakes.Add(1)
	if old != nil && old != c {
		old.closeWith(ReasonSwitched)
	} else {
		n.stats.nodesUp.Add(1)
	}
	n.emit(NodeEvent{Node: id, Up: true, Addr: c.addr(),
		Auth: res.PeerAuth, SendFraming: res.SendFraming, RecvFraming: res.RecvFraming})
	n.waiters.up(id)
	if old == nil || old == c {
		p.mu.Lock()
		seed := p.seed
		p.mu.Unlock()
		n.mesh.nodeUp(id, res.Generation, seed)
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
		n.stats.nodesUp.Add(-1)
		p.mu.Lock()
		p.downSince = monoMillis()
		p.mu.Unlock()
		n.nodePorts.nodeDown(n, p.id, reason)
		n.emit(NodeEvent{Node: p.id, Reason: reason, Addr: c.addr()})
		p.mu.Lock()
		seed, gen := p.seed, int(p.gen)
		p.mu.Unlock()
		n.mesh.nodeDown(p.id, gen)
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
