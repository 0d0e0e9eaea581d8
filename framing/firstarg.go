package framing

import "encoding/binary"

// FirstArg returns the message's first argument (element 1) without
// decoding the others, when it is a string that needs no decoding: a
// json string without escapes, a cbor text or byte string of definite
// length, a storable SX_SCALAR or SX_UTF8STR (a byte string only when it
// is ASCII). The bytes point into the frame. ok is false otherwise (no
// argument, another type, a string that needs decoding): use Args then.
// A receiver can thus dispatch on a request's name and decode the rest
// only for requests it serves.
func (m *Message) FirstArg() (s []byte, ok bool) {
	if m.flags&(flagNoElems|flagFromStart) != 0 {
		return nil, false
	}
	b, i := m.raw, m.argOff
	switch m.kind {
	case kindJSON:
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '"':
				return b[i+1 : j : j], true
			case '\\':
				return nil, false
			}
		}
	case kindCBOR:
		if m.nargs == 0 || i >= len(b) {
			return nil, false
		}
		major, ai, arg, hl, hok := cborHead(b, i)
		if !hok || ai == cborAIIndef || (major != cborText && major != cborBytes) || uint64(len(b)-i-hl) < arg {
			return nil, false
		}
		s = b[i+hl : i+hl+int(arg) : i+hl+int(arg)]
		if major == cborBytes && !isASCII(s) {
			return nil, false
		}
		return s, true
	case kindStorable:
		if m.nargs == 0 || i+2 > len(b) {
			return nil, false
		}
		op, st, n := b[i], i+2, int(b[i+1])
		switch op {
		case sxScalar, sxUTF8Str:
		case sxLScalar, sxLUTF8Str:
			if i+5 > len(b) {
				return nil, false
			}
			st, n = i+5, int(binary.BigEndian.Uint32(b[i+1:]))
		default:
			return nil, false
		}
		if n < 0 || st+n > len(b) {
			return nil, false
		}
		s = b[st : st+n : st+n]
		if (op == sxScalar || op == sxLScalar) && !isASCII(s) {
			return nil, false
		}
		return s, true
	}
	return nil, false
}
