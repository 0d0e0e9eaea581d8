package framing

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// CBOR initial-byte fields (RFC 8949 section 3).
const (
	cborUint   = 0
	cborNeg    = 1
	cborBytes  = 2
	cborText   = 3
	cborArray  = 4
	cborMap    = 5
	cborTag    = 6
	cborSimple = 7

	cborAI1     = 24 // 1-byte argument follows
	cborAI8     = 27 // 8-byte argument follows
	cborAIIndef = 31
	cborBreak   = 0xff

	cborSimple1   = 0xf8 // a simple value in the next byte
	cborFalse     = 0xf4
	cborTrue      = 0xf5
	cborNull      = 0xf6
	cborUndefined = 0xf7
	cborFloat16   = 0xf9
	cborFloat32   = 0xfa
	cborFloat64   = 0xfb

	// cborSelfDescribe is tag 55799, "self-described CBOR": a no-op
	// marker, the only tag accepted (and skipped).
	cborSelfDescribe = 55799
)

// cborLevel is one open array or map.
type cborLevel struct {
	count uint64 // items expected (a map's pairs count twice); unused if indef
	seen  uint64 // items complete so far
	isMap bool
	indef bool
}

// cborScanner is the resumable state of the cbor splitter. Every frame
// starts at offset 0 of the buf passed to Next (CBOR allows nothing
// between items), and the offsets stay valid across calls that return
// n == 0 because the caller passes the same bytes again.
type cborScanner struct {
	pos    int         // bytes of buf scanned: the next item head starts here
	stack  []cborLevel // open containers; len(stack) is the nesting depth
	str    uint8       // inside an indefinite-length string: its major type + 1
	tagged bool        // a tag was read, its item must follow
	p0     int         // offset of element 0 of the message array, -1 before
	p1     int         // offset just after element 0, -1 before
	top    cborLevel   // the message array as opened
}

func (s *cborScanner) reset() {
	*s = cborScanner{stack: s.stack[:0], p0: -1, p1: -1}
}

// cborHead parses the item head at b[i:]. ok is false when b ends inside
// the head. hl is the head length, arg its argument (count, length,
// value, or the simple value / float bits); ai is the additional
// information (31: indefinite length or break).
func cborHead(b []byte, i int) (major, ai byte, arg uint64, hl int, ok bool) {
	c := b[i]
	major, ai = c>>5, c&31
	switch {
	case ai < cborAI1:
		return major, ai, uint64(ai), 1, true
	case ai <= cborAI8:
		hl = 1 + 1<<(ai-cborAI1)
		if len(b)-i < hl {
			return major, ai, 0, hl, false
		}
		switch hl {
		case 2:
			arg = uint64(b[i+1])
		case 3:
			arg = uint64(binary.BigEndian.Uint16(b[i+1:]))
		case 5:
			arg = uint64(binary.BigEndian.Uint32(b[i+1:]))
		default:
			arg = binary.BigEndian.Uint64(b[i+1:])
		}
		return major, ai, arg, hl, true
	}
	return major, ai, 0, 1, true // 28..30 (reserved) or 31 (indefinite/break)
}

// nextCBOR implements Decoder.Next for cbor framing.
// On success with n > 0 it fills *m.
func (d *Decoder) nextCBOR(buf []byte, m *Message) (int, error) {
	s := &d.cb
	max := d.lim.MaxFrameSize
	if s.pos == 0 && fastPaths {
		if n, ok := cborFast(buf, max, m); ok {
			return n, nil
		}
	}
	b, cut := buf, false
	if len(b) > max {
		b, cut = b[:max], true
	}
	end, err := d.scanCBOR(b, max)
	if err != nil {
		return 0, err
	}
	if end < 0 {
		if cut {
			return 0, d.cborErr(max, ErrFrameTooLarge, "message longer than "+strconv.Itoa(max)+" bytes")
		}
		return 0, nil
	}
	d.cborMessage(buf[:end], m)
	s.reset()
	return end, nil
}

// scanCBOR continues scanning the pending message in b (at most max
// bytes of the stream) at s.pos. It returns the offset just after the
// message array or -1 if b ends first. Lengths and counts are checked
// against max as soon as their head has arrived, before anything is
// waited for.
func (d *Decoder) scanCBOR(b []byte, max int) (int, error) {
	s := &d.cb
	for {
		i := s.pos
		if i >= len(b) {
			return -1, nil
		}
		c := b[i]
		// Inside an indefinite-length string only definite chunks of the
		// same type and the break may follow: the first byte shows it.
		if s.str != 0 && c != cborBreak && (c>>5+1 != s.str || c&31 == cborAIIndef) {
			return 0, d.cborOpErr(i, ErrMalformed, c, "indefinite-length string chunk is not a definite string of the same type")
		}
		major, ai, arg, hl, ok := c>>5, c&31, uint64(c&31), 1, true
		if ai >= cborAI1 {
			if c == cborSimple1 {
				// Every two-byte simple value is refused (by CBOR::XS
				// too): no need to wait for its second byte.
				return 0, d.cborSimpleErr(b, i)
			}
			if major, ai, arg, hl, ok = cborHead(b, i); !ok {
				return -1, nil
			}
		}
		if ai >= 28 && ai < cborAIIndef {
			return 0, d.cborOpErr(i, ErrMalformed, c, "reserved additional information "+strconv.Itoa(int(ai)))
		}
		rest := uint64(max - i - hl) // bytes the frame may still have after this head

		if s.str != 0 {
			if c == cborBreak {
				s.str = 0
				s.pos = i + 1
				if s.done(i + 1) {
					return i + 1, nil
				}
				continue
			}
			if arg > rest {
				return 0, d.cborTooLarge(i, arg, "string chunk length")
			}
			if uint64(len(b)-i-hl) < arg {
				return -1, nil
			}
			s.pos = i + hl + int(arg)
			continue
		}

		if c == cborBreak {
			n := len(s.stack)
			switch {
			case s.tagged:
				return 0, d.cborOpErr(i, ErrMalformed, c, "break right after a tag")
			case n == 0 || !s.stack[n-1].indef:
				return 0, d.cborOpErr(i, ErrMalformed, c, "break outside an indefinite-length item")
			case s.stack[n-1].isMap && s.stack[n-1].seen%2 != 0:
				return 0, d.cborOpErr(i, ErrMalformed, c, "break after a map key")
			}
			s.stack = s.stack[:n-1]
			s.pos = i + 1
			if s.done(i + 1) {
				return i + 1, nil
			}
			continue
		}

		depth := len(s.stack)
		if depth == 1 && s.stack[0].seen == 0 && s.p0 < 0 {
			s.p0 = i
		}
		if major == cborTag {
			if ai == cborAIIndef {
				return 0, d.cborOpErr(i, ErrMalformed, c, "indefinite-length tag")
			}
			if arg != cborSelfDescribe {
				return 0, d.cborOpErr(i, ErrUnsupported, c, "tag "+strconv.FormatUint(arg, 10)+cborTagName(arg))
			}
			s.tagged = true
			s.pos = i + hl
			continue
		}
		if depth == 0 && major != cborArray {
			if major == cborSimple && !cborSimpleOK(c) {
				return 0, d.cborSimpleErr(b, i)
			}
			if ai == cborAIIndef && major != cborBytes && major != cborText && major != cborMap {
				return 0, d.cborOpErr(i, ErrMalformed, c, "indefinite length for major type "+strconv.Itoa(int(major)))
			}
			return 0, d.cborErr(i, ErrNotArray, "top-level item is not an array")
		}
		if depth > 0 && (major == cborArray || major == cborMap) {
			if l := &s.stack[depth-1]; l.isMap && l.seen%2 == 0 {
				return 0, d.cborOpErr(i, ErrUnsupported, c, "map key is an array or a map")
			}
		}
		s.tagged = false

		switch major {
		case cborUint, cborNeg:
			if ai == cborAIIndef {
				return 0, d.cborOpErr(i, ErrMalformed, c, "indefinite-length integer")
			}
			s.pos = i + hl
		case cborBytes, cborText:
			if ai == cborAIIndef {
				s.str = major + 1
				s.pos = i + 1
				continue
			}
			if arg > rest {
				return 0, d.cborTooLarge(i, arg, "string length")
			}
			if uint64(len(b)-i-hl) < arg {
				return -1, nil
			}
			s.pos = i + hl + int(arg)
		case cborArray, cborMap:
			if depth >= d.lim.MaxDepth {
				return 0, d.cborErr(i, ErrTooDeep, "nesting deeper than "+strconv.Itoa(d.lim.MaxDepth))
			}
			l := cborLevel{isMap: major == cborMap, indef: ai == cborAIIndef}
			if !l.indef {
				// Every item takes at least one byte.
				per := uint64(1)
				if l.isMap {
					per = 2
				}
				if arg > rest/per {
					return 0, d.cborTooLarge(i, arg, "element count")
				}
				l.count = arg * per
			}
			s.pos = i + hl
			if depth == 0 {
				s.top = l
			}
			if !l.indef && l.count == 0 {
				break // complete at once
			}
			s.stack = append(s.stack, l)
			continue
		case cborSimple:
			if !cborSimpleOK(c) {
				return 0, d.cborSimpleErr(b, i)
			}
			if c == cborUndefined && depth > 0 {
				if l := &s.stack[depth-1]; l.isMap && l.seen%2 == 0 {
					// CBOR::XS decodes it to Types::Serialiser::error,
					// which dies when used as a key.
					return 0, d.cborOpErr(i, ErrUnsupported, c, "undefined as a map key")
				}
			}
			s.pos = i + hl
		}
		if s.done(s.pos) {
			return s.pos, nil
		}
	}
}

// done records that an item ended at offset i and closes the definite
// containers it completes. It reports whether the message array is
// complete.
func (s *cborScanner) done(i int) bool {
	for {
		n := len(s.stack)
		if n == 0 {
			return true
		}
		l := &s.stack[n-1]
		l.seen++
		if n == 1 && l.seen == 1 {
			s.p1 = i
		}
		if l.indef || l.seen < l.count {
			return false
		}
		s.stack = s.stack[:n-1]
	}
}

// cborSimpleOK reports whether the major-7 item with initial byte c is
// one AEMP data uses: false, true, null, undefined or a float.
func cborSimpleOK(c byte) bool {
	switch c {
	case cborFalse, cborTrue, cborNull, cborUndefined, cborFloat16, cborFloat32, cborFloat64:
		return true
	}
	return false
}

func (d *Decoder) cborSimpleErr(b []byte, i int) error {
	c := b[i]
	if c == cborSimple1 {
		return d.cborOpErr(i, ErrUnsupported, c, "two-byte simple value")
	}
	return d.cborOpErr(i, ErrUnsupported, c, "simple value "+strconv.Itoa(int(c&31)))
}

// cborTagName names the tags CBOR::XS knows, for error details.
func cborTagName(tag uint64) string {
	switch tag {
	case 0, 1:
		return " (date/time)"
	case 2, 3:
		return " (bignum)"
	case 4, 5:
		return " (decimal fraction/bigfloat)"
	case 21, 22, 23:
		return " (expected conversion)"
	case 24:
		return " (embedded CBOR)"
	case 25, 256:
		return " (stringref)"
	case 26, 27:
		return " (serialised object)"
	case 28, 29:
		return " (value sharing)"
	case 30:
		return " (rational)"
	case 32:
		return " (URI)"
	case 22098:
		return " (Perl reference indirection)"
	}
	return ""
}

func (d *Decoder) cborErr(i int, sentinel error, detail string) error {
	return newError("cbor", d.off+int64(i), sentinel, detail)
}

func (d *Decoder) cborOpErr(i int, sentinel error, c byte, detail string) error {
	e := newError("cbor", d.off+int64(i), sentinel, detail)
	e.Opcode = int(c)
	return e
}

func (d *Decoder) cborTooLarge(i int, n uint64, what string) error {
	return d.cborErr(i, ErrFrameTooLarge, what+" "+strconv.FormatUint(n, 10)+
		" makes the message longer than "+strconv.Itoa(d.lim.MaxFrameSize)+" bytes")
}

// cborMessage fills *m for the complete, validated message t (offsets of
// the scanner still set).
func (d *Decoder) cborMessage(t []byte, m *Message) {
	s := &d.cb
	*m = Message{raw: t, kind: kindCBOR, flags: flagRoutable, nargs: -1}
	if !s.top.indef {
		m.nargs = int(s.top.count) - 1
	}
	if s.p0 < 0 { // [] (or [_ ])
		m.flags |= flagNoElems
		m.nargs = 0
		m.port = t[len(t):]
		m.argOff = len(t)
		return
	}
	m.argOff = s.p1
	d.cborPort(m, s.p0)
}

// cborPort sets m.port from element 0, which starts at p0 and has been
// validated.
func (d *Decoder) cborPort(m *Message, p0 int) {
	t := m.raw
	i := p0
	for t[i]>>5 == cborTag {
		_, _, _, hl, _ := cborHead(t, i)
		i += hl // tag 55799
	}
	c := t[i]
	major, ai, arg, hl := c>>5, c&31, uint64(c&31), 1
	if ai >= cborAI1 {
		major, ai, arg, hl, _ = cborHead(t, i)
	}
	switch major {
	case cborUint:
		d.scratch = strconv.AppendUint(d.scratch[:0], arg, 10)
		m.port = d.scratch
	case cborNeg:
		d.scratch = appendCBORNeg(d.scratch[:0], arg)
		m.port = d.scratch
	case cborBytes, cborText:
		if ai != cborAIIndef {
			s, e := i+hl, i+hl+int(arg)
			p := t[s:e:e]
			switch {
			case major == cborBytes && !isASCII(p):
				d.scratch = latin1ToUTF8(d.scratch[:0], p)
				m.port = d.scratch
			case major == cborText && !utf8.Valid(p):
				d.scratch = appendPerlText(d.scratch[:0], p)
				m.port = d.scratch
			default:
				m.port = p
				m.portOff = s
				m.flags |= flagPortInRaw
			}
			return
		}
		d.scratch = appendCBORChunks(d.scratch[:0], t, i+1, major)
		m.port = d.scratch
	case cborArray:
		m.flags &^= flagRoutable
		m.port = portArray
	case cborMap:
		m.flags &^= flagRoutable
		m.port = portHash
	default: // simple values and floats
		switch c {
		case cborTrue:
			m.port = portTrue
		case cborFalse:
			m.port = portFalse
		case cborNull, cborUndefined:
			m.port = t[i:i]
		default:
			d.scratch = appendPerlNumber(d.scratch[:0], cborFloatValue(c, arg))
			m.port = d.scratch
		}
	}
}

// appendCBORNeg appends the decimal form of -1-n.
func appendCBORNeg(dst []byte, n uint64) []byte {
	dst = append(dst, '-')
	if n == math.MaxUint64 {
		return append(dst, "18446744073709551616"...)
	}
	return strconv.AppendUint(dst, n+1, 10)
}

// appendCBORChunks appends the text of the indefinite-length string
// whose chunks start at t[i] (validated) as UTF-8: byte strings as
// Latin-1, text strings as Perl's characters (appendPerlText).
func appendCBORChunks(dst, t []byte, i int, major byte) []byte {
	start := len(dst)
	for i < len(t) && t[i] != cborBreak {
		_, _, n, hl, ok := cborHead(t, i)
		if !ok || uint64(len(t)-i-hl) < n {
			break
		}
		p := t[i+hl : i+hl+int(n)]
		if major == cborBytes {
			dst = latin1ToUTF8(dst, p)
		} else {
			dst = append(dst, p...)
		}
		i += hl + int(n)
	}
	if major == cborText && !utf8.Valid(dst[start:]) {
		fixed := appendPerlText(nil, dst[start:])
		dst = append(dst[:start], fixed...)
	}
	return dst
}

// cborFloatValue converts the argument of a float head (f9, fa, fb).
func cborFloatValue(c byte, bits uint64) float64 {
	switch c {
	case cborFloat16:
		return float16ToFloat64(uint16(bits))
	case cborFloat32:
		return float64(math.Float32frombits(uint32(bits)))
	}
	return math.Float64frombits(bits)
}

// float16ToFloat64 converts an IEEE 754 binary16 value exactly.
func float16ToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0: // zero, subnormal
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// cborFloatNumber is the Number a CBOR float decodes to: integral values
// below 2^53 as integers ("1"), negative zero as "-0.0" (a double, not
// the integer 0), others in the shortest form that round-trips the
// float64 ("0.1", "1e+20"), like appendJSONFloat; NaN and infinities as
// Perl prints them ("NaN", "Inf", "-Inf"), which are not JSON numbers
// and cannot be sent again.
func cborFloatNumber(f float64) Number {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	var buf [32]byte
	switch {
	case f == 0 && math.Signbit(f):
		return "-0.0"
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		return Number(strconv.AppendFloat(buf[:0], f, 'f', -1, 64))
	}
	return Number(strconv.AppendFloat(buf[:0], f, 'g', -1, 64))
}
