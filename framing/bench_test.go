package framing

import (
	"strings"
	"testing"

	"github.com/bytedance/sonic"
)

var (
	benchPort string = "sink"
	benchArgs        = []any{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
	// a typical larger message: the Global "nodes" message
	benchBigArgs = []any{"nodes", map[string]any{
		"nodeB":                    []any{"127.0.0.1:47103", "10.0.0.2:4040"},
		"anon/x08wNXUn9KiUKx1x03k": []any{},
		"seedS":                    []any{"192.168.1.1:4040"},
	}, 12345, -1, 3.5, nil}
	sinkPort []byte
	sinkArgs []any
)

func benchFrame(b *testing.B, c Codec, args []any) []byte {
	frame, err := c.AppendMessage(nil, benchPort, args)
	if err != nil {
		b.Fatal(err)
	}
	return frame
}

// benchSplitPort measures Next + Port on one message.
func benchSplitPort(b *testing.B, c Codec, args []any) {
	frame := benchFrame(b, c, args)
	d := NewDecoder(c, Limits{})
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m, n, err := d.Next(frame)
		if err != nil || n != len(frame) {
			b.Fatal(n, err)
		}
		sinkPort = m.Port()
	}
}

// benchArgsDecode measures Next + Port + Args on one message.
func benchArgsDecode(b *testing.B, c Codec, args []any) {
	frame := benchFrame(b, c, args)
	d := NewDecoder(c, Limits{})
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m, _, err := d.Next(frame)
		if err != nil {
			b.Fatal(err)
		}
		sinkPort = m.Port()
		if sinkArgs, err = m.Args(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, c Codec, args []any) {
	buf := benchFrame(b, c, args)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if buf, err = c.AppendMessage(buf[:0], benchPort, args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONSplitPort: split + port name of a 40-byte message.
func BenchmarkJSONSplitPort(b *testing.B) { benchSplitPort(b, JSON, benchArgs) }

// BenchmarkJSONSplitPortStream: the same message, 100 back to back in one
// buffer (the engine's read loop); ns/op is per message.
func BenchmarkJSONSplitPortStream(b *testing.B) {
	one := benchFrame(b, JSON, benchArgs)
	var stream []byte
	for range 100 {
		stream = append(stream, one...)
	}
	d := NewDecoder(JSON, Limits{})
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

// BenchmarkJSONSplitPortBig: split + port of the larger "nodes" message.
func BenchmarkJSONSplitPortBig(b *testing.B) { benchSplitPort(b, JSON, benchBigArgs) }

// BenchmarkJSONSplitLong: split of a message with a 64 KiB string (string
// scanning speed).
func BenchmarkJSONSplitLong(b *testing.B) {
	long := make([]byte, 64<<10)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	benchSplitPort(b, JSON, []any{string(long)})
}

func BenchmarkJSONDecodeArgs(b *testing.B)    { benchArgsDecode(b, JSON, benchArgs) }
func BenchmarkJSONDecodeArgsBig(b *testing.B) { benchArgsDecode(b, JSON, benchBigArgs) }
func BenchmarkJSONEncode(b *testing.B)        { benchEncode(b, JSON, benchArgs) }
func BenchmarkJSONEncodeBig(b *testing.B)     { benchEncode(b, JSON, benchBigArgs) }

// BenchmarkStorableDecode: split (length prefix + full validation of the
// image) + port name of the same 40-byte-ish message.
func BenchmarkStorableDecode(b *testing.B)        { benchSplitPort(b, Storable, benchArgs) }
func BenchmarkStorableDecodeBig(b *testing.B)     { benchSplitPort(b, Storable, benchBigArgs) }
func BenchmarkStorableDecodeArgs(b *testing.B)    { benchArgsDecode(b, Storable, benchArgs) }
func BenchmarkStorableDecodeArgsBig(b *testing.B) { benchArgsDecode(b, Storable, benchBigArgs) }
func BenchmarkStorableEncode(b *testing.B)        { benchEncode(b, Storable, benchArgs) }
func BenchmarkStorableEncodeBig(b *testing.B)     { benchEncode(b, Storable, benchBigArgs) }

// BenchmarkSonicDecodeBaseline decodes the same messages with sonic
// (UseNumber, CopyString) into []any, for comparison with the own decoder
// used by Args (which also validates UTF-8 leniently like JSON::XS, keeps
// numbers as Number and never aliases the input).
func BenchmarkSonicDecodeBaseline(b *testing.B) {
	api := sonic.Config{UseNumber: true, CopyString: true}.Froze()
	for _, bc := range []struct {
		name string
		args []any
	}{{"small", benchArgs}, {"big", benchBigArgs}} {
		b.Run(bc.name, func(b *testing.B) {
			frame := benchFrame(b, JSON, bc.args)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var v []any
				if err := api.Unmarshal(frame, &v); err != nil {
					b.Fatal(err)
				}
				sinkArgs = v
			}
		})
	}
}

// BenchmarkEncodeSink is what a Dest.Send of the sink benchmark encodes:
// the port prepared once (framing.Port), one 20-byte string argument.
func BenchmarkEncodeSink(b *testing.B) {
	args := []any{strings.Repeat("x", 20)}
	p := NewPort("sink")
	for _, c := range []Codec{JSON, CBOR, Storable} {
		b.Run(c.Name(), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				if len(buf) > 1<<16 {
					buf = buf[:0]
				}
				var err error
				if buf, err = c.AppendMessageTo(buf, p, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
