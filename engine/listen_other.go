//go:build !linux

package engine

import "net"

// listenConfig returns how the node's listening sockets are made: Go sets
// the keepalive options on every accepted connection.
func (n *Node) listenConfig() net.ListenConfig {
	return net.ListenConfig{KeepAliveConfig: n.keepAlive()}
}

// dialer returns how the node's outbound sockets are made.
func (n *Node) dialer() net.Dialer {
	return net.Dialer{Timeout: n.cfg.MonitorTimeout, KeepAliveConfig: n.keepAlive()}
}
