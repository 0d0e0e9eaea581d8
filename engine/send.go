package engine

import (
	"fmt"
	"slices"

	"github.com/aemp-go/aemp/framing"
)

// queued is a message waiting for a connection, already encoded (so that
// a value that cannot be sent is refused by Send, not lost later).
type queued struct {
	frame []byte
	codec uint8 // framing.Codec.Index of the framing frame is in
}

// Send delivers a message to a port. Any goroutine may call it, handlers
// included; it never blocks.
//
// A port of this node gets the message at once, on the calling goroutine,
// as Go values (not encoded: the handler sees the values themselves, so
// they must not be changed after the call; the argument list is copied). A port of another node: the message is
// encoded now, on the connection to that node, or into the node's queue
// while it is not connected (a connection is then opened when addresses
// of the node are known: seeds, Connect, the mesh). A value that cannot
// be sent is refused at once with an error wrapping
// framing.ErrInvalidValue or framing.ErrTooDeep, a message over 512 MiB
// with ErrMessageTooLarge; ErrBackpressure (ErrQueueFull for a queue)
// means the link holds more than the high-water mark: nothing was queued;
// wait (Dest.Wait) and send again.
//
// A message Send accepted can still fail to arrive, as in AnyEvent::MP,
// and each such loss is counted in Stats and reported to monitors:
//   - the node does not come up in time: the queue is dropped
//     (Stats.DroppedExpired) and monitors of the node and its ports fire
//     with ("transport_error", NODE, "unable to connect") (1.x) or
//     "connect timeout"/"no known address" (2.x);
//   - the connection is lost before the bytes left this node
//     (Stats.DroppedLinkLost, Stats.LostBytes) or after the kernel took
//     them but before the peer read them (not countable): monitors fire
//     with the transport error;
//   - the port does not exist on the other node: it is dropped there
//     silently (a monitor on the port fires at once with "no_such_port").
//
// To know that a message was handled, ask for a reply (Call) or monitor
// the port (Monitor).
func (n *Node) Send(portID string, args ...any) error {
	if n.closing.Load() {
		return ErrClosed
	}
	node, port := SplitPortID(portID)
	if node == n.id || node == "" {
		// A copy of the list (not of the values): the handler keeps it,
		// and the caller's variadic slice then stays on its stack for
		// remote sends, which only encode it.
		n.deliverLocal(port, slices.Clone(args))
		return nil
	}
	return n.sendToPeer(n.peerFor(node), port, args, false)
}

// sendControl is Send for the node's own protocol messages (monitoring,
// kills, node-port replies, the mesh): they are sent even above the
// high-water mark, as AnyEvent::MP, which has none, would send them;
// dropping them would leave monitors that never fire.
func (n *Node) sendControl(portID string, args ...any) error {
	node, port := SplitPortID(portID)
	if node == n.id || node == "" {
		n.deliverLocal(port, slices.Clone(args))
		return nil
	}
	return n.sendTo(node, port, args)
}

// sendTo sends a protocol message to a port of another node (see
// sendControl).
func (n *Node) sendTo(node, port string, args []any) error {
	return n.sendToPeer(n.peerFor(node), port, args, true)
}

// sendToPeer sends on p's connection, or queues for p; a control message
// ignores the high-water mark.
func (n *Node) sendToPeer(p *peer, port string, args []any, control bool) error {
	if c := p.conn.Load(); c != nil {
		return c.send(port, nil, args, control)
	}
	return n.enqueue(p, port, args, control)
}

// sendNodePort sends a request to another node's node port "".
func (n *Node) sendNodePort(node string, args ...any) {
	if p, ok := n.peers.load(node); ok {
		if c := p.conn.Load(); c != nil {
			c.send("", nil, args, true)
		}
	}
}

// enqueue keeps a message for a node that is not connected. It is encoded
// now, in the framing the node's last connection used (cbor, what 2.x and
// aemp-go nodes choose, for a node never connected): the link that comes
// up usually chooses the same one, and the frame is then sent as it is.
func (n *Node) enqueue(p *peer, port string, args []any, control bool) error {
	p.mu.Lock()
	if p.gone { // forgotten meanwhile: start over with the table's entry
		p.mu.Unlock()
		return n.sendToPeer(n.peerFor(p.id), port, args, control)
	}
	if c := p.conn.Load(); c != nil { // connected meanwhile
		p.mu.Unlock()
		return c.send(port, nil, args, control)
	}
	ci := p.lastCodec()
	frame, err := framing.ByIndex(int(ci)).AppendMessage(nil, port, args)
	if err == nil && len(frame) > n.maxMessage {
		err = ErrMessageTooLarge
	}
	if err != nil {
		p.mu.Unlock()
		return err
	}
	size := len(frame)
	// Each node's queue stops at the high-water mark, and all queues
	// together at four times it.
	if !control && (p.rx().queueBytes+size > n.cfg.HighWaterMark || n.queuedBytes.Load()+int64(size) > 4*int64(n.cfg.HighWaterMark)) {
		p.mu.Unlock()
		n.stats.backpressure.Add(1)
		return ErrQueueFull
	}
	e := p.wx()
	first := len(e.queue) == 0
	if first {
		e.queuedSince = monoNow()
	}
	lookup := first && len(e.addrs) == 0
	e.queue = append(e.queue, queued{frame, ci})
	e.queueBytes += size
	n.queuedBytes.Add(int64(size))
	p.mu.Unlock()
	if lookup {
		n.meshFind(p.id) // where does it listen? (2.x does this; 1.x Perl waits)
	}
	n.connectPeer(p, false)
	return nil
}

// sendQueued hands the messages queued for a node to its new connection
// c, in order; a frame in another framing than c's is re-encoded.
func (n *Node) sendQueued(c *conn, q []queued) {
	var dec *framing.Decoder
	var buf []byte
	for _, m := range q {
		frame := m.frame
		if m.codec != c.txi {
			var err error
			if buf, err = transcode(&dec, buf[:0], m.codec, c.txi, frame); err != nil {
				n.drop(dropTranscode, 1, int64(len(frame)))
				n.logLimited("queued message dropped: cannot re-encode it for the new link", "node", c.nodeID(), "err", err)
				continue
			}
			frame = buf
		}
		if err := c.sendFrame(frame); err != nil {
			n.drop(dropLinkLost, 1, int64(len(frame)))
		}
	}
}

// transcode appends to dst the message frame (in framing from) encoded in
// framing to; *dec is a decoder for from, made when nil.
func transcode(dec **framing.Decoder, dst []byte, from, to uint8, frame []byte) ([]byte, error) {
	if *dec == nil || (*dec).Framing() != framing.ByIndex(int(from)).Name() {
		*dec = framing.NewDecoder(framing.ByIndex(int(from)), framing.Limits{MaxFrameSize: maxBacklog})
	}
	(*dec).Reset()
	m, k, err := (*dec).Next(frame)
	if err == nil && k != len(frame) {
		err = fmt.Errorf("frame of %d bytes read as %d", len(frame), k)
	}
	if err != nil {
		return dst, err
	}
	args, err := m.Args()
	if err != nil {
		return dst, err
	}
	return framing.ByIndex(int(to)).AppendMessage(dst, string(m.Port()), args)
}
