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
}

// readerPools keeps idle readers per framing, so that only connections in
// the middle of reading hold one (a decoder is some hundred bytes; a node
// with 10,000 idle connections would otherwise keep 10,000 of them).
type readerPools struct {
	lim   framing.Limits
	pools sync.Map // framing name -> *sync.Pool
}

// get returns a reader for c's inbound framing, bound to c.
func (rp *readerPools) get(c *conn) *reader {
	name := c.rx.Name()
	pv, ok := rp.pools.Load(name)
	if !ok {
		codec := c.rx
		lim := rp.lim
		pv, _ = rp.pools.LoadOrStore(name, &sync.Pool{New: func() any {
			return &reader{dec: framing.NewDecoder(codec, lim)}
		}})
	}
	rd := pv.(*sync.Pool).Get().(*reader)
	rd.msg.conn, rd.msg.source = c, c.peerID
	return rd
}

// put returns a reader that holds no partial frame.
func (rp *readerPools) put(rd *reader) {
	rd.dec.Reset()
	rd.msg = Message{}
	if pv, ok := rp.pools.Load(rd.dec.Framing()); ok {
		pv.(*sync.Pool).Put(rd)
	}
}
