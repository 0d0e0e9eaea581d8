package framing

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// Scanner states. The scanner validates JSON completely (RFC 8259 grammar,
// UTF-8, escapes, surrogate pairs) while it looks for the end of a text,
// one byte at a time but with fast paths for string contents and digits,
// and it can stop at any byte and resume later.
const (
	jsBetween   uint8 = iota // between texts: whitespace or '['
	jsValue                  // a value is expected (after ',' in an array, after ':')
	jsArrFirst               // after '[': a value or ']'
	jsObjFirst               // after '{': a key or '}'
	jsObjKey                 // after ',' in an object: a key
	jsColon                  // after a key: ':'
	jsAfter                  // after a value in a container: ',' or the closing bracket
	jsStr                    // inside a string
	jsEsc                    // after a backslash
	jsHex                    // inside \uXXXX
	jsLowBS                  // after a high surrogate escape: '\' must follow
	jsLowU                   // after a high surrogate escape and '\': 'u' must follow
	jsUTF8                   // inside a multi-byte UTF-8 sequence
	jsNeg                    // after '-'
	jsZero                   // after a leading '0'
	jsInt                    // integer digits
	jsDot                    // after '.'
	jsFrac                   // fraction digits
	jsExp                    // after 'e' or 'E'
	jsExpSign                // after the exponent's sign
	jsExpDigits              // exponent digits
	jsLit                    // inside true, false or null
)

// jsonScanner is the resumable state of the json splitter. Offsets are
// relative to the buf of the current Next call; they stay valid across
// calls that return n == 0 because the caller passes the same bytes again.
type jsonScanner struct {
	pos   int // bytes of buf already scanned
	ws    int // whitespace bytes consumed after the last message
	start int // offset of the pending text's '[' (valid unless state == jsBetween)
	state uint8
	key   bool // the string being scanned is an object key
	depth int
	stack []uint64 // bit d: level d is an object (1) or an array (0)
	// inside strings
	hex   uint32 // value of the \u escape being read
	nhex  uint8  // hex digits of it read so far
	high  bool   // a high surrogate escape was read; a low one must follow
	need  uint8  // UTF-8 continuation bytes still expected
	lo    byte   // allowed range of the next continuation byte
	hi    byte
	lit   string // rest of the literal (true/false/null) being matched
	limit int    // max depth
}

func (s *jsonScanner) reset(maxDepth int) {
	words := maxDepth/64 + 1
	if cap(s.stack) < words {
		s.stack = make([]uint64, words)
	}
	s.stack = s.stack[:words]
	*s = jsonScanner{stack: s.stack, limit: maxDepth}
}

// strSafe[c] is true for bytes that need no attention inside a string.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// strSpecial returns a mask whose lowest set bit is in the first byte of x
// (little-endian) that is '"', '\\', a control character or >= 0x80.
func strSpecial(x uint64) uint64 {
	q := x ^ (swarLo * '"')
	b := x ^ (swarLo * '\\')
	return ((q - swarLo) &^ q & swarHi) |
		((b - swarLo) &^ b & swarHi) |
		((x - swarLo*0x20) &^ x & swarHi) |
		(x & swarHi)
}

func isDigit(c byte) bool { return c-'0' < 10 }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// nextJSON implements Decoder.Next for json framing.
// On success with n > 0 it fills *m.
func (d *Decoder) nextJSON(buf []byte, m *Message) (int, error) {
	s := &d.js
	i := s.pos
	max := d.lim.MaxFrameSize
	if s.state == jsBetween {
		// At most max bytes of whitespace between texts; s.ws of them
		// were consumed with the previous message.
		wlim := max - s.ws
		for i < len(buf) && isSpace(buf[i]) {
			if i >= wlim {
				return 0, d.jsonErr(i, ErrFrameTooLarge, "more than "+strconv.Itoa(max)+" bytes of whitespace between messages")
			}
			i++
		}
		if i == len(buf) {
			s.pos = i
			return 0, nil
		}
		if c := buf[i]; c != '[' {
			return 0, d.betweenErr(i, c)
		}
		end, ok, inStr := jsonFast(buf, i, m)
		if ok && end-i <= max && fastPaths {
			return d.afterJSON(buf, end), nil
		}
		s.start = i
		s.state = jsArrFirst
		s.depth = 1
		s.stack[0] = 0 // level 1 is an array
		i++
		if inStr && fastPaths {
			// The fast path read all of buf, plain up to its end inside
			// an element string: go on from there.
			s.state, s.key = jsStr, false
			i = len(buf)
		}
	}
	lim := len(buf)
	over := false
	if lim-s.start > max {
		lim = s.start + max
		over = true
	}
	end, err := d.scanJSON(buf[:lim], i)
	if err != nil {
		return 0, err
	}
	if end < 0 {
		if over {
			return 0, d.jsonErr(lim, ErrFrameTooLarge, "message longer than "+strconv.Itoa(max)+" bytes")
		}
		return 0, nil
	}
	d.jsonMessage(buf[s.start:end], m)
	return d.afterJSON(buf, end), nil
}

// afterJSON ends a message that ends at buf[end]: whitespace right after
// it goes with it (up to the frame limit), and the scanner waits for the
// next text. It returns the bytes the message takes.
func (d *Decoder) afterJSON(buf []byte, end int) int {
	s := &d.js
	s.pos = 0
	s.state = jsBetween
	s.ws = 0
	for end < len(buf) && isSpace(buf[end]) && s.ws < d.lim.MaxFrameSize {
		end++
		s.ws++
	}
	return end
}

// scanJSON continues scanning the pending text in b at i. It returns the
// offset just after the text's closing ']' or -1 if b ends first.
func (d *Decoder) scanJSON(b []byte, i int) (int, error) {
	s := &d.js
	n := len(b)
	for i < n {
		c := b[i]
		switch s.state {
		case jsStr:
			for i+8 <= n {
				if m := strSpecial(binary.LittleEndian.Uint64(b[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					break
				}
				i += 8
			}
			for i < n && strSafe[b[i]] {
				i++
			}
			if i == n {
				continue
			}
			c = b[i]
			switch {
			case c == '"':
				i++
				if s.key {
					s.state = jsColon
				} else {
					s.state = jsAfter
				}
			case c == '\\':
				i++
				s.state = jsEsc
			case c < 0x20:
				return 0, d.jsonErr(i, ErrMalformed, "raw control character in string")
			default:
				need, lo := 0, byte(0x80)
				switch {
				case c >= 0xc2 && c <= 0xdf:
					need = 1
				case c == 0xe0:
					need, lo = 2, 0xa0
				case c >= 0xe1 && c <= 0xef: // ED A0..BF: encoded surrogates, accepted like JSON::XS
					need = 2
				case c == 0xf0:
					need, lo = 3, 0x90
				case c >= 0xf1 && c <= 0xf7: // F4 90.., F5..F7: above U+10FFFF, accepted like JSON::XS
					need = 3
				default:
					return 0, d.jsonErr(i, ErrMalformed, "invalid UTF-8")
				}
				i++
				if i+need <= n {
					if b[i] < lo || b[i] > 0xbf {
						return 0, d.jsonErr(i, ErrMalformed, "invalid UTF-8")
					}
					for k := 1; k < need; k++ {
						if b[i+k]&0xc0 != 0x80 {
							return 0, d.jsonErr(i+k, ErrMalformed, "invalid UTF-8")
						}
					}
					i += need
				} else {
					s.need, s.lo, s.hi = uint8(need), lo, 0xbf
					s.state = jsUTF8
				}
			}
		case jsAfter:
			switch c {
			case ' ', '\t', '\n', '\r':
				i++
			case ',':
				i++
				if s.isObject() {
					s.state = jsObjKey
				} else {
					s.state = jsValue
				}
			case ']', '}':
				if (c == '}') != s.isObject() {
					return 0, d.jsonErr(i, ErrMalformed, "mismatched "+string(rune(c)))
				}
				i++
				s.depth--
				if s.depth == 0 {
					return i, nil
				}
			default:
				return 0, d.jsonErr(i, ErrMalformed, "expected , or a closing bracket, got "+quoteByte(c))
			}
		case jsValue, jsArrFirst:
			switch c {
			case ' ', '\t', '\n', '\r':
				i++
			case '"':
				i++
				s.key = false
				s.state = jsStr
			case '[', '{':
				i++
				if s.depth >= s.limit {
					return 0, d.jsonErr(i-1, ErrTooDeep, "nesting deeper than "+strconv.Itoa(s.limit))
				}
				s.depth++
				w, bit := s.depth>>6, uint64(1)<<(s.depth&63)
				if c == '{' {
					s.stack[w] |= bit
					s.state = jsObjFirst
				} else {
					s.stack[w] &^= bit
					s.state = jsArrFirst
				}
			case ']':
				if s.state != jsArrFirst {
					return 0, d.jsonErr(i, ErrMalformed, "trailing comma")
				}
				i++
				s.depth--
				s.state = jsAfter
				if s.depth == 0 {
					return i, nil
				}
			case '-':
				i++
				s.state = jsNeg
			case '0':
				i++
				s.state = jsZero
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				i++
				s.state = jsInt
			case 't':
				i++
				s.lit, s.state = "rue", jsLit
			case 'f':
				i++
				s.lit, s.state = "alse", jsLit
			case 'n':
				i++
				s.lit, s.state = "ull", jsLit
			default:
				return 0, d.jsonErr(i, ErrMalformed, valueErrDetail(c))
			}
		case jsObjFirst, jsObjKey:
			switch c {
			case ' ', '\t', '\n', '\r':
				i++
			case '"':
				i++
				s.key = true
				s.state = jsStr
			case '}':
				if s.state != jsObjFirst {
					return 0, d.jsonErr(i, ErrMalformed, "trailing comma")
				}
				i++
				s.depth--
				s.state = jsAfter
				if s.depth == 0 { // unreachable: the top level is an array
					return i, nil
				}
			default:
				return 0, d.jsonErr(i, ErrMalformed, "expected an object key, got "+quoteByte(c))
			}
		case jsColon:
			switch c {
			case ' ', '\t', '\n', '\r':
				i++
			case ':':
				i++
				s.state = jsValue
			default:
				return 0, d.jsonErr(i, ErrMalformed, "expected :, got "+quoteByte(c))
			}
		case jsEsc:
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.state = jsStr
			case 'u':
				s.hex, s.nhex = 0, 0
				s.state = jsHex
			default:
				return 0, d.jsonErr(i, ErrMalformed, "illegal escape \\"+quoteByte(c))
			}
			i++
		case jsHex:
			h := unhex(c)
			if h < 0 {
				return 0, d.jsonErr(i, ErrMalformed, "illegal \\u escape")
			}
			i++
			s.hex = s.hex<<4 | uint32(h)
			s.nhex++
			if s.nhex < 4 {
				continue
			}
			r := s.hex
			switch {
			case s.high:
				if r < 0xdc00 || r > 0xdfff {
					return 0, d.jsonErr(i-6, ErrMalformed, "lone surrogate escape")
				}
				s.high = false
				s.state = jsStr
			case r >= 0xd800 && r <= 0xdbff:
				s.high = true
				s.state = jsLowBS
			case r >= 0xdc00 && r <= 0xdfff:
				return 0, d.jsonErr(i-6, ErrMalformed, "lone surrogate escape")
			default:
				s.state = jsStr
			}
		case jsLowBS, jsLowU:
			want := byte('\\')
			if s.state == jsLowU {
				want = 'u'
			}
			if c != want {
				return 0, d.jsonErr(i, ErrMalformed, "lone surrogate escape")
			}
			i++
			if s.state == jsLowBS {
				s.state = jsLowU
			} else {
				s.hex, s.nhex = 0, 0
				s.state = jsHex
			}
		case jsUTF8:
			if c < s.lo || c > s.hi {
				return 0, d.jsonErr(i, ErrMalformed, "invalid UTF-8")
			}
			i++
			s.lo = 0x80
			s.need--
			if s.need == 0 {
				s.state = jsStr
			}
		case jsNeg:
			switch {
			case c == '0':
				s.state = jsZero
			case isDigit(c):
				s.state = jsInt
			default:
				return 0, d.jsonErr(i, ErrMalformed, valueErrDetail(c))
			}
			i++
		case jsZero, jsInt, jsFrac, jsExpDigits:
			for i < n && isDigit(b[i]) {
				if s.state == jsZero {
					return 0, d.jsonErr(i, ErrMalformed, "leading zero")
				}
				i++
			}
			if i == n {
				continue
			}
			c = b[i]
			switch {
			case c == '.' && (s.state == jsZero || s.state == jsInt):
				i++
				s.state = jsDot
			case (c == 'e' || c == 'E') && s.state != jsExpDigits:
				i++
				s.state = jsExp
			default: // the number ended; c is handled in state jsAfter
				s.state = jsAfter
			}
		case jsDot:
			if !isDigit(c) {
				return 0, d.jsonErr(i, ErrMalformed, "digit expected after decimal point")
			}
			i++
			s.state = jsFrac
		case jsExp:
			switch {
			case c == '+' || c == '-':
				s.state = jsExpSign
			case isDigit(c):
				s.state = jsExpDigits
			default:
				return 0, d.jsonErr(i, ErrMalformed, "digit expected in exponent")
			}
			i++
		case jsExpSign:
			if !isDigit(c) {
				return 0, d.jsonErr(i, ErrMalformed, "digit expected in exponent")
			}
			i++
			s.state = jsExpDigits
		case jsLit:
			if c != s.lit[0] {
				return 0, d.jsonErr(i, ErrMalformed, "invalid literal")
			}
			i++
			s.lit = s.lit[1:]
			if s.lit == "" {
				s.state = jsAfter
			}
		default: // jsBetween cannot occur inside a text
			return 0, d.jsonErr(i, ErrMalformed, "internal scanner state")
		}
	}
	s.pos = i
	return -1, nil
}

func (s *jsonScanner) isObject() bool {
	return s.stack[s.depth>>6]>>(s.depth&63)&1 != 0
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (d *Decoder) jsonErr(i int, sentinel error, detail string) error {
	return newError("json", d.off+int64(i), sentinel, detail)
}

// betweenErr explains a byte other than whitespace or '[' between texts.
func (d *Decoder) betweenErr(i int, c byte) error {
	var detail string
	switch {
	case c == '"' || c == '{' || c == '-' || isDigit(c) || c == 't' || c == 'f' || c == 'n':
		return d.jsonErr(i, ErrNotArray, "top-level value is not an array")
	case c == ',':
		detail = "comma between texts"
	case c == ']' || c == '}':
		detail = "unbalanced " + string(rune(c))
	case c == 0:
		detail = "NUL byte"
	case c == 0x0c:
		detail = "form feed between texts"
	case c == 0xef:
		detail = "byte order mark"
	case c == '/' || c == '#':
		detail = "comment"
	default:
		detail = "garbage between texts: " + quoteByte(c)
	}
	return d.jsonErr(i, ErrMalformed, detail)
}

func valueErrDetail(c byte) string {
	switch c {
	case 'N', 'I', 'i':
		return "NaN or infinity is not a JSON value"
	case '\'':
		return "single quotes"
	case ',':
		return "missing value"
	case ']', '}':
		return "unbalanced " + string(rune(c))
	}
	return "expected a value, got " + quoteByte(c)
}

func quoteByte(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}
