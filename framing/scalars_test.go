package framing

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// perlLength is what ScalarArgs must report for a decoded scalar.
func perlLength(v any) (int, bool) {
	switch v := v.(type) {
	case nil:
		return 0, true
	case string:
		return utf8.RuneCountInString(v), true
	case []byte:
		return len(v), true
	case Number:
		return len(appendJSONNumberText(nil, []byte(v))), true
	case int64:
		return len(strconv.FormatInt(v, 10)), true
	case bool:
		return 1, true
	}
	return 0, false
}

// TestScalarArgs compares the quick walk with full decoding on random
// messages of scalars in every framing.
func TestScalarArgs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "report", "x", "ü", "a\"b", "tab\there", "€uro", "😀", "\u2028", "plain text"}
	for _, codec := range All() {
		for iter := 0; iter < 3000; iter++ {
			nargs := rng.IntN(5)
			args := make([]any, nargs)
			for k := range args {
				switch rng.IntN(6) {
				case 0:
					args[k] = strs[rng.IntN(len(strs))]
				case 1:
					args[k] = rng.Int64N(1<<40) - 1<<39
				case 2:
					args[k] = int64(rng.IntN(300) - 150)
				case 3:
					args[k] = nil
				case 4:
					args[k] = []byte{0xfc, 'a', byte(rng.IntN(256))}
				case 5:
					args[k] = rng.Float64() * 1000
				}
			}
			frame, err := codec.AppendMessage(nil, "sink", args)
			if err != nil {
				t.Fatal(err)
			}
			dec := NewDecoder(codec, Limits{})
			m, used, err := dec.Next(frame)
			if err != nil || used != len(frame) {
				t.Fatalf("%s: decode: %v", codec.Name(), err)
			}
			n, length, first, ok := m.ScalarArgs()
			if !ok {
				continue // escapes in the first argument etc.: allowed to decline
			}
			got, err := m.Args()
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, v := range got {
				l, _ := perlLength(v)
				want += l
			}
			if n != len(got) || length != want {
				t.Fatalf("%s %x: ScalarArgs n=%d len=%d, decoded %d args len %d (%#v)", codec.Name(), frame, n, length, len(got), want, got)
			}
			if len(got) > 0 && first != nil {
				if s, _ := Text(got[0]); s != string(first) && codec == JSON {
					t.Fatalf("%s: first %q, decoded %#v", codec.Name(), first, got[0])
				}
			}
		}
	}
}

// BenchmarkScalarArgs measures the walk the sink port uses per message.
func BenchmarkScalarArgs(b *testing.B) {
	frame, _ := JSON.AppendMessage(nil, "sink", []any{"xxxxxxxxxxxxxxxxxxxx"})
	dec := NewDecoder(JSON, Limits{})
	m, _, _ := dec.Next(frame)
	b.ReportAllocs()
	for b.Loop() {
		m.ScalarArgs()
	}
}

// BenchmarkScalarArgs64K is ScalarArgs of ["sink", 64 KiB of ASCII] in
// each framing (the sink's path for large messages).
func BenchmarkScalarArgs64K(b *testing.B) {
	payload := strings.Repeat("x", 64<<10)
	for _, c := range All() {
		b.Run("framing="+c.Name(), func(b *testing.B) {
			frame, _ := c.AppendMessage(nil, "sink", []any{payload})
			m, _, err := NewDecoder(c, Limits{}).Next(frame)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if n, l, _, ok := m.ScalarArgs(); !ok || n != 1 || l != len(payload) {
					b.Fatal(n, l, ok)
				}
			}
		})
	}
}
