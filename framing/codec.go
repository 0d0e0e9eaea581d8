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

// Codec is one AEMP data framing ("json", "storable", "cbor"): it encodes
// messages and creates Decoders (NewDecoder). Codecs are stateless and
// safe for concurrent use. Only this package implements Codec.
type Codec interface {
	// Name is the framing's name as it appears in greetings and AUTH
	// lines: "json", "storable" or "cbor".
	Name() string
	// AppendMessage appends the frame of the message [port, args...] to
	// dst and returns the extended slice. On error it returns dst
	// unchanged (same length) and an error wrapping ErrInvalidValue or
	// ErrTooDeep. See the package documentation for how Go values are
	// written.
	AppendMessage(dst []byte, port string, args []any) ([]byte, error)

	kind() uint8
}

const (
	kindJSON uint8 = iota + 1
	kindStorable
	kindCBOR
)

type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }
func (jsonCodec) kind() uint8  { return kindJSON }
func (jsonCodec) AppendMessage(dst []byte, port string, args []any) ([]byte, error) {
	return AppendJSON(dst, port, args)
}

type storableCodec struct{}

func (storableCodec) Name() string { return "storable" }
func (storableCodec) kind() uint8  { return kindStorable }
func (storableCodec) AppendMessage(dst []byte, port string, args []any) ([]byte, error) {
	return AppendStorable(dst, port, args)
}

type cborCodec struct{}

func (cborCodec) Name() string { return "cbor" }
func (cborCodec) kind() uint8  { return kindCBOR }
func (cborCodec) AppendMessage(dst []byte, port string, args []any) ([]byte, error) {
	return AppendCBOR(dst, port, args)
}

// The codecs this package implements.
var (
	// JSON is the "json" framing: one compact UTF-8 JSON array per
	// message, no separator (framing.md section 2).
	JSON Codec = jsonCodec{}
	// Storable is the "storable" framing: BER length prefix + Storable
	// nfreeze image of the message array (framing.md section 3).
	Storable Codec = storableCodec{}
	// CBOR is the "cbor" framing of AnyEvent::MP 2.x: one CBOR data item
	// (RFC 8949), the message array, per message, back to back
	// (aemp2.md section 3.1). See AppendCBOR for how values are written
	// and Message.Args for how they are read.
	CBOR Codec = cborCodec{}
)

// ByName returns the codec for a framing name ("json", "storable",
// "cbor"), or an error wrapping ErrUnknownFraming.
func ByName(name string) (Codec, error) {
	switch name {
	case "json":
		return JSON, nil
	case "storable":
		return Storable, nil
	case "cbor":
		return CBOR, nil
	}
	return nil, &Error{Framing: name, Offset: -1, Opcode: -1, Err: ErrUnknownFraming, Detail: "unknown framing name"}
}

// Names lists the implemented framings in this package's order of
// preference, as they may be offered in a greeting.
func Names() []string { return []string{"json", "cbor", "storable"} }
