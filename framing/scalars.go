package framing

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// ScalarArgs summarizes the arguments of a message without decoding them
// and without allocating: their number, the summed length of the scalar
// ones as Perl's length() counts it (characters of text strings, bytes of
// byte strings, numbers as Perl writes them; undef and containers count
// 0), and the first argument when it is a string without escapes (the
// slice points into the frame). ok is false when the message holds
// something this quick walk does not handle (containers, escapes in the
// first argument, shared references); callers then fall back to Args.
func (m *Message) ScalarArgs() (n, length int, first []byte, ok bool) {
	if m.flags&flagSummary != 0 {
		if m.sumFirstEnd > 0 {
			first = m.raw[m.sumFirst:m.sumFirstEnd:m.sumFirstEnd]
		}
		return int(m.sumN), int(m.sumLen), first, true
	}
	if m.flags&flagNoElems != 0 {
		return 0, 0, nil, true
	}
	if m.flags&flagFromStart != 0 {
		return 0, 0, nil, false
	}
	switch m.kind {
	case kindJSON:
		return jsonScalarArgs(m.raw, m.argOff)
	case kindStorable:
		return storableScalarArgs(m.raw, m.argOff, m.nargs)
	case kindCBOR:
		return cborScalarArgs(m.raw, m.argOff, m.nargs)
	}
	return 0, 0, nil, false
}

// jsonScalarArgs walks the validated text b from i (just after element 0).
func jsonScalarArgs(b []byte, i int) (n, length int, first []byte, ok bool) {
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, 0, nil, false
		}
		switch b[i] {
		case ']':
			return n, length, first, true
		case ',':
			i = skipSpace(b, i+1)
		default:
			return 0, 0, nil, false
		}
		if i >= len(b) {
			return 0, 0, nil, false
		}
		switch c := b[i]; {
		case c == '"':
			start := i + 1
			j, chars, escaped := start, 0, false
			for j < len(b) && b[j] != '"' {
				// Eight plain ASCII bytes (no quote, no backslash) are
				// eight characters.
				if k := j; k+8 <= len(b) && plainWord(binary.LittleEndian.Uint64(b[k:])) {
					for k += 8; k+8 <= len(b) && plainWord(binary.LittleEndian.Uint64(b[k:])); k += 8 {
					}
					chars += k - j
					j = k
					continue
				}
				switch {
				case b[j] == '\\':
					escaped = true
					if j+1 < len(b) && b[j+1] == 'u' {
						// \uXXXX is one character; a surrogate pair,
						// two escapes, is one character as well.
						if j+11 < len(b) && b[j+6] == '\\' && b[j+7] == 'u' && isHighSurrogate(b[j+2:j+6]) {
							j += 12
						} else {
							j += 6
						}
					} else {
						j += 2
					}
					chars++
				case b[j] < utf8.RuneSelf:
					j++
					chars++
				default: // one character, as Perl counts them
					j += perlUTF8Skip(b[j])
					chars++
				}
			}
			if j >= len(b) {
				return 0, 0, nil, false
			}
			if n == 0 && !escaped {
				first = b[start:j:j]
			}
			length += chars
			i = j + 1
		case c == 'n': // null
			i += 4
		case c == 't': // true: Perl's true stringifies as "1"
			length++
			i += 4
		case c == 'f': // false stringifies as "0"
			length++
			i += 5
		case c == '-' || isDigit(c):
			j := i
			for j < len(b) && (isDigit(b[j]) || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
				j++
			}
			length += jsonNumberLength(b[i:j])
			i = j
		default: // a container
			return 0, 0, nil, false
		}
		n++
	}
}

// jsonNumberLength is the length of the number literal lit as Perl
// writes the number (appendJSONNumberText).
func jsonNumberLength(lit []byte) int {
	plain := len(lit) != 2 || lit[0] != '-' || lit[1] != '0' // "-0" is "0"
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			plain = false
			break
		}
	}
	if plain { // an integer literal: Perl writes it as it is
		return len(lit)
	}
	var nb [32]byte
	return len(appendJSONNumberText(nb[:0], lit))
}

func isHighSurrogate(hex []byte) bool {
	v, err := strconv.ParseUint(string(hex), 16, 16)
	return err == nil && v >= 0xd800 && v < 0xdc00
}

// storableScalarArgs walks count objects of the validated image b from i.
func storableScalarArgs(b []byte, i, count int) (n, length int, first []byte, ok bool) {
	for k := 0; k < count; k++ {
		if i >= len(b) {
			return 0, 0, nil, false
		}
		op := b[i]
		i++
		var s []byte
		text := false
		switch op {
		case 0x0a, 0x17: // SX_SCALAR, SX_UTF8STR: len(1)
			if i >= len(b) {
				return 0, 0, nil, false
			}
			l := int(b[i])
			i++
			if i+l > len(b) {
				return 0, 0, nil, false
			}
			s, text = b[i:i+l:i+l], op == 0x17
			i += l
		case 0x01, 0x18: // SX_LSCALAR, SX_LUTF8STR: len(4)
			if i+4 > len(b) {
				return 0, 0, nil, false
			}
			l := int(binary.BigEndian.Uint32(b[i:]))
			i += 4
			if l < 0 || i+l > len(b) {
				return 0, 0, nil, false
			}
			s, text = b[i:i+l:i+l], op == 0x18
			i += l
		case 0x08: // SX_BYTE
			if i >= len(b) {
				return 0, 0, nil, false
			}
			length += len(strconv.Itoa(int(b[i]) - 128))
			i++
		case 0x09: // SX_NETINT
			if i+4 > len(b) {
				return 0, 0, nil, false
			}
			length += len(strconv.Itoa(int(int32(binary.BigEndian.Uint32(b[i:])))))
			i += 4
		case 0x05, 0x0e, 0x1f: // undef
		default: // references, booleans, anything else: not this walk's job
			return 0, 0, nil, false
		}
		if s != nil {
			if text {
				length += perlCharCount(s)
			} else {
				length += len(s)
			}
			if k == 0 {
				first = s
			}
		}
		n++
	}
	return n, length, first, true
}
