package framing

import (
	"encoding/binary"
	"math/bits"
)

// jsonFast reads, in one pass, the shape most messages have as JSON::XS
// and our encoder write them: a compact array whose elements are strings
// of printable ASCII without escapes and integer literals, the first a
// string (the port). For such a frame starting at buf[i] ('[') it fills
// *m, with the ScalarArgs summary already made, and returns the offset
// just after the frame. Anything else (whitespace, escapes, non-ASCII,
// other values, a frame not complete in buf) returns ok false and the
// general scanner takes the frame; so this only makes the common case
// cheaper and accepts nothing the scanner would refuse. The scanner starts
// at the frame's '[', except when inStr is true: buf ended inside an
// element string with everything before it of the fast shape, and the
// scanner resumes at len(buf) inside that string (a large message arrives
// in many reads).
func jsonFast(buf []byte, i int, m *Message) (end int, ok, inStr bool) {
	b := buf
	j := i + 1
	if j >= len(b) || b[j] != '"' {
		return 0, false, false
	}
	portEnd, ok := plainASCIIString(b, j+1)
	if !ok {
		return 0, false, portEnd == len(b)
	}
	argOff := portEnd + 1
	j = argOff
	nargs, length := 0, 0
	firstS, firstE := 0, 0
	for {
		if j >= len(b) {
			return 0, false, false
		}
		switch b[j] {
		case ']':
			*m = Message{raw: b[i : j+1 : j+1], port: b[i+2 : portEnd : portEnd], portOff: 2, argOff: argOff - i,
				kind: kindJSON, flags: flagRoutable | flagPortInRaw | flagSummary,
				sumN: int32(nargs), sumLen: int32(length), sumFirst: int32(firstS - i), sumFirstEnd: int32(firstE - i)}
			return j + 1, true, false
		case ',':
			j++
		default:
			return 0, false, false
		}
		if j >= len(b) {
			return 0, false, false
		}
		switch c := b[j]; {
		case c == '"':
			e, ok := plainASCIIString(b, j+1)
			if !ok {
				return 0, false, e == len(b)
			}
			if nargs == 0 {
				firstS, firstE = j+1, e
			}
			length += e - (j + 1)
			j = e + 1
		case c == '-' || isDigit(c):
			s := j
			if c == '-' {
				j++
			}
			if j >= len(b) || !isDigit(b[j]) {
				return 0, false, false
			}
			if b[j] == '0' {
				j++
				if c == '-' { // -0: Perl writes 0
					return 0, false, false
				}
			} else {
				for j < len(b) && isDigit(b[j]) {
					j++
				}
			}
			length += j - s // an integer literal is as long as Perl writes it
		default:
			return 0, false, false
		}
		nargs++
	}
}

// plainASCIIString returns the offset of the '"' that ends the string
// whose first character is at b[i] and true, if every character before it
// is printable ASCII other than '\\'; else the offset of the first byte
// that is not, or len(b) if b ends first, and false.
func plainASCIIString(b []byte, i int) (int, bool) {
	for i+8 <= len(b) {
		if m := strSpecial(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			return i, b[i] == '"'
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' {
			return i, true
		} else if c < 0x20 || c >= 0x80 || c == '\\' {
			return i, false
		}
	}
	return len(b), false
}
