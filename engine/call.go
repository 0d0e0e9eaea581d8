package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// PortDiedError is the error of a Call whose target port (or its node)
// died before it replied. errors.As reads the reason list.
type PortDiedError struct {
	// Port is the full ID of the port called.
	Port string
	// Reason is the kill reason (docs/protocol.md section 7): empty for a
	// normal kill, ("die", TEXT) for a handler that died,
	// ("transport_error", NODE, TEXT) when the node went down or could
	// not be reached, ("no_such_port", ...) when there is no such port.
	Reason []any
}

// Error returns "aemp: port PORT died: REASON WORDS" (or "was killed"
// for a normal kill).
func (e *PortDiedError) Error() string {
	words := make([]string, len(e.Reason))
	for i, r := range e.Reason {
		words[i] = fmt.Sprint(r)
	}
	if len(words) == 0 {
		return "aemp: port " + e.Port + " was killed"
	}
	return "aemp: port " + e.Port + " died: " + strings.Join(words, " ")
}

// Call is AnyEvent::MP's cal: it sends args to portID with a temporary
// reply port appended as the last argument, and returns the arguments of
// the first message sent to that port (a copy: it stays valid). It
// monitors the target meanwhile: if the port or its node dies first it
// returns a *PortDiedError. It returns ctx's error (errors.Is works with
// context.DeadlineExceeded and context.Canceled) when ctx ends first;
// Perl's cal gives up after 5 s by default, so give ctx a deadline. The
// reply port and the monitor are gone when Call returns.
//
// Send's errors end it at once: ErrBackpressure when the link to the
// target holds more than the high-water mark (wait with Dest.Wait and call
// again), encoding errors for values that cannot be sent.
//
// Any goroutine may call Call except a handler or callback running on an
// event loop: Call blocks until the reply, which may have to come through
// that very loop.
func (n *Node) Call(ctx context.Context, portID string, args ...any) ([]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		args   []any
		died   bool
		reason []any
	}
	ch := make(chan result, 1)
	deliver := func(r result) {
		select {
		case ch <- r:
		default: // only the first answer counts
		}
	}
	reply := n.NewPort(func(m *Message) {
		a, err := m.Args()
		if err != nil {
			return
		}
		deliver(result{args: slices.Clone(a)})
	})
	defer n.Kill(reply)
	cancel := n.Monitor(portID, func(reason []any) { deliver(result{died: true, reason: reason}) })
	defer cancel()
	msg := append(slices.Clip(args), reply)
	if err := n.Send(portID, msg...); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.died {
			return nil, &PortDiedError{Port: portID, Reason: r.reason}
		}
		if r.args == nil {
			r.args = []any{}
		}
		return r.args, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("aemp: call %s: %w", portID, ctx.Err())
	}
}

// upWaiters are the goroutines waiting in WaitNode, by node ID.
type upWaiters struct {
	mu sync.Mutex
	m  map[string][]chan struct{}
}

// add registers a waiter for node; the channel is closed when it is up.
func (w *upWaiters) add(node string) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.m == nil {
		w.m = map[string][]chan struct{}{}
	}
	w.m[node] = append(w.m[node], ch)
	w.mu.Unlock()
	return ch
}

// remove forgets a waiter that gave up.
func (w *upWaiters) remove(node string, ch chan struct{}) {
	w.mu.Lock()
	l := slices.DeleteFunc(w.m[node], func(c chan struct{}) bool { return c == ch })
	if len(l) == 0 {
		delete(w.m, node)
	} else {
		w.m[node] = l
	}
	w.mu.Unlock()
}

// up wakes the waiters of node.
func (w *upWaiters) up(node string) {
	w.mu.Lock()
	l := w.m[node]
	delete(w.m, node)
	w.mu.Unlock()
	for _, ch := range l {
		close(ch)
	}
}

// WaitNode returns once an authenticated connection to nodeID is up
// (at once if it is, or if nodeID is this node), or with ctx's error. It
// dials the node when its addresses are known (seeds, Connect, the mesh),
// asks the mesh for them when they are not, and otherwise waits for the
// node to connect. Any goroutine may call it except a handler or callback
// on an event loop.
func (n *Node) WaitNode(ctx context.Context, nodeID string) error {
	if nodeID == n.id || nodeID == "" {
		return nil
	}
	ch := n.waiters.add(nodeID)
	defer n.waiters.remove(nodeID, ch)
	if n.isConnected(nodeID) {
		return nil
	}
	n.connectPeer(n.peerFor(nodeID), true)
	n.meshFind(nodeID)
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("aemp: waiting for node %s: %w", nodeID, ctx.Err())
	}
}

// Wait blocks until the link to d's node has room for more: its unsent
// bytes (or the queue of a node not yet connected) are at most half the
// high-water mark, or the node is this one. It returns ctx's error if ctx
// ends first. A sender that got ErrBackpressure or ErrQueueFull calls
// Wait and sends again: Send never blocks, so that handlers on event
// loops can call it; Wait is for senders on goroutines of their own
// (never call it from a handler). It looks at the link every 50 µs at
// first, backing off to every 5 ms.
func (d *Dest) Wait(ctx context.Context) error {
	var t *time.Timer
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 5*time.Millisecond) {
		if d.hasRoom() {
			return nil
		}
		if t == nil {
			t = time.NewTimer(delay)
			defer t.Stop()
		} else {
			t.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("aemp: waiting for room towards %s: %w", d.ID(), ctx.Err())
		case <-t.C:
		}
	}
}

// hasRoom reports whether d's link is at most half full.
func (d *Dest) hasRoom() bool {
	if d.local {
		return true
	}
	n := d.n
	limit := int64(n.cfg.HighWaterMark / 2)
	p := d.peer.Load()
	if c := p.conn.Load(); c != nil {
		c.wakeWriter() // the transport's figure is refreshed when it flushes
		return c.backlog() <= limit
	}
	p.mu.Lock()
	q := p.rx().queueBytes
	p.mu.Unlock()
	return int64(q) <= limit && n.queuedBytes.Load() <= 4*limit
}
