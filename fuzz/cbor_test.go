package fuzz

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/aemp-go/aemp/framing"
	"github.com/fxamacker/cbor/v2"
)

// cborWellformed is an independent well-formedness check (the library,
// well-formedness only: tags, simple values and invalid UTF-8 pass).
var cborWellformed = func() func([]byte) error {
	dm, err := cbor.DecOptions{MaxNestedLevels: 65535, MaxArrayElements: math.MaxInt32, MaxMapPairs: math.MaxInt32}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm.Wellformed
}()

// cborResent maps decoded arguments to what decoding them again after
// AppendCBOR gives: bools become "1"/"", integral Numbers that fit int64
// become int64, integer Numbers beyond 64 bits become strings. ok is
// false when they cannot be sent at all (NaN or infinity).
func cborResent(v any) (any, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return "1", true
		}
		return "", true
	case framing.Number:
		switch x {
		case "NaN", "Inf", "-Inf":
			return nil, false
		}
		if !x.IsInt() {
			return x, true
		}
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if _, err := x.Uint64(); err == nil {
			return x, true
		}
		return string(x), true
	case []any:
		if x == nil {
			return x, true
		}
		out := make([]any, len(x))
		for i, e := range x {
			var ok bool
			if out[i], ok = cborResent(e); !ok {
				return nil, false
			}
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var ok bool
			if out[k], ok = cborResent(e); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return v, true
}

// FuzzCBORDecode feeds arbitrary bytes to the cbor decoder, whole, in
// chunks and byte by byte (same messages, same error at the same
// offset); checks every yielded frame against an independent
// well-formedness check; and re-encodes every message: it must decode to
// the same port and (normalized) arguments, and encoding that again must
// give the same bytes. A fuzzing worker skips streams over maxFuzzedInput
// bytes (see there).
func FuzzCBORDecode(f *testing.F) {
	for _, s := range frSeedStreams(f, "cbor_seeds.txt") {
		f.Add(s, []byte{})
		f.Add(s, []byte{0})
		f.Add(s, []byte{2, 0, 6, 1})
		f.Add(s, []byte{0x83, 20})
	}
	worker := fuzzWorker()
	f.Fuzz(func(t *testing.T, stream, plan []byte) {
		if worker && len(stream) > maxFuzzedInput {
			return
		}
		lim := frLimits(plan)
		ref := frFeed(t, framing.CBOR, lim, [][]byte{stream})
		if err := frSame(ref, frFeed(t, framing.CBOR, lim, frChunks(stream, plan))); err != nil {
			t.Fatalf("chunked: %v", err)
		}
		if len(stream) <= 2048 {
			if err := frSame(ref, frFeed(t, framing.CBOR, lim, frChunks(stream, []byte{0}))); err != nil {
				t.Fatalf("bytewise: %v", err)
			}
		}
		if ref.err != nil && !errors.Is(ref.err, framing.ErrMalformed) && !errors.Is(ref.err, framing.ErrUnsupported) &&
			!errors.Is(ref.err, framing.ErrNotArray) && !errors.Is(ref.err, framing.ErrTooDeep) &&
			!errors.Is(ref.err, framing.ErrFrameTooLarge) {
			t.Fatalf("unexpected error kind: %v", ref.err)
		}
		for i, raw := range ref.raws {
			if err := cborWellformed(raw); err != nil {
				t.Fatalf("yielded %x, which is not well-formed: %v", raw, err)
			}
			if raw[0]>>5 != 4 && raw[0] != 0xd9 && raw[0] != 0xda && raw[0] != 0xdb {
				t.Fatalf("yielded %x: not an array", raw)
			}
			want, ok := cborResent(ref.args[i])
			if !ok {
				continue
			}
			out, err := framing.CBOR.AppendMessage(nil, ref.ports[i], ref.args[i])
			if err != nil {
				t.Fatalf("re-encode %x: %v", raw, err)
			}
			again := frFeed(t, framing.CBOR, framing.Limits{MaxFrameSize: len(out), MaxDepth: 600}, [][]byte{out})
			if again.err != nil || len(again.raws) != 1 {
				t.Fatalf("re-encoded %x does not decode: %v", out, again.err)
			}
			if again.ports[0] != ref.ports[i] || !reflect.DeepEqual(again.args[0], want) {
				t.Fatalf("round trip of %x: %q %#v, want %q %#v", raw, again.ports[0], again.args[0], ref.ports[i], want)
			}
			out2, err := framing.CBOR.AppendMessage(nil, again.ports[0], again.args[0])
			if err != nil || string(out2) != string(out) {
				t.Fatalf("second encoding of %x differs: %x vs %x (%v)", raw, out2, out, err)
			}
		}
	})
}
