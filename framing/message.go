package framing

// Message is one received message, [PORT, ARGS...], in any framing. It
// holds the raw frame and the destination port name; the arguments are
// decoded only when Args is called.
//
// A Message returned by Decoder.Next points into the caller's buffer (and
// into the Decoder's scratch space): it is valid until that buffer is
// modified or Next is called again. Clone returns a Message that owns its
// bytes. Values returned by Args never alias any buffer.
type Message struct {
	raw  []byte // the frame as on the wire
	port []byte
	// argOff is where the arguments start in raw. json: the first byte
	// after element 0 (or the '[' + 1 for []); storable: the opcode of
	// element 1; cbor: the head of element 1 (or the break).
	argOff int
	// portOff is the offset of port in raw when flagPortInRaw is set.
	portOff int
	// storable: number of arguments (elements after the port) and of tags
	// in the image. cbor: number of arguments, -1 for an
	// indefinite-length message array.
	nargs int
	ntags int
	// The ScalarArgs summary, when the splitter made it (flagSummary):
	// the arguments' number and length, and the first one's bounds in raw
	// (sumFirst == sumFirstEnd == 0: none).
	sumN, sumLen          int32
	sumFirst, sumFirstEnd int32
	kind                  uint8
	flags                 uint8
}

const (
	flagRoutable  uint8 = 1 << iota // element 0 is a scalar or missing
	flagPortInRaw                   // port is raw[portOff:portOff+len(port)]
	flagFromStart                   // Args must decode the whole array (element 0 is a container, or the image has shared references)
	flagNoElems                     // the message is [] (keepalive)
	flagSummary                     // sumN..sumFirstEnd hold ScalarArgs' answer
)

// Fixed port names for element 0 values that are not strings.
var (
	portTrue  = []byte("1")
	portFalse = []byte("0")
	portArray = []byte("ARRAY(0x0)")
	portHash  = []byte("HASH(0x0)")
)

// Valid reports whether m holds a message (the zero Message does not).
func (m *Message) Valid() bool { return m.kind != 0 }

// Framing returns "json", "storable" or "cbor" ("" for the zero Message).
func (m *Message) Framing() string { return kindName(m.kind) }

// Port returns the destination port name (element 0) without decoding the
// arguments and, in the usual case, without copying: the slice points into
// the frame. The caller must not modify it. It is UTF-8 text as the peer
// sent it, with JSON escapes resolved, storable and CBOR byte strings
// with non-ASCII bytes converted from Latin-1 to UTF-8, and invalid UTF-8
// in a CBOR text string replaced by U+FFFD (one per character as Perl
// counts them; JSON and storable text is left as it is, which is how
// Perl looks such a port up).
//
// Missing (the keepalive []) or null/undef element 0 gives "" (the node
// port; also CBOR undefined). Like Perl, other scalars are used as their
// string form: numbers as Perl writes them (integers in decimal, JSON
// integers beyond 64 bits as their literal, other numbers with 15
// significant digits: JSON 1.0 is "1", CBOR float 1/3
// "0.333333333333333"), true/false as "1"/"0", Perl's immortal yes/no as
// "1"/"". An array or object as element 0 is not a port name (Perl would
// look up "ARRAY(0x...)"): Routable reports false and Port returns
// "ARRAY(0x0)" or "HASH(0x0)", which names no port.
func (m *Message) Port() []byte { return m.port }

// PortString returns a copy of Port as a string.
func (m *Message) PortString() string { return string(m.port) }

// Routable reports whether element 0 is a scalar (or missing), i.e.
// whether Port is a name Perl could route to.
func (m *Message) Routable() bool { return m.flags&flagRoutable != 0 }

// Raw returns the frame exactly as it arrived: the JSON text (without
// surrounding whitespace), the storable BER length prefix and image, or
// the CBOR item.
// The caller must not modify it; it is valid as long as the Message is.
func (m *Message) Raw() []byte { return m.raw }

// Args decodes and returns the arguments: every element after the port
// name, as the value model described in the package documentation. The
// result is newly allocated and never aliases the frame. A message
// without arguments gives a nil slice.
//
// Messages from a Decoder were validated when they were split, so Args
// fails only on a zero Message.
func (m *Message) Args() ([]any, error) {
	switch m.kind {
	case kindJSON:
		return m.jsonArgs()
	case kindStorable:
		return m.storableArgs()
	case kindCBOR:
		return m.cborArgs()
	}
	return nil, newError("", -1, ErrMalformed, "zero Message")
}

// Clone returns a copy of m that owns its bytes (one allocation), for
// keeping a message after the buffer it came from is reused.
func (m *Message) Clone() Message {
	c := *m
	if m.kind == 0 {
		return c
	}
	if m.flags&flagPortInRaw != 0 {
		c.raw = append([]byte(nil), m.raw...)
		c.port = c.raw[m.portOff : m.portOff+len(m.port) : m.portOff+len(m.port)]
		return c
	}
	b := make([]byte, len(m.raw)+len(m.port))
	copy(b, m.raw)
	copy(b[len(m.raw):], m.port)
	c.raw = b[:len(m.raw):len(m.raw)]
	c.port = b[len(m.raw):]
	return c
}
