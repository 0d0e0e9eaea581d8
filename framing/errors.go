package framing

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by this package wraps exactly one
// of them (use errors.Is); decoding errors are *Error values that also
// carry the framing, the stream offset and a detail text (use errors.As).
//
// A decoding error means the peer sent bytes that are not a valid message
// stream: the connection has to be failed. Decoders keep returning the same
// error afterwards.
var (
	// ErrFrameTooLarge: a frame (a JSON text, or a storable image as
	// announced by its length prefix) exceeds Limits.MaxFrameSize. Reported
	// as soon as the size is known, before the rest is buffered.
	ErrFrameTooLarge = errors.New("framing: frame too large")
	// ErrTooDeep: arrays/objects (hashes) nest deeper than Limits.MaxDepth
	// (decoding) or 512 (encoding). The message array counts as one level.
	ErrTooDeep = errors.New("framing: nesting too deep")
	// ErrSyntax: the bytes are not valid JSON (including invalid UTF-8,
	// lone surrogate escapes and anything but whitespace between texts).
	ErrSyntax = errors.New("framing: invalid JSON")
	// ErrMalformed: the bytes are not a well-formed storable frame
	// (length prefix, header, truncation, counts, tags, trailing bytes).
	ErrMalformed = errors.New("framing: malformed storable frame")
	// ErrNotArray: a well-formed top-level value that is not an array
	// (every AEMP message is an array [PORT, ARGS...]).
	ErrNotArray = errors.New("framing: message is not an array")
	// ErrUnsupported: a storable opcode that is valid Storable but has no
	// place in AEMP messages (blessed objects, code, tied, hooks, weak or
	// scalar references, native numbers, ...). Its *Error has Opcode set.
	ErrUnsupported = errors.New("framing: unsupported storable opcode")
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
	// Framing is "json" or "storable".
	Framing string
	// Offset is the byte offset in the stream (counted from the first byte
	// the decoder was given, or from its last Reset) where the problem was
	// found; -1 for encoding errors.
	Offset int64
	// Opcode is the offending storable opcode for ErrUnsupported and
	// unknown-opcode errors, else -1.
	Opcode int
	// Err is the sentinel error (ErrSyntax, ErrFrameTooLarge, ...).
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
