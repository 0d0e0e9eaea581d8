//go:build linux

package engine

import (
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// listenConfig returns how the node's listening sockets are made. Linux
// gives an accepted socket the keepalive settings of its listening
// socket, so they are set once, on the listener, instead of with four
// setsockopt calls per accepted connection (what Go's
// ListenConfig.KeepAliveConfig does). TestSocketOptions checks the
// accepted side.
func (n *Node) listenConfig() net.ListenConfig {
	ka := n.keepAlive()
	opts := [...]sockOpt{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, ceilSeconds(ka.Idle)},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, ceilSeconds(ka.Interval)},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.Count},
		n.userTimeout(),
	}
	return net.ListenConfig{
		KeepAlive: -1, // not per accepted connection: inherited
		Control:   setSockOpts(opts[:]),
	}
}

// dialer returns how the node's outbound sockets are made: keepalive as
// configured, and TCP_USER_TIMEOUT.
func (n *Node) dialer() net.Dialer {
	return net.Dialer{Timeout: n.cfg.MonitorTimeout, KeepAliveConfig: n.keepAlive(),
		Control: setSockOpts([]sockOpt{n.userTimeout()})}
}

// userTimeout is TCP_USER_TIMEOUT set to what keepalive allows an idle
// link (idle + interval x count): keepalive probes are only sent on a link
// with nothing unacknowledged, so a peer that vanishes while our last
// bytes are in flight would otherwise be noticed only after the kernel's
// retransmissions give up (many minutes).
func (n *Node) userTimeout() sockOpt {
	ka := n.keepAlive()
	d := ka.Idle + ka.Interval*time.Duration(ka.Count)
	return sockOpt{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d / time.Millisecond)}
}

// sockOpt is one integer socket option.
type sockOpt struct{ level, opt, value int }

// setSockOpts returns a Control function that sets opts on the socket.
func setSockOpts(opts []sockOpt) func(_, _ string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			for _, o := range opts {
				if err = unix.SetsockoptInt(int(fd), o.level, o.opt, o.value); err != nil {
					return
				}
			}
		})
		return errors.Join(cerr, err)
	}
}

// ceilSeconds rounds d up to whole seconds, as the socket options take it.
func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
