package engine

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// streamTransport drives a connection on two goroutines of its own, over
// any net.Conn: TLS connections (which leave gnet at the switch) and
// connections handed to ServeConn. The reader feeds conn.consume; the
// writer flushes conn's pending output whenever woken.
type streamTransport struct {
	c         *conn
	raw       net.Conn
	rw        atomic.Pointer[connRef] // raw, or the TLS connection over it
	wakeCh    chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// connRef holds a net.Conn for atomic.Pointer.
type connRef struct{ net.Conn }

// ServeConn runs the AEMP protocol over an established connection (a
// socket, an in-memory pipe, ...) on goroutines of its own, as if it had
// been accepted. It returns at once.
func (n *Node) ServeConn(nc net.Conn) error {
	if n.closing.Load() {
		return ErrClosed
	}
	c, err := n.newConn(nc.RemoteAddr(), "")
	if err != nil {
		return err
	}
	n.register(c)
	c.queueRaw(c.start())
	n.runStream(c, nc, false, nil)
	return nil
}

// runStream starts the goroutines of a stream transport for c. With
// startWithTLS the TLS handshake comes first, fed early before the socket.
func (n *Node) runStream(c *conn, nc net.Conn, startWithTLS bool, early []byte) {
	t := &streamTransport{c: c, raw: nc, wakeCh: make(chan struct{}, 1), done: make(chan struct{})}
	t.rw.Store(&connRef{nc})
	c.setTransport(t)
	n.wg.Add(2)
	go t.writer()
	go func() {
		defer n.wg.Done()
		var err error
		if startWithTLS {
			err = t.startTLS(early)
		}
		if err == nil {
			err = t.reader()
		}
		t.close()
		c.closed(err)
	}()
	t.wake()
}

func (t *streamTransport) wake() {
	select {
	case t.wakeCh <- struct{}{}:
	default:
	}
}

func (t *streamTransport) remoteAddr() net.Addr { return t.raw.RemoteAddr() }

func (t *streamTransport) close() {
	t.closeOnce.Do(func() {
		close(t.done)
		t.raw.Close()
	})
}

// reader feeds received bytes to the connection until an error, starting
// TLS when the handshake asks for it.
func (t *streamTransport) reader() error {
	c := t.c
	buf := make([]byte, 64<<10)
	start, end := 0, 0
	for {
		if end == len(buf) {
			if start > 0 {
				end = copy(buf, buf[start:end])
				start = 0
			} else {
				if len(buf) >= c.n.cfg.MaxFrameSize+64<<10 {
					return errors.New("frame larger than the maximum frame size")
				}
				nb := make([]byte, 2*len(buf))
				copy(nb, buf[:end])
				buf = nb
			}
		}
		if hs := c.hs.Load(); hs != nil {
			t.raw.SetReadDeadline(time.Unix(0, hs.deadline))
		}
		nr, err := t.rw.Load().Read(buf[end:])
		end += nr
		if nr > 0 {
			used, cerr := c.consume(buf[start:end])
			start += used
			if start == end {
				start, end = 0, 0
			}
			if c.authenticated() {
				t.raw.SetReadDeadline(time.Time{})
			}
			t.wake()
			if cerr != nil {
				return cerr
			}
			if c.state.Load() == stTLSSwitch {
				early := append([]byte(nil), buf[start:end]...)
				start, end = 0, 0
				if err := t.startTLS(early); err != nil {
					return err
				}
				continue
			}
		}
		if err != nil {
			return err
		}
	}
}

// writer writes the pending output whenever woken.
func (t *streamTransport) writer() {
	defer t.c.n.wg.Done()
	c := t.c
	for {
		select {
		case <-t.done:
			return
		case <-t.wakeCh:
		}
		if c.state.Load() == stTLSSwitch {
			continue // nothing may be written until TLS is up
		}
		b := c.takeOut()
		if len(b) == 0 {
			continue
		}
		_, err := t.rw.Load().Write(b)
		c.buffered.Add(-int32(len(b)))
		if err != nil {
			t.close()
			return
		}
		c.recycle(b)
	}
}
