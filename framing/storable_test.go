package framing

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// fromVectorJSON builds the Go value of a json: storable vector: strings
// stay strings, numbers are integers (int64).
func fromVectorJSON(t *testing.T, v any) any {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			t.Fatalf("number %s: %v", x, err)
		}
		return n
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromVectorJSON(t, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = fromVectorJSON(t, e)
		}
		return out
	}
	return v
}

// decodeFrame decodes a single complete frame.
func decodeFrame(t *testing.T, codec Codec, frame []byte) (Message, []any) {
	t.Helper()
	d := NewDecoder(codec, Limits{})
	m, n, err := d.Next(frame)
	if err != nil {
		t.Fatalf("%x: %v", frame, err)
	}
	if n != len(frame) {
		t.Fatalf("%x: consumed %d of %d", frame, n, len(frame))
	}
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	return m, args
}

func TestStorableVectors(t *testing.T) {
	var stream []byte
	for _, v := range loadStorableVectors(t) {
		stream = append(stream, v.frame...)
		t.Run(v.name, func(t *testing.T) {
			m, args := decodeFrame(t, Storable, v.frame)
			var want []any
			switch v.kind {
			case "json":
				dec := json.NewDecoder(strings.NewReader(v.text))
				dec.UseNumber()
				var all []any
				if err := dec.Decode(&all); err != nil {
					t.Fatal(err)
				}
				all = fromVectorJSON(t, all).([]any)
				if len(all) == 0 {
					if len(m.Port()) != 0 || args != nil {
						t.Fatalf("empty message: port %q args %v", m.Port(), args)
					}
				} else {
					if string(m.Port()) != all[0].(string) {
						t.Fatalf("port %q, want %q", m.Port(), all[0])
					}
					want = all[1:]
					if len(want) == 0 {
						want = nil
					}
					if !reflect.DeepEqual(args, want) {
						t.Fatalf("args\n%#v\nwant\n%#v", args, want)
					}
				}
				// encoder is byte-exact
				port := ""
				if len(all) > 0 {
					port = all[0].(string)
				}
				if len(all) == 0 {
					// [] has no port element; AppendStorable always writes one
					return
				}
				out, err := AppendStorable(nil, port, want)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, v.frame) {
					t.Fatalf("encoded\n%x\nwant\n%x", out, v.frame)
				}
			case "perl":
				checkPerlVector(t, v, m, args)
			default:
				t.Fatalf("kind %q", v.kind)
			}
			// split at every byte (with -short, frames over 1 KiB at 300
			// points plus the first and last 100) and one byte at a time
			ref := feed(t, Storable, Limits{}, whole(v.frame))
			step := 1
			if testing.Short() && len(v.frame) > 1024 {
				step = len(v.frame) / 300
			}
			for k := 0; k <= len(v.frame); k++ {
				if k > 100 && k < len(v.frame)-100 && k%step != 0 {
					continue
				}
				if err := sameResult(ref, feed(t, Storable, Limits{}, split2(v.frame, k))); err != nil {
					t.Fatalf("split at %d: %v", k, err)
				}
			}
			if err := sameResult(ref, feed(t, Storable, Limits{}, bytewise(v.frame))); err != nil {
				t.Fatalf("bytewise: %v", err)
			}
		})
	}
	// all vectors back to back, one byte at a time and in odd chunks
	ref := feed(t, Storable, Limits{}, whole(stream))
	if ref.err != nil || ref.pending != 0 || len(ref.raws) < 35 {
		t.Fatalf("stream: %d messages, err %v", len(ref.raws), ref.err)
	}
	if err := sameResult(ref, feed(t, Storable, Limits{}, bytewise(stream))); err != nil {
		t.Fatalf("stream bytewise: %v", err)
	}
	for _, size := range []int{2, 3, 5, 7, 64, 1000} {
		var chunks [][]byte
		for i := 0; i < len(stream); i += size {
			chunks = append(chunks, stream[i:min(i+size, len(stream))])
		}
		if err := sameResult(ref, feed(t, Storable, Limits{}, chunks)); err != nil {
			t.Fatalf("chunks of %d: %v", size, err)
		}
	}
}

func checkPerlVector(t *testing.T, v storableVector, m Message, args []any) {
	var want []any
	port := ""
	reencode := false
	switch v.name {
	case "latin1_bytes":
		port, want, reencode = "b", []any{[]byte{0xfc}, []byte("caf\xe9")}, true
	case "binary_bytes":
		port, want, reencode = "bin", []any{[]byte("\x00\x01\x02\xff\xfe\n\r\t")}, true
	case "utf8_flagged_ascii":
		port, want = "u", []any{"abc"}
	case "hash_latin1_key":
		port, want = "h", []any{map[string]any{"ü": int64(1)}}
	case "shared_ref":
		port, want = "shared", []any{[]any{int64(1)}, []any{int64(1)}}
		a, b := args[0].([]any), args[1].([]any)
		if &a[0] != &b[0] {
			t.Errorf("shared array decoded as two arrays")
		}
	case "shared_hash":
		port, want = "shared", []any{map[string]any{"k": "v"}, []any{map[string]any{"k": "v"}}}
		h1 := args[0].(map[string]any)
		h2 := args[1].([]any)[0].(map[string]any)
		if reflect.ValueOf(h1).Pointer() != reflect.ValueOf(h2).Pointer() {
			t.Errorf("shared hash decoded as two hashes")
		}
	default:
		t.Fatalf("no check for perl vector %s", v.name)
	}
	if string(m.Port()) != port || !reflect.DeepEqual(args, want) {
		t.Fatalf("port %q args %#v, want %q %#v", m.Port(), args, port, want)
	}
	if reencode {
		out, err := AppendStorable(nil, port, want)
		if err != nil || !bytes.Equal(out, v.frame) {
			t.Fatalf("encoded %x (%v), want %x", out, err, v.frame)
		}
	}
	// the Latin-1 key and the UTF-8 string say the same as Perl sees them
	if v.name == "latin1_bytes" {
		if s, _ := Text(args[0]); s != "ü" {
			t.Errorf("Text(latin1) = %q", s)
		}
	}
}

func TestStorableBad(t *testing.T) {
	for _, b := range loadStorableBad(t) {
		t.Run(b.name, func(t *testing.T) {
			r := feed(t, Storable, Limits{}, whole(b.stream))
			rb := feed(t, Storable, Limits{}, bytewise(b.stream))
			if err := sameResult(r, rb); err != nil {
				t.Fatalf("bytewise: %v", err)
			}
			switch {
			case b.lenient:
				if r.err != nil || len(r.raws) != 1 {
					t.Fatalf("lenient entry: err %v, %d messages", r.err, len(r.raws))
				}
				want := map[string][]any{
					"json_booleans": {"1", []any{false}},
					"sv_yes_no":     {"1", []any{""}},
				}[b.name]
				if want == nil {
					t.Fatalf("no expectation for %s", b.name)
				}
				if r.ports[0] != want[0] || !reflect.DeepEqual(r.args[0], want[1]) {
					t.Fatalf("port %q args %#v, want %v", r.ports[0], r.args[0], want)
				}
			case strings.HasPrefix(b.perl, "WAITS") && b.name != "ber_absurd":
				if r.err != nil || len(r.raws) != 0 || r.pending != len(b.stream) {
					t.Fatalf("want a partial frame, got err %v, %d messages", r.err, len(r.raws))
				}
			default:
				if r.err == nil {
					t.Fatalf("accepted: %d messages %#v", len(r.raws), r.args)
				}
				var e *Error
				if !errors.As(r.err, &e) || e.Framing != "storable" {
					t.Fatalf("error %#v", r.err)
				}
				t.Logf("%v", r.err)
			}
		})
	}
}

func TestStorableBadKinds(t *testing.T) {
	want := map[string]error{
		"empty_payload": ErrMalformed, "nonminimal_ber": ErrMalformed, "wrong_major": ErrMalformed,
		"file_magic": ErrMalformed, "native_order": ErrUnsupported, "root_scalar": ErrNotArray,
		"root_hash": ErrNotArray, "root_ref": ErrNotArray, "scalar_overrun": ErrMalformed,
		"lscalar_absurd": ErrMalformed, "array_absurd": ErrMalformed, "hash_absurd": ErrMalformed,
		"key_absurd": ErrMalformed, "ber_absurd": ErrFrameTooLarge, "object_forward": ErrMalformed,
		"unknown_opcode": ErrMalformed, "opcode_sx_error": ErrMalformed, "trailing_garbage": ErrMalformed,
		"native_integer": ErrUnsupported, "native_double": ErrUnsupported, "blessed_array": ErrUnsupported,
		"code_ref": ErrUnsupported, "hook_object": ErrUnsupported, "tied_array": ErrUnsupported,
		"weak_ref": ErrUnsupported, "deep_600": ErrTooDeep,
	}
	for _, b := range loadStorableBad(t) {
		w, ok := want[b.name]
		if !ok {
			continue
		}
		r := feed(t, Storable, Limits{}, whole(b.stream))
		if !errors.Is(r.err, w) {
			t.Errorf("%s: %v, want %v", b.name, r.err, w)
		}
		delete(want, b.name)
	}
	if len(want) != 0 {
		t.Errorf("entries not found: %v", want)
	}
}

func TestStorableMore(t *testing.T) {
	img := func(h string) []byte { // prefix a hex image with its BER length
		b := mustHex(t, strings.ReplaceAll(h, " ", ""))
		return append(AppendBER(nil, uint64(len(b))), b...)
	}
	good := []struct {
		name string
		hex  string
		port string
		args []any
	}{
		{"minor 0", "0500 02 00000001 0a0178", "x", nil},
		{"minor 12", "050c 02 00000001 0a0178", "x", nil},
		{"lscalar port", "050b 02 00000002 01 00000001 78 05", "x", []any{nil}},
		{"utf8 port", "050b 02 00000001 17 02 c3bc", "ü", nil},
		{"lutf8 port", "050b 02 00000001 18 00000002 c3bc", "ü", nil},
		{"latin1 port", "050b 02 00000001 0a 02 fc41", "üA", nil},
		{"undef port", "050b 02 00000002 05 0881", "", []any{int64(1)}},
		{"sv_undef port", "050b 02 00000001 0e", "", nil},
		{"byte port", "050b 02 00000001 08 7f", "-1", nil},
		{"netint port", "050b 02 00000001 09 fffffc18", "-1000", nil},
		{"sv_no port", "050b 02 00000001 10", "", nil},
		{"boolean true port", "050b 02 00000003 22 23 1f", "1", []any{"", nil}},
		{"array port", "050b 02 00000002 04 02 00000000 0881", "ARRAY(0x0)", []any{int64(1)}},
		{"hash port", "050b 02 00000001 04 03 00000000", "HASH(0x0)", nil},
		{"bare array element", "050b 02 00000002 0a0170 02 00000001 0881", "p", []any{[]any{int64(1)}}},
		{"flag hash placeholder", "050b 02 00000002 0a0170 04 19 01 00000002 0881 10 00000001 61 0882 02 00000001 fc",
			"p", []any{map[string]any{"ü": int64(2)}}},
		{"flag hash utf8 invalid", "050b 02 00000002 0a0170 04 19 00 00000001 0881 01 00000001 ff",
			"p", []any{map[string]any{"\uFFFD": int64(1)}}},
		{"utf8str invalid", "050b 02 00000002 0a0170 17 03 61eda0", "p", []any{"a\uFFFD"}},
		{"shared scalar", "050b 02 00000003 0a0170 0a0178 00 00000002", "p", []any{"x", "x"}},
		{"object to ref", "050b 02 00000003 0a0170 04 02 00000000 00 00000002", "p", []any{[]any{}, []any{}}},
		{"shared boolean", "050b 02 00000003 0a0170 14 11 11 4a534f4e3a3a50503a3a426f6f6c65616e 0881 14 00 00000003",
			"p", []any{true, true}},
		{"xs boolean", "050b 02 00000002 0a0170 14 11 11 4a534f4e3a3a58533a3a426f6f6c65616e 0880", "p", []any{false}},
		{"boolean port", "050b 02 00000001 14 11 11 4a534f4e3a3a50503a3a426f6f6c65616e 0880", "0", nil},
	}
	for _, g := range good {
		frame := img(g.hex)
		m, args := decodeFrame(t, Storable, frame)
		if string(m.Port()) != g.port || !reflect.DeepEqual(args, g.args) {
			t.Errorf("%s: port %q args %#v, want %q %#v", g.name, m.Port(), args, g.port, g.args)
		}
		wantRoutable := !strings.Contains(g.name, "array port") && !strings.Contains(g.name, "hash port")
		if m.Routable() != wantRoutable {
			t.Errorf("%s: routable %v", g.name, m.Routable())
		}
	}
	bad := []struct {
		name string
		hex  string
		want error
	}{
		{"minor 13", "050d 02 00000001 0a0178", ErrMalformed},
		{"header only", "050b", ErrMalformed},
		{"one byte", "05", ErrMalformed},
		{"truncated count", "050b 02 0000", ErrMalformed},
		{"count 2^31", "050b 02 80000000", ErrMalformed},
		{"missing element", "050b 02 00000002 0a0178", ErrMalformed},
		{"scalar len past end", "050b 02 00000001 0a 05 78", ErrMalformed},
		{"lscalar 2^31", "050b 02 00000001 01 80000000", ErrMalformed},
		{"ref to scalar", "050b 02 00000001 04 0a0178", ErrUnsupported},
		{"ref to ref", "050b 02 00000001 04 04 02 00000000", ErrUnsupported},
		{"ref to shared scalar", "050b 02 00000002 0a0178 04 00 00000001", ErrUnsupported},
		{"ref to ref tag", "050b 02 00000002 04 02 00000000 04 00 00000001", ErrUnsupported},
		{"ref blessed", "050b 02 00000001 04 11 03 466f6f 02 00000000", ErrUnsupported},
		{"cycle to root", "050b 02 00000001 04 00 00000000", ErrMalformed},
		{"cycle to self", "050b 02 00000002 0a0170 04 02 00000001 04 00 00000003", ErrMalformed},
		{"cycle to ref", "050b 02 00000002 0a0170 04 02 00000001 00 00000002", ErrMalformed},
		{"tag 2^31", "050b 02 00000001 00 ffffffff", ErrMalformed},
		{"hash key flag sv", "050b 02 00000001 04 19 00 00000001 0881 08 00000001 61", ErrUnsupported},
		{"hash truncated key", "050b 02 00000001 04 03 00000001 0881 00000005 61", ErrMalformed},
		{"overload other class", "050b 02 00000001 14 11 03 466f6f 0881", ErrUnsupported},
		{"overload non-byte", "050b 02 00000001 14 11 11 4a534f4e3a3a50503a3a426f6f6c65616e 0a0131", ErrUnsupported},
		{"overload byte 2", "050b 02 00000001 14 11 11 4a534f4e3a3a50503a3a426f6f6c65616e 0882", ErrUnsupported},
		{"ix bless unknown", "050b 02 00000001 14 12 00 0881", ErrUnsupported},
		{"overload object non-bool", "050b 02 00000002 0a0178 14 00 00000001", ErrUnsupported},
		{"overload array", "050b 02 00000001 14 02 00000000", ErrUnsupported},
		{"byte truncated", "050b 02 00000001 08", ErrMalformed},
		{"netint truncated", "050b 02 00000001 09 0000", ErrMalformed},
		{"native order", "040b 02 00000001 0a0178", ErrUnsupported},
		{"every rejected opcode", "050b 02 00000001 1d", ErrUnsupported},
		{"root lscalar", "050b 01 00000001 78", ErrNotArray},
		{"root undef", "050b 05", ErrNotArray},
	}
	for _, b := range bad {
		r := feed(t, Storable, Limits{}, whole(img(b.hex)))
		if !errors.Is(r.err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, r.err, b.want)
		}
	}
	for op := range 256 {
		frame := img("050b 02 00000001" + string(hexDigits[op>>4]) + string(hexDigits[op&15]) + "00000000000000000000")
		r := feed(t, Storable, Limits{}, whole(frame))
		if r.err == nil && len(r.raws) == 1 {
			continue // a valid opcode with valid-looking operands
		}
		var e *Error
		if r.err != nil && !errors.As(r.err, &e) {
			t.Errorf("opcode %02x: %v", op, r.err)
		}
	}
}

func TestStorableLimits(t *testing.T) {
	// the prefix alone announces too much: fail before the image arrives
	for _, p := range []string{"8180808000", "8181", "ff"} {
		d := NewDecoder(Storable, Limits{MaxFrameSize: 1 << 20})
		frame := mustHex(t, p)
		_, _, err := d.Next(frame)
		wantErr := p != "8181" && p != "ff"
		if wantErr != (err != nil) || err != nil && !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("%s: %v", p, err)
		}
	}
	d := NewDecoder(Storable, Limits{MaxFrameSize: 100})
	if _, _, err := d.Next(mustHex(t, "8100")); !errors.Is(err, ErrFrameTooLarge) { // 128 > 100
		t.Errorf("128: %v", err)
	}
	d = NewDecoder(Storable, Limits{MaxFrameSize: 100})
	if _, n, err := d.Next(mustHex(t, "64")); n != 0 || err != nil { // 100: wait for it
		t.Errorf("100: %d %v", n, err)
	}
	// 2^60 claimed by a 10-byte input allocates (almost) nothing.
	huge := AppendBER(nil, 1<<60)
	d = NewDecoder(Storable, Limits{MaxFrameSize: 1 << 62})
	allocs := testing.AllocsPerRun(100, func() {
		d.Reset()
		if _, _, err := d.Next(huge); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("%v allocations for a 2^60 prefix", allocs)
	}
	// Absurd counts inside small frames: check bytes allocated.
	for _, b := range loadStorableBad(t) {
		d := NewDecoder(Storable, Limits{})
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			d.Reset()
			d.Next(b.stream)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
			t.Errorf("%s: %d bytes allocated for 10 decodes", b.name, got)
		}
	}
	// depth limit is configurable
	deep := func(n int) []byte { // n nested arrays counting the root
		h := "050b 02 00000001"
		for i := 1; i < n; i++ {
			h += " 04 02 00000001"
		}
		h = h[:len(h)-8] + "00000000"
		b := mustHex(t, strings.ReplaceAll(h, " ", ""))
		return append(AppendBER(nil, uint64(len(b))), b...)
	}
	for _, tc := range []struct{ n, limit int }{{512, 0}, {513, 0}, {10, 10}, {11, 10}, {100, 100}, {101, 100}} {
		d := NewDecoder(Storable, Limits{MaxDepth: tc.limit})
		_, _, err := d.Next(deep(tc.n))
		limit := tc.limit
		if limit == 0 {
			limit = DefaultMaxDepth
		}
		if (tc.n > limit) != errors.Is(err, ErrTooDeep) || (tc.n <= limit && err != nil) {
			t.Errorf("depth %d limit %d: %v", tc.n, tc.limit, err)
		}
	}
}

func TestBER(t *testing.T) {
	for _, tc := range []struct {
		v   uint64
		hex string
	}{
		{0, "00"}, {1, "01"}, {127, "7f"}, {128, "8100"}, {255, "817f"}, {256, "8200"}, {300, "822c"},
		{16383, "ff7f"}, {16384, "818000"}, {2097151, "ffff7f"}, {2097152, "81808000"},
		{268435455, "ffffff7f"}, {268435456, "8180808000"}, {4294967295, "8fffffff7f"},
	} {
		if got := AppendBER(nil, tc.v); string(got) != string(mustHex(t, tc.hex)) {
			t.Errorf("%d: %x, want %s", tc.v, got, tc.hex)
		}
	}
	// frames across every prefix length move the image correctly
	for _, n := range []int{100, 120, 121, 122, 16370, 16380, 16390, 2097140, 2097160} {
		s := strings.Repeat("x", n)
		out, err := AppendStorable([]byte("pre"), "p", []any{s})
		if err != nil {
			t.Fatal(err)
		}
		_, args := decodeFrame(t, Storable, out[3:])
		if args[0] != s {
			t.Fatalf("%d: bad round trip", n)
		}
	}
}
