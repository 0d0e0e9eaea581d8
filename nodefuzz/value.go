package nodefuzz

import (
	"encoding/binary"
	"math"
	"strconv"
)

// value is one node of a message as the fuzzer builds it: a tree that
// encodes in any of the three framings, with room for the oddities a
// well-behaved encoder never writes (lengths and counts that lie,
// indefinite lengths, byte strings that are not UTF-8, raw fragments).
// The top of a message is an *vArr.
type value interface{ isValue() }

// vStr is a string: text (JSON string, cbor major 3, storable
// SX_UTF8STR) or bytes (cbor major 2, storable SX_SCALAR; in JSON written
// as the same bytes). b need not be valid UTF-8.
type vStr struct {
	b    []byte
	text bool
	// lie, when >= 0, is the length written in cbor and storable instead
	// of len(b). Only filler strings (the last element of a message,
	// letters 'A'..'W') ever lie; see fillerString.
	lie int64
	// indef: cbor indefinite-length string, b cut into chunks of chunk
	// bytes (at least 1).
	indef bool
	chunk int
}

// vInt is an integer; vUint one above int64's range.
type vInt struct{ v int64 }
type vUint struct{ v uint64 }

// vFloat is a double. NaN and infinities are written as the invalid JSON
// words JSON::XS itself would write (nan, inf); callers use them only in
// frames that are meant to be bad.
type vFloat struct{ v float64 }

// vNum is a JSON number literal written as it is (1e400, -0,
// 123456789012345678901234567890); other framings get its value (a
// double, or the literal as a string when it is out of range).
type vNum struct{ lit string }

type vNull struct{}
type vBool struct{ v bool }

// vArr is an array. lie, when >= 0, is the count written in cbor and
// storable instead of len(elems); indef makes a cbor array
// indefinite-length.
type vArr struct {
	elems []value
	lie   int64
	indef bool
}

// vMap is a map (JSON object, cbor map, storable hash); keys are written
// as strings in JSON and storable.
type vMap struct {
	keys, vals []value
	lie        int64
	indef      bool
}

// vRaw is a fragment written as it is, one per framing (nil: the framing
// writes null instead). The fragments come from fixed tables.
type vRaw struct{ json, cbor, storable []byte }

func (*vStr) isValue()   {}
func (*vInt) isValue()   {}
func (*vUint) isValue()  {}
func (*vFloat) isValue() {}
func (*vNum) isValue()   {}
func (*vNull) isValue()  {}
func (*vBool) isValue()  {}
func (*vArr) isValue()   {}
func (*vMap) isValue()   {}
func (*vRaw) isValue()   {}

func str(s string) *vStr    { return &vStr{b: []byte(s), text: true, lie: -1} }
func bstr(s string) *vStr   { return &vStr{b: []byte(s), lie: -1} }
func num(i int64) *vInt     { return &vInt{i} }
func arr(e ...value) *vArr  { return &vArr{elems: e, lie: -1} }
func null() *vNull          { return &vNull{} }
func lit(s string) *vNum    { return &vNum{s} }
func flt(f float64) *vFloat { return &vFloat{f} }
func boolean(b bool) *vBool { return &vBool{b} }
func raw(j, c, s string) value {
	r := &vRaw{}
	if j != "" {
		r.json = []byte(j)
	}
	if c != "" {
		r.cbor = []byte(c)
	}
	if s != "" {
		r.storable = []byte(s)
	}
	return r
}

func mapOf(kv ...value) *vMap {
	m := &vMap{lie: -1}
	for i := 0; i+1 < len(kv); i += 2 {
		m.keys = append(m.keys, kv[i])
		m.vals = append(m.vals, kv[i+1])
	}
	return m
}

// Framing names.
const (
	fJSON     = "json"
	fCBOR     = "cbor"
	fStorable = "storable"
)

// encode writes msg as one frame of framing f. mark is the byte offset
// in the frame right after element markAt of the top-level array (0: the
// destination, 1: the request name), or -1 when the array is shorter:
// corruption of the frame only ever happens after it (see safety.go).
func encode(f string, msg *vArr, markAt int) (frame []byte, mark int) {
	e := encoder{f: f, markAt: markAt, mark: -1}
	switch f {
	case fJSON:
		e.json(msg, 0)
		return e.b, e.mark
	case fCBOR:
		e.cbor(msg, 0)
		return e.b, e.mark
	default:
		e.b = append(e.b, 0x05, 0x0b) // nfreeze header: major 2, network order, minor 11
		e.storable(msg, 0)
		img := e.b
		hdr := ber(nil, uint64(len(img)))
		out := append(hdr, img...)
		if e.mark >= 0 {
			e.mark += len(hdr)
		}
		return out, e.mark
	}
}

// ber is Perl's pack "w": base 128, most significant group first.
func ber(dst []byte, v uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7f)
	for v >>= 7; v > 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7f) | 0x80
	}
	return append(dst, tmp[i:]...)
}

type encoder struct {
	f      string
	b      []byte
	markAt int
	mark   int
}

// top notes the mark after top-level element i.
func (e *encoder) top(depth, i int) {
	if depth == 0 && i == e.markAt {
		e.mark = len(e.b)
	}
}

func (e *encoder) json(v value, depth int) {
	switch x := v.(type) {
	case *vStr:
		e.b = appendJSONString(e.b, x.b)
	case *vInt:
		e.b = strconv.AppendInt(e.b, x.v, 10)
	case *vUint:
		e.b = strconv.AppendUint(e.b, x.v, 10)
	case *vFloat:
		e.b = appendJSONFloat(e.b, x.v)
	case *vNum:
		e.b = append(e.b, x.lit...)
	case *vNull:
		e.b = append(e.b, "null"...)
	case *vBool:
		if x.v {
			e.b = append(e.b, "true"...)
		} else {
			e.b = append(e.b, "false"...)
		}
	case *vArr:
		e.b = append(e.b, '[')
		for i, el := range x.elems {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.json(el, depth+1)
			e.top(depth, i)
		}
		e.b = append(e.b, ']')
	case *vMap:
		e.b = append(e.b, '{')
		for i := range x.keys {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			if k, ok := x.keys[i].(*vStr); ok {
				e.b = appendJSONString(e.b, k.b)
			} else {
				// a non-string key: its JSON text, quoted
				sub := encoder{f: fJSON, markAt: -1}
				sub.json(x.keys[i], depth+1)
				e.b = appendJSONString(e.b, sub.b)
			}
			e.b = append(e.b, ':')
			e.json(x.vals[i], depth+1)
		}
		e.b = append(e.b, '}')
	case *vRaw:
		if x.json == nil {
			e.b = append(e.b, "null"...)
		} else {
			e.b = append(e.b, x.json...)
		}
	}
}

// appendJSONString quotes b as JSON::XS does: \" \\ \n \t \b \f \r, other
// bytes below 0x20 as \u00xx, everything else (UTF-8 or not) as it is.
func appendJSONString(dst, b []byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for len(b) > 0 {
		// the run of bytes written as they are, in one append
		i := 0
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		dst = append(dst, b[:i]...)
		if i == len(b) {
			break
		}
		c := b[i]
		b = b[i+1:]
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

func appendJSONFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		if f == 0 && math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return strconv.AppendFloat(dst, f, 'f', 1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// cborHead appends a head of major type m with argument n, shortest form.
func cborHead(dst []byte, m byte, n uint64) []byte {
	m <<= 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), n)
}

func (e *encoder) cbor(v value, depth int) {
	switch x := v.(type) {
	case *vStr:
		m := byte(2)
		if x.text {
			m = 3
		}
		if x.indef {
			e.b = append(e.b, m<<5|31)
			c := max(1, x.chunk)
			for i := 0; i < len(x.b); i += c {
				j := min(len(x.b), i+c)
				e.b = cborHead(e.b, m, uint64(j-i))
				e.b = append(e.b, x.b[i:j]...)
			}
			e.b = append(e.b, 0xff)
			return
		}
		n := uint64(len(x.b))
		if x.lie >= 0 {
			n = uint64(x.lie)
		}
		e.b = cborHead(e.b, m, n)
		e.b = append(e.b, x.b...)
	case *vInt:
		if x.v >= 0 {
			e.b = cborHead(e.b, 0, uint64(x.v))
		} else {
			e.b = cborHead(e.b, 1, uint64(-(x.v + 1)))
		}
	case *vUint:
		e.b = cborHead(e.b, 0, x.v)
	case *vFloat:
		e.b = binary.BigEndian.AppendUint64(append(e.b, 0xfb), math.Float64bits(x.v))
	case *vNum:
		if i, err := strconv.ParseInt(x.lit, 10, 64); err == nil {
			e.cbor(num(i), depth)
		} else if u, err := strconv.ParseUint(x.lit, 10, 64); err == nil {
			e.cbor(&vUint{u}, depth)
		} else if f, err := strconv.ParseFloat(x.lit, 64); err == nil || math.IsInf(f, 0) {
			e.cbor(flt(f), depth)
		} else {
			e.cbor(str(x.lit), depth)
		}
	case *vNull:
		e.b = append(e.b, 0xf6)
	case *vBool:
		if x.v {
			e.b = append(e.b, 0xf5)
		} else {
			e.b = append(e.b, 0xf4)
		}
	case *vArr:
		if x.indef {
			e.b = append(e.b, 0x9f)
		} else {
			n := uint64(len(x.elems))
			if x.lie >= 0 {
				n = uint64(x.lie)
			}
			e.b = cborHead(e.b, 4, n)
		}
		for i, el := range x.elems {
			e.cbor(el, depth+1)
			e.top(depth, i)
		}
		if x.indef {
			e.b = append(e.b, 0xff)
		}
	case *vMap:
		if x.indef {
			e.b = append(e.b, 0xbf)
		} else {
			n := uint64(len(x.keys))
			if x.lie >= 0 {
				n = uint64(x.lie)
			}
			e.b = cborHead(e.b, 5, n)
		}
		for i := range x.keys {
			e.cbor(x.keys[i], depth+1)
			e.cbor(x.vals[i], depth+1)
		}
		if x.indef {
			e.b = append(e.b, 0xff)
		}
	case *vRaw:
		if x.cbor == nil {
			e.b = append(e.b, 0xf6)
		} else {
			e.b = append(e.b, x.cbor...)
		}
	}
}

// Storable opcodes the encoder writes (docs/framing.md 2.3).
const (
	sxLScalar  = 0x01
	sxArray    = 0x02
	sxHash     = 0x03
	sxRef      = 0x04
	sxUndef    = 0x05
	sxByte     = 0x08
	sxNetint   = 0x09
	sxScalar   = 0x0a
	sxUTF8Str  = 0x17
	sxLUTF8Str = 0x18
)

func (e *encoder) storable(v value, depth int) {
	switch x := v.(type) {
	case *vStr:
		n := uint64(len(x.b))
		if x.lie >= 0 {
			n = uint64(x.lie)
		}
		short, long := byte(sxScalar), byte(sxLScalar)
		if x.text && !ascii(x.b) { // Perl flags only non-ASCII text as UTF-8
			short, long = sxUTF8Str, sxLUTF8Str
		}
		if n <= 255 && len(x.b) <= 255 {
			e.b = append(e.b, short, byte(n))
		} else {
			e.b = binary.BigEndian.AppendUint32(append(e.b, long), uint32(min(n, math.MaxUint32)))
		}
		e.b = append(e.b, x.b...)
	case *vInt:
		switch {
		case x.v >= -128 && x.v <= 127:
			e.b = append(e.b, sxByte, byte(x.v+128))
		case x.v >= math.MinInt32 && x.v <= math.MaxInt32:
			e.b = binary.BigEndian.AppendUint32(append(e.b, sxNetint), uint32(int32(x.v)))
		default:
			e.storable(bstr(strconv.FormatInt(x.v, 10)), depth)
		}
	case *vUint:
		e.storable(bstr(strconv.FormatUint(x.v, 10)), depth)
	case *vFloat:
		e.storable(bstr(strconv.FormatFloat(x.v, 'g', -1, 64)), depth)
	case *vNum:
		e.storable(bstr(x.lit), depth)
	case *vNull:
		e.b = append(e.b, sxUndef)
	case *vBool:
		if x.v {
			e.storable(bstr("1"), depth)
		} else {
			e.storable(bstr(""), depth)
		}
	case *vArr:
		if depth > 0 {
			e.b = append(e.b, sxRef)
		}
		n := uint64(len(x.elems))
		if x.lie >= 0 {
			n = uint64(x.lie)
		}
		e.b = binary.BigEndian.AppendUint32(append(e.b, sxArray), uint32(min(n, math.MaxUint32)))
		for i, el := range x.elems {
			e.storable(el, depth+1)
			e.top(depth, i)
		}
	case *vMap:
		e.b = append(e.b, sxRef)
		n := uint64(len(x.keys))
		if x.lie >= 0 {
			n = uint64(x.lie)
		}
		e.b = binary.BigEndian.AppendUint32(append(e.b, sxHash), uint32(min(n, math.MaxUint32)))
		for i := range x.keys {
			e.storable(x.vals[i], depth+1)
			var k []byte
			if s, ok := x.keys[i].(*vStr); ok {
				k = s.b
			} else {
				sub := encoder{f: fJSON, markAt: -1}
				sub.json(x.keys[i], 0)
				k = sub.b
			}
			e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(k)))
			e.b = append(e.b, k...)
		}
	case *vRaw:
		if x.storable == nil {
			e.b = append(e.b, sxUndef)
		} else {
			e.b = append(e.b, x.storable...)
		}
	}
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
