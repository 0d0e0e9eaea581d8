package engine

import (
	"sync"

	"github.com/aemp-go/aemp/framing"
)

// reader is a connection's inbound state in the data phase: the decoder of
// the peer's framing, the frame being dispatched and the Message handed to
// handlers (reused for every message).
type reader struct {
	dec *framing.Decoder
	cur framing.Message
	msg Message
	// running is the port whose handler is running, so that a panic can
	// be pinned on it (see dispatchFrames).
	running *port
	// cachedPort is the port the last message went to (named
	// cachedName), valid while the port table's gen is cachedGen: a
	// stream of messages to one port costs one comparison each, not a
	// map lookup.
	cachedPort *port
	cachedName []byte
	cachedGen  uint64
	kind       uint8 // framing.Codec.Index of dec's framing
}

// readerPools keeps idle readers per framing, so that only connections in
// the middle of reading hold one (a decoder is some hundred bytes; a node
// with 10,000 idle connections would otherwise keep 10,000 of them).
type readerPools struct {
	pools [framing.NumCodecs]sync.Pool
}

func (rp *readerPools) init(lim framing.Limits) {
	for i, codec := range framing.All() {
		kind := uint8(i)
		rp.pools[i].New = func() any {
			return &reader{dec: framing.NewDecoder(codec, lim), kind: kind}
		}
	}
}

// get returns a reader for c's inbound framing, bound to c.
func (rp *readerPools) get(c *conn) *reader {
	rd := rp.pools[c.rxi].Get().(*reader)
	rd.msg.conn, rd.msg.source = c, c.nodeID()
	return rd
}

// put returns a reader that holds no partial frame.
func (rp *readerPools) put(rd *reader) {
	rd.dec.Reset()
	rd.msg = Message{}
	rp.pools[rd.kind].Put(rd)
}
