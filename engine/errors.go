package engine

import (
	"errors"

	"github.com/aemp-go/aemp/engine/handshake"
)

// Sentinel errors of the node. Send and Register return them; node events
// carry the transport reasons as text, like the original.
var (
	// ErrBackpressure is returned by Send when the connection to the
	// destination node has more unsent bytes than the high-water mark.
	// The message was not queued; try again later.
	ErrBackpressure = errors.New("aemp: outbound buffer above the high-water mark")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("aemp: node closed")
	// ErrBadPortID is returned by Register for an empty name or nil
	// handler and by RegisterGroup for a port that is not this node's.
	ErrBadPortID = errors.New("aemp: malformed port ID")
	// ErrPortExists is returned by Register for a name already in use.
	ErrPortExists = errors.New("aemp: port already registered")
	// ErrQueueFull is returned by Send when the queue of messages for a
	// node that is not connected yet is above the high-water mark.
	ErrQueueFull = errors.New("aemp: queue for an unconnected node is full")
	// ErrMessageTooLarge is returned by Send for a message that encodes to
	// more than 512 MiB.
	ErrMessageTooLarge = errors.New("aemp: message too large to send")
	// ErrAuthFailed is the Err of a NodeEvent for a connection attempt
	// whose peer sent a wrong token ("authentication failure/shared
	// secret mismatch"): the secrets differ. It is handshake.ErrAuthFailed.
	ErrAuthFailed = handshake.ErrAuthFailed
	// ErrConfig wraps configuration problems found by New.
	ErrConfig = errors.New("aemp: bad configuration")
)

// Internal causes, to classify failed handshakes (Stats.HandshakeFailures).
var (
	errTLS              = errors.New("TLS")
	errHandshakeTimeout = errors.New("handshake not completed")
)

// Reasons reported in node-down events, as AnyEvent::MP words them.
const (
	ReasonUnableToConnect = "unable to connect" // 1.x, after monitor-timeout
	ReasonConnectTimeout  = "connect timeout"   // 2.x, after connect-interval
	ReasonNoKnownAddress  = "no known address"  // 2.x, nothing to connect to
	ReasonSwitched        = "switched connections"
	ReasonEOF             = "Unexpected end-of-file"
	ReasonBrokenPipe      = "Broken pipe"
	ReasonBadMessage      = "Bad message"
	ReasonClosed          = "connection closed by this node"
)
