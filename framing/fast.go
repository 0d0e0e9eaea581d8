package framing

import (
	"encoding/binary"
)

// The fast paths read, in one pass, the shape most messages have: an
// array whose first element is a string (the port) and whose others are
// short strings of plain ASCII and integers. Besides splitting the frame
// they make ScalarArgs' summary, so that a handler that only counts does
// not walk the arguments again. Anything else makes them give up, and
// the general splitter takes the frame from the start: they accept
// nothing it refuses and describe every frame they take as it would
// (the differential tests check both, message by message).

// fastPaths turns the fast paths on; tests turn them off to compare.
var fastPaths = true

// summary is ScalarArgs' answer, made by a fast path.
type summary struct {
	n, length         int
	firstS, firstE    int // bounds of the first argument in the frame, when it is a string
	port, portE, args int // bounds of the port and where the arguments start
}

// fill sets *m to the message frame t described by s.
func (s *summary) fill(m *Message, t []byte, kind uint8, nargs int) {
	*m = Message{raw: t, port: t[s.port:s.portE:s.portE], portOff: s.port, argOff: s.args, nargs: nargs,
		kind: kind, flags: flagRoutable | flagPortInRaw | flagSummary,
		sumN: int32(s.n), sumLen: int32(s.length), sumFirst: int32(s.firstS), sumFirstEnd: int32(s.firstE)}
}

// isPlainASCII reports whether every byte of b is printable ASCII (no
// control characters), the strings the fast paths take.
func isPlainASCII(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if (x|(x-swarLo*0x20))&swarHi != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 || b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// decimalLen is the length of v's decimal form.
func decimalLen(v int64) int {
	n := 1
	if v < 0 {
		n++
		if v == -1<<63 {
			return 20
		}
		v = -v
	}
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// cborFast takes a cbor message at the start of b: a definite array of 1
// to 23 elements, a text or byte string of plain ASCII first (at most 255
// bytes), then such strings, null, undefined and integers that fit in 32
// bits. It returns the frame's length.
func cborFast(b []byte, max int, m *Message) (int, bool) {
	if len(b) < 2 || b[0] < 0x81 || b[0] > 0x97 {
		return 0, false
	}
	count := int(b[0] & 31)
	var s summary
	i := 1
	for k := 0; k < count; k++ {
		if i >= len(b) {
			return 0, false
		}
		c := b[i]
		switch {
		case c >= 0x40 && c <= 0x58 || c >= 0x60 && c <= 0x78: // byte or text string
			l, hl := int(c&31), 1
			if c&31 == 24 {
				if i+1 >= len(b) || b[i+1] < 24 {
					return 0, false
				}
				l, hl = int(b[i+1]), 2
			}
			st, e := i+hl, i+hl+l
			if e > len(b) || !isPlainASCII(b[st:e]) {
				return 0, false
			}
			if k == 0 {
				s.port, s.portE, s.args = st, e, e
			} else {
				if k == 1 {
					s.firstS, s.firstE = st, e
				}
				s.length += l
			}
			i = e
		case k == 0:
			return 0, false
		case c <= 0x17:
			s.length += decimalLen(int64(c))
			i++
		case c <= 0x1a: // uint8, uint16, uint32 in their shortest form
			hl := 1 << (c - 0x18)
			if i+1+hl > len(b) {
				return 0, false
			}
			var v uint64
			for _, x := range b[i+1 : i+1+hl] {
				v = v<<8 | uint64(x)
			}
			if v < 24 || hl > 1 && v < 1<<(4*hl) {
				return 0, false
			}
			s.length += decimalLen(int64(v))
			i += 1 + hl
		case c >= 0x20 && c <= 0x37: // -1 .. -24
			s.length += decimalLen(-1 - int64(c-0x20))
			i++
		case c == 0xf6 || c == 0xf7: // null, undefined
			i++
		default:
			return 0, false
		}
		if k > 0 {
			s.n++
		}
		if i > max {
			return 0, false
		}
	}
	s.fill(m, b[:i:i], kindCBOR, count-1)
	return i, true
}

// storableFast takes a storable message at the start of b: a BER length
// of one byte, an nfreeze image of an array of 1 to 255 elements, a
// string of plain ASCII first, then such strings, undef and the integers
// of SX_BYTE and SX_NETINT. It returns the frame's length.
func storableFast(b []byte, max int, m *Message) (int, bool) {
	if len(b) < 9 || b[0] >= 0x80 {
		return 0, false
	}
	total := 1 + int(b[0])
	if total > len(b) || total-1 > max || b[1] != storableMajorNet || b[2] > storableMaxMinor || b[3] != sxArray ||
		b[4] != 0 || b[5] != 0 || b[6] != 0 {
		return 0, false
	}
	count := int(b[7])
	if count == 0 {
		return 0, false
	}
	var s summary
	i := 8
	for k := 0; k < count; k++ {
		if i >= total {
			return 0, false
		}
		switch op := b[i]; {
		case op == sxScalar || op == sxUTF8Str:
			if i+1 >= total {
				return 0, false
			}
			st, e := i+2, i+2+int(b[i+1])
			if e > total || !isPlainASCII(b[st:e]) {
				return 0, false
			}
			if k == 0 {
				s.port, s.portE, s.args = st, e, e
			} else {
				if k == 1 {
					s.firstS, s.firstE = st, e
				}
				s.length += e - st
			}
			i = e
		case k == 0:
			return 0, false
		case op == sxByte:
			if i+1 >= total {
				return 0, false
			}
			s.length += decimalLen(int64(b[i+1]) - 128)
			i += 2
		case op == sxNetint:
			if i+5 > total {
				return 0, false
			}
			s.length += decimalLen(int64(int32(binary.BigEndian.Uint32(b[i+1:]))))
			i += 5
		case op == sxUndef || op == sxSvUndef || op == sxSvUndefElem:
			i++
		default:
			return 0, false
		}
		if k > 0 {
			s.n++
		}
	}
	if i != total {
		return 0, false
	}
	s.fill(m, b[:total:total], kindStorable, count-1)
	m.ntags = count + 1
	return total, true
}
