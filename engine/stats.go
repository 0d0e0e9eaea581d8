package engine

import (
	"sync/atomic"

	"errors"

	"github.com/aemp-go/aemp/engine/handshake"
)

// counters are the node's statistics. Counts that change per message are
// kept per connection (outBufs) and summed when read.
type counters struct {
	conns        atomic.Int64 // open connections
	opened       atomic.Int64 // connections ever opened
	refused      atomic.Int64 // connections refused at MaxConns
	acceptErrors atomic.Int64
	unknownPort  atomic.Int64 // messages dropped for unknown ports
	received     atomic.Int64 // messages received from other nodes
	recvBytes    atomic.Int64
	sent         atomic.Int64 // messages sent, less those still counted by connections (outBufs.sent)
	sentBytes    atomic.Int64 // likewise for bytes (outBufs.bytes)
	sentMoves    atomic.Int64 // moves of a connection's counts into sent (see Stats)
	backpressure atomic.Int64 // Sends refused with ErrBackpressure or ErrQueueFull
	nodesUp      atomic.Int64
	handshakes   atomic.Int64 // completed handshakes
	hsFailures   [len(HandshakeFailureKinds)]atomic.Int64
	dropped      [dropReasons]atomic.Int64
	lostBytes    atomic.Int64
}

// Why a message that Send accepted was dropped later.
const (
	dropExpired   = iota // queued for a node that did not come up in time
	dropLinkLost         // still in our buffer when its connection closed
	dropTranscode        // queued in one framing, the link negotiated another, re-encoding failed
	dropReasons
)

// Stats is a snapshot of a node's counters (Node.Stats). Counts are since
// the node was made; gauges are as of the call.
type Stats struct {
	// Conns is the number of open connections, handshakes in progress
	// included (a gauge).
	Conns int64
	// NodesUp is the number of other nodes with an authenticated
	// connection (a gauge).
	NodesUp int64
	// Refused counts connections closed at once because MaxConns were
	// open; AcceptErrors counts failed accept calls.
	Refused, AcceptErrors int64
	// Handshakes counts completed handshakes, both directions.
	Handshakes int64
	// HandshakeFailures counts handshakes that failed, by kind (the keys
	// are HandshakeFailureKinds; every key is present).
	HandshakeFailures map[string]int64
	// Received counts messages received from other nodes, and
	// ReceivedBytes their bytes (frames as they arrived).
	Received, ReceivedBytes int64
	// Sent counts messages encoded for other nodes, and SentBytes the
	// bytes handed to the sockets (handshake lines included).
	Sent, SentBytes int64
	// UnknownPort counts messages for ports that do not exist on this
	// node (from other nodes or local Sends); like Perl, they are dropped
	// without a reply.
	UnknownPort int64
	// Backpressure counts Sends refused with ErrBackpressure or
	// ErrQueueFull (the caller got the error; nothing was dropped).
	Backpressure int64
	// Dropped counts messages that Send accepted (returned nil for) and
	// that were not sent after all: DroppedExpired + DroppedLinkLost +
	// DroppedTranscode.
	Dropped int64
	// DroppedExpired: queued for a node that did not come up within the
	// time AnyEvent::MP gives it (monitor timeout for 1.x nodes, connect
	// interval for 2.x); monitors of that node fired with the reason.
	DroppedExpired int64
	// DroppedLinkLost: encoded but still in this node's buffer when the
	// connection closed; monitors of that node fired.
	DroppedLinkLost int64
	// DroppedTranscode: queued in one framing while the node was down and
	// not re-encodable in the framing its link then chose (never expected:
	// every framing takes the same values).
	DroppedTranscode int64
	// LostBytes counts bytes that Send accepted and no socket took: those
	// of the dropped messages and what the event loop still held when a
	// connection closed (bytes the kernel took but the peer never read
	// cannot be known, as with any TCP connection).
	LostBytes int64
	// QueuedBytes is what waits to be written (a gauge): messages queued
	// for nodes that are not connected, plus every connection's unsent
	// bytes.
	QueuedBytes int64
}

// HandshakeFailureKinds are the keys of Stats.HandshakeFailures: a bounded
// set, so that they can label metrics.
var HandshakeFailureKinds = [...]string{
	"auth_failed",       // the peer's token was wrong: secrets differ
	"no_common_auth",    // no auth method both sides may use (e.g. 1.x against 2.x)
	"no_common_framing", // no framing in common
	"version",           // protocol version mismatch
	"protocol",          // unparsable greeting or auth line, unknown upgrade, line too long
	"self",              // the peer has our node ID
	"already_connected", // the node is already connected
	"echo",              // our own lines came back
	"no_secret",         // neither TLS nor a secret
	"tls",               // the TLS handshake failed
	"timeout",           // not completed within the monitor timeout
	"closed",            // the peer closed the connection (often: it rejected our token)
	"other",
}

// handshakeFailureKind classifies a failed handshake for the counters.
func handshakeFailureKind(hsErr, err error) int {
	kinds := []struct {
		err  error
		kind int
	}{
		{handshake.ErrAuthFailed, 0}, {handshake.ErrNoCommonAuth, 1}, {handshake.ErrUnsupportedAuth, 1},
		{handshake.ErrNoCommonFraming, 2}, {handshake.ErrFraming, 2}, {handshake.ErrVersion, 3},
		{handshake.ErrProtocol, 4}, {handshake.ErrUnknownProtocol, 4}, {handshake.ErrLineTooLong, 4},
		{handshake.ErrSelf, 5}, {handshake.ErrAlreadyConnected, 6}, {handshake.ErrEcho, 7},
		{handshake.ErrNoSecret, 8},
	}
	for _, k := range kinds {
		if errors.Is(hsErr, k.err) {
			return k.kind
		}
	}
	switch {
	case errors.Is(err, errTLS):
		return 9
	case errors.Is(err, errHandshakeTimeout):
		return 10
	case hsErr == nil:
		return 11
	}
	return len(HandshakeFailureKinds) - 1
}

// Stats returns the node's counters. Any goroutine may call it; it walks
// the connections, so a scrape every second is fine and one per message
// is not.
func (n *Node) Stats() Stats {
	s := &n.stats
	st := Stats{
		Conns: s.conns.Load(), NodesUp: s.nodesUp.Load(), Refused: s.refused.Load(),
		AcceptErrors: s.acceptErrors.Load(), Handshakes: s.handshakes.Load(),
		HandshakeFailures: make(map[string]int64, len(HandshakeFailureKinds)),
		Received:          s.received.Load(), ReceivedBytes: s.recvBytes.Load(),
		UnknownPort: s.unknownPort.Load(), Backpressure: s.backpressure.Load(),
		DroppedExpired: s.dropped[dropExpired].Load(), DroppedLinkLost: s.dropped[dropLinkLost].Load(),
		DroppedTranscode: s.dropped[dropTranscode].Load(), LostBytes: s.lostBytes.Load(),
	}
	for i, k := range HandshakeFailureKinds {
		st.HandshakeFailures[k] = s.hsFailures[i].Load()
	}
	st.Dropped = st.DroppedExpired + st.DroppedLinkLost + st.DroppedTranscode
	st.Sent, st.SentBytes, st.QueuedBytes = n.connTotals()
	st.QueuedBytes += n.queuedBytes.Load()
	return st
}

// connTotals adds the connections' counts of sent messages and bytes to
// the node's, and sums their unsent bytes. A count that moves into the
// node's meanwhile (a connection closing or going quiet) could be missed
// or seen twice; sentMoves tells, and the sum is taken again.
func (n *Node) connTotals() (sent, bytes, unsent int64) {
	s := &n.stats
	var conns []*conn
	for range 100 {
		moves := s.sentMoves.Load()
		sent, bytes, unsent = s.sent.Load(), s.sentBytes.Load(), 0
		conns = n.appendConns(conns[:0])
		for _, c := range conns {
			m, b := c.sentCounts()
			sent += m
			bytes += b
			unsent += c.backlog()
		}
		if s.sentMoves.Load() == moves {
			break
		}
	}
	return sent, bytes, unsent
}

// drop counts k messages of size bytes dropped for reason.
func (n *Node) drop(reason int, k, bytes int64) {
	n.stats.dropped[reason].Add(k)
	n.stats.lostBytes.Add(bytes)
}
