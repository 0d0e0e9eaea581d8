// Package engine is an AEMP node: it listens and connects, authenticates
// connections with the handshake of package handshake, and moves messages
// between named ports, framed by package framing, on gnet event loops.
//
// Execution model: every connection belongs to one gnet event loop, which
// reads, splits frames and calls port handlers inline, so handlers must
// not block. Send may be called from any goroutine: it encodes into the
// connection's pending buffer and wakes the loop once; the loop writes
// everything pending in one write per turn. TLS connections leave gnet at
// the switch and run on two goroutines of their own (see tls.go).
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aemp-go/aemp/engine/mesh"
	"github.com/aemp-go/aemp/framing"

	"github.com/panjf2000/gnet/v2"
)

// Node is an AEMP node.
type Node struct {
	cfg Config
	id  string
	log *slog.Logger

	ports portTable
	peers peerTable

	client    *gnet.Client
	listeners []net.Listener
	addrs     []string // bound addresses, port 0 resolved

	conns connSet // every open connection
	ips   ipTable // IPs shared by the connections' addresses

	queuedBytes atomic.Int64 // messages queued for unconnected nodes

	logSecond, logCount, logSuppressed atomic.Int64 // logLimited's state

	hsConfig hsConfig
	readers  readerPools
	closing  atomic.Bool
	// maxMessage is the largest encoded message Send takes: maxBacklog
	// (tests lower it).
	maxMessage int
	started    atomic.Bool
	stop       chan struct{}
	wg         sync.WaitGroup
	stats      counters
	nodePorts  nodePortState
	waiters    upWaiters // goroutines in WaitNode
	spawns     spawnRegistry
	inFlight   addrsInFlight // addresses being connected to
	mesh       meshLoop
	meshLimits mesh.Limits // cfg.MeshLimits with the defaults
}

// New checks cfg and returns a node that is not started yet: ports can be
// registered before Start.
func New(cfg Config) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, id: cfg.NodeID, log: cfg.Logger, stop: make(chan struct{}), maxMessage: maxBacklog}
	n.ports.prefix = randomToken(6) + "."
	n.readers.init(framing.Limits{MaxFrameSize: n.cfg.MaxFrameSize})
	n.meshLimits = n.cfg.MeshLimits.WithDefaults()
	var err error
	if n.hsConfig, err = newHSConfig(n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	n.nodePorts.init()
	return n, nil
}

// ID returns the node ID. Any goroutine may call it.
func (n *Node) ID() string { return n.id }

// Addrs returns the addresses the node listens on, port 0 resolved (after
// Start). Any goroutine may call it.
func (n *Node) Addrs() []string { return append([]string(nil), n.addrs...) }

// Start binds the listeners, starts the event loops and the mesh, and
// connects to the seeds. It returns once every listener accepts
// connections. Call it once, from any goroutine.
func (n *Node) Start() error {
	if !n.started.CompareAndSwap(false, true) {
		return fmt.Errorf("aemp: node already started")
	}
	loops := n.cfg.EventLoops
	var err error
	n.client, err = gnet.NewClient(&loopHandler{n: n},
		gnet.WithMulticore(loops <= 0),
		gnet.WithNumEventLoop(max(loops, 0)),
		gnet.WithLogger(gnetLogger{n.log}),
		gnet.WithLockOSThread(false),
		// TCP_NODELAY is set when the socket is made (Go sets it; see tuneSocket);
		// gnet need not set it again on every enrolled connection.
		gnet.WithTCPNoDelay(gnet.TCPDelay),
	)
	if err != nil {
		return err
	}
	if err := n.client.Start(); err != nil {
		return err
	}
	for _, b := range n.cfg.Binds {
		lc := n.listenConfig()
		ln, err := lc.Listen(context.Background(), "tcp", b)
		if err != nil {
			n.shutdownListeners()
			n.client.Stop()
			return fmt.Errorf("aemp: listen %s: %w", b, err)
		}
		n.listeners = append(n.listeners, ln)
		n.addrs = append(n.addrs, ln.Addr().String())
	}
	n.startMesh()
	for _, ln := range n.listeners {
		n.wg.Add(1)
		go n.acceptLoop(ln)
	}
	for _, s := range n.cfg.Seeds {
		p := n.peerForAddr(s)
		p.markSeed(s)
		n.connectPeer(p, true)
	}
	n.wg.Add(1)
	go n.housekeeping()
	return nil
}

func (n *Node) shutdownListeners() {
	for _, ln := range n.listeners {
		ln.Close()
	}
}

// Close stops accepting, flushes every queued outbound message (until ctx
// ends), closes all connections and stops the event loops. Call it once,
// from a goroutine of the program's own: never from a handler or callback,
// which run on the goroutines Close waits for.
func (n *Node) Close(ctx context.Context) error {
	if !n.closing.CompareAndSwap(false, true) {
		return ErrClosed
	}
	n.shutdownListeners()
	close(n.stop)
	// Flush: wake every connection and wait until nothing is pending.
	for {
		pending := false
		for _, c := range n.connList() {
			if c.pendingOut() {
				pending = true
				c.wakeWriter()
			}
		}
		if !pending {
			break
		}
		select {
		case <-ctx.Done():
			n.log.Warn("close: unsent data dropped", "err", ctx.Err())
			goto closeAll
		case <-time.After(2 * time.Millisecond):
		}
	}
closeAll:
	for _, c := range n.connList() {
		c.closeWith(ReasonClosed)
	}
	deadline := time.Now().Add(time.Second)
	for n.stats.conns.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	n.wg.Wait()
	if n.client != nil {
		return n.client.Stop()
	}
	return nil
}

// connList returns every open connection.
func (n *Node) connList() []*conn { return n.appendConns(nil) }

// appendConns appends every open connection to dst.
func (n *Node) appendConns(dst []*conn) []*conn { return n.conns.appendTo(dst) }

// emit reports a node event.
func (n *Node) emit(ev NodeEvent) {
	// Rate-limited: a burst of thousands of nodes coming and going (a
	// load generator, a reconnect storm) must not turn into as many log
	// writes; OnNodeEvent still sees every event.
	switch {
	case ev.Up:
		n.logLimited("node up", "node", ev.Node, "addr", ev.Addr)
	case ev.Attempt:
		n.logLimited("connection attempt failed", "node", ev.Node, "addr", ev.Addr, "reason", ev.Reason)
	default:
		n.logLimited("node down", "node", ev.Node, "addr", ev.Addr, "reason", ev.Reason)
	}
	if f := n.cfg.OnNodeEvent; f != nil {
		n.safely("OnNodeEvent hook", func() { f(ev) })
	}
}

// housekeeping runs the timers: handshake deadlines, keepalives of a
// listener-less node, queue expiry and seed reconnects.
func (n *Node) housekeeping() {
	defer n.wg.Done()
	tick := time.NewTicker(min(250*time.Millisecond, n.cfg.MonitorTimeout/4))
	defer tick.Stop()
	var burst burstRelease
	// The lists of connections and peers are gathered into slices kept
	// from tick to tick: an idle node allocates nothing, so its heap (and
	// RSS) does not creep up between collections.
	var conns []*conn
	var peers []*peer
	for {
		select {
		case <-n.stop:
			return
		case now := <-tick.C:
			conns = n.appendConns(conns[:0])
			n.checkConns(now, conns)
			clear(conns) // let closed connections go
			peers = n.peers.appendAll(peers[:0])
			n.checkPeers(now, peers)
			clear(peers)
			burst.check(n, now)
		}
	}
}

// burstRelease returns the memory a burst of connections left behind to
// the operating system once the burst is over (see
// Config.ReleaseAfterBurst).
type burstRelease struct {
	released, seen int64 // connections opened at the last release / tick
	changed        time.Time
}

func (b *burstRelease) check(n *Node, now time.Time) {
	opened := n.stats.opened.Load()
	if opened != b.seen {
		b.seen, b.changed = opened, now
		return
	}
	if n.cfg.ReleaseAfterBurst > 0 && opened-b.released >= int64(n.cfg.ReleaseAfterBurst) && now.Sub(b.changed) >= 2*time.Second {
		b.released = opened
		debug.FreeOSMemory()
		if n.log.Enabled(context.Background(), slog.LevelDebug) {
			n.log.Debug("connection burst over: memory returned to the OS", append([]any{"opened", opened}, heapFigures()...)...)
		}
	}
}

// heapFigures returns the runtime's memory classes (bytes) as log
// attributes: what the heap holds after a burst, and what it wastes.
func heapFigures() []any {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/metadata/other:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	metrics.Read(samples)
	var attrs []any
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			name := strings.TrimSuffix(strings.TrimPrefix(s.Name, "/memory/classes/"), ":bytes")
			attrs = append(attrs, strings.ReplaceAll(name, "/", "_"), s.Value.Uint64())
		}
	}
	return attrs
}

// checkConns closes handshakes past their deadline and, on a
// listener-less node, sends [] on connections idle for monitor-timeout.
func (n *Node) checkConns(now time.Time, conns []*conn) {
	nowMillis := millisOf(monoAt(now))
	for _, c := range conns {
		if !c.authenticated() {
			if hs := c.hs.Load(); hs != nil && now.UnixNano() > hs.deadline {
				err := fmt.Errorf("%w within %v", errHandshakeTimeout, n.cfg.MonitorTimeout)
				if c.driver() == nil {
					// gnet never opened it (it can drop a socket it fails
					// to register without any callback): forget it here.
					c.closed(err)
				} else {
					c.fail(err)
				}
			}
			continue
		}
		idle := c.idleFor(nowMillis)
		if len(n.listeners) == 0 && idle >= n.cfg.MonitorTimeout {
			c.sendKeepalive()
		} else if idle >= time.Second && !c.pendingOut() {
			c.releaseBuffers()
		}
	}
}

// logAllowed counts a rate-limited log line and reports whether it may be
// written (at most logBurst a second); a line left out is counted in
// logSuppressed.
func (n *Node) logAllowed() bool {
	sec := time.Now().Unix()
	if n.logSecond.Load() != sec {
		n.logSecond.Store(sec)
		n.logCount.Store(0)
	}
	if n.logCount.Add(1) > logBurst {
		n.logSuppressed.Add(1)
		return false
	}
	return true
}

// logBurst is how many rate-limited lines logLimited writes per second.
const logBurst = 200

// randomToken returns n random bytes in Perl's alphanumeric-ish encoding.
func randomToken(n int) string {
	b := make([]byte, n)
	cryptoRead(b)
	return strings.NewReplacer("x", "x0", "/", "x1", "+", "x2").Replace(base64Raw(b))
}
