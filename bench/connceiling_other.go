//go:build !linux

package bench

import (
	"errors"
	"net"
)

// ConnCeilingServer is the server side of the connection ceiling; it
// needs Linux (epoll).
type ConnCeilingServer struct{}

// ListenConnCeiling fails outside Linux.
func ListenConnCeiling(string) (*ConnCeilingServer, error) {
	return nil, errors.New("bench: the connection ceiling server needs Linux")
}

// Addr returns nil.
func (*ConnCeilingServer) Addr() net.Addr { return nil }

// Serve returns at once.
func (*ConnCeilingServer) Serve() error { return nil }

// Close does nothing.
func (*ConnCeilingServer) Close() error { return nil }
