package framing

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkJSONCase compares a feed with the case's expectation.
func checkJSONCase(t *testing.T, c jsonCase, how string, r feedResult) {
	t.Helper()
	if len(r.raws) != len(c.messages) {
		t.Fatalf("%s: %d messages, want %d (err %v)", how, len(r.raws), len(c.messages), r.err)
	}
	for i := range r.raws {
		if !bytes.Equal(r.raws[i], c.messages[i]) {
			t.Fatalf("%s: message %d = %q, want %q", how, i, r.raws[i], c.messages[i])
		}
	}
	switch c.errKind {
	case "":
		if r.err != nil || len(bytes.Trim(c.stream[len(c.stream)-r.pending:], " \t\r\n")) != 0 {
			t.Fatalf("%s: err %v, pending %d; want none", how, r.err, r.pending)
		}
	case "eof":
		if r.err != nil || len(bytes.Trim(c.stream[len(c.stream)-r.pending:], " \t\r\n")) == 0 {
			t.Fatalf("%s: err %v, pending %d; want a partial message", how, r.err, r.pending)
		}
	case "aemp":
		if !errors.Is(r.err, ErrNotArray) {
			t.Fatalf("%s: err %v, want ErrNotArray", how, r.err)
		}
	case "json":
		if !errors.Is(r.err, ErrMalformed) && !errors.Is(r.err, ErrTooDeep) {
			t.Fatalf("%s: err %v, want ErrMalformed or ErrTooDeep", how, r.err)
		}
	default:
		t.Fatalf("unknown error kind %q", c.errKind)
	}
}

func TestJSONVectors(t *testing.T) {
	for _, c := range loadJSONCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ref := feed(t, JSON, Limits{}, whole(c.stream))
			checkJSONCase(t, c, "whole", ref)
			checkJSONCase(t, c, "bytewise", feed(t, JSON, Limits{}, bytewise(c.stream)))
			// every 2-way split; for the one stream over 8 KiB (70000
			// bytes) 400 of them plus the first and last 300 (quadratic
			// otherwise)
			step := 1
			if len(c.stream) > 8192 {
				step = len(c.stream) / 400
			}
			for k := 0; k <= len(c.stream); k++ {
				if k > 300 && k < len(c.stream)-300 && k%step != 0 {
					continue
				}
				r := feed(t, JSON, Limits{}, split2(c.stream, k))
				if err := sameResult(ref, r); err != nil {
					t.Fatalf("split at %d: %v", k, err)
				}
			}
			if c.lenient {
				return
			}
			// ports and arguments agree with encoding/json
			for i, raw := range ref.raws {
				var all []any
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&all); err != nil {
					t.Fatalf("encoding/json: %v", err)
				}
				all = fromStdJSON(all).([]any)
				wantPort := ""
				if len(all) > 0 {
					switch p := all[0].(type) {
					case string:
						wantPort = p
					case Number:
						wantPort = string(p)
					case bool:
						wantPort = map[bool]string{true: "1", false: "0"}[p]
					case []any:
						wantPort = "ARRAY(0x0)"
					case map[string]any:
						wantPort = "HASH(0x0)"
					}
				}
				if ref.ports[i] != wantPort {
					t.Errorf("message %d: port %q, want %q", i, ref.ports[i], wantPort)
				}
				var wantArgs []any
				if len(all) > 1 {
					wantArgs = all[1:]
				}
				if !reflect.DeepEqual(ref.args[i], wantArgs) {
					t.Errorf("message %d: args %#v, want %#v", i, ref.args[i], wantArgs)
				}
			}
		})
	}
}

// fromStdJSON converts encoding/json's UseNumber output to the value model.
func fromStdJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		return Number(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromStdJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = fromStdJSON(e)
		}
		return out
	}
	return v
}

// TestJSONReencode checks that decoding what JSON::XS wrote and encoding
// it again gives the same bytes (escaping and numbers like JSON::XS).
func TestJSONReencode(t *testing.T) {
	same := map[string]bool{
		"single": true, "back_to_back": true, "captured_session": true,
		"brackets_in_strings": true, "quote_escapes": true, "string_ends_backslash": true,
		"utf8_raw": true, "control_escapes": true, "numbers_perl_writes": true,
		"large_message": true, "many_messages": true, "whitespace_between": true,
	}
	seen := 0
	for _, c := range loadJSONCases(t) {
		if !same[c.name] {
			continue
		}
		seen++
		r := feed(t, JSON, Limits{}, whole(c.stream))
		for i, raw := range r.raws {
			out, err := AppendJSON(nil, r.ports[i], r.args[i])
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !bytes.Equal(out, raw) {
				t.Errorf("%s: re-encoded %q, want %q", c.name, out, raw)
			}
		}
	}
	if seen != len(same) {
		t.Fatalf("only %d of %d cases found", seen, len(same))
	}
}

func TestJSONPort(t *testing.T) {
	tests := []struct {
		in       string
		port     string
		routable bool
		zeroCopy bool
		args     []any
	}{
		{`["sink","a"]`, "sink", true, true, []any{"a"}},
		{`[ "sink" , 1 ]`, "sink", true, true, []any{Number("1")}},
		{`[]`, "", true, false, nil},
		{`[ ]`, "", true, false, nil},
		{`[null,"x"]`, "", true, false, []any{"x"}},
		{`[""]`, "", true, true, nil},
		{`["a\"b\\c\u00fc",2]`, "a\"b\\cü", true, false, []any{Number("2")}},
		{`["\ud83d\ude00"]`, "😀", true, false, nil},
		{`[123,"x"]`, "123", true, true, []any{"x"}},
		{`[-1.5e3]`, "-1500", true, false, nil}, // the number as Perl writes it
		{`[1.0,2]`, "1", true, false, []any{Number("2")}},
		{`[-0]`, "0", true, false, nil},
		{`[0.1]`, "0.1", true, true, nil},
		{`[18446744073709551616]`, "18446744073709551616", true, true, nil},
		{`[1e400]`, "Inf", true, false, nil},
		{`[true,1]`, "1", true, false, []any{Number("1")}},
		{`[false]`, "0", true, false, nil},
		{`[["a"],1]`, "ARRAY(0x0)", false, false, []any{Number("1")}},
		{`[{"a":1},{"b":[]}]`, "HASH(0x0)", false, false, []any{map[string]any{"b": []any{}}}},
		{`["p",[],{},[[]]]`, "p", true, true, []any{[]any{}, map[string]any{}, []any{[]any{}}}},
	}
	for _, tt := range tests {
		d := NewDecoder(JSON, Limits{})
		buf := []byte(tt.in)
		m, n, err := d.Next(buf)
		if err != nil || n != len(buf) {
			t.Fatalf("%s: n %d err %v", tt.in, n, err)
		}
		if got := string(m.Port()); got != tt.port {
			t.Errorf("%s: port %q, want %q", tt.in, got, tt.port)
		}
		if m.Routable() != tt.routable {
			t.Errorf("%s: routable %v", tt.in, m.Routable())
		}
		p := m.Port()
		inRaw := len(p) > 0 && &p[0] == &buf[m.portOff]
		if tt.zeroCopy && len(tt.port) > 0 && !inRaw {
			t.Errorf("%s: port was copied", tt.in)
		}
		args, err := m.Args()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(args, tt.args) {
			t.Errorf("%s: args %#v, want %#v", tt.in, args, tt.args)
		}
		// Clone survives the buffer being overwritten.
		cl := m.Clone()
		for i := range buf {
			buf[i] = 'x'
		}
		if string(cl.Port()) != tt.port || string(cl.Raw()) != tt.in {
			t.Errorf("%s: clone %q %q", tt.in, cl.Port(), cl.Raw())
		}
		if args2, _ := cl.Args(); !reflect.DeepEqual(args2, tt.args) {
			t.Errorf("%s: clone args %#v", tt.in, args2)
		}
		// Decoded values do not alias the (overwritten) buffer.
		if !reflect.DeepEqual(args, tt.args) {
			t.Errorf("%s: args changed with the buffer: %#v", tt.in, args)
		}
	}
}

func TestJSONLimits(t *testing.T) {
	// A partial frame over the limit fails at once, before the rest arrives.
	d := NewDecoder(JSON, Limits{MaxFrameSize: 16})
	if _, n, err := d.Next([]byte(`["0123456789`)); n != 0 || err != nil {
		t.Fatalf("n %d err %v", n, err)
	}
	_, _, err := d.Next([]byte(`["0123456789abcdef`))
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err %v, want ErrFrameTooLarge", err)
	}
	// the error sticks
	if _, _, err2 := d.Next([]byte(`[]`)); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
	d.Reset()
	if _, _, err := d.Next([]byte(`["0123456789abc"]`)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("17 bytes: err %v", err)
	}
	// exactly the limit is fine
	d = NewDecoder(JSON, Limits{MaxFrameSize: 16})
	if _, n, err := d.Next([]byte(`["0123456789ab"]`)); n != 16 || err != nil {
		t.Fatalf("n %d err %v", n, err)
	}
	// whitespace counts
	d = NewDecoder(JSON, Limits{MaxFrameSize: 16})
	if _, _, err := d.Next([]byte(strings.Repeat(" ", 17))); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("whitespace: %v", err)
	}
	// depth
	d = NewDecoder(JSON, Limits{MaxDepth: 3})
	if _, n, err := d.Next([]byte(`[[[1]],{"a":[2]}]`)); n == 0 || err != nil {
		t.Fatalf("depth 3: n %d err %v", n, err)
	}
	d = NewDecoder(JSON, Limits{MaxDepth: 3})
	if _, _, err := d.Next([]byte(`[{"a":[[2]]}]`)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("depth 4: %v", err)
	}
	// deep limits beyond 64 levels (the bit stack spans words)
	deep := strings.Repeat("[", 200) + strings.Repeat("{\"k\":", 1) + "1}" + strings.Repeat("]", 200)
	d = NewDecoder(JSON, Limits{MaxDepth: 201})
	if _, n, err := d.Next([]byte(deep)); n != len(deep) || err != nil {
		t.Fatalf("deep: n %d err %v", n, err)
	}
	d = NewDecoder(JSON, Limits{MaxDepth: 200})
	if _, _, err := d.Next([]byte(deep)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep 200: %v", err)
	}
}

func TestJSONSyntaxErrors(t *testing.T) {
	bad := []string{
		`[1,]`, `[,1]`, `[1 2]`, `[1:2]`, `[{"a"}]`, `[{"a":}]`, `[{1:2}]`, `[{"a":1,}]`,
		`["\x"]`, `["\u12"]`, `["\u12g4"]`, `["\udc00"]`, `["\ud800\u0041"]`, `["\ud800x"]`,
		`["\ud800\ud800"]`, "[\"a\x1fb\"]", "[\"\xc0\xaf\"]", "[\"\xe0\x80\x80\"]", "[\"\xf0\x80\x80\x80\"]",
		"[\"\xf8\x88\x80\x80\x80\"]", "[\"\xf9\x80\x80\x80\x80\"]", "[\"\xc3\"]", "[\"\xc3x\"]", "[\"\x80\"]",
		`[01]`, `[-]`, `[-a]`, `[1.]`, `[1.e3]`, `[1e]`, `[1e+]`, `[.5]`, `[+1]`, `[0x10]`,
		`[tru]`, `[truex]`, `[nul]`, `[NaN]`, `[Infinity]`, `[-Infinity]`, `[inf]`,
		`[1}`, `[{"a":1]`, `[}`, `['a']`, `[1]]`, "[1]\x00", "\xef\xbb\xbf[1]", `[1]x`,
	}
	for _, s := range bad {
		r := feed(t, JSON, Limits{}, whole([]byte(s)))
		if r.err == nil {
			t.Errorf("%q: no error (messages %q)", s, r.raws)
			continue
		}
		var e *Error
		if !errors.As(r.err, &e) || e.Framing != "json" || e.Offset < 0 {
			t.Errorf("%q: error %#v", s, r.err)
		}
		if !errors.Is(r.err, ErrMalformed) {
			t.Errorf("%q: %v is not ErrMalformed", s, r.err)
		}
		rb := feed(t, JSON, Limits{}, bytewise([]byte(s)))
		if err := sameResult(r, rb); err != nil {
			t.Errorf("%q bytewise: %v", s, err)
		}
	}
	good := []string{
		`[1.5e+3,-0,0.0,-0.5E-7,1E2]`, `["\/\b\f\n\r\t\"\\"]`, `["\uD83D\uDE00"]`, "[\"\xed\xa0\x80\"]",
		"[\"\xf4\x8f\xbf\xbf\",\"\xf4\xbf\xbf\xbf\"]", "\t[ {\r\n\"a\" : [ true , false , null ] } ]\n",
	}
	for _, s := range good {
		r := feed(t, JSON, Limits{}, whole([]byte(s)))
		if r.err != nil || len(r.raws) != 1 {
			t.Errorf("%q: err %v, %d messages", s, r.err, len(r.raws))
		}
	}
}

func TestJSONLenientStrings(t *testing.T) {
	// JSON::XS accepts encoded surrogates and 4-byte sequences beyond
	// U+10FFFF (up to F7 BF BF BF); the decoded string is valid UTF-8,
	// one U+FFFD for each such Perl character.
	r := feed(t, JSON, Limits{}, whole([]byte("[\"p\xed\xa0\x80\",\"a\xed\xa0\x80b\",\"\\u00e9\xf4\x90\x80\x80\","+
		"\"\xed\xa0\x80\xed\xb0\x80\",\"\xf5\x80\x80\x80\xf7\xbf\xbf\xbfx\"]")))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.ports[0] != "p\xed\xa0\x80" {
		t.Errorf("port %q", r.ports[0])
	}
	want := []any{"a\uFFFDb", "é\uFFFD", "\uFFFD\uFFFD", "\uFFFD\uFFFDx"}
	if !reflect.DeepEqual(r.args[0], want) {
		t.Errorf("args %q, want %q", r.args[0], want)
	}
}

func TestJSONEncode(t *testing.T) {
	type named string
	type point struct {
		X int    `json:"x"`
		Y string `json:"y,omitempty"`
		B bool   `json:"b"`
	}
	seven := 7
	tests := []struct {
		port string
		args []any
		want string
	}{
		{"", nil, `[""]`},
		{"sink", []any{"aaaa"}, `["sink","aaaa"]`},
		{"p", []any{nil, true, false, 0, -1, int8(-128), uint64(math.MaxUint64), int64(math.MinInt64)},
			`["p",null,"1","",0,-1,-128,18446744073709551615,-9223372036854775808]`},
		{"p", []any{1.0, math.Copysign(0, -1), 3.5, 0.1, 1e20, 1e-7, float64(1 << 53), float32(0.1), 123456789.5},
			`["p",1,-0.0,3.5,0.1,1e+20,1e-07,9.007199254740992e+15,0.1,1.234567895e+08]`}, // -0 would be JSON::XS's integer 0
		{"p", []any{Number("1e400"), json.Number("-12345678901234567890123")}, `["p",1e400,-12345678901234567890123]`},
		{"p", []any{"\"\\\n\t\b\f\r\x01\x1f\x7f/ü€😀\u2028"}, "[\"p\",\"\\\"\\\\\\n\\t\\b\\f\\r\\u0001\\u001f\x7f/ü€😀\u2028\"]"},
		{"p", []any{[]byte("a\xfc\x00\"")}, "[\"p\",\"a\xc3\xbc\\u0000\\\"\"]"},
		{"p", []any{[]any{}, map[string]any{}, []any{[]any{1}}}, `["p",[],{},[[1]]]`},
		{"p", []any{map[string]any{"b": 1, "a": []any{"x"}, "": nil}}, `["p",{"":null,"a":["x"],"b":1}]`},
		{"p", []any{[]string{"a", "b"}, map[string]string{"k": "v"}}, `["p",["a","b"],{"k":"v"}]`},
		{"p", []any{named("n"), []int{1, 2}, [2]bool{true, false}, &seven, (*int)(nil), map[string]int{"z": 1}},
			`["p","n",[1,2],["1",""],7,null,{"z":1}]`},
		{"p", []any{point{X: 1, B: true}, &point{Y: "y"}}, `["p",{"b":"1","x":1},{"b":"","x":0,"y":"y"}]`},
		{"p", []any{json.RawMessage(`{"r":[1, 2]}`)}, `["p",{"r":[1,2]}]`},
	}
	for _, tt := range tests {
		prefix := []byte("xyz")
		got, err := AppendJSON(prefix, tt.port, tt.args)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if string(got[3:]) != tt.want || string(got[:3]) != "xyz" {
			t.Errorf("got  %s\nwant %s", got[3:], tt.want)
		}
		// valid JSON that the splitter accepts
		if r := feed(t, JSON, Limits{}, whole(got[3:])); r.err != nil || len(r.raws) != 1 {
			t.Errorf("%s: splitter: %v", got[3:], r.err)
		}
	}
}

func deepArray(n int) any {
	var v any = []any{}
	for i := 1; i < n; i++ {
		v = []any{v}
	}
	return v
}

func deepMap(n int) any {
	var v any = map[string]any{}
	for i := 1; i < n; i++ {
		v = map[string]any{"k": v}
	}
	return v
}

// invalidValues must be refused by both encoders.
func invalidValues() []struct {
	name string
	args []any
	want error
} {
	selfRef := []any{nil}
	selfRef[0] = selfRef
	selfMap := map[string]any{}
	selfMap["m"] = selfMap
	type T *T
	var ptrLoop T
	ptrLoop = &ptrLoop
	return []struct {
		name string
		args []any
		want error
	}{
		{"nan", []any{math.NaN()}, ErrInvalidValue},
		{"inf", []any{math.Inf(1)}, ErrInvalidValue},
		{"-inf32", []any{float32(math.Inf(-1))}, ErrInvalidValue},
		{"bad utf8", []any{"a\xffb"}, ErrInvalidValue},
		{"surrogate utf8", []any{"\xed\xa0\x80"}, ErrInvalidValue},
		{"bad utf8 key", []any{map[string]any{"\xff": 1}}, ErrInvalidValue},
		{"bad utf8 nested", []any{[]any{1, []string{"\xc3"}}}, ErrInvalidValue},
		{"bad number", []any{Number("01")}, ErrInvalidValue},
		{"bad number2", []any{Number("1e")}, ErrInvalidValue},
		{"number injection", []any{Number("1,2")}, ErrInvalidValue},
		{"empty number", []any{Number("")}, ErrInvalidValue},
		{"chan", []any{make(chan int)}, ErrInvalidValue},
		{"func", []any{func() {}}, ErrInvalidValue},
		{"int map", []any{map[int]string{1: "a"}}, ErrInvalidValue},
		{"deep 512 args", []any{deepArray(512)}, ErrTooDeep},
		{"deep 512 maps", []any{deepMap(512)}, ErrTooDeep},
		{"self ref", []any{selfRef}, ErrTooDeep},
		{"self map", []any{selfMap}, ErrTooDeep},
		{"pointer loop", []any{ptrLoop}, ErrTooDeep},
	}
}

func TestEncodeInvalid(t *testing.T) {
	for _, codec := range []Codec{JSON, Storable} {
		for _, tt := range invalidValues() {
			dst := []byte("keep")
			out, err := codec.AppendMessage(dst, "p", tt.args)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s %s: err %v, want %v", codec.Name(), tt.name, err, tt.want)
			}
			if string(out) != "keep" {
				t.Errorf("%s %s: dst changed to %q", codec.Name(), tt.name, out)
			}
		}
		if _, err := codec.AppendMessage(nil, "p\xff", nil); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s: invalid port: %v", codec.Name(), err)
		}
		// 511 levels of args + the message array = 512: fine
		out, err := codec.AppendMessage(nil, "p", []any{deepArray(511)})
		if err != nil {
			t.Fatalf("%s: depth 512: %v", codec.Name(), err)
		}
		if r := feed(t, codec, Limits{}, whole(out)); r.err != nil {
			t.Errorf("%s: depth 512 does not decode: %v", codec.Name(), r.err)
		}
	}
}

// TestJSONResume checks that a partial frame is not rescanned: the scanner
// remembers how far it got.
func TestJSONResume(t *testing.T) {
	msg := []byte(`["port","` + strings.Repeat("a\\\"ü", 5000) + `",{"k":[1,2.5e3,true]}]`)
	d := NewDecoder(JSON, Limits{})
	for k := 1; k < len(msg); k += 997 {
		if _, n, err := d.Next(msg[:k]); n != 0 || err != nil {
			t.Fatalf("partial %d: n %d err %v", k, n, err)
		}
		if d.js.pos != k {
			t.Fatalf("after %d bytes the scanner is at %d", k, d.js.pos)
		}
	}
	m, n, err := d.Next(msg)
	if err != nil || n != len(msg) || string(m.Port()) != "port" {
		t.Fatalf("n %d err %v port %q", n, err, m.Port())
	}
}

// appendJSONStringBytewise is appendJSONString without the 8-byte fast
// path: the reference for TestAppendJSONStringFastPath.
func appendJSONStringBytewise(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonEscape[c] == 0 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst, encodeError("json", ErrInvalidValue, "string is not valid UTF-8")
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// TestAppendJSONStringFastPath compares the encoder with the byte-wise
// reference on strings that put every special byte (controls, '"', '\\',
// DEL, UTF-8 lead and continuation bytes, invalid UTF-8) at every position
// of an 8-byte group, and on random strings.
func TestAppendJSONStringFastPath(t *testing.T) {
	specials := []string{"\x00", "\x1f", "\n", "\"", "\\", "\x7f", " ", "~", "é", "€", "😀", "\xff", "\xc3", "\x80"}
	check := func(s string) {
		t.Helper()
		got, gerr := appendJSONString(nil, s)
		want, werr := appendJSONStringBytewise(nil, s)
		if (gerr == nil) != (werr == nil) || gerr == nil && string(got) != string(want) {
			t.Fatalf("%q: got %q (%v), want %q (%v)", s, got, gerr, want, werr)
		}
	}
	base := "abcdefghijklmnopqrstuvwxyz0123456789"
	for _, sp := range specials {
		for pos := 0; pos <= 24; pos++ {
			check(base[:pos] + sp + base[pos:])
			check(base[:pos] + sp)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc \"\\\x01\x7f\xc3\xa9\xe2\x82\xac\xff")
	for n := 0; n < 20000; n++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = byte('A' + rng.IntN(26))
			}
		}
		check(string(b))
	}
}

func BenchmarkJSONEncodeString1K(b *testing.B) {
	s := strings.Repeat("x", 1024)
	args := []any{s}
	var out []byte
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		out, _ = JSON.AppendMessage(out[:0], "sink", args)
	}
}
