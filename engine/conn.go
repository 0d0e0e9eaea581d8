package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"

	"github.com/panjf2000/gnet/v2"
)

// transport is what drives a connection's bytes: a gnet connection on an
// event loop, or a TLS connection on goroutines of its own.
type transport interface {
	// wake asks the driver to write the connection's pending bytes soon.
	// Any goroutine may call it.
	wake()
	// close closes the connection; the driver then calls conn.closed.
	// Any goroutine may call it.
	close()
	// remoteAddr returns the peer's address. Only the driver's goroutine
	// may call it (gnet forgets the address once the connection is gone).
	remoteAddr() net.Addr
}

// transportRef holds a transport for atomic.Pointer.
type transportRef struct{ transport }

// onLoop is the transportRef of every connection on an event loop: its
// transport is the conn itself (gnetDriver), so it need not be stored.
var onLoop transportRef

// driver returns the connection's current transport, or nil before it
// has one.
func (c *conn) driver() transport {
	switch r := c.tr.Load(); r {
	case nil:
		return nil
	case &onLoop:
		return (*gnetDriver)(c)
	default:
		return r.transport
	}
}

// addr returns the peer's address as host:port ("" before the connection
// has a transport). Only the driver's goroutine may call it.
func (c *conn) addr() string {
	if t := c.driver(); t != nil {
		if a := t.remoteAddr(); a != nil {
			return a.String()
		}
	}
	return ""
}

func (c *conn) setTransport(t transport) { c.tr.Store(&transportRef{t}) }

// Connection states.
const (
	stHandshake int32 = iota // greeting and auth lines
	stTLSSwitch              // leaving gnet for TLS
	stData                   // authenticated: framed messages
	stClosed
)

// conn is the protocol state of one connection, independent of what
// drives its I/O: the handshake, then the data phase's codecs, the pending
// outbound bytes and the routing of inbound frames.
//
// A node keeps one per connection for as long as it is open, so its size
// is most of what an idle connection costs: what only a handshake or a
// busy connection needs lives in structs of its own (handshaking,
// outBufs, reader) that idle connections do not hold. It is 112 bytes
// (TestStructSizes).
//
// Field order: conns lie next to each other in memory (a 64-byte cache
// line can hold parts of two), so the fields written per message or per
// flush are in the middle, with at least 64 bytes of fields written about
// once per connection between them and the next conn's
// (TestConnHotFields).
type conn struct {
	// Written about once per connection: head.
	n    *Node
	tr   atomic.Pointer[transportRef] // set on the driver's goroutine, read anywhere
	gc   gnet.Conn                    // the gnet connection while on an event loop (see gnetDriver)
	peer *peer                        // the node the connection authenticated as (set by attach)

	// Written per message or per flush.
	wakeQueued atomic.Bool
	lastWrite  atomic.Uint32 // monoMillis() of the last flush (see idleFor)
	mu         sync.Mutex
	ob         *outBufs // nil while there is nothing to write and the connection is quiet
	// rd is the inbound state while reading; between reads that end on a
	// frame boundary it goes back to the node's pool, so an idle
	// connection holds no decoder.
	rd *reader
	// Unsent bytes (32 bits suffice: see maxBacklog).
	pending  atomic.Int32 // len(ob.out), zero exactly when it is; else up to pendingStep less (see send)
	buffered atomic.Int32 // bytes the transport still holds

	// Written about once per connection: tail.
	// hs is the handshake in progress; nil once authenticated. It is set
	// and cleared on the driver's goroutine; housekeeping reads its
	// deadline.
	hs         atomic.Pointer[handshaking]
	cause      *closeCause // why the connection ends (first one wins); set once, on closing
	state      atomic.Int32
	setIdx     int32 // index in the node's connSet (guarded by its mutex)
	closedFlag bool  // guarded by mu
	outbound   bool  // we dialled it
	rxi, txi   uint8 // the peer's framing and ours (framing.Codec.Index)
}

// handshaking is what a connection needs until it is authenticated.
type handshaking struct {
	handshake.Handshake
	deadline int64             // unix nanoseconds: the handshake must be done by then
	dialAddr string            // the address dialled, for outbound connections
	tlsRole  handshake.TLSRole // set when the handshake asks for TLS
}

// outBufs are a connection's output buffers: out collects encoded
// messages; spare is the buffer the transport last wrote, kept for reuse.
// A connection quiet for a second lets both go (releaseBuffers).
//
// out starts in first, so that a handshake's output and a quiet
// connection's occasional message cost one allocation. The struct fills
// the 512-byte size class, which no long-lived object of a connection
// uses: short-lived objects in the classes of long-lived ones leave those
// spans part empty once freed.
type outBufs struct {
	out, spare []byte
	// sent and bytes count the messages encoded and the bytes handed to
	// the transport since the buffers were made; the counts move to the
	// node's when they go.
	sent, bytes int64
	// queued counts the messages in out.
	queued int64
	first  [512 - 72]byte
}

// newOutBufs returns empty output buffers.
func newOutBufs() *outBufs {
	ob := new(outBufs)
	ob.out = ob.first[:0]
	return ob
}

// nodeID returns the ID of the node at the other end ("" until the
// handshake is done).
func (c *conn) nodeID() string {
	if p := c.peer; p != nil {
		return p.id
	}
	return ""
}

// idleFor returns how long ago the connection last wrote, as of now
// (monoMillis).
func (c *conn) idleFor(now uint32) time.Duration { return sinceMillis(now, c.lastWrite.Load()) }

// newConn prepares the state of a connection just opened.
func (n *Node) newConn(remote net.Addr, dialAddr string) (*conn, error) {
	hs := &handshaking{dialAddr: dialAddr, deadline: time.Now().Add(n.cfg.MonitorTimeout).UnixNano()}
	if err := hs.Init(n.hsConfig.cfg, handshake.ConnInfo{PeerAddr: remote.String()}); err != nil {
		return nil, err
	}
	c := &conn{n: n, outbound: dialAddr != ""}
	c.hs.Store(hs)
	c.lastWrite.Store(monoMillis())
	return c, nil
}

// startConn hands an accepted or dialed socket to an event loop.
func (n *Node) startConn(nc net.Conn, dialAddr string) {
	if c := n.prepareConn(nc, dialAddr); c != nil {
		n.enroll(nc, c)
	} else {
		n.inFlight.release(dialAddr)
	}
}

// prepareConn sets up the state of a socket just opened and counts it as
// open; nil when that fails (the socket is then closed).
func (n *Node) prepareConn(nc net.Conn, dialAddr string) *conn {
	n.tuneSocket(nc)
	n.ips.shareAddrs(nc)
	c, err := n.newConn(nc.RemoteAddr(), dialAddr)
	if err != nil {
		n.log.Error("connection setup", "err", err)
		nc.Close()
		return nil
	}
	n.register(c)
	return c
}

// enroll hands a prepared connection to an event loop. It returns once
// the loop has taken the socket (gnet closes nc, having a duplicate).
func (n *Node) enroll(nc net.Conn, c *conn) {
	if _, err := n.client.EnrollContext(nc, c); err != nil {
		if hs := c.hs.Load(); hs != nil {
			n.inFlight.release(hs.dialAddr)
		}
		n.logLimited("cannot hand connection to the event loop", "addr", nc.RemoteAddr().String(), "err", err)
		n.unregister(c)
		nc.Close()
	}
}

func (n *Node) register(c *conn) {
	n.stats.conns.Add(1)
	n.stats.opened.Add(1)
	n.conns.add(c)
}

func (n *Node) unregister(c *conn) {
	if n.conns.remove(c) {
		n.stats.conns.Add(-1)
	}
}

// connSet is the set of a node's open connections: a slice in which each
// conn knows its index, 8-12 bytes a connection where a map entry costs
// about 30.
type connSet struct {
	mu sync.Mutex
	l  []*conn
}

func (s *connSet) add(c *conn) {
	s.mu.Lock()
	c.setIdx = int32(len(s.l))
	s.l = append(s.l, c)
	s.mu.Unlock()
}

// remove takes c out of the set; it reports whether c was in it.
func (s *connSet) remove(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := c.setIdx
	if i < 0 || int(i) >= len(s.l) || s.l[i] != c {
		return false
	}
	last := len(s.l) - 1
	s.l[i] = s.l[last]
	s.l[i].setIdx = i
	s.l[last] = nil
	s.l = s.l[:last]
	c.setIdx = -1
	if cap(s.l) > 1024 && len(s.l) < cap(s.l)/4 { // after a storm: give the room back
		s.l = slices.Clone(s.l)
	}
	return true
}

// appendTo appends every connection in the set to dst.
func (s *connSet) appendTo(dst []*conn) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.l...)
}

// start returns the bytes to send first: our greeting.
func (c *conn) start() []byte { return c.hs.Load().Start() }

func (c *conn) authenticated() bool { return c.state.Load() == stData }

// consume processes inbound bytes and returns how many it used. Bytes of
// an incomplete frame are left for the next call. On an error the
// connection must be closed; nothing after the failing point was used.
func (c *conn) consume(in []byte) (used int, err error) {
	defer func() { c.n.stats.recvBytes.Add(int64(used)) }()
	if c.state.Load() == stHandshake {
		hs := c.hs.Load()
		st, err := hs.Feed(in)
		c.queueRaw(st.Out)
		used = st.Consumed
		if err != nil {
			return used, err
		}
		if st.StartTLS != handshake.TLSNone {
			hs.tlsRole = st.StartTLS
			c.state.Store(stTLSSwitch)
			return used, nil
		}
		if !st.Done {
			return used, nil
		}
		if err := c.handshakeDone(); err != nil {
			return used, err
		}
	}
	if c.state.Load() != stData {
		return used, nil
	}
	rd := c.rd
	if rd == nil {
		rd = c.n.readers.get(c)
		c.rd = rd
	}
	msgs := int64(0)
	for again := true; again; {
		used, again, err = c.dispatchFrames(rd, in, used, &msgs)
	}
	c.n.stats.received.Add(msgs)
	rd.cur = framing.Message{}
	if err != nil {
		return used, err
	}
	if used == len(in) && c.rd == rd { // on a frame boundary: nothing to remember
		c.rd = nil
		c.n.readers.put(rd)
	}
	return used, nil
}

// handshakeDone switches to the data phase and makes this the node's
// connection to the peer.
func (c *conn) handshakeDone() error {
	hs := c.hs.Load()
	res := hs.Result()
	n := c.n
	rx, err := framing.ByName(res.RecvFraming)
	if err != nil {
		return fmt.Errorf("%s: unusable remote framing", res.RecvFraming)
	}
	tx, err := framing.ByName(res.SendFraming)
	if err != nil {
		return fmt.Errorf("%s: unusable local framing", res.SendFraming)
	}
	c.rxi, c.txi = uint8(rx.Index()), uint8(tx.Index())
	id := strings.Clone(res.PeerNodeID) // not the whole greeting line
	c.state.Store(stData)
	c.hs.Store(nil)
	n.log.Debug("connected", "node", id, "addr", c.addr(), "auth", res.PeerAuth,
		"send", res.SendFraming, "recv", res.RecvFraming)
	// The address stays claimed until the connection is the node's: a
	// dial released earlier could start a second connection in between,
	// and the two ends may then close different ones of the two.
	n.attach(c, id, hs.dialAddr, res)
	n.inFlight.release(hs.dialAddr)
	return nil
}

// dispatchFrames routes the complete frames of in[used:] to their ports
// and returns how far it got. A port handler that panics is contained:
// its port is killed with reason ("die", TEXT), as a Perl node does, and
// again reports that the frames after it are still to be routed. One
// recover per read, not per message, keeps the hot path as it was.
func (c *conn) dispatchFrames(rd *reader, in []byte, start int, msgs *int64) (used int, again bool, err error) {
	// used is a named result so that a recovered panic returns how far the
	// frames went: the panicking frame and those before it are done.
	used = start
	defer func() {
		if v := recover(); v != nil {
			p := rd.running
			rd.running = nil
			rd.msg.fm, rd.msg.args = nil, nil
			if p == nil { // not a handler: a bug of ours; it ends this connection only
				c.n.logPanic("internal error while routing a message; connection closed", v, "node", c.nodeID())
				err = fmt.Errorf("internal error: %v", v)
				return
			}
			c.n.handlerPanicked(p, v)
			again = true
		}
	}()
	for used < len(in) {
		var n int
		// Decoding into a field, not a local, keeps the Message off the
		// heap and saves copying it.
		n, err = rd.dec.NextInto(&rd.cur, in[used:])
		if err != nil || n == 0 {
			return used, false, err
		}
		used += n
		*msgs++
		c.dispatch(rd, &rd.cur)
	}
	return used, false, nil
}

// dispatch routes one inbound message to its port.
func (c *conn) dispatch(rd *reader, m *framing.Message) {
	n := c.n
	port := m.Port()
	if len(port) == 0 {
		n.nodePortMessage(c, m)
		return
	}
	p := rd.cachedPort
	if gen := n.ports.gen.Load(); p == nil || gen != rd.cachedGen || string(port) != string(rd.cachedName) {
		if p = n.ports.lookup(port); p == nil {
			n.stats.unknownPort.Add(1)
			return
		}
		rd.cachedPort, rd.cachedGen = p, gen
		rd.cachedName = append(rd.cachedName[:0], port...)
	}
	rd.msg.fm = m
	rd.msg.args = nil
	rd.running = p
	p.handler(&rd.msg)
	rd.running = nil
	rd.msg.fm, rd.msg.args = nil, nil
}

// queueRaw appends bytes (handshake lines) to the pending output.
func (c *conn) queueRaw(b []byte) {
	if len(b) == 0 {
		return
	}
	c.mu.Lock()
	ob := c.outBufs()
	ob.out = append(ob.out, b...)
	c.pending.Store(int32(len(ob.out)))
	c.mu.Unlock()
}

// outBufs returns the output buffers, creating them; c.mu must be held.
func (c *conn) outBufs() *outBufs {
	if c.ob == nil {
		c.ob = newOutBufs()
	}
	return c.ob
}

// send encodes a message for the peer into the pending output and wakes
// the writer once. Above the high-water mark it refuses the message with
// ErrBackpressure unless it is a control message. fp, when not nil, is
// port encoded beforehand (Dest).
func (c *conn) send(port string, fp *framing.Port, args []any, control bool) error {
	c.mu.Lock()
	if c.closedFlag {
		c.mu.Unlock()
		return ErrClosed
	}
	err := c.appendLocked(c.outBufs(), port, fp, args, control)
	c.mu.Unlock()
	if err == ErrBackpressure {
		c.wakeWriter() // refresh the transport's figure
		c.n.stats.backpressure.Add(1)
		return err
	}
	if err == nil {
		c.wakeWriter()
	}
	return err
}

// sendMany is send for a batch of argument lists to one port: one lock and
// one wake for all of them. It returns how many it took, in order, and
// the error that stopped it.
func (c *conn) sendMany(port string, fp *framing.Port, batch [][]any) (int, error) {
	c.mu.Lock()
	if c.closedFlag {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	ob := c.outBufs()
	var err error
	k := 0
	for ; k < len(batch); k++ {
		if err = c.appendLocked(ob, port, fp, batch[k], false); err != nil {
			break
		}
	}
	c.mu.Unlock()
	if err == ErrBackpressure {
		c.n.stats.backpressure.Add(1)
	}
	if k > 0 || err == ErrBackpressure {
		c.wakeWriter()
	}
	return k, err
}

// appendLocked encodes one message into ob (c.mu held): see send.
func (c *conn) appendLocked(ob *outBufs, port string, fp *framing.Port, args []any, control bool) error {
	before := len(ob.out)
	// Under the lock the backlog is read exactly, without pending.
	if !control && int64(before)+int64(c.buffered.Load()) > int64(c.n.cfg.HighWaterMark) {
		return ErrBackpressure
	}
	if before >= bulkOut && cap(ob.out)-before < bulkSlack {
		// A backlog this large is bulk traffic: grow fourfold, up to the
		// high-water mark plus bulkSlack, instead of by a quarter at a
		// time (Go's growth of large slices), each step a fresh
		// allocation (page faults, zeroing, collections) and a copy of
		// everything queued; fourfold, not to the mark at once, so that a
		// moderate backlog keeps a buffer of its own size.
		// (make and copy, not slices.Grow: append's growth rule may add
		// another quarter on top, past what recycle keeps.)
		grown := make([]byte, before, max(min(4*before, c.n.cfg.HighWaterMark+bulkSlack), before+bulkSlack))
		copy(grown, ob.out)
		ob.out = grown
	}
	var err error
	if fp != nil {
		ob.out, err = framing.ByIndex(int(c.txi)).AppendMessageTo(ob.out, fp, args)
	} else {
		ob.out, err = framing.ByIndex(int(c.txi)).AppendMessage(ob.out, port, args)
	}
	if err == nil && len(ob.out)-before > c.n.maxMessage {
		err = ErrMessageTooLarge
	}
	if err != nil {
		ob.out = ob.out[:before]
		if cap(ob.out) > c.n.cfg.HighWaterMark { // do not keep what a refused message grew
			ob.out = slices.Clone(ob.out)
		}
		return err
	}
	ob.sent++
	ob.queued++
	// pending is an atomic store (a locked instruction on amd64), so it
	// is kept current only when the output turns non-empty and at each
	// pendingStep boundary: readers outside the lock see zero exactly
	// when nothing is pending, and otherwise at most pendingStep too little.
	if n := len(ob.out); before == 0 || n/pendingStep != before/pendingStep {
		c.pending.Store(int32(n))
	}
	return nil
}

// pendingStep is how far pending may lag behind len(ob.out) (see send).
const pendingStep = 4096

// An output buffer holding bulkOut bytes or more that must grow grows
// fourfold, up to the high-water mark plus bulkSlack (see appendLocked),
// and recycle keeps buffers up to that size.
const (
	bulkOut   = 1 << 20
	bulkSlack = 256 << 10
)

// sendFrame queues an encoded message (one frame of the connection's
// framing) like send.
func (c *conn) sendFrame(frame []byte) error {
	c.mu.Lock()
	if c.closedFlag {
		c.mu.Unlock()
		return ErrClosed
	}
	ob := c.outBufs()
	ob.out = append(ob.out, frame...)
	ob.sent++
	ob.queued++
	c.pending.Store(int32(len(ob.out)))
	c.mu.Unlock()
	c.wakeWriter()
	return nil
}

// sendKeepalive queues the empty message [], what a listener-less Perl
// node writes to keep an idle link probed.
func (c *conn) sendKeepalive() {
	c.queueRaw(framing.ByIndex(int(c.txi)).Keepalive())
	c.wakeWriter()
}

// wakeWriter asks the transport to flush, once until it has.
func (c *conn) wakeWriter() {
	if !c.wakeQueued.Load() && c.wakeQueued.CompareAndSwap(false, true) {
		if t := c.driver(); t != nil {
			t.wake()
		} else {
			c.wakeQueued.Store(false)
		}
	}
}

// takeOut hands the pending output to the transport; it must give the
// slice back with recycle once written.
func (c *conn) takeOut() []byte {
	c.wakeQueued.Store(false)
	c.mu.Lock()
	ob := c.ob
	if ob == nil || len(ob.out) == 0 {
		// Nothing to write: keep both buffers (the transport gives back
		// only what it wrote; an empty buffer handed over would be lost
		// and the next sends would grow a new one from nothing).
		c.mu.Unlock()
		return nil
	}
	b := ob.out
	ob.out = ob.spare
	ob.spare = nil
	ob.bytes += int64(len(b))
	ob.queued = 0
	// The bytes move from pending to the transport's account before
	// pending drops, so that Send never sees them in neither.
	c.buffered.Add(int32(len(b)))
	c.pending.Store(0)
	c.mu.Unlock()
	c.lastWrite.Store(monoMillis())
	return b
}

// recycle returns a written output buffer for reuse.
func (c *conn) recycle(b []byte) {
	// A buffer up to the high-water mark and bulkSlack (the size a bulk
	// backlog grows it to; twice, for a last message beyond the mark and
	// the allocator's rounding) is kept while the connection is busy
	// (reallocating megabytes per flush costs page faults and zeroing);
	// releaseBuffers drops it once the connection is quiet.
	if cap(b) > c.n.cfg.HighWaterMark+2*bulkSlack {
		return
	}
	c.mu.Lock()
	if ob := c.ob; ob != nil && ob.spare == nil {
		ob.spare = b[:0]
	}
	c.mu.Unlock()
}

// releaseBuffers lets the output buffers of a connection that has been
// quiet for a while go (the next send allocates anew), so that idle
// connections hold no buffer.
func (c *conn) releaseBuffers() {
	c.mu.Lock()
	if ob := c.ob; ob != nil {
		if len(ob.out) == 0 {
			c.dropOutBufs()
		} else {
			ob.spare = nil
		}
	}
	c.mu.Unlock()
}

// dropOutBufs lets the output buffers go, adding their count of messages
// to the node's; c.mu must be held.
func (c *conn) dropOutBufs() {
	if ob := c.ob; ob != nil {
		c.n.stats.sent.Add(ob.sent)
		c.n.stats.sentBytes.Add(ob.bytes)
		c.ob = nil
		c.n.stats.sentMoves.Add(1) // last: see Node.connTotals
	}
}

// sentCounts returns the messages encoded and bytes written whose counts
// are still with the connection.
func (c *conn) sentCounts() (msgs, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ob == nil {
		return 0, 0
	}
	return c.ob.sent, c.ob.bytes
}

// pendingOut reports whether output is waiting to be written.
func (c *conn) pendingOut() bool { return c.backlog() > 0 }

// backlog returns the bytes accepted for the peer and not yet written
// (read outside the lock: up to pendingStep too little, zero exactly when
// nothing is).
func (c *conn) backlog() int64 { return int64(c.pending.Load()) + int64(c.buffered.Load()) }

// closeCause is why a connection ends: the reason text AnyEvent::MP
// would give, and the error behind it (nil for a deliberate close).
type closeCause struct {
	reason string
	err    error
}

// fail closes the connection because of err (logged with the original's
// wording where it has one).
func (c *conn) fail(err error) {
	var fe *framing.Error
	if errors.As(err, &fe) {
		// Perl reports an undecodable frame as "Bad message"; the detail
		// goes to the log.
		c.n.logLimited("bad frame", "addr", c.addr(), "node", c.nodeID(), "err", err)
	}
	c.closeFor(reasonFor(err), err)
}

// closeWith closes the connection with the given reason.
func (c *conn) closeWith(reason string) { c.closeFor(reason, nil) }

// closeFor closes the connection with reason, caused by err.
func (c *conn) closeFor(reason string, err error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = &closeCause{reason, err}
	}
	c.mu.Unlock()
	if t := c.driver(); t != nil {
		t.close()
	}
}

// closed is called by the transport once the connection is gone.
func (c *conn) closed(err error) {
	c.mu.Lock()
	if c.closedFlag {
		c.mu.Unlock()
		return
	}
	c.closedFlag = true
	var reason string
	if c.cause != nil {
		reason = c.cause.reason
		if c.cause.err != nil {
			err = c.cause.err
		}
	} else {
		reason = reasonFor(err)
	}
	if ob := c.ob; ob != nil && len(ob.out) > 0 {
		c.n.drop(dropLinkLost, int64(ob.queued), int64(len(ob.out)))
	}
	if b := c.buffered.Load(); b > 0 {
		c.n.stats.lostBytes.Add(int64(b))
	}
	c.dropOutBufs()
	c.mu.Unlock()
	old := c.state.Swap(stClosed)
	n := c.n
	n.unregister(c)
	if old == stData {
		n.detach(c, reason)
	} else if old != stClosed {
		n.handshakeFailed(c, reason, err)
	}
}

// handshakeFailed handles a connection that closed before it was
// authenticated. An attempt of ours that the peer refused (or we refused)
// is reported as a NodeEvent with Attempt set, at once.
func (n *Node) handshakeFailed(c *conn, reason string, err error) {
	n.logLimited("handshake failed", "addr", c.addr(), "reason", reason)
	hs := c.hs.Load()
	var hsErr error
	if hs != nil {
		hsErr = hs.Err()
		n.inFlight.release(hs.dialAddr)
	}
	n.stats.hsFailures[handshakeFailureKind(hsErr, err)].Add(1)
	if hs == nil || hs.dialAddr == "" {
		return
	}
	switch {
	case errors.Is(hsErr, handshake.ErrAlreadyConnected):
		// A seed we dialled turned out to be a node that is already
		// connected (it connected to us first): remember whose address
		// it is, as AnyEvent::MP does, instead of redialling it. The node
		// is up: no failure to report.
		if id := hs.PeerNodeID(); id != "" {
			n.adoptAddr(hs.dialAddr, n.peerFor(id))
		}
		return
	case errors.Is(hsErr, handshake.ErrSelf):
		// A seed that is this node itself (nodes often share one seed
		// list) is dropped, as AnyEvent::MP does, instead of being
		// dialled every connect interval.
		n.dropSeed(hs.dialAddr)
	}
	ev := NodeEvent{Node: hs.PeerNodeID(), Reason: reason, Addr: hs.dialAddr, Attempt: true, Err: hsErr}
	if ev.Node == "" || ev.Node == n.id {
		ev.Node = hs.dialAddr
	}
	if ev.Err == nil {
		ev.Err = err
		if err == nil {
			ev.Err = io.EOF
		}
	}
	n.emit(ev)
}

// reasonFor turns an I/O or protocol error into AnyEvent::MP's reason text.
func reasonFor(err error) string {
	var hsErr *handshake.Error
	var fe *framing.Error
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return ReasonEOF
	case errors.As(err, &hsErr):
		return hsErr.Msg
	case errors.As(err, &fe):
		return ReasonBadMessage
	case errors.Is(err, syscall.EPIPE):
		return ReasonBrokenPipe
	}
	// Perl reports $!, the C library's text: Go's is the same, lower case.
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "read ") {
		s = s[i+2:]
	}
	return s
}
