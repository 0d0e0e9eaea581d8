package fuzz

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/aemp-go/aemp/framing"
)

// sameEncoded compares a Go value we encoded in codec with what Perl
// decoded from our bytes: Perl must hold exactly that value, as the
// package documentation of framing says Go values are written:
//
//	nil        undef
//	string     a string of the same characters
//	[]byte     storable, cbor: a byte string of the same bytes; json: a string of
//	           the characters U+0000..U+00FF of the bytes (as JSON::XS writes bytes)
//	bool       the strings "1" and "" (Perl's own true and false)
//	integers   an IV or UV of the same value; storable beyond 32 bits: the decimal
//	           string (as nfreeze writes them)
//	float64    integral values below 2^53 (not -0): an IV of the same value
//	           (storable: -0 too, as nfreeze); others: json an NV equal to it (see
//	           json-float-parse), storable the shortest decimal string, cbor an NV
//	           equal to it, bit for bit
//	Number     the number it is (see sameNumber); storable: an integer opcode when
//	           it is an integer that fits 64 bits or an integral double below
//	           2^53, else the literal as a string; cbor: integers beyond 64 bits
//	           as the literal in a text string
//	[]any, map arrays and hashes, elementwise (keys as text)
func sameEncoded(codec framing.Codec, v any, p *perlValue, path string) string {
	bad := func() string { return fmt.Sprintf("%s: we wrote %#v, Perl reads %v", path, v, p) }
	text := func(want string) string {
		if p.kind == 's' && perlText(p.utf8, p.b) == want {
			return ""
		}
		return bad()
	}
	integer := func(want string) string { // an integer, given in decimal
		switch p.kind {
		case 'i':
			if strconv.FormatInt(p.i, 10) == want {
				return ""
			}
		case 'w':
			if strconv.FormatUint(p.u, 10) == want {
				return ""
			}
		case 's':
			// storable beyond 32 bits; json: JSON::XS reads -2^63 as a string
			if !p.utf8 && string(p.b) == want && (codec == framing.Storable || codec == framing.JSON) {
				if codec == framing.JSON && want != strconv.FormatInt(math.MinInt64, 10) {
					return bad()
				}
				if codec == framing.Storable {
					if n, err := strconv.ParseInt(want, 10, 64); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
						return bad()
					}
				}
				return ""
			}
		}
		return bad()
	}
	switch x := v.(type) {
	case nil:
		if p.kind == 'u' {
			return ""
		}
	case string:
		return text(x)
	case []byte:
		if codec == framing.JSON {
			return text(latin1(x))
		}
		if p.kind == 's' && !p.utf8 && string(p.b) == string(x) {
			return ""
		}
	case bool:
		if x {
			return text("1")
		}
		return text("")
	case int64:
		return integer(strconv.FormatInt(x, 10))
	case uint64:
		return integer(strconv.FormatUint(x, 10))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 && (!math.Signbit(x) || x != 0 || codec == framing.Storable) {
			return integer(strconv.FormatInt(int64(x), 10))
		}
		switch codec {
		case framing.Storable:
			return text(strconv.FormatFloat(x, 'g', -1, 64))
		case framing.JSON:
			if p.kind == 'n' && jsonFloatClose(x, p.f) {
				return ""
			}
		default:
			if p.kind == 'n' && math.Float64bits(p.f) == math.Float64bits(x) {
				return ""
			}
		}
	case framing.Number:
		if codec == framing.CBOR && x.IsInt() {
			_, err1 := x.Int64()
			_, err2 := x.Uint64()
			if err1 != nil && err2 != nil { // beyond 64 bits: the literal as text
				return text(string(x))
			}
		}
		if codec == framing.CBOR && !x.IsInt() {
			// a literal with a fraction or exponent is the double it
			// parses to, written like a float64
			f, _ := strconv.ParseFloat(string(x), 64)
			return sameEncoded(codec, f, p, path)
		}
		if codec != framing.Storable {
			if d := sameNumber(codec, x, p); d != "" {
				return path + ": " + d
			}
			return ""
		}
		if x.IsInt() {
			if n, err := x.Int64(); err == nil {
				return integer(strconv.FormatInt(n, 10))
			}
		} else if f, err := x.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return integer(strconv.FormatInt(int64(f), 10))
		}
		return text(string(x))
	case []any:
		if p.kind != 'a' || len(p.elems) != len(x) {
			return bad()
		}
		for i, e := range x {
			if d := sameEncoded(codec, e, p.elems[i], path+"["+strconv.Itoa(i)+"]"); d != "" {
				return d
			}
		}
		return ""
	case map[string]any:
		if p.kind != 'h' || len(p.keys) != len(x) {
			return bad()
		}
		for i, k := range p.keys {
			key := perlText(k.utf8, k.b)
			e, ok := x[key]
			if !ok {
				return fmt.Sprintf("%s: Perl's key %q is not ours (%#v)", path, key, x)
			}
			if d := sameEncoded(codec, e, p.elems[i], path+"{"+strconv.Quote(key)+"}"); d != "" {
				return d
			}
		}
		return ""
	}
	return bad()
}

// mustRefuse reports whether our encoders must refuse v with
// ErrInvalidValue (it holds NaN or an infinity).
func mustRefuse(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x) || math.IsInf(x, 0)
	case []any:
		for _, e := range x {
			if mustRefuse(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if mustRefuse(e) {
				return true
			}
		}
	}
	return false
}

// diffOurEncoding encodes the recipe's Go value with codec and checks that
// Perl reads exactly that value back.
func diffOurEncoding(t *testing.T, o *oracle, codec framing.Codec, msg *recipe) string {
	v, ok := msg.goValue()
	if !ok {
		return ""
	}
	all := v.([]any)
	port := string(msg.kids[0].b)
	if msg.kids[0].op == 'b' {
		port = latin1(msg.kids[0].b)
	}
	out, err := codec.AppendMessage(nil, port, all[1:])
	if mustRefuse(all[1:]) {
		if !errors.Is(err, framing.ErrInvalidValue) {
			return fmt.Sprintf("encoding %#v: %v, want ErrInvalidValue", all[1:], err)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("encoding %#v: %v", all[1:], err)
	}
	perl, err := o.decode(framingByte(codec), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(perl.msgs) != 1 || perl.end != 'K' {
		return fmt.Sprintf("we wrote %x for [%q %#v]; Perl reads %d messages, then %s", out, port, all[1:], len(perl.msgs), perlEnd(perl))
	}
	p := perl.msgs[0]
	if p.kind == 'Z' {
		return ""
	}
	if p.kind != 'a' || len(p.elems) != len(all) {
		return fmt.Sprintf("we wrote %x for [%q %#v]; Perl reads %v", out, port, all[1:], p)
	}
	all[0] = port
	for i, e := range all {
		if d := sameEncoded(codec, e, p.elems[i], "element "+strconv.Itoa(i)); d != "" {
			return fmt.Sprintf("we wrote %x: %s", out, d)
		}
	}
	return ""
}

// diffPerlEncoding has Perl build and encode the recipe, and checks that
// we read from those bytes what Perl reads from them.
func diffPerlEncoding(t *testing.T, o *oracle, codec framing.Codec, msg *recipe) string {
	out, perr, err := o.encode(framingByte(codec), msg.appendTo(nil))
	if err != nil {
		if errors.Is(err, errOracleDied) {
			return ""
		}
		t.Fatal(err)
	}
	if perr != "" {
		return "" // Perl's encoder refuses the value (e.g. json: beyond U+10FFFF)
	}
	if d := diffDecode(t, o, codec, out); d != "" {
		return fmt.Sprintf("Perl wrote %x: %s", out, d)
	}
	return ""
}
