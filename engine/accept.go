package engine

import (
	"errors"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
)

// acceptLoop accepts connections on ln in its own goroutine and hands them
// to the event loops. gnet's own acceptor shuts the whole engine down when
// accept fails (for example with EMFILE, too many open files); here a
// failing accept only pauses this loop, and connections beyond MaxConns
// are closed at once, so existing connections keep working.
func (n *Node) acceptLoop(ln net.Listener) {
	defer n.wg.Done()
	// gnet's Enroll waits until the event loop has taken the socket. A
	// few workers wait instead, so that this loop drains the accept queue
	// while the event loops take sockets in batches. The workers are a
	// fixed set because goroutines made and dropped by the thousand in a
	// burst leave their stacks in the runtime's free lists, which an idle
	// node then keeps. A full queue makes this loop wait.
	q := make(chan enrollment, enrollQueue)
	var workers sync.WaitGroup
	for range enrollWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for e := range q {
				n.enroll(e.nc, e.c)
			}
		}()
	}
	defer func() {
		close(q)
		workers.Wait()
	}()
	var lastLog time.Time
	for {
		c, err := ln.Accept()
		if err != nil {
			if n.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			n.stats.acceptErrors.Add(1)
			if time.Since(lastLog) > 5*time.Second {
				lastLog = time.Now()
				n.log.Warn("accept failed; pausing this listener briefly", "addr", ln.Addr().String(), "err", err)
			}
			pause := 10 * time.Millisecond
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				pause = 50 * time.Millisecond
			}
			time.Sleep(pause)
			continue
		}
		if int(n.stats.conns.Load()) >= n.cfg.MaxConns {
			n.stats.refused.Add(1)
			c.Close()
			continue
		}
		if conn := n.prepareConn(c, ""); conn != nil {
			q <- enrollment{c, conn}
		}
	}
}

// enrollment is an accepted socket, prepared, for an event loop to take.
type enrollment struct {
	nc net.Conn
	c  *conn
}

// The hand-off of accepted sockets to the event loops: workers per
// listener, and sockets queued for them.
const (
	enrollWorkers = 8
	enrollQueue   = 64
)

// keepAlive is the TCP keepalive configuration of every connection; the
// listeners and the dialer apply it (with TCP_NODELAY, Go's default) as
// they create the socket.
func (n *Node) keepAlive() net.KeepAliveConfig {
	return net.KeepAliveConfig{
		Enable:   true,
		Idle:     n.cfg.KeepAliveIdle,
		Interval: n.cfg.KeepAliveInterval,
		Count:    n.cfg.KeepAliveCount,
	}
}

// tuneSocket turns TCP_NODELAY off when so configured (the listener and
// the dialer have set it on, and the keepalive settings).
func (n *Node) tuneSocket(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok && !n.cfg.noDelay() {
		tc.SetNoDelay(false)
	}
}

// ipTable holds one copy of each IP address seen on connections, so that
// the addresses of thousands of connections from a few hosts share them.
//
// Why: for an accepted or dialled socket, Go's net package makes the local
// and the remote *net.TCPAddr with an IP slice that points into the
// syscall.Sockaddr it got from the kernel, which stays alive with it (32
// bytes each). gnet keeps both addresses for the connection's lifetime.
// Pointing them at a shared copy lets the sockaddrs go: 64 bytes less per
// idle connection.
type ipTable struct {
	mu sync.Mutex
	m  map[string]net.IP
}

// maxSharedIPs bounds the table; IPs beyond it get a copy of their own
// (still smaller than the sockaddr it replaces).
const maxSharedIPs = 4096

// share returns the table's copy of ip.
func (t *ipTable) share(ip net.IP) net.IP {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[string(ip)]; ok {
		return s
	}
	s := slices.Clip(slices.Clone(ip))
	if len(t.m) < maxSharedIPs {
		if t.m == nil {
			t.m = map[string]net.IP{}
		}
		t.m[string(s)] = s
	}
	return s
}

// shareAddrs makes the IPs of nc's addresses the table's copies. It must
// run before nc's addresses are handed to anything else.
func (t *ipTable) shareAddrs(nc net.Conn) {
	for _, a := range [2]net.Addr{nc.LocalAddr(), nc.RemoteAddr()} {
		if ta, ok := a.(*net.TCPAddr); ok && ta != nil {
			ta.IP = t.share(ta.IP)
		}
	}
}
