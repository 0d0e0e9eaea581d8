package framing

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The cbor benchmarks use the messages of the json and storable ones
// (bench_test.go): benchArgs makes a 40-byte message in json.

// BenchmarkCBORSplitPort: split + port name of the same message.
func BenchmarkCBORSplitPort(b *testing.B) { benchSplitPort(b, CBOR, benchArgs) }

// BenchmarkCBORSplitPortStream: 100 messages back to back in one buffer;
// ns/op is per message.
func BenchmarkCBORSplitPortStream(b *testing.B) {
	one := benchFrame(b, CBOR, benchArgs)
	var stream []byte
	for range 100 {
		stream = append(stream, one...)
	}
	d := NewDecoder(CBOR, Limits{})
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	buf := stream
	for b.Loop() {
		m, n, err := d.Next(buf)
		if err != nil || n == 0 {
			b.Fatal(n, err)
		}
		sinkPort = m.Port()
		buf = buf[n:]
		if i++; i == 100 {
			i, buf = 0, stream
		}
	}
}

func BenchmarkCBORSplitPortBig(b *testing.B) { benchSplitPort(b, CBOR, benchBigArgs) }

// BenchmarkCBORSplitLong: a 64 KiB string costs one length check.
func BenchmarkCBORSplitLong(b *testing.B) {
	long := make([]byte, 64<<10)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	benchSplitPort(b, CBOR, []any{string(long)})
}

func BenchmarkCBORDecodeArgs(b *testing.B)    { benchArgsDecode(b, CBOR, benchArgs) }
func BenchmarkCBORDecodeArgsBig(b *testing.B) { benchArgsDecode(b, CBOR, benchBigArgs) }
func BenchmarkCBOREncode(b *testing.B)        { benchEncode(b, CBOR, benchArgs) }
func BenchmarkCBOREncodeBig(b *testing.B)     { benchEncode(b, CBOR, benchBigArgs) }

// libDecMode is github.com/fxamacker/cbor/v2 configured for what AEMP
// must accept (indefinite lengths, invalid UTF-8, deep nesting, big
// containers): the baseline the own splitter and decoder were measured
// against.
var libDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  DefaultMaxDepth,
		MaxArrayElements: 1<<31 - 1,
		MaxMapPairs:      1<<31 - 1,
		IndefLength:      cbor.IndefLengthAllowed,
		UTF8:             cbor.UTF8DecodeInvalid,
		DupMapKey:        cbor.DupMapKeyQuiet,
		MapKeyByteString: cbor.MapKeyByteStringAllowed,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// BenchmarkCBORLibSplitBaseline splits with the library (UnmarshalFirst
// into a RawMessage, which validates and finds the end of the first item)
// and then decodes element 0 as the port name: the library's equivalent
// of Next + Port.
func BenchmarkCBORLibSplitBaseline(b *testing.B) {
	for _, bc := range []struct {
		name string
		args []any
	}{{"small", benchArgs}, {"big", benchBigArgs}} {
		b.Run(bc.name, func(b *testing.B) {
			frame := benchFrame(b, CBOR, bc.args)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var raw cbor.RawMessage
				rest, err := libDecMode.UnmarshalFirst(frame, &raw)
				if err != nil || len(rest) != 0 {
					b.Fatal(err)
				}
				var first []cbor.RawMessage
				if err := libDecMode.Unmarshal(raw, &first); err != nil {
					b.Fatal(err)
				}
				var port string
				if err := libDecMode.Unmarshal(first[0], &port); err != nil {
					b.Fatal(err)
				}
				sinkPort = []byte(port)
			}
		})
	}
}

// BenchmarkCBORLibDecodeBaseline decodes the whole message with the
// library into []any (its own value model: uint64, float64, []byte,
// map[any]any), without the conversion to this package's value model
// that Args would still need on top.
func BenchmarkCBORLibDecodeBaseline(b *testing.B) {
	for _, bc := range []struct {
		name string
		args []any
	}{{"small", benchArgs}, {"big", benchBigArgs}} {
		b.Run(bc.name, func(b *testing.B) {
			frame := benchFrame(b, CBOR, bc.args)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var v []any
				if err := libDecMode.Unmarshal(frame, &v); err != nil {
					b.Fatal(err)
				}
				sinkArgs = v
			}
		})
	}
}

// BenchmarkCBORLibEncodeBaseline encodes the same message with the
// library's Marshal (sorted keys), for comparison with AppendCBOR.
func BenchmarkCBORLibEncodeBaseline(b *testing.B) {
	em, err := cbor.EncOptions{Sort: cbor.SortBytewiseLexical}.EncMode()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		args []any
	}{{"small", benchArgs}, {"big", benchBigArgs}} {
		b.Run(bc.name, func(b *testing.B) {
			msg := append([]any{benchPort}, bc.args...)
			out, err := em.Marshal(msg)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				if out, err = em.Marshal(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
