package engine

// queued is a message waiting for a connection.
type queued struct {
	port string
	args []any
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
