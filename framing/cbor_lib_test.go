package framing

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The tests in this file check the own cbor splitter, decoder and
// encoder against github.com/fxamacker/cbor/v2 as an independent
// implementation of RFC 8949.

// libWellformed reports whether the library finds b to be exactly one
// well-formed CBOR item (tags, simple values, invalid UTF-8 and any depth
// allowed: well-formedness only).
func libWellformed(b []byte) error {
	dm, err := cbor.DecOptions{MaxNestedLevels: 65535, MaxArrayElements: math.MaxInt32, MaxMapPairs: math.MaxInt32}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm.Wellformed(b)
}

// TestCBORLibWellformed: what the splitter calls malformed the library
// does too, and every accepted frame is well-formed for the library.
func TestCBORLibWellformed(t *testing.T) {
	for _, c := range cborBad {
		if strings.HasPrefix(c.name, "two-byte simple") {
			continue // refused as unsupported from the first byte, well-formed or not
		}
		stream := cborHex(t, c.hex)
		r := feed(t, CBOR, Limits{}, whole(stream))
		// the failing item alone (the stream from the bad frame on)
		last := stream
		for _, raw := range r.raws {
			last = last[len(raw):]
		}
		err := libWellformed(last)
		if c.want == ErrMalformed && err == nil {
			t.Errorf("%s: library accepts %x", c.name, last)
		}
		if c.want != ErrMalformed && err != nil {
			t.Errorf("%s: library rejects %x: %v", c.name, last, err)
		}
	}
	var frames [][]byte
	for _, v := range cborPerlVectors {
		frames = append(frames, cborHex(t, v.hex))
	}
	for _, f := range frames {
		if err := libWellformed(f); err != nil {
			t.Errorf("%x: %v", f, err)
		}
	}
}

// randValue makes a random value of the package's value model.
func randValue(rng *rand.Rand, depth int) any {
	switch k := rng.IntN(14); {
	case k == 0 && depth < 6:
		a := make([]any, rng.IntN(5))
		for i := range a {
			a[i] = randValue(rng, depth+1)
		}
		return a
	case k == 1 && depth < 6:
		m := map[string]any{}
		for range rng.IntN(5) {
			m[randString(rng)] = randValue(rng, depth+1)
		}
		return m
	case k == 2:
		return nil
	case k == 3:
		return rng.Int64()
	case k == 4:
		return -rng.Int64()
	case k == 5:
		return int64(rng.IntN(600) - 300)
	case k == 6:
		return rng.Uint64()
	case k == 7:
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
	case k == 8:
		return float64(float32(rng.NormFloat64()))
	case k == 9:
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	case k == 10:
		return rng.IntN(2) == 0
	}
	return randString(rng)
}

func randString(rng *rand.Rand) string {
	parts := []string{"", "a", "port", "ü", "€", "😀", "\x00", "\"", strings.Repeat("z", 30)}
	var b strings.Builder
	for range rng.IntN(4) {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}

// fromLib converts what the library decoded into the package's value
// model (the mapping Args documents), for comparison.
func fromLib(v any) any {
	switch x := v.(type) {
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return Number(uintString(x))
	case int64:
		return x
	case float64:
		return cborFloatNumber(x)
	case []byte:
		return scalarBytes(x)
	case string:
		return x
	case bool:
		return x
	case nil:
		return nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromLib(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, _ := Text(fromLib(k))
			out[ks] = fromLib(e)
		}
		return out
	}
	return v
}

func uintString(x uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + x%10)
		x /= 10
		if x == 0 {
			return string(b[i:])
		}
	}
}

// TestCBORLibDecode: random messages written by AppendCBOR are
// well-formed for the library, and the library and Args decode them to
// the same values.
func TestCBORLibDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for iter := 0; iter < 3000; iter++ {
		args := make([]any, rng.IntN(5))
		for i := range args {
			args[i] = randValue(rng, 1)
		}
		frame, err := AppendCBOR(nil, randString(rng), args)
		if err != nil {
			t.Fatal(err)
		}
		if err := libWellformed(frame); err != nil {
			t.Fatalf("%x: %v", frame, err)
		}
		var lib []any
		if err := libDecMode.Unmarshal(frame, &lib); err != nil {
			t.Fatalf("%x: library: %v", frame, err)
		}
		m, got := decodeFrame(t, CBOR, frame)
		want := fromLib(lib).([]any)
		if port, _ := Text(want[0]); port != m.PortString() {
			t.Fatalf("%x: port %q, library %q", frame, m.Port(), port)
		}
		wantArgs := want[1:]
		if len(wantArgs) == 0 {
			wantArgs = nil
		}
		if !reflect.DeepEqual(got, wantArgs) {
			t.Fatalf("%x:\nArgs    %#v\nlibrary %#v", frame, got, wantArgs)
		}
	}
}

// TestCBORLibEncode: what the library writes for plain values (its
// shortest forms, float16 included) decodes to the same values as ours.
func TestCBORLibEncode(t *testing.T) {
	em, err := cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16}.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(10, 11))
	for iter := 0; iter < 2000; iter++ {
		msg := []any{"p"}
		for range rng.IntN(5) {
			msg = append(msg, randValue(rng, 1))
		}
		lib, err := em.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		own, err := AppendCBOR(nil, "p", msg[1:])
		if err != nil {
			t.Fatal(err)
		}
		_, a := decodeFrame(t, CBOR, lib)
		_, b := decodeFrame(t, CBOR, own)
		// the library writes bool as CBOR true/false, we as "1"/""
		if !reflect.DeepEqual(perlBools(a), b) {
			t.Fatalf("library %x: %#v\nown %x: %#v", lib, a, own, b)
		}
	}
}

// perlBools maps bools to the strings the encoders write for them, and
// integral Numbers below 2^53 to int64 (we write integral floats as
// integers).
func perlBools(v any) any {
	switch x := v.(type) {
	case bool:
		if x {
			return "1"
		}
		return ""
	case Number:
		if n, err := x.Int64(); err == nil && n > -1<<53 && n < 1<<53 {
			return n
		}
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = perlBools(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = perlBools(e)
		}
		return out
	}
	return v
}
