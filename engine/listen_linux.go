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
	opts := [...]struct{ level, opt, value int }{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, ceilSeconds(ka.Idle)},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, ceilSeconds(ka.Interval)},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.Count},
	}
	return net.ListenConfig{
		KeepAlive: -1, // not per accepted connection: inherited
		Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			cerr := rc.Control(func(fd uintptr) {
				for _, o := range opts {
					if err = unix.SetsockoptInt(int(fd), o.level, o.opt, o.value); err != nil {
						return
					}
				}
			})
			return errors.Join(cerr, err)
		},
	}
}

// ceilSeconds rounds d up to whole seconds, as the socket options take it.
func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
