package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aemp-go/aemp/framing"
)

// The equivalence relation of the differential targets: when a value we
// decoded (or encoded) is "the same" as the value Perl holds. Perl's data
// model is not Go's: a Perl scalar is undef, a string (a sequence of
// characters, with an internal UTF-8 flag that says how they are stored),
// a number (IV, UV or NV) or a reference; containers are arrays and
// hashes whose keys are strings. docs/framing.md section 6 describes the
// relation in prose; in short, a decoded Go value v and a Perl value p are
// the same when
//
//	nil            p is undef (CBOR undefined: Types::Serialiser::error, see deliberate)
//	bool           p is a boolean object (JSON::PP::Boolean, Types::Serialiser) holding 1 or 0
//	string         p is a string with the same characters: flag on, its characters
//	               (see perlChars) are v's; flag off, its bytes are ASCII and are v's
//	[]byte         p is a byte string (flag off) with the same bytes
//	int64          p is an IV or UV with the same value
//	Number         the same number: an IV or UV of the literal's exact value; an NV
//	               that is the literal's nearest double (json: see json-float-parse);
//	               json only, a string holding the literal (JSON::XS keeps integers
//	               beyond 64 bits, and -2^63, as strings); cbor, below -2^63, the IV
//	               CBOR::XS wraps it to (cbor-negative-wrap, also in keys and ports)
//	[]any          p is an array reference, elementwise the same
//	map[string]any p is a hash reference with the same keys (key text: flag on, its
//	               characters; flag off, its bytes as Latin-1) and values
//
// A message's port (element 0) is compared with Perl's string form of
// element 0 (Perl routes by it; numbers as Perl prints them); a text port
// that is not valid UTF-8 may also be Perl's internal bytes as they are,
// which is how Perl looks it up.

// perlUTF8Skip is the length of a Perl character from its first byte, as
// Perl walks a string whose UTF-8 flag is on (perl's UTF8SKIP, with its
// extended forms of up to 13 bytes).
func perlUTF8Skip(c byte) int {
	switch {
	case c < 0xc0:
		return 1
	case c < 0xe0:
		return 2
	case c < 0xf0:
		return 3
	case c < 0xf8:
		return 4
	case c < 0xfc:
		return 5
	case c < 0xfe:
		return 6
	case c == 0xfe:
		return 7
	}
	return 13
}

// perlChars returns the characters of a Perl string with its UTF-8 flag
// on, given its internal bytes, as our decoders hold them: Perl's
// characters one by one (each as long as its first byte says), and every
// one that is not a well-formed Unicode scalar value (a surrogate, beyond
// U+10FFFF, overlong, malformed) as U+FFFD (deliberate: text-not-unicode).
func perlChars(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		n := min(perlUTF8Skip(b[0]), len(b))
		r, size := utf8.DecodeRune(b[:n])
		if size == n && (r != utf8.RuneError || n == 3) {
			out = append(out, b[:n]...)
		} else {
			out = utf8.AppendRune(out, utf8.RuneError)
		}
		b = b[n:]
	}
	return string(out)
}

func latin1(b []byte) string {
	out := make([]rune, len(b))
	for i, c := range b {
		out[i] = rune(c)
	}
	return string(out)
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// perlText is the text of a Perl string.
func perlText(utf8On bool, b []byte) string {
	if utf8On {
		return perlChars(b)
	}
	return latin1(b)
}

// perlString is Perl's string form of a scalar, what a port name or a
// hash key becomes; ok is false for references and for
// Types::Serialiser::error, which dies when used as a string.
func perlString(p *perlValue) (string, bool) {
	switch p.kind {
	case 'u':
		return "", true
	case 's':
		return perlText(p.utf8, p.b), true
	case 'i':
		return strconv.FormatInt(p.i, 10), true
	case 'w':
		return strconv.FormatUint(p.u, 10), true
	case 'n':
		return string(p.b), true
	case 'T':
		return "1", true
	case 'F':
		return "0", true
	}
	return "", false
}

// perlHas reports whether p or anything inside it is of one of kinds.
func perlHas(p *perlValue, kinds string) bool {
	if p == nil {
		return false
	}
	if bytes.IndexByte([]byte(kinds), p.kind) >= 0 {
		return true
	}
	for _, e := range p.elems {
		if perlHas(e, kinds) {
			return true
		}
	}
	return perlHas(p.inner, kinds)
}

// perlDepth is the nesting of arrays and hashes in p (the message array
// counts).
func perlDepth(p *perlValue) int {
	if p == nil {
		return 0
	}
	d := 0
	for _, e := range p.elems {
		d = max(d, perlDepth(e))
	}
	d = max(d, perlDepth(p.inner))
	if p.kind == 'a' || p.kind == 'h' {
		d++
	}
	return d
}

// jsonFloatClose is the deliberate difference json-float-parse: JSON::XS
// turns a decimal literal into a double with its own arithmetic, not
// always the nearest double: up to about 1.2 units in the last place off
// above 1e-285, and more and more below (at 1e-300 only the first three
// digits are right, below 1e-305 not even the first). We keep the
// literal, and its nearest double. They count as the same number when
// they differ by at most 2^-51 relative to the larger of |ours| and
// 1e-280 (two units in the last place, or about 4.4e-296 absolutely).
// Beyond the range of doubles, where our literal's nearest double is an
// infinity, JSON::XS gives that infinity or NaN; for literals with an
// exponent beyond ±308 it gives anything (see jsonHugeExponent).
func jsonFloatClose(ours, perl float64) bool {
	if ours == perl || math.IsNaN(ours) && math.IsNaN(perl) {
		return true
	}
	if math.IsInf(ours, 0) {
		return math.IsNaN(perl)
	}
	if math.IsInf(perl, 0) || math.IsNaN(ours) || math.IsNaN(perl) {
		return false
	}
	return math.Abs(ours-perl) <= 0x1p-51*math.Max(math.Abs(ours), 1e-280)
}

// jsonHugeExponent reports whether the literal has an exponent beyond
// ±308, where JSON::XS's own arithmetic gives anything: NaN for -0.0e320
// (0 times infinity), 0 for 1e2170000000 (the exponent overflows). Part
// of json-float-parse.
func jsonHugeExponent(lit string) bool {
	i := strings.IndexAny(lit, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
	return err != nil || e > 308 || e < -308
}

func bigOf(s string) (*big.Int, bool) {
	return new(big.Int).SetString(s, 10)
}

// sameNumber compares a decoded Number with Perl's value.
func sameNumber(codec framing.Codec, n framing.Number, p *perlValue) string {
	switch p.kind {
	case 'i', 'w':
		if !n.IsInt() {
			break
		}
		want, ok := bigOf(string(n))
		if !ok {
			break
		}
		var got *big.Int
		if p.kind == 'i' {
			got = big.NewInt(p.i)
		} else {
			got = new(big.Int).SetUint64(p.u)
		}
		if got.Cmp(want) == 0 {
			return ""
		}
		// cbor-negative-wrap: CBOR::XS 1.86 computes -1 - arg in 64-bit
		// integers, so -2^63-1 .. -2^64 come out wrapped.
		if codec == framing.CBOR && p.kind == 'i' && want.Cmp(big.NewInt(math.MinInt64)) < 0 {
			arg := new(big.Int).Sub(new(big.Int).Neg(want), big.NewInt(1))
			if arg.IsUint64() && p.i == ^int64(arg.Uint64()) {
				return ""
			}
		}
	case 'n':
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			break
		}
		if math.Float64bits(f) == math.Float64bits(p.f) || math.IsNaN(f) && math.IsNaN(p.f) {
			return ""
		}
		if codec == framing.JSON && (jsonFloatClose(f, p.f) || jsonHugeExponent(string(n))) {
			return ""
		}
	case 's':
		if codec == framing.JSON && !p.utf8 && n.IsInt() && string(p.b) == string(n) {
			return ""
		}
	}
	return fmt.Sprintf("Number %s vs Perl %v", n, p)
}

// sameDecoded compares a value our decoder returned with Perl's decoding
// of the same bytes; it returns "" or what differs.
func sameDecoded(codec framing.Codec, v any, p *perlValue, path string) string {
	if p.kind == 'Z' {
		return "" // too large to dump (shared references): not compared
	}
	bad := func() string { return fmt.Sprintf("%s: ours %#v, Perl %v", path, v, p) }
	switch x := v.(type) {
	case nil:
		// cbor-undefined: CBOR undefined is Types::Serialiser::error in Perl.
		if p.kind == 'u' || p.kind == 'e' && codec == framing.CBOR {
			return ""
		}
	case bool:
		if p.kind == 'T' && x || p.kind == 'F' && !x {
			return ""
		}
	case string:
		if p.kind == 's' && (p.utf8 && perlChars(p.b) == x || !p.utf8 && isASCIIBytes(p.b) && string(p.b) == x) {
			return ""
		}
	case []byte:
		if p.kind == 's' && !p.utf8 && bytes.Equal(p.b, x) {
			return ""
		}
	case int64:
		if p.kind == 'i' && p.i == x || p.kind == 'w' && x >= 0 && p.u == uint64(x) {
			return ""
		}
	case framing.Number:
		if d := sameNumber(codec, x, p); d != "" {
			return path + ": " + d
		}
		return ""
	case []any:
		if p.kind != 'a' || len(p.elems) != len(x) {
			return bad()
		}
		for i, e := range x {
			if d := sameDecoded(codec, e, p.elems[i], path+"["+strconv.Itoa(i)+"]"); d != "" {
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
			if !ok && codec == framing.CBOR {
				key, e, ok = cborWrappedKey(x, key)
			}
			if !ok {
				return fmt.Sprintf("%s: Perl's key %q missing from ours %#v", path, key, x)
			}
			if d := sameDecoded(codec, e, p.elems[i], path+"{"+strconv.Quote(key)+"}"); d != "" {
				return d
			}
		}
		return ""
	}
	return bad()
}

// cborWrappedKey finds our key for Perl's key perlKey when CBOR::XS
// wrapped it (cbor-negative-wrap: an integer key below -2^63).
func cborWrappedKey(ours map[string]any, perlKey string) (string, any, bool) {
	for k, v := range ours {
		if n, ok := bigOf(k); ok && n.Cmp(big.NewInt(math.MinInt64)) < 0 {
			if sameNumber(framing.CBOR, framing.Number(k), &perlValue{kind: 'i', i: mustInt(perlKey)}) == "" {
				return k, v, true
			}
		}
	}
	return "", nil, false
}

func mustInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 1 // no wrapped value is 1: -1 - arg with arg >= 2^63
	}
	return n
}

// ourMsg is one message our decoder returned.
type ourMsg struct {
	port     string
	routable bool
	args     []any
	raw      []byte // the frame
}

// jsonPortLiteral is the number literal that is element 0 of a json
// frame, or "".
func jsonPortLiteral(raw []byte) string {
	i := 1
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	j := i
	for j < len(raw) && strings.IndexByte("0123456789+-.eE", raw[j]) >= 0 {
		j++
	}
	return string(raw[i:j])
}

// samePort compares our port and routability with Perl's element 0.
func samePort(codec framing.Codec, m *ourMsg, p *perlValue) string {
	switch p.kind {
	case 'a', 'h':
		want := "ARRAY(0x0)"
		if p.kind == 'h' {
			want = "HASH(0x0)"
		}
		if m.routable || m.port != want {
			return fmt.Sprintf("port: ours %q (routable %v), Perl %v", m.port, m.routable, p)
		}
		return ""
	case 'e':
		// cbor-undefined as element 0: Perl dies when it looks the port
		// up; we take it for the node port.
		if codec == framing.CBOR && m.routable && m.port == "" {
			return ""
		}
	}
	want, ok := perlString(p)
	if ok && m.routable && m.port == want {
		return ""
	}
	// cbor-negative-wrap, in a port.
	if codec == framing.CBOR && p.kind == 'i' && m.routable {
		if d := sameNumber(codec, framing.Number(m.port), p); d == "" {
			return ""
		}
	}
	// A text port that is not valid UTF-8: Perl looks it up by its
	// internal bytes, which our port may keep as they are.
	if p.kind == 's' && p.utf8 && m.routable && m.port == string(p.b) {
		return ""
	}
	// json-float-parse: our port is the number as Perl prints it, from
	// the literal's nearest double, Perl's from its own.
	if ok && m.routable && codec == framing.JSON && p.kind == 'n' {
		if lit := jsonPortLiteral(m.raw); lit != "" && sameNumber(codec, framing.Number(lit), p) == "" {
			return ""
		}
	}
	return fmt.Sprintf("port: ours %q (routable %v), Perl %v (%q)", m.port, m.routable, p, want)
}

// sameMessage compares one message.
func sameMessage(codec framing.Codec, m *ourMsg, p *perlValue) string {
	if p.kind == 'Z' {
		return ""
	}
	if p.kind != 'a' {
		return fmt.Sprintf("Perl's message is %v, ours [%q %v]", p, m.port, m.args)
	}
	if len(p.elems) == 0 {
		if m.port != "" || !m.routable || len(m.args) != 0 {
			return fmt.Sprintf("Perl's message is [], ours [%q %v]", m.port, m.args)
		}
		return ""
	}
	if d := samePort(codec, m, p.elems[0]); d != "" {
		return d
	}
	if len(m.args) != len(p.elems)-1 {
		return fmt.Sprintf("%d arguments, Perl %d: ours %#v, Perl %v", len(m.args), len(p.elems)-1, m.args, p)
	}
	for i, a := range m.args {
		if d := sameDecoded(codec, a, p.elems[i+1], "arg "+strconv.Itoa(i)); d != "" {
			return d
		}
	}
	return ""
}
