package framing

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func cborHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}

// cborPerlVectors are messages as an AnyEvent::MP 2.02 node writes them:
// the first two and the scalars are bytes captured from real 2.02 nodes
// (docs/framing.md section 3); the others were produced
// here with Debian's CBOR::XS 1.86 encode_cbor (what AnyEvent::MP 2.02
// calls) from the Perl values in the comments.
var cborPerlVectors = []struct {
	name string
	hex  string
	port string
	args []any
}{
	// ["", "g_global"], byte strings
	{"g_global", "82 40 48 67 5f 67 6c 6f 62 61 6c", "", []any{"g_global"}},
	// observed from a 2.02 node to its seed
	{"g_slave", "82 40 47 67 5f 73 6c 61 76 65", "", []any{"g_slave"}},
	{"g_slave db", "83 40 47 67 5f 73 6c 61 76 65 a1 42 27 6c a1 45 70 65 72 6c 42 81 4e 31 32 37 2e 30 2e 30 2e 31 3a 34 31 36 32",
		"", []any{"g_slave", map[string]any{"'l": map[string]any{"perlB": []any{"127.0.0.1:4162"}}}}},
	{"g_find", "83 40 46 67 5f 66 69 6e 64 45 70 65 72 6c 41", "", []any{"g_find", "perlA"}},
	// the scalars of docs/framing.md section 3 in one message: "sink" (bytes), "" ,
	// "café" (text), 1, 255, 65536, -25, 1.5 (float32), 0.1 (float64),
	// undef, true, false, error (undefined), "1" (bytes, a Perl boolean)
	{"spec scalars", "8e 44 73 69 6e 6b 40 65 63 61 66 c3 a9 01 18 ff 1a 00 01 00 00 38 18 fa 3f c0 00 00 fb 3f b9 99 99 99 99 99 9a f6 f5 f4 f7 41 31",
		"sink", []any{"", "café", int64(1), int64(255), int64(65536), int64(-25), Number("1.5"), Number("0.1"), nil, true, false, nil, "1"}},
	// ["perlA#jP7iKcEM3b", "count", 1000, 20000, 0.12]
	{"count reply", "85 50 70 65 72 6c 41 23 6a 50 37 69 4b 63 45 4d 33 62 45 63 6f 75 6e 74 19 03 e8 19 4e 20 fb 3f be b8 51 eb 85 1e b8",
		"perlA#jP7iKcEM3b", []any{"count", int64(1000), int64(20000), Number("0.12")}},
	// decode_json('["r","hi",1,{"k":["v"]},null,"caf\u00e9"]'): ASCII stays bytes
	{"relayed json", "86 41 72 42 68 69 01 a1 41 6b 81 41 76 f6 65 63 61 66 c3 a9",
		"r", []any{"hi", int64(1), map[string]any{"k": []any{"v"}}, nil, "café"}},
	// ["echo", "caf\xe9" (Latin-1 bytes), "\x{20ac}", -25, 255, 65536, 1.5, 0.1,
	//  undef, $Types::Serialiser::true, false, error]
	{"echo mixed", "8c 44 65 63 68 6f 44 63 61 66 e9 63 e2 82 ac 38 18 18 ff 1a 00 01 00 00 fa 3f c0 00 00 fb 3f b9 99 99 99 99 99 9a f6 f5 f4 f7",
		"echo", []any{[]byte("caf\xe9"), "€", int64(-25), int64(255), int64(65536), Number("1.5"), Number("0.1"), nil, true, false, nil}},
	// ["big", 18446744073709551615, -9223372036854775808, 9**20, 9**9**9,
	//  -9**9**9, 2**0.5, 1/4]
	{"big numbers", "88 43 62 69 67 1b ff ff ff ff ff ff ff ff 3b 7f ff ff ff ff ff ff ff fb 43 e5 17 16 8a 45 23 fd fa 7f 80 00 00 fa ff 80 00 00 fb 3f f6 a0 9e 66 7f 3b cd fa 3e 80 00 00",
		"big", []any{Number("18446744073709551615"), int64(math.MinInt64), Number("1.2157665459056929e+19"), Number("Inf"), Number("-Inf"), Number("1.4142135623730951"), Number("0.25")}},
	// ["can", !!1, !!0, 1==2]: Perl booleans are the byte strings "1" and ""
	{"perl booleans", "84 43 63 61 6e 41 31 40 40", "can", []any{"1", "", ""}},
	// ["sink", "x" x 20]: 27 bytes (docs/framing.md section 3)
	{"sink 20", "82 44 73 69 6e 6b 54 78 78 78 78 78 78 78 78 78 78 78 78 78 78 78 78 78 78 78 78",
		"sink", []any{strings.Repeat("x", 20)}},
	{"empty", "80", "", nil},
}

func TestCBORPerlVectors(t *testing.T) {
	var stream []byte
	for _, v := range cborPerlVectors {
		frame := cborHex(t, v.hex)
		stream = append(stream, frame...)
		m, args := decodeFrame(t, CBOR, frame)
		if m.PortString() != v.port || !m.Routable() || m.Framing() != "cbor" {
			t.Errorf("%s: port %q routable %v", v.name, m.Port(), m.Routable())
		}
		if !reflect.DeepEqual(args, v.args) {
			t.Errorf("%s: args\n%#v\nwant\n%#v", v.name, args, v.args)
		}
	}
	// All of them back to back, split everywhere.
	checkCBORSplits(t, stream, len(cborPerlVectors))
}

// TestCBOREncodeSize: docs/framing.md section 3 gives 27 bytes for ["sink","x"x20]
// (Perl writes byte strings, we write text strings of the same size).
func TestCBOREncodeSize(t *testing.T) {
	out, err := AppendCBOR(nil, "sink", []any{strings.Repeat("x", 20)})
	if err != nil || len(out) != 27 {
		t.Fatalf("%x %v", out, err)
	}
	want := cborHex(t, "82 64 73 69 6e 6b 74"+strings.Repeat(" 78", 20))
	if !bytes.Equal(out, want) {
		t.Fatalf("%x, want %x", out, want)
	}
}

// checkCBORSplits feeds stream whole, in every 2-way split and byte by
// byte, and expects the same n messages each time.
func checkCBORSplits(t *testing.T, stream []byte, n int) {
	t.Helper()
	ref := feed(t, CBOR, Limits{}, whole(stream))
	if ref.err != nil || len(ref.raws) != n || ref.pending != 0 {
		t.Fatalf("whole: %d messages, err %v, pending %d", len(ref.raws), ref.err, ref.pending)
	}
	for k := 1; k < len(stream); k++ {
		if err := sameResult(ref, feed(t, CBOR, Limits{}, split2(stream, k))); err != nil {
			t.Fatalf("split at %d: %v", k, err)
		}
	}
	if err := sameResult(ref, feed(t, CBOR, Limits{}, bytewise(stream))); err != nil {
		t.Fatalf("bytewise: %v", err)
	}
}

// TestCBORWireForms: the same message in the other forms CBOR::XS
// accepts: indefinite lengths, non-shortest heads, float16, tag 55799,
// text or byte strings for the port.
func TestCBORWireForms(t *testing.T) {
	want := []any{"ab", int64(1), []any{int64(2)}, map[string]any{"k": "v"}, Number("1.5")}
	forms := []struct{ name, hex string }{
		{"shortest", "86 64 65 63 68 6f 62 61 62 01 81 02 a1 61 6b 61 76 f9 3e 00"},
		{"byte port", "86 44 65 63 68 6f 42 61 62 01 81 02 a1 41 6b 41 76 fa 3f c0 00 00"},
		{"indefinite all", "9f 7f 62 65 63 62 68 6f ff 5f 41 61 41 62 ff 01 9f 02 ff bf 61 6b 61 76 ff fb 3f f8 00 00 00 00 00 00 ff"},
		{"long heads", "98 06 79 00 04 65 63 68 6f 5a 00 00 00 02 61 62 1b 00 00 00 00 00 00 00 01 99 00 01 02 ba 00 00 00 01 61 6b 61 76 f9 3e 00"},
		{"self-described", "d9 d9 f7 86 d9 d9 f7 64 65 63 68 6f d9 d9 f7 62 61 62 01 81 02 a1 d9 d9 f7 61 6b 61 76 f9 3e 00"},
		{"empty chunks", "86 7f 60 64 65 63 68 6f 60 ff 62 61 62 01 81 02 a1 61 6b 61 76 f9 3e 00"},
	}
	var stream []byte
	for _, f := range forms {
		frame := cborHex(t, f.hex)
		stream = append(stream, frame...)
		m, args := decodeFrame(t, CBOR, frame)
		if m.PortString() != "echo" || !reflect.DeepEqual(args, want) {
			t.Errorf("%s: %q %#v", f.name, m.Port(), args)
		}
	}
	checkCBORSplits(t, stream, len(forms))
}

func TestCBORPort(t *testing.T) {
	cases := []struct {
		name, hex, port string
		routable, zero  bool // zero: Port points into the frame
	}{
		{"text", "82 64 65 63 68 6f 00", "echo", true, true},
		{"bytes", "82 44 65 63 68 6f 00", "echo", true, true},
		{"latin1 bytes", "81 44 63 61 66 e9", "café", true, false},
		{"utf8 text", "81 65 63 61 66 c3 a9", "café", true, true},
		// Perl's characters: FF starts a 13-byte one, which takes the b
		{"invalid utf8 text", "81 63 61 ff 62", "a\uFFFD", true, false},
		{"surrogate text", "81 65 61 ed a0 80 62", "a\uFFFDb", true, false},
		{"indefinite text", "81 7f 62 65 63 62 68 6f ff", "echo", true, false},
		{"indefinite latin1", "81 5f 42 63 61 41 66 41 e9 ff", "café", true, false},
		{"null", "82 f6 00", "", true, false},
		{"undefined", "81 f7", "", true, false},
		{"true", "81 f5", "1", true, false},
		{"false", "81 f4", "0", true, false},
		{"uint", "81 19 01 00", "256", true, false},
		{"negative", "81 38 18", "-25", true, false},
		{"min negative", "81 3b ff ff ff ff ff ff ff ff", "-18446744073709551616", true, false},
		{"float", "81 fa 3f c0 00 00", "1.5", true, false},
		{"array", "82 80 01", "ARRAY(0x0)", false, false},
		{"map", "82 a0 01", "HASH(0x0)", false, false},
		{"tagged port", "82 d9 d9 f7 41 70 01", "p", true, true},
		{"empty message", "80", "", true, false},
		{"empty indefinite", "9f ff", "", true, false},
	}
	for _, c := range cases {
		frame := cborHex(t, c.hex)
		d := NewDecoder(CBOR, Limits{})
		m, n, err := d.Next(frame)
		if err != nil || n != len(frame) {
			t.Fatalf("%s: %d %v", c.name, n, err)
		}
		if m.PortString() != c.port || m.Routable() != c.routable {
			t.Errorf("%s: port %q routable %v", c.name, m.Port(), m.Routable())
		}
		p := m.Port()
		if !utf8.Valid(p) {
			t.Errorf("%s: port not UTF-8", c.name)
		}
		cl := m.Clone()
		for i := range frame {
			frame[i] = 0xEE
		}
		if inFrame := string(p) != c.port; inFrame != c.zero {
			t.Errorf("%s: port in frame %v", c.name, inFrame)
		}
		if cl.PortString() != c.port {
			t.Errorf("%s: clone port %q", c.name, cl.Port())
		}
		if _, err := cl.Args(); err != nil {
			t.Errorf("%s: clone args: %v", c.name, err)
		}
	}
}

func TestCBORRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300)
	longU := strings.Repeat("€", 100)
	bigBytes := bytes.Repeat([]byte{0xfe}, 70000)
	tests := []struct {
		name    string
		in      any
		want    any
		wire    string // expected hex of the value, if given
		noAgain bool   // decoded value cannot be sent again
	}{
		{"nil", nil, nil, "f6", false},
		{"ascii", "abc", "abc", "63616263", false},
		{"empty", "", "", "60", false},
		{"utf8", "ü€😀\u2028", "ü€😀\u2028", "", false},
		{"controls", "\x00\x1f\"\\/\x7f", "\x00\x1f\"\\/\x7f", "", false},
		{"long", long, long, "", false},
		{"long utf8", longU, longU, "", false},
		{"bytes", []byte("bin\xff\x00"), []byte("bin\xff\x00"), "4562696eff00", false},
		{"big bytes", bigBytes, bigBytes, "", false},
		{"ascii bytes", []byte("ascii"), "ascii", "456173636969", false},
		{"true", true, "1", "6131", false},
		{"false", false, "", "60", false},
		{"zero", 0, int64(0), "00", false},
		{"23", 23, int64(23), "17", false},
		{"24", 24, int64(24), "1818", false},
		{"-1", -1, int64(-1), "20", false},
		{"-25", -25, int64(-25), "3818", false},
		{"int32 max", int32(math.MaxInt32), int64(math.MaxInt32), "1a7fffffff", false},
		{"2^40", int64(1 << 40), int64(1 << 40), "1b0000010000000000", false},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64), "3b7fffffffffffffff", false},
		{"uint64 max", uint64(math.MaxUint64), Number("18446744073709551615"), "1bffffffffffffffff", false},
		{"uint8", uint8(200), int64(200), "18c8", false},
		{"float", 3.5, Number("3.5"), "fa40600000", false},
		{"float64", 0.1, Number("0.1"), "fb3fb999999999999a", false},
		{"integral float", 1.0, int64(1), "01", false},
		{"-0.0", math.Copysign(0, -1), Number("-0.0"), "fa80000000", false}, // CBOR::XS reads the double -0
		{"Number -0.0", Number("-0.0"), Number("-0.0"), "fa80000000", false},
		{"2^53", float64(1 << 53), Number("9.007199254740992e+15"), "fa5a000000", false},
		{"big float", 1e300, Number("1e+300"), "fb7e37e43c8800759c", false},
		{"tiny float", 5e-324, Number("5e-324"), "fb0000000000000001", false},
		{"float32", float32(0.1), Number("0.10000000149011612"), "fa3dcccccd", false},
		{"Number int", Number("42"), int64(42), "182a", false},
		{"Number huge", Number("1e400"), Number("Inf"), "fa7f800000", true},
		{"Number -0", Number("-0"), int64(0), "00", false},
		{"Number 2.0", Number("2.0"), int64(2), "02", false},
		{"Number frac", Number("0.5"), Number("0.5"), "fa3f000000", false},
		{"Number uint64", Number("18446744073709551615"), Number("18446744073709551615"), "1bffffffffffffffff", false},
		{"Number big int", Number("123456789012345678901234567890"), "123456789012345678901234567890", "", false},
		{"empty array", []any{}, []any{}, "80", false},
		{"nil slice", []any(nil), []any{}, "80", false},
		{"array", []any{1, "a", nil, []any{2}}, []any{int64(1), "a", nil, []any{int64(2)}}, "8401616" + "1f68102", false},
		{"map", map[string]any{"b": 1, "": []any{}, "a": map[string]any{}}, map[string]any{"b": int64(1), "": []any{}, "a": map[string]any{}}, "a3608061" + "61a0616201", false},
		{"utf8 keys", map[string]any{"ü": "x", "€": nil, "a": true}, map[string]any{"ü": "x", "€": nil, "a": "1"}, "", false},
		{"strings", []string{"a", "ü"}, []any{"a", "ü"}, "826161" + "62c3bc", false},
		{"string map", map[string]string{"k": "v"}, map[string]any{"k": "v"}, "a1616b6176", false},
		{"deep", deepArray(511), deepArray(511), "", false},
		{"deep map", deepMap(511), deepMap(511), "", false},
	}
	for _, tt := range tests {
		for _, port := range []string{"p", "", "ü", long} {
			out, err := CBOR.AppendMessage([]byte("pre"), port, []any{tt.in, "tail"})
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if string(out[:3]) != "pre" {
				t.Fatalf("%s: prefix clobbered", tt.name)
			}
			frame := out[3:]
			if tt.wire != "" && port == "p" {
				want := "83" + "6170" + tt.wire + "647461696c"
				if hex.EncodeToString(frame) != want {
					t.Errorf("%s: wire %x, want %s", tt.name, frame, want)
				}
			}
			m, args := decodeFrame(t, CBOR, frame)
			if m.PortString() != port {
				t.Errorf("%s: port %q", tt.name, m.Port())
			}
			if !reflect.DeepEqual(args, []any{tt.want, "tail"}) {
				t.Errorf("%s: got %#v, want %#v", tt.name, args[0], tt.want)
			}
			again, err := CBOR.AppendMessage(nil, port, args)
			if tt.noAgain {
				if !errors.Is(err, ErrInvalidValue) {
					t.Errorf("%s: re-encode: %v", tt.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: re-encode: %v", tt.name, err)
			}
			// bools come back as strings, ASCII byte strings as strings
			if _, isBool := tt.in.(bool); !bytes.Equal(again, frame) && !isBool && tt.name != "ascii bytes" {
				t.Errorf("%s: re-encoded\n%x\nwant\n%x", tt.name, again, frame)
			}
		}
	}
}

// TestCBOREncodeLikeJSON: for the same Go values, the cbor and json
// frames decode to the same values once numbers are compared as Perl
// would (json gives Number literals, cbor int64 or Number).
func TestCBOREncodeLikeJSON(t *testing.T) {
	args := []any{"a", []byte("\xfc"), true, false, nil, 7, -7, 1.5, uint64(math.MaxUint64), Number("1e3"),
		[]any{map[string]any{"k": []string{"v"}}}, struct {
			A int `json:"a"`
		}{3}}
	jf, err := JSON.AppendMessage(nil, "p", args)
	mustNil(t, err)
	cf, err := CBOR.AppendMessage(nil, "p", args)
	mustNil(t, err)
	_, ja := decodeFrame(t, JSON, jf)
	_, ca := decodeFrame(t, CBOR, cf)
	for i := range ja {
		js, jok := perlString(ja[i])
		cs, cok := perlString(ca[i])
		if jok != cok || js != cs {
			t.Errorf("arg %d: json %#v, cbor %#v", i, ja[i], ca[i])
		}
	}
}

// perlString is the string Perl would compare a decoded scalar as (bytes
// as Latin-1 text), or a structural rendering for containers.
func perlString(v any) (string, bool) {
	switch x := v.(type) {
	case []any:
		var b strings.Builder
		b.WriteByte('[')
		for _, e := range x {
			s, _ := perlString(e)
			b.WriteString(s + ",")
		}
		return b.String() + "]", true
	case map[string]any:
		var b strings.Builder
		b.WriteByte('{')
		for _, k := range sortedKeys(x) {
			s, _ := perlString(x[k])
			b.WriteString(k + ":" + s + ",")
		}
		return b.String() + "}", true
	case Number:
		if f, err := x.Float64(); err == nil && !x.IsInt() {
			return Number(cborFloatNumber(f)).String(), true
		}
	case nil:
		return "undef", true
	}
	return Text(v)
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCBOREncodeInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want error
	}{
		{"nan", math.NaN(), ErrInvalidValue},
		{"inf", math.Inf(1), ErrInvalidValue},
		{"float32 inf", float32(math.Inf(-1)), ErrInvalidValue},
		{"bad utf8", "a\xffb", ErrInvalidValue},
		{"bad utf8 key", map[string]any{"\xff": 1}, ErrInvalidValue},
		{"bad utf8 in []string", []string{"\xc3"}, ErrInvalidValue},
		{"bad Number", Number("01"), ErrInvalidValue},
		{"NaN Number", Number("NaN"), ErrInvalidValue},
		{"chan", make(chan int), ErrInvalidValue},
		{"too deep", deepArray(512), ErrTooDeep},
		{"too deep map", deepMap(512), ErrTooDeep},
	} {
		out, err := CBOR.AppendMessage([]byte("x"), "p", []any{1, tc.v})
		if !errors.Is(err, tc.want) || string(out) != "x" {
			t.Errorf("%s: %q %v", tc.name, out, err)
		}
		var e *Error
		if errors.As(err, &e) && e.Framing != "cbor" {
			t.Errorf("%s: framing %q", tc.name, e.Framing)
		}
	}
	if _, err := CBOR.AppendMessage(nil, "\xff", nil); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("bad port: %v", err)
	}
}

// cborBad are streams that must fail, with the error kind and the stream
// offset of the problem.
var cborBad = []struct {
	name   string
	hex    string
	want   error
	offset int64
}{
	{"top-level uint", "00", ErrNotArray, 0},
	{"top-level string", "6161", ErrNotArray, 0},
	{"top-level map", "a0", ErrNotArray, 0},
	{"top-level null", "f6", ErrNotArray, 0},
	{"second not array", "8100 a0", ErrNotArray, 2},
	{"top-level break", "ff", ErrMalformed, 0},
	{"break in definite array", "8201ff", ErrMalformed, 2},
	{"break after key", "81bf01ff", ErrMalformed, 3},
	{"break after tag", "9fd9d9f7ff", ErrMalformed, 4},
	{"reserved ai 28", "811c", ErrMalformed, 1},
	{"reserved ai 29 neg", "813d", ErrMalformed, 1},
	{"reserved ai 30 bytes", "815e", ErrMalformed, 1},
	{"reserved ai 28 top", "9c", ErrMalformed, 0},
	{"reserved simple fc", "81fc", ErrMalformed, 1},
	{"reserved simple fe", "81fe", ErrMalformed, 1},
	{"indefinite uint", "811f", ErrMalformed, 1},
	{"indefinite neg", "813f", ErrMalformed, 1},
	{"indefinite tag", "81df", ErrMalformed, 1},
	{"chunk of other type", "815f6161ff", ErrMalformed, 2},
	{"nested indefinite chunk", "817f7fffff", ErrMalformed, 2},
	{"array in indefinite string", "815f80ff", ErrMalformed, 2},
	// every two-byte simple value, known from the first byte (RFC 8949
	// calls those below 32 not well-formed; CBOR::XS refuses them all)
	{"two-byte simple 0", "81f800", ErrUnsupported, 1},
	{"two-byte simple 31", "81f81f", ErrUnsupported, 1},
	{"two-byte simple, cut", "81f8", ErrUnsupported, 1},
	{"simple 0", "81e0", ErrUnsupported, 1},
	{"simple 16", "81f0", ErrUnsupported, 1},
	{"simple 19", "81f3", ErrUnsupported, 1},
	{"simple 32", "81f820", ErrUnsupported, 1},
	{"simple 255", "81f8ff", ErrUnsupported, 1},
	{"top-level simple", "e0", ErrUnsupported, 0},
	{"tag 0 date", "81c0 74 323031332d30332d32315432303a30343a30305a", ErrUnsupported, 1},
	{"tag 1 epoch", "81c11a514b67b0", ErrUnsupported, 1},
	{"tag 2 bignum", "81c249010000000000000000", ErrUnsupported, 1},
	{"tag 26 perl object", "81d81a82634f626a80", ErrUnsupported, 1},
	{"tag 22098 indirection", "81d956528101", ErrUnsupported, 1},
	{"tag 28 shareable", "81d81c8101", ErrUnsupported, 1},
	{"tag 256 stringref ns", "81d90100 8161 61", ErrUnsupported, 1},
	{"tag on top", "c18100", ErrUnsupported, 0},
	{"tag after 55799", "81d9d9f7c100", ErrUnsupported, 4},
	{"tag as key", "81a1c10000", ErrUnsupported, 2},
	{"array key", "81a18000", ErrUnsupported, 2},
	{"map key", "81a1a0f6", ErrUnsupported, 2},
	// a chunk of another type is known from its first byte, before its
	// head is complete (CBOR::XS fails there too)
	{"chunk type, head cut", "817f623030fb", ErrMalformed, 5},
	// CBOR::XS dies on it: Types::Serialiser::error cannot be a key
	{"undefined key", "81a2f601f702", ErrUnsupported, 4},
	{"undefined key after tag", "81a1d9d9f7f700", ErrUnsupported, 5},
	{"indefinite array key", "81bf9fff00ff", ErrUnsupported, 2},
	{"after good ones", "8100 820102 8101 81e0", ErrUnsupported, 8},
}

func TestCBORBad(t *testing.T) {
	for _, c := range cborBad {
		stream := cborHex(t, c.hex)
		for _, how := range []struct {
			name   string
			chunks [][]byte
		}{{"whole", whole(stream)}, {"bytewise", bytewise(stream)}} {
			r := feed(t, CBOR, Limits{}, how.chunks)
			var e *Error
			if !errors.As(r.err, &e) || !errors.Is(r.err, c.want) || e.Framing != "cbor" {
				t.Errorf("%s %s: %v, want %v", c.name, how.name, r.err, c.want)
				continue
			}
			if e.Offset != c.offset {
				t.Errorf("%s %s: offset %d, want %d (%v)", c.name, how.name, e.Offset, c.offset, r.err)
			}
			if c.want == ErrUnsupported && e.Opcode != int(stream[c.offset]) {
				t.Errorf("%s: opcode %d", c.name, e.Opcode)
			}
			if strings.Contains(e.Error(), "\n") || !strings.HasPrefix(e.Error(), "framing: cbor: ") {
				t.Errorf("%s: error text %q", c.name, e.Error())
			}
		}
	}
}

// TestCBORAccepted: well-formed inputs that look odd but are AEMP data.
func TestCBORAccepted(t *testing.T) {
	for _, c := range []struct {
		name string
		hex  string
		args []any
	}{
		{"invalid utf8 text", "82 61 70 63 61 ff 62", []any{"a\uFFFD"}},
		{"surrogates", "82 61 70 66 ed a0 80 ed b0 80", []any{"\uFFFD\uFFFD"}},
		{"stray continuation", "82 61 70 63 80 80 62", []any{"\uFFFD\uFFFDb"}},
		{"encoded surrogate", "82 61 70 63 ed a0 80", []any{"\uFFFD"}},
		{"above U+10FFFF", "82 61 70 64 f4 90 80 80", []any{"\uFFFD"}},
		{"invalid utf8 key", "82 61 70 a1 61 ff 01", []any{map[string]any{"\uFFFD": int64(1)}}},
		{"latin1 byte key", "82 61 70 a1 41 e9 01", []any{map[string]any{"é": int64(1)}}},
		{"int keys", "82 61 70 a2 01 02 38 18 03", []any{map[string]any{"1": int64(2), "-25": int64(3)}}},
		{"scalar keys", "82 61 70 a4 f6 01 f5 02 f4 03 fa 3f c0 00 00 04", []any{map[string]any{"": int64(1), "1": int64(2), "0": int64(3), "1.5": int64(4)}}},
		// float keys as Perl writes the number ("%.15g"), not the shortest form
		{"float keys", "82 61 70 a2 fb 3f d5 55 55 55 55 55 55 01 fa 7f 80 00 00 02", []any{map[string]any{"0.333333333333333": int64(1), "Inf": int64(2)}}},
		{"duplicate keys", "82 61 70 a2 61 6b 01 41 6b 02", []any{map[string]any{"k": int64(2)}}},
		{"indefinite map", "82 61 70 bf 61 6b 01 ff", []any{map[string]any{"k": int64(1)}}},
		{"indefinite key", "82 61 70 bf 7f 61 6b ff 01 ff", []any{map[string]any{"k": int64(1)}}},
		{"float16 subnormal", "82 61 70 f9 00 01", []any{Number("5.960464477539063e-08")}},
		{"float16 max", "82 61 70 f9 7b ff", []any{Number("65504")}},
		{"float16 -inf", "82 61 70 f9 fc 00", []any{Number("-Inf")}},
		{"float16 nan", "82 61 70 f9 7e 00", []any{Number("NaN")}},
		{"float64 -0", "82 61 70 fb 80 00 00 00 00 00 00 00", []any{Number("-0.0")}},
		{"neg beyond int64", "82 61 70 3b 80 00 00 00 00 00 00 00", []any{Number("-9223372036854775809")}},
		{"tag 55799 everywhere", "d9 d9 f7 82 d9 d9 f7 61 70 d9 d9 f7 d9 d9 f7 a1 d9 d9 f7 61 6b d9 d9 f7 01", []any{map[string]any{"k": int64(1)}}},
		{"long-form 55799", "82 61 70 da 00 00 d9 f7 01", []any{int64(1)}},
		{"indefinite message", "9f 61 70 01 02 ff", []any{int64(1), int64(2)}},
		{"indefinite nested", "82 61 70 9f 9f ff bf ff 5f ff 7f ff ff", []any{[]any{[]any{}, map[string]any{}, "", ""}}},
	} {
		frame := cborHex(t, c.hex)
		m, args := decodeFrame(t, CBOR, frame)
		if m.PortString() != "p" || !reflect.DeepEqual(args, c.args) {
			t.Errorf("%s: %q %#v, want %#v", c.name, m.Port(), args, c.args)
		}
		for _, a := range args {
			checkValidText(t, c.name, a)
		}
	}
}

func checkValidText(t *testing.T, name string, v any) {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			t.Errorf("%s: invalid UTF-8 in %q", name, x)
		}
	case []any:
		for _, e := range x {
			checkValidText(t, name, e)
		}
	case map[string]any:
		for k, e := range x {
			checkValidText(t, name, k)
			checkValidText(t, name, e)
		}
	}
}

// TestCBORTruncated: every proper prefix of a valid stream is a partial
// message (n == 0, no error), also at every frame boundary.
func TestCBORTruncated(t *testing.T) {
	var frames [][]byte
	for _, v := range cborPerlVectors {
		frames = append(frames, cborHex(t, v.hex))
	}
	for _, f := range []string{"9f 7f 62 65 63 ff 5f 41 61 ff bf 61 6b 9f f9 3e 00 ff ff ff", "d9 d9 f7 82 d9 d9 f7 61 70 1b 00 00 00 00 00 00 00 01"} {
		frames = append(frames, cborHex(t, f))
	}
	for _, f := range frames {
		for k := 0; k < len(f); k++ {
			d := NewDecoder(CBOR, Limits{})
			if m, n, err := d.Next(f[:k]); n != 0 || err != nil || m.Valid() {
				t.Fatalf("%x[:%d]: n %d err %v", f, k, n, err)
			}
			// Resume with the whole frame after the partial call.
			if _, n, err := d.Next(f); n != len(f) || err != nil {
				t.Fatalf("%x after [:%d]: n %d err %v", f, k, n, err)
			}
		}
	}
}

// TestCBORHugeDeclared: a few bytes declaring gigantic strings, arrays or
// maps fail at once (default limit) or wait (huge limit), and never
// allocate more than a few bytes.
func TestCBORHugeDeclared(t *testing.T) {
	cases := []string{
		"9b ff ff ff ff ff ff ff ff",             // array of 2^64-1
		"81 5b 00 00 00 10 00 00 00 00",          // byte string of 64 GiB
		"81 7b 7f ff ff ff ff ff ff ff",          // text string of 2^63-1
		"81 bb 40 00 00 00 00 00 00 00",          // map of 2^62 pairs
		"81 9a ff ff ff ff",                      // array of 2^32-1
		"82 61 70 5f 5a ff ff ff ff",             // indefinite string chunk of 4 GiB
		"9f 9f 9f 9f 9b 00 00 00 10 00 00 00 00", // nested
		"81 ba 7f ff ff ff",                      // map of 2^31-1 pairs
	}
	for _, h := range cases {
		in := cborHex(t, h)
		for _, lim := range []Limits{{}, {MaxFrameSize: 1 << 40}, {MaxFrameSize: 1 << 62}} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d := NewDecoder(CBOR, lim)
			_, n, err := d.Next(in)
			runtime.ReadMemStats(&after)
			if n != 0 {
				t.Fatalf("%s: n %d", h, n)
			}
			if lim.MaxFrameSize == 0 && !errors.Is(err, ErrFrameTooLarge) {
				t.Errorf("%s: %v, want ErrFrameTooLarge", h, err)
			}
			if err != nil && !errors.Is(err, ErrFrameTooLarge) {
				t.Errorf("%s %d: %v", h, lim.MaxFrameSize, err)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<10 {
				t.Errorf("%s limit %d: allocated %d bytes", h, lim.MaxFrameSize, grown)
			}
			allocs := testing.AllocsPerRun(20, func() {
				d.Reset()
				d.Next(in)
			})
			if allocs > 8 {
				t.Errorf("%s: %v allocations per Next", h, allocs)
			}
		}
	}
	// A frame exactly at the limit passes, one byte more does not.
	frame, _ := AppendCBOR(nil, "p", []any{strings.Repeat("y", 100)})
	if r := feed(t, CBOR, Limits{MaxFrameSize: len(frame)}, whole(frame)); r.err != nil || len(r.raws) != 1 {
		t.Errorf("at the limit: %v", r.err)
	}
	for _, chunks := range [][][]byte{whole(frame), bytewise(frame)} {
		r := feed(t, CBOR, Limits{MaxFrameSize: len(frame) - 1}, chunks)
		if !errors.Is(r.err, ErrFrameTooLarge) {
			t.Errorf("over the limit: %v", r.err)
		}
	}
	// Many small items over the limit: found when the buffer passes it.
	many := append([]byte{0x9f}, bytes.Repeat([]byte{0}, 1000)...)
	if r := feed(t, CBOR, Limits{MaxFrameSize: 500}, whole(many)); !errors.Is(r.err, ErrFrameTooLarge) {
		t.Errorf("indefinite over the limit: %v", r.err)
	}
}

// TestCBORDepth: nesting is limited like json (the message array counts
// as 1), for arrays, maps and indefinite containers, without recursion
// in the splitter.
func TestCBORDepth(t *testing.T) {
	nest := func(open string, n int, inner string) []byte {
		return cborHex(t, strings.Repeat(open, n)+inner)
	}
	deep := []struct {
		name string
		in   []byte
	}{
		{"arrays", nest("81", 10000, "00")},
		{"indefinite", append(nest("9f", 10000, "00"), bytes.Repeat([]byte{0xff}, 10000)...)},
		{"maps", append(cborHex(t, "81"), nest("a1 00", 9999, "00")...)},
	}
	for _, c := range deep {
		r := feed(t, CBOR, Limits{}, whole(c.in))
		var e *Error
		if !errors.As(r.err, &e) || e.Err != ErrTooDeep {
			t.Errorf("%s: %v", c.name, r.err)
		}
		// With a limit that allows it, it decodes.
		r = feed(t, CBOR, Limits{MaxDepth: 10001}, whole(c.in))
		if r.err != nil || len(r.raws) != 1 {
			t.Errorf("%s with limit: %v", c.name, r.err)
		}
	}
	// Exactly the limit: 512 levels pass, 513 do not.
	if r := feed(t, CBOR, Limits{}, whole(nest("81", 512, "00"))); r.err != nil {
		t.Errorf("512: %v", r.err)
	}
	if r := feed(t, CBOR, Limits{}, whole(nest("81", 512, "80"))); !errors.Is(r.err, ErrTooDeep) {
		t.Errorf("513 (empty innermost): %v", r.err)
	}
	if r := feed(t, CBOR, Limits{MaxDepth: 3}, whole(cborHex(t, "83 61 70 81 00 a1 00 81 a0"))); !errors.Is(r.err, ErrTooDeep) {
		t.Errorf("map at 4: %v", r.err)
	}
}

// TestCBORResume: a partial frame is not rescanned; the scanner keeps its
// place at the last incomplete head.
func TestCBORResume(t *testing.T) {
	args := []any{strings.Repeat("a\"ü", 5000), map[string]any{"k": []any{1, 2.5, true}}, bytes.Repeat([]byte{0xff}, 30000)}
	msg, err := AppendCBOR(nil, "port", args)
	mustNil(t, err)
	d := NewDecoder(CBOR, Limits{})
	last := 0
	for k := 1; k < len(msg); k += 997 {
		if _, n, err := d.Next(msg[:k]); n != 0 || err != nil {
			t.Fatalf("partial %d: n %d err %v", k, n, err)
		}
		if d.cb.pos < last || d.cb.pos > k {
			t.Fatalf("after %d bytes the scanner is at %d (was %d)", k, d.cb.pos, last)
		}
		last = d.cb.pos
	}
	m, n, err := d.Next(msg)
	if err != nil || n != len(msg) || string(m.Port()) != "port" {
		t.Fatalf("n %d err %v port %q", n, err, m.Port())
	}
	got, err := m.Args()
	mustNil(t, err)
	want := []any{args[0], map[string]any{"k": []any{int64(1), Number("2.5"), "1"}}, args[2]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("args %#v", got)
	}
}

// TestCBORSplitEverywhere: a stream of many different messages (encoded
// ones, Perl's, the odd wire forms) gives the same messages for every
// split into two reads and byte by byte; the error after them too.
func TestCBORSplitEverywhere(t *testing.T) {
	var stream []byte
	count := 0
	for _, args := range [][]any{
		nil, {"x"}, {1, -1, 1.5, nil, true}, {[]any{[]any{}}, map[string]any{"a": map[string]any{"b": []byte{0xfe}}}},
		{strings.Repeat("long", 100)}, {uint64(math.MaxUint64), int64(math.MinInt64), 0.1},
	} {
		f, err := AppendCBOR(nil, "p", args)
		mustNil(t, err)
		stream = append(stream, f...)
		count++
	}
	for _, v := range cborPerlVectors {
		stream = append(stream, cborHex(t, v.hex)...)
		count++
	}
	stream = append(stream, cborHex(t, "9f 7f 61 70 ff bf 5f 41 6b ff 9f f9 3e 00 ff ff ff")...)
	count++
	checkCBORSplits(t, stream, count)
	// and with a bad frame at the end
	bad := append(bytes.Clone(stream), cborHex(t, "82 61 70 d8 1a 00")...)
	ref := feed(t, CBOR, Limits{}, whole(bad))
	if len(ref.raws) != count || !errors.Is(ref.err, ErrUnsupported) {
		t.Fatalf("%d messages, %v", len(ref.raws), ref.err)
	}
	for k := 1; k < len(bad); k += 7 {
		if err := sameResult(ref, feed(t, CBOR, Limits{}, split2(bad, k))); err != nil {
			t.Fatalf("split at %d: %v", k, err)
		}
	}
	if err := sameResult(ref, feed(t, CBOR, Limits{}, bytewise(bad))); err != nil {
		t.Fatal(err)
	}
}

// TestCBORStickyError: after an error Next keeps returning it until
// Reset, and Offset counts consumed bytes.
func TestCBORStickyError(t *testing.T) {
	d := NewDecoder(CBOR, Limits{})
	in := cborHex(t, "81 00 00")
	_, n, err := d.Next(in)
	if n != 2 || err != nil || d.Offset() != 2 {
		t.Fatal(n, err)
	}
	_, _, err = d.Next(in[2:])
	if !errors.Is(err, ErrNotArray) {
		t.Fatal(err)
	}
	if _, _, err2 := d.Next(in[:2]); err2 != err {
		t.Fatal(err2)
	}
	d.Reset()
	if _, n, err := d.Next(in); n != 2 || err != nil || d.Offset() != 2 {
		t.Fatal(n, err)
	}
}

func TestCBORScalarArgs(t *testing.T) {
	for _, c := range []struct {
		hex    string
		n, len int
		first  string
		ok     bool
	}{
		{"82 64 73 69 6e 6b 65 63 61 66 c3 a9", 1, 4, "café", true},
		{"84 44 73 69 6e 6b 44 63 61 66 e9 19 01 00 38 18", 3, 4 + 3 + 3, "", true},
		{"85 44 73 69 6e 6b 41 78 f6 f5 3b ff ff ff ff ff ff ff ff", 4, 1 + 1 + 21, "x", true},
		{"9f 44 73 69 6e 6b 46 72 65 70 6f 72 74 61 78 ff", 2, 7, "report", true},
		{"81 44 73 69 6e 6b", 0, 0, "", true},
		{"82 44 73 69 6e 6b fa 3f c0 00 00", 0, 0, "", false},
		{"82 44 73 69 6e 6b 80", 0, 0, "", false},
		{"82 44 73 69 6e 6b 7f ff", 0, 0, "", false},
	} {
		m, args := decodeFrame(t, CBOR, cborHex(t, c.hex))
		n, length, first, ok := m.ScalarArgs()
		if n != c.n || length != c.len || string(first) != c.first || ok != c.ok {
			t.Errorf("%s: %d %d %q %v", c.hex, n, length, first, ok)
		}
		if ok {
			want := 0
			for _, a := range args {
				l, _ := perlLength(a)
				want += l
			}
			if want != length || n != len(args) {
				t.Errorf("%s: decoded %#v: length %d", c.hex, args, want)
			}
		}
	}
}

// TestCBORNoAllocSplit: the splitter and Port allocate nothing per
// message in the steady state.
func TestCBORNoAllocSplit(t *testing.T) {
	frame, _ := AppendCBOR(nil, benchPort, benchArgs)
	d := NewDecoder(CBOR, Limits{})
	allocs := testing.AllocsPerRun(100, func() {
		m, n, err := d.Next(frame)
		if err != nil || n != len(frame) || string(m.Port()) != benchPort {
			t.Fatal(n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message", allocs)
	}
	out := make([]byte, 0, 256)
	allocs = testing.AllocsPerRun(100, func() {
		out, _ = AppendCBOR(out[:0], benchPort, benchArgs)
	})
	if allocs != 0 {
		t.Errorf("encode: %v allocations", allocs)
	}
}

func TestCBORNoAlias(t *testing.T) {
	args := []any{"str", []byte("b\xff"), map[string]any{"key": "val", "ü": []any{"x"}}, 1.5}
	frame, err := AppendCBOR(nil, "port", args)
	mustNil(t, err)
	m, _, err := NewDecoder(CBOR, Limits{}).Next(frame)
	mustNil(t, err)
	got, err := m.Args()
	mustNil(t, err)
	want := deepCopy(got)
	for i := range frame {
		frame[i] = 0xEE
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values alias the buffer: %#v", got)
	}
}

func TestCBORFloat16(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0x3e00, 1.5}, {0xc000, -2}, {0x7bff, 65504}, {0x0400, math.Ldexp(1, -14)},
		{0x0001, math.Ldexp(1, -24)}, {0x03ff, math.Ldexp(1023, -24)}, {0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
		{0x3555, 0.333251953125},
	} {
		if got := float16ToFloat64(c.h); got != c.want {
			t.Errorf("%04x: %v, want %v", c.h, got, c.want)
		}
	}
	if !math.IsNaN(float16ToFloat64(0x7e00)) || !math.Signbit(float16ToFloat64(0x8000)) {
		t.Error("NaN / -0")
	}
}
