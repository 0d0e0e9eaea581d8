package framing

// Decoder splits one direction of a connection's byte stream into
// messages. It is a resumable state machine: no goroutines, no I/O, no
// copies of the input. One Decoder per connection direction; not safe for
// concurrent use.
//
// Usage (the engine's read loop):
//
//	for used < len(in) {
//		m, n, err := dec.Next(in[used:])
//		if err != nil {
//			return err // fail the connection
//		}
//		if n == 0 {
//			break // partial frame: keep in[used:], call again when more arrives
//		}
//		used += n
//		route(&m)
//	}
//	discard(used)
type Decoder struct {
	kind uint8
	lim  Limits
	err  error
	// off is the stream offset of the first byte of the next buf.
	off int64
	js  jsonScanner
	st  storableValidator
	cb  cborScanner
	// scratch holds a port name that had to be decoded (JSON escapes,
	// storable or CBOR Latin-1 or integer port): reused, valid until the
	// next call.
	scratch []byte
}

// NewDecoder returns a Decoder for codec c with limits lim (zero fields mean
// the defaults).
func NewDecoder(c Codec, lim Limits) *Decoder {
	d := &Decoder{kind: c.impl().kind, lim: lim.withDefaults()}
	d.Reset()
	return d
}

// Framing returns the name of the decoder's framing.
func (d *Decoder) Framing() string { return kindName(d.kind) }

// Reset forgets any partial frame and a previous error, and restarts
// stream offsets at 0, so that the Decoder can be reused for a new stream.
func (d *Decoder) Reset() {
	d.err = nil
	d.off = 0
	d.js.reset(d.lim.MaxDepth)
	d.st.reset()
	d.cb.reset()
}

// Next returns the next complete message at the start of buf.
//
// buf must start with the first byte not yet consumed. If a complete
// message is there, Next returns it and n > 0, the number of bytes it
// occupies (in json framing including the whitespace around it that has
// arrived); the caller discards those n bytes. If not, Next returns n == 0: the bytes must be
// kept and passed again, extended by whatever arrives next (the decoder
// remembers how far it has scanned and does not rescan them). A partial
// frame at the end of the stream is simply lost.
//
// Every returned message is fully validated (the whole JSON text, storable
// image or CBOR item), so a connection is failed on the first bad
// frame, after the good ones before it were delivered. After an error, Next
// keeps returning it until Reset.
//
// The returned Message points into buf (and into the decoder's scratch
// space for decoded port names): it is valid until buf is modified or Next
// is called again. Use Message.Clone to keep it.
func (d *Decoder) Next(buf []byte) (m Message, n int, err error) {
	n, err = d.NextInto(&m, buf)
	return m, n, err
}

// NextInto is Next storing the message in *m (whose contents are
// unspecified when n == 0 or on an error): a caller that keeps one
// Message for every frame saves copying it.
func (d *Decoder) NextInto(m *Message, buf []byte) (n int, err error) {
	if d.err != nil {
		return 0, d.err
	}
	switch d.kind {
	case kindStorable:
		n, err = d.nextStorable(buf, m)
	case kindCBOR:
		n, err = d.nextCBOR(buf, m)
	default:
		n, err = d.nextJSON(buf, m)
	}
	if err != nil {
		d.err = err
		return 0, err
	}
	d.off += int64(n)
	return n, nil
}

// Offset returns the stream offset of the first byte not yet consumed:
// the total of all n returned by Next since the last Reset.
func (d *Decoder) Offset() int64 { return d.off }
