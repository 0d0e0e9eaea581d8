package engine

import (
	"sync"

	"github.com/aemp-go/aemp/framing"
)

// codecs lists the framings; a connection keeps the index of its two
// (a byte each instead of an interface value).
var codecs = [...]framing.Codec{framing.JSON, framing.Storable, framing.CBOR}

// codecIndex returns c's index in codecs.
func codecIndex(c framing.Codec) uint8 {
	for i, k := range codecs {
		if k.Name() == c.Name() {
			return uint8(i)
		}
	}
	panic("engine: framing " + c.Name() + " missing from codecs")
}

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
	kind    uint8 // index into codecs
}

// readerPools keeps idle readers per framing, so that only connections in
// the middle of reading hold one (a decoder is some hundred bytes; a node
// with 10,000 idle connections would otherwise keep 10,000 of them).
type readerPools struct {
	pools [len(codecs)]sync.Pool
}

func (rp *readerPools) init(lim framing.Limits) {
	for i := range codecs {
		codec, kind := codecs[i], uint8(i)
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
