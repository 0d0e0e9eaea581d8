package engine

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/panjf2000/gnet/v2"
)

// loopHandler drives plaintext connections on gnet's event loops.
type loopHandler struct {
	gnet.BuiltinEventEngine
	n *Node
}

// gnetDriver is a conn's transport while it lives on an event loop: the
// conn itself (its gc field), so that this costs a connection no
// allocation of its own.
type gnetDriver conn

// wake makes gnet run OnTraffic for the connection on its event loop,
// which writes everything pending.
func (d *gnetDriver) wake() {
	if err := d.gc.Wake(nil); err != nil {
		d.wakeQueued.Store(false)
	}
}

func (d *gnetDriver) close() { d.gc.Close() }

func (d *gnetDriver) remoteAddr() net.Addr { return d.gc.RemoteAddr() }

// flush writes the pending output with one write; what the socket does
// not take, gnet keeps and sends when the socket is writable again.
func (d *gnetDriver) flush() {
	c := (*conn)(d)
	b := c.takeOut()
	if len(b) > 0 {
		d.gc.Write(b)
		c.recycle(b)
	}
	c.buffered.Store(int32(d.gc.OutboundBuffered()))
}

// OnOpen sends our greeting.
func (h *loopHandler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c, ok := gc.Context().(*conn)
	if !ok {
		return nil, gnet.Close
	}
	c.gc = gc // before tr publishes it
	c.tr.Store(&onLoop)
	return c.start(), gnet.None
}

// OnTraffic feeds what arrived to the connection's state machine, zero
// copy, consuming every complete frame, then writes what that produced.
func (h *loopHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	c := gc.Context().(*conn)
	t, onLoop := c.driver().(*gnetDriver)
	if !onLoop {
		return gnet.Close
	}
	// Handlers that reply while we consume need no wake of their own: the
	// flush below writes their messages. takeOut clears the flag, so a
	// Send after it wakes the loop again.
	c.wakeQueued.Store(true)
	buf, _ := gc.Peek(-1)
	used, err := c.consume(buf)
	if used > 0 {
		gc.Discard(used) // careful: gnet discards everything for n <= 0
	}
	t.flush()
	if err != nil {
		c.fail(err)
		return gnet.Close
	}
	if c.state.Load() == stTLSSwitch {
		if err := h.n.switchToTLS(c, gc); err != nil {
			c.fail(fmt.Errorf("%w: %w", errTLS, err))
			return gnet.Close
		}
		return gnet.Close // the socket lives on as a TLS connection
	}
	return gnet.None
}

// OnClose reports the end of the connection (unless it moved to TLS).
func (h *loopHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	if _, onLoop := c.driver().(*gnetDriver); !onLoop && c.driver() != nil {
		return gnet.None // moved to TLS
	}
	c.closed(err)
	return gnet.None
}

// gnetLogger sends gnet's own logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
