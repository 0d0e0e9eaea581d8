package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
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
}

// transportRef holds a transport for atomic.Pointer.
type transportRef struct{ transport }

// driver returns the connection's current transport, or nil before it
// has one.
func (c *conn) driver() transport {
	if r := c.tr.Load(); r != nil {
		return r.transport
	}
	return nil
}

// addr returns the peer's address as host:port.
func (c *conn) addr() string {
	if c.remote == nil {
		return ""
	}
	return c.remote.String()
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
type conn struct {
	n          *Node
	tr         atomic.Pointer[transportRef] // set on the driver's goroutine, read anywhere
	hs         *handshake.Handshake
	state      atomic.Int32
	wakeQueued atomic.Bool
	tlsRole    handshake.TLSRole // set when the handshake asks for TLS
	closedFlag bool              // guarded by mu
	rxi, txi   uint8             // the peer's framing and ours, as indexes into codecs
	remote     net.Addr          // the peer's address (shared with the socket's own)
	dialAddr   string            // the address dialed, for outbound connections
	deadline   int64             // unix nanoseconds: the handshake must be done by then

	// After the handshake:
	peerID string
	peer   *peer
	// rd is the inbound state while reading; between reads that end on a
	// frame boundary it goes back to the node's pool, so an idle
	// connection holds no decoder.
	rd *reader

	// gt and gtRef are the transport while on an event loop, kept here
	// rather than allocated apart.
	gt    gnetTransport
	gtRef transportRef

	mu     sync.Mutex
	out    []byte // encoded, not yet handed to the transport
	spare  []byte
	reason string // why the connection ends (first one wins)

	pending   atomic.Int64 // len(out)
	buffered  atomic.Int64 // bytes the transport still holds
	lastWrite atomic.Int64 // unix nanoseconds
	sent      atomic.Int64 // messages encoded for the peer
}

// newConn prepares the state of a connection just opened.
func (n *Node) newConn(remote net.Addr, dialAddr string) (*conn, error) {
	hs, err := handshake.New(n.hsConfig.cfg, handshake.ConnInfo{PeerAddr: remote.String()})
	if err != nil {
		return nil, err
	}
	c := &conn{n: n, hs: hs, remote: remote, dialAddr: dialAddr,
		deadline: time.Now().Add(n.cfg.MonitorTimeout).UnixNano()}
	c.lastWrite.Store(time.Now().UnixNano())
	return c, nil
}

// startConn hands an accepted or dialed socket to an event loop.
func (n *Node) startConn(nc net.Conn, outbound bool, dialAddr string) {
	n.tuneSocket(nc)
	c, err := n.newConn(nc.RemoteAddr(), dialAddr)
	if err != nil {
		n.log.Error("connection setup", "err", err)
		nc.Close()
		return
	}
	n.register(c)
	if _, err := n.client.EnrollContext(nc, c); err != nil {
		n.logLimited("cannot hand connection to the event loop", "addr", c.addr(), "err", err)
		n.unregister(c)
		nc.Close()
	}
}

func (n *Node) register(c *conn) {
	n.stats.conns.Add(1)
	n.stats.opened.Add(1)
	n.connsMu.Lock()
	n.conns[c] = struct{}{}
	n.connsMu.Unlock()
}

func (n *Node) unregister(c *conn) {
	n.connsMu.Lock()
	_, ok := n.conns[c]
	delete(n.conns, c)
	n.connsMu.Unlock()
	if ok {
		n.stats.conns.Add(-1)
	}
}

// start returns the bytes to send first: our greeting.
func (c *conn) start() []byte { return c.hs.Start() }

func (c *conn) authenticated() bool { return c.state.Load() == stData }

// consume processes inbound bytes and returns how many it used. Bytes of
// an incomplete frame are left for the next call. On an error the
// connection must be closed; nothing after the failing point was used.
func (c *conn) consume(in []byte) (int, error) {
	used := 0
	if c.state.Load() == stHandshake {
		st, err := c.hs.Feed(in)
		c.queueRaw(st.Out)
		used = st.Consumed
		if err != nil {
			return used, err
		}
		if st.StartTLS != handshake.TLSNone {
			c.tlsRole = st.StartTLS
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
	defer func() { c.n.stats.received.Add(msgs) }()
	for used < len(in) {
		var n int
		var err error
		// Decoding into a field, not a local, keeps the Message off the
		// heap: one allocation per received message less.
		rd.cur, n, err = rd.dec.Next(in[used:])
		if err != nil {
			return used, err
		}
		if n == 0 {
			break
		}
		used += n
		msgs++
		c.dispatch(rd, &rd.cur)
	}
	rd.cur = framing.Message{}
	if used == len(in) && c.rd == rd { // on a frame boundary: nothing to remember
		c.rd = nil
		c.n.readers.put(rd)
	}
	return used, nil
}

// handshakeDone switches to the data phase and makes this the node's
// connection to the peer.
func (c *conn) handshakeDone() error {
	res := c.hs.Result()
	n := c.n
	rx, err := framing.ByName(res.RecvFraming)
	if err != nil {
		return fmt.Errorf("%s: unusable remote framing", res.RecvFraming)
	}
	tx, err := framing.ByName(res.SendFraming)
	if err != nil {
		return fmt.Errorf("%s: unusable local framing", res.SendFraming)
	}
	c.rxi, c.txi = codecIndex(rx), codecIndex(tx)
	c.peerID = strings.Clone(res.PeerNodeID) // not the whole greeting line
	c.state.Store(stData)
	c.hs = nil
	n.log.Debug("connected", "node", c.peerID, "addr", c.addr(), "auth", res.PeerAuth,
		"send", res.SendFraming, "recv", res.RecvFraming)
	n.attach(c, c.peerID, res)
	return nil
}

// dispatch routes one inbound message to its port.
func (c *conn) dispatch(rd *reader, m *framing.Message) {
	n := c.n
	port := m.Port()
	if len(port) == 0 {
		n.nodePortMessage(c, m)
		return
	}
	p := n.ports.lookup(port)
	if p == nil {
		n.stats.unknownPort.Add(1)
		return
	}
	rd.msg.fm = m
	rd.msg.args = nil
	p.handler(&rd.msg)
	rd.msg.fm, rd.msg.args = nil, nil
}

// queueRaw appends bytes (handshake lines) to the pending output.
func (c *conn) queueRaw(b []byte) {
	if len(b) == 0 {
		return
	}
	c.mu.Lock()
	c.out = append(c.out, b...)
	c.pending.Store(int64(len(c.out)))
	c.mu.Unlock()
}

// send encodes a message for the peer into the pending output and wakes
// the writer once.
func (c *conn) send(port string, args []any) error {
	if c.pending.Load()+c.buffered.Load() > int64(c.n.cfg.HighWaterMark) {
		c.wakeWriter() // refresh the transport's figure
		return ErrBackpressure
	}
	c.mu.Lock()
	if c.closedFlag {
		c.mu.Unlock()
		return ErrClosed
	}
	before := len(c.out)
	var err error
	c.out, err = codecs[c.txi].AppendMessage(c.out, port, args)
	if err != nil {
		c.out = c.out[:before]
		c.mu.Unlock()
		return err
	}
	c.pending.Store(int64(len(c.out)))
	c.mu.Unlock()
	c.sent.Add(1)
	c.wakeWriter()
	return nil
}

// keepaliveFrames are the empty message [] in each framing: what a
// listener-less Perl node writes to keep an idle link probed.
var keepaliveFrames = map[string][]byte{
	"json":     []byte("[]"),
	"storable": {0x07, 0x05, 0x0b, 0x02, 0, 0, 0, 0},
	"cbor":     {0x80},
}

// sendKeepalive queues the empty message.
func (c *conn) sendKeepalive() {
	if f, ok := keepaliveFrames[codecs[c.txi].Name()]; ok {
		c.queueRaw(f)
		c.wakeWriter()
		return
	}
	c.send("", nil)
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
	if len(c.out) == 0 {
		// Nothing to write: keep both buffers. (Handing over an empty
		// one, which the transport does not give back, made the next
		// send grow a new buffer from nothing, copying and page-faulting
		// its way up to megabytes under load.)
		c.mu.Unlock()
		return nil
	}
	b := c.out
	c.out = c.spare
	c.spare = nil
	// The bytes move from pending to the transport's account before
	// pending drops, so that Send never sees them in neither.
	c.buffered.Add(int64(len(b)))
	c.pending.Store(0)
	c.mu.Unlock()
	c.lastWrite.Store(time.Now().UnixNano())
	return b
}

// recycle returns a written output buffer for reuse.
func (c *conn) recycle(b []byte) {
	// A buffer up to the high-water mark is kept while the connection is
	// busy (reallocating megabytes per flush costs page faults and
	// zeroing); releaseBuffers drops it once the connection is quiet.
	if cap(b) > c.n.cfg.HighWaterMark {
		return
	}
	c.mu.Lock()
	if c.spare == nil {
		c.spare = b[:0]
	}
	c.mu.Unlock()
}

// releaseBuffers lets the output buffers of a connection that has been
// quiet for a while go (the next send allocates anew), so that idle
// connections hold no buffer.
func (c *conn) releaseBuffers() {
	c.mu.Lock()
	if len(c.out) == 0 {
		c.out = nil
	}
	c.spare = nil
	c.mu.Unlock()
}

// pendingOut reports whether output is waiting to be written.
func (c *conn) pendingOut() bool { return c.pending.Load()+c.buffered.Load() > 0 }

// fail closes the connection because of err (logged with the original's
// wording where it has one).
func (c *conn) fail(err error) {
	var fe *framing.Error
	if errors.As(err, &fe) {
		// Perl reports an undecodable frame as "Bad message"; the detail
		// goes to the log.
		c.n.logLimited("bad frame", "addr", c.addr(), "node", c.peerID, "err", err)
	}
	c.closeWith(reasonFor(err))
}

// closeWith closes the connection with the given reason.
func (c *conn) closeWith(reason string) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = reason
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
	reason := c.reason
	if reason == "" {
		reason = reasonFor(err)
	}
	c.out, c.spare = nil, nil
	c.mu.Unlock()
	old := c.state.Swap(stClosed)
	n := c.n
	n.stats.sent.Add(c.sent.Swap(0))
	n.unregister(c)
	if old == stData {
		n.detach(c, reason)
	} else if old != stClosed {
		n.logLimited("handshake failed", "addr", c.addr(), "reason", reason)
		// A seed we dialled turned out to be a node that is already
		// connected (it connected to us first): remember whose address
		// it is, as AnyEvent::MP does, instead of redialling it.
		if hs := c.hs; hs != nil && c.dialAddr != "" && errors.Is(hs.Err(), handshake.ErrAlreadyConnected) {
			if id := hs.PeerNodeID(); id != "" {
				n.adoptAddr(c.dialAddr, n.peerFor(id))
			}
		}
		// A seed that is this node itself (nodes often share one seed
		// list) is dropped, as AnyEvent::MP does, instead of being
		// dialled every connect interval.
		if hs := c.hs; hs != nil && c.dialAddr != "" && errors.Is(hs.Err(), handshake.ErrSelf) {
			n.dropSeed(c.dialAddr)
		}
	}
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
	case errors.Is(err, syscall.ECONNRESET):
		return "Connection reset by peer"
	case errors.Is(err, syscall.ETIMEDOUT):
		return "Connection timed out"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "read ") {
		s = s[i+2:]
	}
	return s
}
