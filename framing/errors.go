package framing

import (
	"errors"
	"strconv"
)

// Sentinel errors, the same for every framing. Every error returned by
// this package wraps exactly one of them (use errors.Is); decoding errors
// are *Error values that also carry the framing's name, the stream offset
// and a detail text (use errors.As).
//
// A decoding error means the peer sent bytes that are not a valid message
// stream: the connection has to be failed. Decoders keep returning the same
// error afterwards. docs/framing.md section 5 gives the limits.
var (
	// ErrMalformed: the bytes are not a well-formed frame of the framing.
	// json: not JSON (RFC 8259 grammar, UTF-8 as JSON::XS checks it, lone
	// surrogate escapes, anything but whitespace between texts). storable:
	// not an nfreeze image (length prefix, header, truncation, counts,
	// tags, unknown opcodes, trailing bytes). cbor: not well-formed CBOR
	// (RFC 8949 section 3 and appendix F: reserved additional information,
	// a misplaced break, a bad indefinite-length string chunk, an
	// indefinite-length integer or tag).
	ErrMalformed = errors.New("framing: malformed frame")
	// ErrUnsupported: a well-formed frame holding something that has no
	// place in AEMP messages. storable: valid Storable opcodes for blessed
	// objects, code, tied containers, hooks, weak or scalar references,
	// native numbers, ... cbor: a tag other than 55799 (self-described
	// CBOR, which is skipped), a simple value other than false, true, null
	// and undefined (every two-byte one, also those below 32, which RFC
	// 8949 calls not well-formed), an array, map or undefined as a map
	// key. Its *Error has Opcode set (the storable opcode, or the CBOR
	// item's initial byte).
	ErrUnsupported = errors.New("framing: unsupported item")
	// ErrNotArray: a well-formed top-level value that is not an array
	// (every AEMP message is an array [PORT, ARGS...]).
	ErrNotArray = errors.New("framing: message is not an array")
	// ErrFrameTooLarge: a frame exceeds Limits.MaxFrameSize (a JSON text
	// or the whitespace between texts, a storable image as announced by
	// its length prefix, a CBOR item as far as its declared lengths and
	// counts show). Reported as soon as the size is known, before the
	// rest is buffered.
	ErrFrameTooLarge = errors.New("framing: frame too large")
	// ErrTooDeep: arrays and maps (objects, hashes) nest deeper than
	// Limits.MaxDepth (decoding) or 512 (encoding). The message array
	// counts as one level.
	ErrTooDeep = errors.New("framing: nesting too deep")
	// ErrInvalidValue: AppendMessage was given a value that must not be
	// sent: NaN or infinity, a string that is not valid UTF-8, a malformed
	// Number, a map key that is not a string, a type that cannot be
	// marshalled.
	ErrInvalidValue = errors.New("framing: value cannot be encoded")
	// ErrUnknownFraming: ByName was given a name this package does not
	// implement.
	ErrUnknownFraming = errors.New("framing: unknown framing")
)

// Error describes a decoding (or encoding) failure in detail. Its Unwrap
// returns one of the sentinel errors above.
type Error struct {
	// Framing names the framing: "json", "storable" or "cbor" (for
	// ErrUnknownFraming the name that was asked for).
	Framing string
	// Offset is the byte offset in the stream (counted from the first byte
	// the decoder was given, or from its last Reset) where the problem was
	// found; -1 for encoding errors.
	Offset int64
	// Opcode is the offending storable opcode or CBOR initial byte where
	// one is to blame (ErrUnsupported, unknown opcodes, malformed CBOR
	// heads), else -1.
	Opcode int
	// Err is the sentinel error (ErrMalformed, ErrFrameTooLarge, ...).
	Err error
	// Detail says what exactly was wrong, e.g. "raw control character in
	// string".
	Detail string
}

// Error returns "framing: FRAMING: DETAIL at offset N".
func (e *Error) Error() string {
	s := "framing: " + e.Framing + ": " + e.Detail
	if e.Opcode >= 0 {
		s += " (opcode 0x" + strconv.FormatUint(uint64(e.Opcode), 16) + ")"
	}
	if e.Offset >= 0 {
		s += " at offset " + strconv.FormatInt(e.Offset, 10)
	}
	return s
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func newError(framing string, off int64, sentinel error, detail string) *Error {
	return &Error{Framing: framing, Offset: off, Opcode: -1, Err: sentinel, Detail: detail}
}

func encodeError(framing string, sentinel error, detail string) *Error {
	return &Error{Framing: framing, Offset: -1, Opcode: -1, Err: sentinel, Detail: detail}
}
