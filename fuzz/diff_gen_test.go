package fuzz

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/aemp-go/aemp/framing"
)

// A recipe is a message built from fuzz bytes: a tree of Perl values that
// the oracle can build exactly (perl/oracle.pl, op E) and that, where Go
// has a matching value, we can encode too.

type recipe struct {
	op   byte // as in perl/oracle.pl: u i w n b t c d N T F y z a h
	i    int64
	u    uint64
	f    float64
	b    []byte   // b, t (UTF-8), d, N
	cps  []uint32 // c
	kids []*recipe
}

// recipeReader hands out fuzz bytes; past the end it gives zeros.
type recipeReader struct {
	b      []byte
	budget int // nodes left
}

func (r *recipeReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recipeReader) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = r.byte()
	}
	return out
}

func (r *recipeReader) u64() uint64 { return binary.BigEndian.Uint64(r.bytes(8)) }

// genMessage builds a message recipe: an array whose element 0 is a port
// name (text or bytes), then up to 7 arguments.
func genMessage(data []byte) *recipe {
	r := &recipeReader{b: data, budget: 96}
	msg := &recipe{op: 'a'}
	msg.kids = append(msg.kids, genString(r, r.byte()))
	for n := int(r.byte() % 8); n > 0 && len(r.b) > 0; n-- {
		msg.kids = append(msg.kids, genValue(r, 1))
	}
	return msg
}

// genString builds a text or byte string; sel picks which.
func genString(r *recipeReader, sel byte) *recipe {
	switch sel % 5 {
	case 0, 1: // ASCII text, controls included
		b := r.bytes(int(r.byte() % 24))
		for i := range b {
			b[i] &= 0x7f
		}
		return &recipe{op: 't', b: b}
	case 2: // Unicode text
		var b []byte
		for n := int(r.byte() % 8); n > 0; n-- {
			c := rune(r.byte())<<16 | rune(r.byte())<<8 | rune(r.byte())
			c %= 0x110000
			if c >= 0xd800 && c < 0xe000 {
				c += 0x800
			}
			b = utf8.AppendRune(b, c)
		}
		return &recipe{op: 't', b: b}
	case 3: // a byte string
		return &recipe{op: 'b', b: r.bytes(int(r.byte() % 16))}
	}
	// a long ASCII text around the 255-byte boundary of storable's
	// short strings
	n := 250 + int(r.byte()%12)
	b := make([]byte, n)
	c := 'a' + r.byte()%26
	for i := range b {
		b[i] = c
	}
	return &recipe{op: 't', b: b}
}

// genNumberLiteral builds a valid JSON number literal.
func genNumberLiteral(r *recipeReader) []byte {
	var b []byte
	sel := r.byte()
	if sel&1 != 0 {
		b = append(b, '-')
	}
	nd := 1 + int(r.byte()%22)
	first := '0' + r.byte()%10
	b = append(b, first)
	if first != '0' {
		for range nd - 1 {
			b = append(b, '0'+r.byte()%10)
		}
	}
	if sel&2 != 0 {
		b = append(b, '.')
		for range 1 + int(r.byte()%18) {
			b = append(b, '0'+r.byte()%10)
		}
	}
	if sel&4 != 0 {
		b = append(b, "eE"[sel>>3&1])
		switch sel >> 4 & 3 {
		case 1:
			b = append(b, '+')
		case 2:
			b = append(b, '-')
		}
		b = strconv.AppendInt(b, int64(r.byte())+int64(r.byte()%2)*200, 10)
	}
	return b
}

func genValue(r *recipeReader, depth int) *recipe {
	r.budget--
	sel := r.byte()
	if r.budget <= 0 || depth >= 6 {
		sel %= 13 // no containers
	}
	switch sel % 16 {
	case 0:
		return &recipe{op: 'u'}
	case 1:
		return &recipe{op: 'i', i: int64(int8(r.byte()))}
	case 2:
		return &recipe{op: 'i', i: int64(r.u64())}
	case 3:
		return &recipe{op: 'w', u: r.u64() | 1<<63}
	case 4:
		return &recipe{op: 'n', f: math.Float64frombits(r.u64())}
	case 5: // a decimal-looking double
		num := float64(int32(binary.BigEndian.Uint32(r.bytes(4))))
		return &recipe{op: 'n', f: num / math.Pow(10, float64(r.byte()%12))}
	case 6:
		return genString(r, r.byte())
	case 7: // any code points: surrogates and beyond U+10FFFF too (Perl only)
		var cps []uint32
		for n := int(r.byte() % 6); n > 0; n-- {
			cps = append(cps, binary.BigEndian.Uint32(r.bytes(4))%0x120000)
		}
		return &recipe{op: 'c', cps: cps}
	case 8:
		return &recipe{op: "TFyz"[r.byte()%4]}
	case 9:
		return &recipe{op: 'N', b: genNumberLiteral(r)}
	case 10: // a string that was used as a number
		return &recipe{op: 'd', b: genNumberLiteral(r)}
	case 11, 12:
		return genString(r, r.byte())
	case 13, 14:
		a := &recipe{op: 'a'}
		for n := int(r.byte() % 5); n > 0; n-- {
			a.kids = append(a.kids, genValue(r, depth+1))
		}
		return a
	}
	h := &recipe{op: 'h'}
	for n := int(r.byte() % 4); n > 0; n-- {
		h.kids = append(h.kids, genString(r, r.byte()), genValue(r, depth+1))
	}
	return h
}

// bytes serializes the recipe for the oracle.
func (n *recipe) appendTo(dst []byte) []byte {
	dst = append(dst, n.op)
	switch n.op {
	case 'i':
		dst = binary.BigEndian.AppendUint64(dst, uint64(n.i))
	case 'w':
		dst = binary.BigEndian.AppendUint64(dst, n.u)
	case 'n':
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(n.f))
	case 'b', 't', 'd', 'N':
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n.b)))
		dst = append(dst, n.b...)
	case 'c':
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n.cps)))
		for _, c := range n.cps {
			dst = binary.BigEndian.AppendUint32(dst, c)
		}
	case 'a':
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n.kids)))
		for _, k := range n.kids {
			dst = k.appendTo(dst)
		}
	case 'h':
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n.kids)/2))
		for _, k := range n.kids {
			dst = k.appendTo(dst)
		}
	}
	return dst
}

// goValue is the Go value of the recipe for our encoders; ok is false
// when Go has none (code points that are not Unicode scalar values).
func (n *recipe) goValue() (any, bool) {
	switch n.op {
	case 'u':
		return nil, true
	case 'i':
		return n.i, true
	case 'w':
		return n.u, true
	case 'n':
		return n.f, true
	case 'b':
		return n.b, true
	case 't', 'd':
		return string(n.b), true
	case 'N':
		return framing.Number(n.b), true
	case 'T', 'y':
		return true, true
	case 'F', 'z':
		return false, true
	case 'c':
		return nil, false
	case 'a':
		out := make([]any, len(n.kids))
		for i, k := range n.kids {
			v, ok := k.goValue()
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	case 'h':
		out := make(map[string]any, len(n.kids)/2)
		for i := 0; i < len(n.kids); i += 2 {
			key, kv := n.kids[i], n.kids[i+1]
			v, ok := kv.goValue()
			if !ok {
				return nil, false
			}
			// A byte-string key is the same Perl key as the text of its
			// bytes as Latin-1.
			k := string(key.b)
			if key.op == 'b' {
				k = latin1(key.b)
			}
			out[k] = v
		}
		return out, true
	}
	return nil, false
}
