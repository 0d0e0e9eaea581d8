//go:build linux

package bench

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ConnCeilingServer is the server side of the connection ceiling (see
// RunConnCeiling): one goroutine, a nonblocking listening socket, epoll.
type ConnCeilingServer struct {
	fd, ep  int
	addr    net.Addr
	closing atomic.Bool
	started atomic.Bool // Serve ran (or Close came first)
	done    chan struct{}
}

// ceilConn is the state of one server-side connection.
type ceilConn struct {
	got   int32
	stage uint8 // 0: greeting sent; 1: auth line sent; 2: answer sent
}

// ListenConnCeiling listens on addr (host:port) for ceiling connections.
func ListenConnCeiling(addr string) (*ConnCeilingServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer ln.Close() // the server keeps a duplicate of the socket
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &ConnCeilingServer{fd: -1, addr: ln.Addr(), done: make(chan struct{})}
	var derr error
	if err := rc.Control(func(fd uintptr) { s.fd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup: %w", derr)
	}
	// Accepted sockets inherit it on Linux (Serve checks).
	unix.SetsockoptInt(s.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if s.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		unix.Close(s.fd)
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_ADD, s.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd)}); err != nil {
		unix.Close(s.fd)
		unix.Close(s.ep)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return s, nil
}

// Addr returns the listening address.
func (s *ConnCeilingServer) Addr() net.Addr { return s.addr }

// Close stops Serve (within 100 ms) and closes every socket.
func (s *ConnCeilingServer) Close() error {
	if s.closing.Swap(true) {
		return nil
	}
	if s.started.CompareAndSwap(false, true) { // no Serve: nobody else closes them
		unix.Close(s.ep)
		unix.Close(s.fd)
		return nil
	}
	<-s.done
	return nil
}

// Serve answers ceiling connections until Close.
func (s *ConnCeilingServer) Serve() error {
	if !s.started.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	defer close(s.done)
	conns := map[int32]*ceilConn{}
	defer func() {
		for fd := range conns {
			unix.Close(int(fd))
		}
		unix.Close(s.ep)
		unix.Close(s.fd)
	}()
	var (
		greeting = make([]byte, ceilServerGreeting)
		auth     = make([]byte, ceilServerAuth)
		answer   = make([]byte, ceilServerAnswer)
		buf      = make([]byte, 4096)
		events   = make([]unix.EpollEvent, 64)
		checked  bool // whether accepted sockets were seen to inherit TCP_NODELAY
		setDelay bool // they do not: set it on each
	)
	for !s.closing.Load() {
		n, err := unix.EpollWait(s.ep, events, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == s.fd {
				for {
					fd, _, err := unix.Accept4(s.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err == unix.EINTR || err == unix.ECONNABORTED {
						continue
					}
					if err == unix.EMFILE || err == unix.ENFILE {
						time.Sleep(10 * time.Millisecond) // the backlog waits
					}
					if err != nil {
						break
					}
					if !checked {
						v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
						checked, setDelay = true, v == 0
					}
					if setDelay {
						unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					}
					if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
						unix.Close(fd)
						continue
					}
					conns[int32(fd)] = &ceilConn{}
					unix.Write(fd, greeting)
				}
				continue
			}
			c := conns[ev.Fd]
			if c == nil {
				continue
			}
			fd := int(ev.Fd)
			m, err := unix.Read(fd, buf)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if m <= 0 {
				unix.Close(fd)
				delete(conns, ev.Fd)
				continue
			}
			c.got += int32(m)
			if c.stage == 0 && c.got >= ceilClientGreeting {
				unix.Write(fd, auth)
				c.stage = 1
			}
			if c.stage == 1 && c.got >= ceilClientGreeting+ceilClientAuthEcho {
				unix.Write(fd, answer)
				c.stage = 2
			}
		}
	}
	return nil
}
