package framing

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestPerlText: text that is not valid UTF-8 becomes one U+FFFD per
// character as Perl counts them (each as long as its first byte says).
func TestPerlText(t *testing.T) {
	cases := []struct {
		in, want string
		chars    int
	}{
		{"plain", "plain", 5},
		{"café €😀", "café €😀", 7},
		{"a\xed\xa0\x80b", "a\uFFFDb", 3},                       // a surrogate is one character
		{"\xed\xa0\x80\xed\xb0\x80", "\uFFFD\uFFFD", 2},         // a pair encoded separately: two
		{"\xf4\x90\x80\x80\xf7\xbf\xbf\xbf", "\uFFFD\uFFFD", 2}, // beyond U+10FFFF
		{"\xc0\x80x", "\uFFFDx", 2},                             // overlong
		{"\x80\x80b", "\uFFFD\uFFFDb", 3},                       // stray continuation bytes
		{"a\xffb", "a\uFFFD", 2},                                // FF starts a 13-byte character
		{"a\xc3", "a\uFFFD", 2},                                 // cut at the end
		{"\xef\xbf\xbd", "\uFFFD", 1},                           // a real U+FFFD
	}
	for _, c := range cases {
		if got := perlText([]byte(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
		if n := perlCharCount([]byte(c.in)); n != c.chars {
			t.Errorf("%q: %d characters, want %d", c.in, n, c.chars)
		}
	}
}

// TestPerlNumber: numbers as Perl writes them (what a number used as a
// port name or a hash key becomes).
func TestPerlNumber(t *testing.T) {
	floats := []struct {
		f    float64
		want string
	}{
		{1.5, "1.5"}, {0.1, "0.1"}, {1.0 / 3, "0.333333333333333"}, {1e20, "1e+20"}, {1e15, "1e+15"},
		{1e14, "100000000000000"}, {1e-5, "1e-05"}, {2.5e-7, "2.5e-07"}, {123456, "123456"},
		{math.MaxFloat64, "1.79769313486232e+308"}, {5e-324, "4.94065645841247e-324"},
		{math.Copysign(0, -1), "0"}, {math.Inf(1), "Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	}
	for _, c := range floats {
		if got := string(appendPerlNumber(nil, c.f)); got != c.want || PerlNumber(c.f) != c.want {
			t.Errorf("%v: %q (PerlNumber %q), want %q", c.f, got, PerlNumber(c.f), c.want)
		}
	}
	literals := []struct{ lit, want string }{
		{"5", "5"}, {"-0", "0"}, {"-5", "-5"}, {"1.0", "1"}, {"-1.5e3", "-1500"}, {"1E2", "100"},
		{"9223372036854775807", "9223372036854775807"}, {"18446744073709551615", "18446744073709551615"},
		{"18446744073709551616", "18446744073709551616"}, {"-9223372036854775809", "-9223372036854775809"},
		{"0.30000000000000004", "0.3"}, {"1e400", "Inf"}, {"-1e400", "-Inf"}, {"1e-400", "0"},
	}
	for _, c := range literals {
		if got := string(appendJSONNumberText(nil, []byte(c.lit))); got != c.want {
			t.Errorf("%s: %q, want %q", c.lit, got, c.want)
		}
	}
}

// TestPerlViewInFrames: the rules at work in each framing's values, keys,
// ports and ScalarArgs lengths.
func TestPerlViewInFrames(t *testing.T) {
	// storable SX_UTF8STR with a surrogate pair encoded separately, and a
	// FF byte; SX_FLAG_HASH with such a key
	img := []byte("\x05\x0b\x02\x00\x00\x00\x04\x0a\x01p" +
		"\x17\x06\xed\xa0\x80\xed\xb0\x80" + "\x17\x03a\xffb" +
		"\x04\x19\x00\x00\x00\x00\x01\x08\x81\x01\x00\x00\x00\x02\xc0\x80")
	frame := append(AppendBER(nil, uint64(len(img))), img...)
	m, args := decodeFrame(t, Storable, frame)
	want := []any{"\uFFFD\uFFFD", "a\uFFFD", map[string]any{"\uFFFD": int64(1)}}
	if !reflect.DeepEqual(args, want) || m.PortString() != "p" {
		t.Errorf("storable: %q %#v, want %#v", m.Port(), args, want)
	}
	// json: lenient characters count once in ScalarArgs; numbers as Perl
	// writes them
	js := []byte("[\"p\",\"\xed\xa0\x80\xed\xb0\x80x\",1.0,-0,1e400]")
	d := NewDecoder(JSON, Limits{})
	jm, _, err := d.Next(js)
	if err != nil {
		t.Fatal(err)
	}
	if n, length, _, ok := jm.ScalarArgs(); !ok || n != 4 || length != 3+1+1+3 {
		t.Errorf("json ScalarArgs: n %d length %d ok %v, want 4 8", n, length, ok)
	}
	// json port numbers
	for in, port := range map[string]string{`[1.0]`: "1", `[-0,1]`: "0", `[2.50e1]`: "25", `[7]`: "7"} {
		m, _, err := NewDecoder(JSON, Limits{}).Next([]byte(in))
		if err != nil || m.PortString() != port {
			t.Errorf("%s: port %q (%v), want %q", in, m.Port(), err, port)
		}
	}
	// cbor float port: Perl's 15 digits
	cm, _, err := NewDecoder(CBOR, Limits{}).Next(cborHex(t, "81 fb 3f d5 55 55 55 55 55 55"))
	if err != nil || cm.PortString() != "0.333333333333333" {
		t.Errorf("cbor float port %q %v", cm.Port(), err)
	}
}

// TestPerlCharCountRuns: the 8-byte ASCII steps of perlCharCount count as
// the byte-by-byte walk does, also around malformed and multi-byte
// sequences that swallow ASCII bytes.
func TestPerlCharCountRuns(t *testing.T) {
	slow := func(b []byte) int {
		n := 0
		for i := 0; i < len(b); n++ {
			i += perlUTF8Skip(b[i])
		}
		return n
	}
	pieces := [][]byte{[]byte("abcdefgh"), []byte("xyz"), []byte("é"), []byte("世"), {0xc0}, {0xff}, {0xfe}, {0x80}, []byte("0123456789abcdef")}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		if got, want := perlCharCount(b), slow(b); got != want {
			t.Fatalf("% x: %d, want %d", b, got, want)
		}
	}
}
