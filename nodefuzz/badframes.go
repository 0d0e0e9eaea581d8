package nodefuzz

import (
	"fmt"
	"math"
	"strings"
)

// Bad frames. Every corruption keeps the frame's start up to the
// request name (or the destination) intact, so that whatever a target
// makes of the rest, it never reads another request name; raw fragments
// come from the fixed tables below (no cbor tags that make a Perl node
// load modules or revive objects, no Storable opcodes that bless, hook,
// tie or compile).

// base returns a message for a bad frame and the top-level element after
// which corruption may start (1: the request name; 0: the destination).
func (fb *frameBuilder) base() (*vArr, int) {
	if fb.r.IntN(3) == 0 {
		m := arr(str(portPrefix+"-none"), fb.value(2), fb.value(1))
		fb.sanitize(m)
		return m, 0
	}
	m := fb.request()
	if len(m.elems) < 2 {
		return m, 0
	}
	return m, 1
}

func (fb *frameBuilder) bad() ([]byte, string, bool) {
	switch fb.c.Framing {
	case fCBOR:
		return fb.badCBOR()
	case fStorable:
		return fb.badStorable()
	}
	return fb.badJSON()
}

// truncated returns a frame cut somewhere after its mark. The rest never
// follows: the target must wait for it (the frame is incomplete).
func (fb *frameBuilder) truncated() ([]byte, string, bool) {
	m, at := fb.base()
	b := fb.encode(m, at)
	_, mark := encode(fb.c.Framing, m, at)
	if mark < 0 || mark >= len(b)-1 {
		return b[:len(b)-1], "frame without its last byte", false
	}
	cut := mark + fb.r.IntN(len(b)-mark-1)
	return b[:cut], fmt.Sprintf("frame cut after %d of %d bytes", cut, len(b)), false
}

// withFree appends v to m as its last element: after every argument
// with restricted values, and last, so that a value that misleads a
// decoder about where it ends can only spill into the end of the frame.
func withFree(m *vArr, v value) {
	m.elems = append(m.elems, v)
}

// filler is the last element of a message whose length lies: letters
// 'A' only (see isFiller), an even number of them.
func filler(n int) *vStr {
	s := bstr(strings.Repeat("A", n))
	return s
}

var jsonJunk = []string{",", ":", "x", "'a'", "//c\n1", "/*c*/1", "\x00", "\x7f", "\xef\xbb\xbf1", "nan", "inf", "-inf",
	"01", "1.", ".5", "1e", "+1", "-", "\"\x01\"", "\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
	`"\ud800"`, `"\udc00\ud800"`, `"\u0000"`, `"\x41"`, `"\u12"`, "tru", "nul", "True", "undefined", "0x10", "1_000",
	"{\"a\"}", "{1:2}", "{\"a\":}", "[1,]", "[,1]", "\"a\"\"b\"", "1 2"}

func (fb *frameBuilder) badJSON() ([]byte, string, bool) {
	r := fb.r
	switch r.IntN(9) {
	case 0:
		return fb.truncated()
	case 1, 2, 3:
		m, at := fb.base()
		j := pick(r, jsonJunk)
		withFree(m, raw(j, "", ""))
		return fb.encode(m, at), fmt.Sprintf("json junk %q as a value", j), true
	case 4:
		m, at := fb.base()
		b := fb.encode(m, at)
		body := b[:len(b)-1]
		switch r.IntN(4) {
		case 0:
			return append(b, ']'), "an extra ] after the frame", true
		case 1:
			return append(body, '}'), "} instead of the closing ]", true
		case 2:
			return append(body, ",]"...), "a trailing comma", true
		default:
			return append(b, "\x00"...), "a NUL byte after the frame", true
		}
	case 5:
		top := pick(r, []string{"5", `"fz-scalar"`, "{}", `{"fz":1}`, "null", "true", "-5e3", `"`, "]", "}"})
		if top == `"` {
			return []byte(top), "a lone quote at the top level", false
		}
		return []byte(top + "\n"), fmt.Sprintf("top-level %s", top), true
	case 6:
		m, at := fb.base()
		s := str("a" + pick(r, invalidUTF8) + "b")
		withFree(m, s)
		return fb.encode(m, at), fmt.Sprintf("invalid UTF-8 %q in a string", s.b), true
	case 7:
		m, at := fb.base()
		d := pick(r, []int{513, 1000, 100000})
		withFree(m, raw(strings.Repeat("[", d)+strings.Repeat("]", d), "", ""))
		return fb.encode(m, at), fmt.Sprintf("arrays nested %d deep", d), true
	default:
		m, at := fb.base()
		l := pick(r, numLits)
		withFree(m, lit(l))
		return fb.encode(m, at), "number " + l, true
	}
}

var cborJunk = []string{"\xff", "\x1c", "\x1d", "\x1e", "\x3c", "\x5c", "\x7c", "\x9c", "\xbc", "\xdc", "\xf8\x00", "\xf8\x1f",
	"\xf8\xff", "\xfc", "\xfd", "\xfe", "\x5f\x61a\xff", "\x7f\x7f\xff\xff", "\x7f\x41a\xff", "\xd9\x03\xe8\x01",
	"\xdb\xff\xff\xff\xff\xff\xff\xff\xff\x01", "\xc6\x01", "\xd9\xff\xff\xf6", "\xbf\x01\xff", "\x62\xff\xfe", "\x63\xed\xa0\x80",
	"\x1f", "\x3f", "\xf9\x7e\x00", "\x1b\xff\xff\xff\xff\xff\xff\xff\xff", "\x3b\xff\xff\xff\xff\xff\xff\xff\xff", "\xd9\xd9\xf7\xd9\xd9\xf7\x00"}

func (fb *frameBuilder) badCBOR() ([]byte, string, bool) {
	r := fb.r
	switch r.IntN(8) {
	case 0:
		return fb.truncated()
	case 1, 2:
		m, at := fb.base()
		j := pick(r, cborJunk)
		withFree(m, raw("", j, ""))
		return fb.encode(m, at), fmt.Sprintf("cbor junk % x as a value", j), true
	case 3:
		return fb.lyingFiller()
	case 4:
		m, at := fb.base()
		n := len(m.elems)
		switch r.IntN(3) {
		case 0:
			m.lie = int64(r.IntN(n))
			return fb.encode(m, at), fmt.Sprintf("message array of %d claims %d", n, m.lie), true
		case 1:
			m.lie = pick(r, []int64{1 << 32, math.MaxInt64})
			return fb.encode(m, at), fmt.Sprintf("message array of %d claims %d", n, m.lie), true
		default:
			m.lie = int64(n + 1 + r.IntN(64))
			return fb.encode(m, at), fmt.Sprintf("message array of %d claims %d", n, m.lie), false
		}
	case 5:
		top := pick(r, []string{"\x00", "\x60", "\xa0", "\xf6", "\x41A", "\xf5", "\xff", "\x3b\x00\x00\x00\x00\x00\x00\x00\x00"})
		return []byte(top), fmt.Sprintf("top-level % x", top), true
	case 6:
		m, at := fb.base()
		s := str("a" + pick(r, invalidUTF8) + "b")
		withFree(m, s)
		return fb.encode(m, at), fmt.Sprintf("invalid UTF-8 %q in a text string", s.b), true
	default:
		m, at := fb.base()
		d := pick(r, []int{513, 1000, 100000})
		withFree(m, raw("", strings.Repeat("\x81", d)+"\x00", ""))
		return fb.encode(m, at), fmt.Sprintf("arrays nested %d deep", d), true
	}
}

// lyingFiller ends a message with a filler string whose length lies (cbor
// and storable).
func (fb *frameBuilder) lyingFiller() ([]byte, string, bool) {
	r := fb.r
	m, at := fb.base()
	n := 2 * (1 + r.IntN(16))
	s := filler(n)
	m.elems = append(m.elems, s)
	complete := true
	switch r.IntN(3) {
	case 0:
		// fewer by an even number: the rest reads as whole 1-byte items
		// (cbor) or bytes after the root (storable)
		s.lie = int64(n - 2*(1+r.IntN(n/2)))
	case 1:
		s.lie = int64(pick(r, []uint64{1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1 << 62}))
		if fb.c.Framing == fStorable {
			// Storable allocates a string's claimed length before it
			// reads it: no more than maxClaim
			s.lie = int64(pick(r, []uint64{1 << 20, maxClaim}))
		}
	default:
		s.lie = int64(n + 1 + r.IntN(64))
		// cbor waits for the bytes; in storable the image ends first
		complete = fb.c.Framing == fStorable
	}
	return fb.encode(m, at), fmt.Sprintf("%d-byte string claims %d", n, s.lie), complete
}

// maxClaim is the most a Storable length or count in a frame claims:
// Storable allocates what a string length or an array count claims
// before it reads the data (a count of 2^31-1 made a 1.30 node take
// 11 GB), and so may other decoders; 4M pointers are 32 MiB.
const maxClaim = 1 << 22

var storableJunk = []string{"\x30", "\x7f", "\xff", "\x00\x00\x00\x00\x63", "\x00\xff\xff\xff\xff", "\x00\x00\x00\x00\x00",
	"\x08", "\x09\x00", "\x0a\x05ab", "\x01\x00\x40\x00\x00", "\x18\x00\x40\x00\x00", "\x02\x00\x40\x00\x00",
	"\x04\x05", "\x04\x0a\x01x", "\x03\x00\x00\x00\x01\x08\x80\x00\x00\x00\x01k", "\x19\x00\x00\x00\x00\x01\x08\x80\x08\x00\x00\x00\x01x",
	"\x17\x02\xff\xfe", "\x18\x00\x00\x00\x03\xed\xa0\x80"}

func (fb *frameBuilder) badStorable() ([]byte, string, bool) {
	r := fb.r
	switch r.IntN(8) {
	case 0:
		return fb.truncated()
	case 1, 2:
		m, at := fb.base()
		j := pick(r, storableJunk)
		withFree(m, raw("", "", j))
		return fb.encode(m, at), fmt.Sprintf("storable junk % x as a value", j), true
	case 3:
		return fb.lyingFiller()
	case 4:
		// the BER length prefix lies
		m, at := fb.base()
		b := fb.encode(m, at)
		img := b[berLen(b):]
		switch r.IntN(4) {
		case 0:
			k := 1 + r.IntN(len(img)-1)
			return append(ber(nil, uint64(len(img)-k)), img...), fmt.Sprintf("BER length %d short", k), true
		case 1:
			v := pick(r, []uint64{1 << 32, 1 << 39, 1 << 63})
			return append(ber(nil, v), img...), fmt.Sprintf("BER length %d for %d bytes", v, len(img)), true
		case 2:
			return append(append([]byte{0x80}, ber(nil, uint64(len(img)))...), img...), "BER length not minimal", true
		default:
			k := 1 + r.IntN(64)
			return append(ber(nil, uint64(len(img)+k)), img...), fmt.Sprintf("BER length %d long", k), false
		}
	case 5:
		m, at := fb.base()
		b := fb.encode(m, at)
		img := b[berLen(b):]
		var out []byte
		var what string
		switch k := r.IntN(9); k {
		case 0, 1, 2, 3, 4, 5:
			hdr := pick(r, []string{"\x04\x0b", "\x05\x0c", "\x05\x00", "\x05\x06", "\x05\x0d", "\x06\x0b", "\x03\x0b", "pst0\x05\x0b"})
			out = append([]byte(hdr), img[2:]...)
			what = fmt.Sprintf("image header % x", hdr)
		case 6:
			out = []byte("\x05\x0b\x0a\x01x")
			what = "scalar root"
		case 7:
			out = append([]byte("\x05\x0b\x04"), img[2:]...)
			what = "reference as root"
		default:
			out = pick(r, [][]byte{{}, {0x05, 0x0b}, []byte("\x05\x0b\x03\x00\x00\x00\x00")})
			what = fmt.Sprintf("image % x", out)
		}
		return append(ber(nil, uint64(len(out))), out...), what, true
	case 6:
		m, at := fb.base()
		n := len(m.elems)
		if r.IntN(2) == 0 {
			m.lie = int64(r.IntN(n))
		} else {
			m.lie = int64(pick(r, []int{n + 1, n + 100, 1 << 20, maxClaim}))
		}
		return fb.encode(m, at), fmt.Sprintf("message array of %d claims %d", n, m.lie), true
	default:
		m, at := fb.base()
		s := str("a" + pick(r, invalidUTF8) + "b")
		withFree(m, s)
		return fb.encode(m, at), fmt.Sprintf("invalid UTF-8 %q in SX_UTF8STR", s.b), true
	}
}

// berLen is the length of the BER number at the start of b.
func berLen(b []byte) int {
	for i, c := range b {
		if c&0x80 == 0 {
			return i + 1
		}
	}
	return len(b)
}
