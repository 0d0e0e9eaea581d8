package engine

import (
	"slices"
	"sync/atomic"

	"github.com/aemp-go/aemp/framing"
)

// Dest is a port ID resolved once, for a sender that sends many messages
// to the same port: Dest.Send is Node.Send without splitting the ID and
// looking the node up for every message (about a third of Send's cost).
// A Dest stays valid when the node disconnects and reconnects. Any
// goroutine may use it.
type Dest struct {
	n          *Node
	node, port string
	local      bool
	peer       atomic.Pointer[peer] // the node's peer as last looked up
	fp         *framing.Port        // port encoded in each framing (remote only)
}

// Dest returns portID ("NODEID#PORT") resolved for repeated sends.
func (n *Node) Dest(portID string) *Dest {
	node, port := SplitPortID(portID)
	d := &Dest{n: n, node: node, port: port, local: node == n.id || node == ""}
	if !d.local {
		d.peer.Store(n.peerFor(node))
		d.fp = framing.NewPort(port)
	}
	return d
}

// ID returns the port ID.
func (d *Dest) ID() string { return d.node + "#" + d.port }

// Send is Node.Send(d.ID(), args...).
func (d *Dest) Send(args ...any) error {
	n := d.n
	if n.closing.Load() {
		return ErrClosed
	}
	if d.local {
		n.deliverLocal(d.port, slices.Clone(args))
		return nil
	}
	// A connected peer is never a forgotten one (see checkPeers), so its
	// connection is the node's. Without one, the node is looked up again:
	// its peer may have been forgotten and made anew.
	p := d.peer.Load()
	if c := p.conn.Load(); c != nil {
		return c.send(d.port, d.fp, args, false)
	}
	p = n.peerFor(d.node)
	d.peer.Store(p)
	return n.sendToPeer(p, d.port, args, false)
}

// SendMany sends each argument list of batch to d, in order, as Send
// would, but takes the link once and hands the event loop all of them at
// once: for a sender with many messages ready, this saves a lock and
// usually a wake of the event loop per message, and the loop writes them
// with one write. It returns how many messages it took; with fewer than
// len(batch), err says why batch[n] was refused (ErrBackpressure: wait
// with Wait and send the rest; an encoding error: that message cannot be
// sent). Messages it took are handled as Send's are. The argument lists
// are encoded before SendMany returns (a local port gets them as they
// are, as with Send). Any goroutine may call it.
func (d *Dest) SendMany(batch [][]any) (n int, err error) {
	if d.n.closing.Load() {
		return 0, ErrClosed
	}
	if !d.local {
		if c := d.peer.Load().conn.Load(); c != nil {
			return c.sendMany(d.port, d.fp, batch)
		}
	}
	for n < len(batch) { // local, or not connected: one at a time
		if err = d.Send(batch[n]...); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
