//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// run drives the units of a connect run; on Linux with epoll when the
// target is an IP address (a host name goes to the net driver, which tries
// each of its addresses as net.Dial does).
func (r *connectRun) run(ctx context.Context) error {
	if host, _, err := net.SplitHostPort(r.o.Connect); err == nil && net.ParseIP(host) != nil {
		return r.runEpoll(ctx)
	}
	return r.runNet(ctx)
}

// epollSlot is one of the concurrent connections of the epoll driver.
type epollSlot struct {
	u        connUnit
	idx      int32  // its index, the epoll event's tag
	fd       int    // -1: no connection
	pending  []byte // bytes to write once the socket takes them
	deadline time.Time
}

// runEpoll keeps o.Conns units going at once from one goroutine, over
// nonblocking sockets and one epoll instance: a unit costs the socket,
// connect, two writes, two or three reads and close, without the
// goroutine wake-ups and the per-connection bookkeeping of the net
// package (getsockname, getpeername, netpoll registration), which on a
// 2-CPU machine come out of the node's share of the CPU.
func (r *connectRun) runEpoll(ctx context.Context) error {
	ta, err := net.ResolveTCPAddr("tcp", r.o.Connect)
	if err != nil {
		return err
	}
	family, sa := sockaddrOf(ta)
	peer := ta.String()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	defer unix.Close(ep)

	slots := make([]epollSlot, max(1, r.o.Conns))
	for i := range slots {
		if slots[i].u, err = r.unit(); err != nil {
			return err
		}
		slots[i].fd, slots[i].idx = -1, int32(i)
	}
	active := 0
	defer func() {
		for i := range slots {
			if slots[i].fd >= 0 {
				unix.Close(slots[i].fd)
			}
		}
	}()
	// start begins the next unit in slot i, if any is left.
	start := func(i int) {
		for r.claim() {
			if err := slots[i].open(ep, family, sa, peer, unitTimeout(r.o)); err != nil {
				r.fail(err)
				continue
			}
			active++
			return
		}
	}
	// end finishes slot i's unit and starts the next.
	end := func(i int, err error) {
		s := &slots[i]
		unix.Close(s.fd)
		s.fd, s.pending = -1, nil
		active--
		if err != nil {
			r.fail(err)
		} else {
			r.finished(s.u)
		}
		if ctx.Err() == nil {
			start(i)
		}
	}
	for i := range slots {
		start(i)
	}
	events := make([]unix.EpollEvent, len(slots))
	lastCheck := time.Now()
	for active > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := unix.EpollWait(ep, events, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:max(n, 0)] {
			i := int(ev.Fd)
			if slots[i].fd < 0 {
				continue
			}
			if fin, err := slots[i].handle(ev.Events, ep); err != nil || fin {
				end(i, err)
			}
		}
		if now := time.Now(); now.Sub(lastCheck) >= 100*time.Millisecond {
			lastCheck = now
			for i := range slots {
				if slots[i].fd >= 0 && now.After(slots[i].deadline) {
					end(i, fmt.Errorf("%s: no echo answer within %v", peer, unitTimeout(r.o)))
				}
			}
		}
	}
	return nil
}

// sockaddrOf returns the address family and the socket address of a.
func sockaddrOf(a *net.TCPAddr) (int, unix.Sockaddr) {
	if ip4 := a.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return unix.AF_INET, sa
	}
	sa := &unix.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	return unix.AF_INET6, sa
}

// open starts a unit in s: a nonblocking socket connecting to sa, our
// greeting written at once when the connection is already up (as on
// loopback), else when epoll says it is.
func (s *epollSlot) open(ep int, family int, sa unix.Sockaddr, peer string, timeout time.Duration) error {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) error {
		unix.Close(fd)
		return fmt.Errorf("%s %s: %w", what, peer, err)
	}
	// Small writes in a row (greeting, then auth line and request) must
	// not wait for ACKs.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		return fail("connect", err)
	}
	greeting, err := s.u.begin(peer)
	if err != nil {
		return fail("handshake", err)
	}
	s.fd, s.deadline = fd, time.Now().Add(timeout)
	s.pending = nil
	if err := s.write(greeting); err != nil { // a refused connection shows here
		s.fd = -1
		return fail("connect", err)
	}
	if err := s.watch(ep, unix.EPOLL_CTL_ADD); err != nil {
		s.fd = -1
		return fail("epoll_ctl", err)
	}
	return nil
}

// watch registers s with epoll (op ADD) or updates it (MOD): always for
// reading, and for writing while bytes are pending.
func (s *epollSlot) watch(ep, op int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: s.idx}
	if s.pending != nil {
		ev.Events |= unix.EPOLLOUT
	}
	return unix.EpollCtl(ep, op, s.fd, &ev)
}

// write sends b, keeping in s.pending what the socket does not take yet
// (a connection still being set up takes nothing).
func (s *epollSlot) write(b []byte) error {
	if s.pending != nil {
		s.pending = append(s.pending, b...)
		return nil
	}
	for len(b) > 0 {
		m, err := unix.Write(s.fd, b)
		switch {
		case err == nil:
			b = b[m:]
		case err == unix.EINTR:
		case err == unix.EAGAIN || err == unix.ENOTCONN || err == unix.EINPROGRESS:
			s.pending = append([]byte(nil), b...)
			return nil
		default:
			return err
		}
	}
	return nil
}

// flush writes what is pending, once the socket is writable; epoll stops
// reporting writability when nothing is left.
func (s *epollSlot) flush(ep int) error {
	if soErr, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
		return err
	} else if soErr != 0 {
		return unix.Errno(soErr)
	}
	p := s.pending
	s.pending = nil
	if err := s.write(p); err != nil {
		return err
	}
	if s.pending == nil {
		return s.watch(ep, unix.EPOLL_CTL_MOD)
	}
	return nil
}

// handle acts on the epoll events of s; finished when the echo answer
// is in.
func (s *epollSlot) handle(events uint32, ep int) (finished bool, err error) {
	if s.pending != nil && events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		if err := s.flush(ep); err != nil {
			return false, err
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		return false, nil
	}
	m, err := unix.Read(s.fd, s.u.space())
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return false, nil
	case err != nil:
		return false, err
	case m == 0:
		return false, fmt.Errorf("connection closed before the echo answer: %w", io.ErrUnexpectedEOF)
	}
	out, fin, err := s.u.received(m)
	if len(out) > 0 {
		wasPending := s.pending != nil
		if werr := s.write(out); werr != nil && err == nil {
			err = werr
		}
		if s.pending != nil && !wasPending && err == nil {
			err = s.watch(ep, unix.EPOLL_CTL_MOD)
		}
	}
	return fin && err == nil, err
}
