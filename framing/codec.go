package framing

// Default limits, used for zero fields of Limits.
const (
	// DefaultMaxFrameSize is the default largest frame a Decoder accepts:
	// 64 MiB.
	DefaultMaxFrameSize = 64 << 20
	// DefaultMaxDepth is the default deepest nesting of arrays and
	// objects/hashes a Decoder accepts, counting the message array: 512,
	// what JSON::XS accepts and Storable's nfreeze writes. Encoders always
	// refuse to write deeper than 512, since Perl cannot read it.
	DefaultMaxDepth = 512
	// maxFrameCap bounds MaxFrameSize so that size arithmetic never
	// overflows.
	maxFrameCap = 1 << 48
)

// encodeMaxDepth is the deepest nesting AppendMessage writes (the message
// array counts as 1): JSON::XS refuses deeper input.
const encodeMaxDepth = 512

// Limits bounds what a Decoder accepts from a peer. The zero value means
// the defaults.
type Limits struct {
	// MaxFrameSize is the largest frame in bytes: in json framing a JSON
	// text (and also the longest run of whitespace between texts), in
	// storable framing the image (the length announced by the BER prefix),
	// in cbor framing the message's CBOR item (declared string lengths and
	// element counts are checked against it as soon as their head arrives).
	// <= 0 means DefaultMaxFrameSize. Values above 2^48 are treated as
	// 2^48.
	MaxFrameSize int
	// MaxDepth is the deepest nesting of arrays and objects (hashes),
	// counting the message array itself. <= 0 means DefaultMaxDepth.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFrameSize <= 0 {
		l.MaxFrameSize = DefaultMaxFrameSize
	}
	if l.MaxFrameSize > maxFrameCap {
		l.MaxFrameSize = maxFrameCap
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Codec is one AEMP data framing ("json", "storable", "cbor"): everything
// a node needs to know about it. It encodes messages, names the framing,
// gives the keepalive frame, and NewDecoder makes Decoders for it. Codecs
// are stateless and safe for concurrent use. Only this package implements
// Codec; All, ByIndex and ByName give the implemented ones.
type Codec interface {
	// Name is the framing's name as it appears in greetings and AUTH
	// lines: "json", "storable" or "cbor".
	Name() string
	// Index is the framing's small stable number, 0 <= Index < NumCodecs:
	// its position in All, and what ByIndex takes, so that a connection
	// can keep its framing in a byte.
	Index() int
	// Keepalive returns the frame of the empty message [], what a
	// listener-less Perl node writes to keep an idle link probed
	// (docs/framing.md section 6): json "[]", storable the BER length 7
	// and the nfreeze image 05 0b 02 00000000, cbor 0x80. The slice is
	// shared: the caller must not modify it.
	Keepalive() []byte
	// AppendMessage appends the frame of the message [port, args...] to
	// dst and returns the extended slice. On error it returns dst
	// unchanged (same length) and an error wrapping ErrInvalidValue or
	// ErrTooDeep. See the package documentation for how Go values are
	// written.
	AppendMessage(dst []byte, port string, args []any) ([]byte, error)
	// AppendMessageTo is AppendMessage with the port name encoded
	// beforehand (see Port): the same frame, for less work per message.
	AppendMessageTo(dst []byte, port *Port, args []any) ([]byte, error)

	impl() *codec
}

// Framing kinds, as kept by Decoder and Message: Index+1, so that the zero
// Message has none.
const (
	kindJSON uint8 = iota + 1
	kindStorable
	kindCBOR
)

// codec is the one implementation of Codec: a row of the registry.
type codec struct {
	name      string
	kind      uint8
	keepalive []byte
}

// registry is the list of framings, in Index order. A new framing gets a
// row here (and its cases in Decoder.Next, Message.Args and
// Message.ScalarArgs, the per-framing dispatch of this package).
var registry = [...]codec{
	{name: "json", kind: kindJSON, keepalive: []byte("[]")},
	{name: "storable", kind: kindStorable, keepalive: []byte{0x07, storableMajorNet, storableMinor, sxArray, 0, 0, 0, 0}},
	{name: "cbor", kind: kindCBOR, keepalive: []byte{cborArray << 5}},
}

// NumCodecs is the number of framings this package implements: the length
// of All, and the bound of Codec.Index.
const NumCodecs = len(registry)

// defaultOrder is the one default preference order of aemp-go nodes. A
// peer sends the first framing of OUR list that it implements: a 1.x
// peer, which has no cbor, picks json (which Perl decodes fastest); a 2.x
// peer or another aemp-go node picks cbor (about 1.6 times json's rate end
// to end at 1 KiB messages).
var defaultOrder = [...]string{"cbor", "json", "storable"}

func (c *codec) Name() string      { return c.name }
func (c *codec) Index() int        { return int(c.kind) - 1 }
func (c *codec) Keepalive() []byte { return c.keepalive[:len(c.keepalive):len(c.keepalive)] }
func (c *codec) impl() *codec      { return c }

func (c *codec) AppendMessage(dst []byte, port string, args []any) ([]byte, error) {
	return c.appendMessage(dst, port, nil, args)
}

func (c *codec) AppendMessageTo(dst []byte, port *Port, args []any) ([]byte, error) {
	return c.appendMessage(dst, port.name, port.enc[c.kind-1], args)
}

// appendMessage writes [port, args...], the port as the encoded element
// pe when there is one.
func (c *codec) appendMessage(dst []byte, port string, pe []byte, args []any) ([]byte, error) {
	switch c.kind {
	case kindStorable:
		return appendStorableMessage(dst, port, pe, args)
	case kindCBOR:
		return appendCBORMessage(dst, port, pe, args)
	}
	return appendJSONMessage(dst, port, pe, args)
}

// Port is a port name encoded once as a message's first element in every
// framing, for a sender that sends many messages to one port: the name's
// escaping and checks are then not redone per message. A Port is
// immutable; any goroutine may use it.
type Port struct {
	name string
	enc  [NumCodecs][]byte // nil where the name cannot be encoded
}

// NewPort encodes name for every framing. A name that a framing cannot
// encode (not valid UTF-8) is kept as it is: AppendMessageTo then fails
// as AppendMessage does.
func NewPort(name string) *Port {
	p := &Port{name: name}
	for i := range registry {
		var b []byte
		var err error
		switch registry[i].kind {
		case kindStorable:
			b, err = appendStorableString(nil, name)
		case kindCBOR:
			b, err = appendCBORString(nil, name)
		default:
			b, err = appendJSONString(nil, name)
		}
		if err == nil {
			p.enc[i] = b
		}
	}
	return p
}

// Name returns the port name.
func (p *Port) Name() string { return p.name }

// The codecs this package implements.
var (
	// JSON is the "json" framing: one compact UTF-8 JSON array per
	// message, no separator (docs/framing.md section 1).
	JSON Codec = &registry[kindJSON-1]
	// Storable is the "storable" framing: BER length prefix + Storable
	// nfreeze image of the message array (docs/framing.md section 2).
	Storable Codec = &registry[kindStorable-1]
	// CBOR is the "cbor" framing of AnyEvent::MP 2.x: one CBOR data item
	// (RFC 8949), the message array, per message, back to back
	// (docs/framing.md section 3). See AppendCBOR for how values are
	// written and Message.Args for how they are read.
	CBOR Codec = &registry[kindCBOR-1]
)

// All returns every implemented framing, in Index order (a new slice).
func All() []Codec {
	out := make([]Codec, len(registry))
	for i := range registry {
		out[i] = &registry[i]
	}
	return out
}

// ByIndex returns the codec whose Index is i, or nil if there is none.
func ByIndex(i int) Codec {
	if uint(i) >= uint(len(registry)) {
		return nil
	}
	return &registry[i]
}

// ByName returns the codec for a framing name ("json", "storable",
// "cbor"), or an error wrapping ErrUnknownFraming.
func ByName(name string) (Codec, error) {
	for i := range registry {
		if registry[i].name == name {
			return &registry[i], nil
		}
	}
	return nil, &Error{Framing: name, Offset: -1, Opcode: -1, Err: ErrUnknownFraming, Detail: "unknown framing name"}
}

// DefaultOrder returns the framings aemp-go offers and accepts by default,
// in preference order: cbor, json, storable (a new slice). The engine's
// and the handshake's defaults are this list.
func DefaultOrder() []string { return append([]string(nil), defaultOrder[:]...) }

// kindName is the name of a framing kind ("" for none).
func kindName(k uint8) string {
	if k == 0 || int(k) > len(registry) {
		return ""
	}
	return registry[k-1].name
}
