package framing

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300)
	longU := strings.Repeat("€", 100)
	tests := []struct {
		name     string
		in       any
		json     any // what Args gives back after json framing
		storable any // ... after storable framing
	}{
		{"nil", nil, nil, nil},
		{"ascii", "abc", "abc", "abc"},
		{"empty", "", "", ""},
		{"utf8", "ü€😀\u2028", "ü€😀\u2028", "ü€😀\u2028"},
		{"controls", "\x00\x1f\"\\/\x7f", "\x00\x1f\"\\/\x7f", "\x00\x1f\"\\/\x7f"},
		{"long", long, long, long},
		{"long utf8", longU, longU, longU},
		{"bytes", []byte("bin\xff\x00"), "binÿ\x00", []byte("bin\xff\x00")},
		{"ascii bytes", []byte("ascii"), "ascii", "ascii"},
		{"true", true, "1", "1"},
		{"false", false, "", ""},
		{"zero", 0, Number("0"), int64(0)},
		{"byte", -128, Number("-128"), int64(-128)},
		{"netint", -129, Number("-129"), int64(-129)},
		{"int32 max", int32(math.MaxInt32), Number("2147483647"), int64(math.MaxInt32)},
		{"2^40", int64(1 << 40), Number("1099511627776"), "1099511627776"},
		{"int64 min", int64(math.MinInt64), Number("-9223372036854775808"), "-9223372036854775808"},
		{"uint64 max", uint64(math.MaxUint64), Number("18446744073709551615"), "18446744073709551615"},
		{"uint8", uint8(200), Number("200"), int64(200)},
		{"float", 3.5, Number("3.5"), "3.5"},
		{"integral float", 1.0, Number("1"), int64(1)},
		{"big float", 1e300, Number("1e+300"), "1e+300"},
		{"tiny float", 5e-324, Number("5e-324"), "5e-324"},
		{"float32", float32(0.1), Number("0.1"), "0.1"},
		{"Number huge", Number("1e400"), Number("1e400"), "1e400"},
		{"Number -0", Number("-0"), Number("-0"), int64(0)},
		{"Number 2.0", Number("2.0"), Number("2.0"), int64(2)},
		{"Number big int", Number("123456789012345678901234567890"), Number("123456789012345678901234567890"), "123456789012345678901234567890"},
		{"empty array", []any{}, []any{}, []any{}},
		{"nil slice", []any(nil), []any{}, []any{}},
		{"array", []any{1, "a", nil, []any{2}}, []any{Number("1"), "a", nil, []any{Number("2")}},
			[]any{int64(1), "a", nil, []any{int64(2)}}},
		{"map", map[string]any{"a": 1, "": []any{}, "b": map[string]any{}},
			map[string]any{"a": Number("1"), "": []any{}, "b": map[string]any{}},
			map[string]any{"a": int64(1), "": []any{}, "b": map[string]any{}}},
		{"utf8 keys", map[string]any{"ü": "x", "€": nil, "a": true},
			map[string]any{"ü": "x", "€": nil, "a": "1"},
			map[string]any{"ü": "x", "€": nil, "a": "1"}},
		{"strings", []string{"a", "ü"}, []any{"a", "ü"}, []any{"a", "ü"}},
		{"string map", map[string]string{"k": "v"}, map[string]any{"k": "v"}, map[string]any{"k": "v"}},
		{"deep", deepArray(511), deepArray(511), deepArray(511)},
	}
	for _, tt := range tests {
		for _, codec := range []Codec{JSON, Storable} {
			want := tt.json
			if codec == Storable {
				want = tt.storable
			}
			for _, port := range []string{"p", "", "ü", long} {
				out, err := codec.AppendMessage([]byte("pre"), port, []any{tt.in, "tail"})
				if err != nil {
					t.Fatalf("%s %s: %v", codec.Name(), tt.name, err)
				}
				if string(out[:3]) != "pre" {
					t.Fatalf("%s %s: prefix clobbered", codec.Name(), tt.name)
				}
				m, args := decodeFrame(t, codec, out[3:])
				if string(m.Port()) != port {
					t.Errorf("%s %s: port %q", codec.Name(), tt.name, m.Port())
				}
				if !reflect.DeepEqual(args, []any{want, "tail"}) {
					t.Errorf("%s %s: got %#v, want %#v", codec.Name(), tt.name, args[0], want)
				}
				// decode -> encode -> same bytes
				again, err := codec.AppendMessage(nil, port, args)
				if err != nil {
					t.Fatalf("%s %s: re-encode: %v", codec.Name(), tt.name, err)
				}
				if !bytes.Equal(again, out[3:]) {
					t.Errorf("%s %s: re-encoded\n%x\nwant\n%x", codec.Name(), tt.name, again, out[3:])
				}
			}
		}
	}
}

// TestMessageNoAlias checks that decoded values survive the read buffer
// being reused, for every framing.
func TestMessageNoAlias(t *testing.T) {
	args := []any{"str", []byte("b\xff"), map[string]any{"key": "val", "ü": []any{"x"}}, Number("1")}
	for _, codec := range All() {
		frame, err := codec.AppendMessage(nil, "port", args)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(codec, Limits{})
		m, _, err := d.Next(frame)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Args()
		if err != nil {
			t.Fatal(err)
		}
		port := m.PortString()
		want := deepCopy(got)
		for i := range frame {
			frame[i] = 0xEE
		}
		if port != "port" || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: values alias the buffer: %q %#v", codec.Name(), port, got)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []byte:
		return bytes.Clone(x)
	case string:
		return strings.Clone(x)
	}
	return v
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct {
		v    any
		text string
		ok   bool
	}{
		{"a", "a", true}, {[]byte("caf\xe9"), "café", true}, {Number("1e3"), "1e3", true},
		{int64(-5), "-5", true}, {true, "1", true}, {false, "", true}, {nil, "", false}, {[]any{}, "", false},
	} {
		if s, ok := Text(tc.v); s != tc.text || ok != tc.ok {
			t.Errorf("Text(%#v) = %q %v", tc.v, s, ok)
		}
	}
	if b, ok := Bytes("café"); !ok || string(b) != "caf\xe9" {
		t.Errorf("Bytes(café) = %q %v", b, ok)
	}
	if _, ok := Bytes("€"); ok {
		t.Error("Bytes(€) ok")
	}
	for _, tc := range []struct {
		v  any
		n  int64
		ok bool
	}{
		{int64(7), 7, true}, {Number("-12"), -12, true}, {"42", 42, true}, {[]byte("5"), 5, true},
		{Number("1.5"), 0, false}, {"x", 0, false}, {nil, 0, false},
	} {
		if n, ok := Int64(tc.v); n != tc.n || ok != tc.ok {
			t.Errorf("Int64(%#v) = %d %v", tc.v, n, ok)
		}
	}
	if f, ok := Float64(Number("1e+20")); !ok || f != 1e20 {
		t.Errorf("Float64 = %v %v", f, ok)
	}
	for v, want := range map[any]bool{nil: false, "": false, "0": false, "00": true, "a": true,
		int64(0): false, int64(2): true, Number("0.0"): false, Number("1e400"): true, true: true, false: false} {
		if Bool(v) != want {
			t.Errorf("Bool(%#v) != %v", v, want)
		}
	}
	if Bool([]byte("0")) || !Bool([]any{}) {
		t.Error("Bool of bytes/array")
	}
	n := Number("18446744073709551615")
	if _, err := n.Int64(); err == nil {
		t.Error("Int64 overflow")
	}
	if u, err := n.Uint64(); err != nil || u != math.MaxUint64 || !n.IsInt() || Number("1.0").IsInt() {
		t.Error("Uint64/IsInt")
	}
}
