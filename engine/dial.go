package engine

import (
	"sync"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// connectPeer starts connection attempts to every known address of p
// that has none in progress; with force, even if one was made recently.
func (n *Node) connectPeer(p *peer, force bool) {
	if n.closing.Load() || p.conn.Load() != nil {
		return
	}
	p.mu.Lock()
	now := monoNow()
	e := p.ext
	// lastAttempt 0: never tried (the first attempt waits for nothing).
	if e == nil || len(e.addrs) == 0 || !force && e.lastAttempt != 0 && time.Duration(now-e.lastAttempt) < n.cfg.ConnectInterval {
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
			n.drop(dropExpired, int64(dropped), int64(e.queueBytes))
			n.queuedBytes.Add(-int64(e.queueBytes))
			e.queue, e.queueBytes = nil, 0
			p.trimExt()
		}
		seed, waiting, wanted := p.seed, len(p.rx().queue) > 0, p.rx().wantUntil > mono
		id := p.id
		// Forget a node that has been idle for monitor-timeout, so that
		// node IDs seen once (anonymous nodes, made-up destinations) do
		// not accumulate.
		forget := !seed && !waiting && !wanted && len(p.rx().dialing) == 0 && p.id != "" &&
			sinceMillis(millisOf(mono), p.downSince) >= n.cfg.MonitorTimeout
		if forget {
			p.gone = true
		}
		p.mu.Unlock()
		if dropped > 0 {
			n.logLimited("queued messages dropped: node did not come up", "node", id, "messages", dropped, "reason", reason)
			n.emit(NodeEvent{Node: id, Reason: reason})
			n.nodePorts.nodeDown(n, id, reason)
		}
		if forget {
			n.peers.delete(id, p)
			continue
		}
		if seed || waiting || wanted {
			n.connectPeer(p, false)
		}
	}
}

// Connect opens a connection to addr (host:port) in the background, like
// a seed that is tried once; a NodeEvent reports the outcome. Any
// goroutine may call it.
func (n *Node) Connect(addr string) {
	go n.dial(addr, nil)
}

// dial connects to addr and starts the handshake; p is the peer the
// address belongs to, if known.
func (n *Node) dial(addr string, p *peer) {
	if !n.inFlight.claim(addr, n.cfg.MonitorTimeout) {
		// An attempt to this address is under way (say, to a seed, while
		// the mesh names the same node): a second one would race it, and
		// the node would close one of the two connections at once.
		if p != nil {
			p.dialDone(addr)
		}
		return
	}
	if p != nil && p.conn.Load() != nil { // connected meanwhile
		n.inFlight.release(addr)
		p.dialDone(addr)
		return
	}
	d := n.dialer()
	c, err := d.Dial("tcp", addr)
	if p != nil {
		p.dialDone(addr)
	}
	if err != nil {
		n.inFlight.release(addr)
		ev := NodeEvent{Node: addr, Attempt: true, Reason: reasonFor(err), Err: err, Addr: addr}
		if p != nil && p.id != "" {
			ev.Node = p.id
		}
		n.emit(ev)
		return
	}
	if n.closing.Load() {
		n.inFlight.release(addr)
		c.Close()
		return
	}
	n.startConn(c, addr)
}

// addrsInFlight are the addresses this node is connecting to, from the
// dial until the handshake ends either way.
type addrsInFlight struct {
	mu sync.Mutex
	m  map[string]int64 // address -> monoNow of the claim
}

// claim marks addr as being connected to, unless it is already (a claim
// older than stale is taken over: a safety net, every claim is released).
func (f *addrsInFlight) claim(addr string, stale time.Duration) bool {
	now := monoNow()
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.m[addr]; ok && time.Duration(now-t) < stale {
		return false
	}
	if f.m == nil {
		f.m = map[string]int64{}
	}
	f.m[addr] = now
	return true
}

// release ends the claim on addr.
func (f *addrsInFlight) release(addr string) {
	if addr == "" {
		return
	}
	f.mu.Lock()
	delete(f.m, addr)
	f.mu.Unlock()
}
