package fuzz

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aemp-go/aemp/framing"
)

// frSeedStreams returns the streams of testdata/json_vectors.txt, or the
// frames of testdata/storable_vectors.txt and streams of
// testdata/storable_bad.txt (copies of shared/testdata).
func frSeedStreams(f *testing.F, name string) [][]byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, "\t")
		h := fields[1] // json: NAME HEX EXPECT; storable bad: NAME HEX PERL; vectors: MESSAGE HEX
		s, err := hex.DecodeString(h)
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		out = append(out, s)
	}
	if len(out) < 20 {
		f.Fatalf("%s: only %d seeds", name, len(out))
	}
	return out
}

// frResult is everything a decoder yielded for a stream.
type frResult struct {
	raws  [][]byte
	ports []string
	route []bool
	args  [][]any
	err   error
}

// frFeed runs the engine's read loop over the stream cut into chunks; the
// bytes of each consumed message are overwritten after it was decoded, so
// that aliasing shows up.
func frFeed(t *testing.T, codec framing.Codec, lim framing.Limits, chunks [][]byte) frResult {
	d := framing.NewDecoder(codec, lim)
	var r frResult
	var buf []byte
	for _, ch := range chunks {
		buf = append(buf, ch...)
		for len(buf) > 0 {
			m, n, err := d.Next(buf)
			if err != nil {
				var e *framing.Error
				if !errors.As(err, &e) || e.Offset < 0 {
					t.Fatalf("error without *Error: %v", err)
				}
				r.err = err
				return r
			}
			if n == 0 {
				break
			}
			if n > len(buf) || !m.Valid() {
				t.Fatalf("n %d of %d, valid %v", n, len(buf), m.Valid())
			}
			args, err := m.Args()
			if err != nil {
				t.Fatalf("Args of a validated message %x: %v", m.Raw(), err)
			}
			r.raws = append(r.raws, bytes.Clone(m.Raw()))
			r.ports = append(r.ports, m.PortString())
			r.route = append(r.route, m.Routable())
			r.args = append(r.args, args)
			for i := range buf[:n] {
				buf[i] = 0x5A
			}
			buf = buf[n:]
		}
	}
	return r
}

func frSame(a, b frResult) error {
	if len(a.raws) != len(b.raws) {
		return fmt.Errorf("%d vs %d messages (errors %v / %v)", len(a.raws), len(b.raws), a.err, b.err)
	}
	for i := range a.raws {
		if !bytes.Equal(a.raws[i], b.raws[i]) || a.ports[i] != b.ports[i] || a.route[i] != b.route[i] ||
			!reflect.DeepEqual(a.args[i], b.args[i]) {
			return fmt.Errorf("message %d differs: %x vs %x", i, a.raws[i], b.raws[i])
		}
	}
	if (a.err == nil) != (b.err == nil) {
		return fmt.Errorf("error %v vs %v", a.err, b.err)
	}
	if a.err != nil {
		var ea, eb *framing.Error
		errors.As(a.err, &ea)
		errors.As(b.err, &eb)
		if ea.Err != eb.Err || ea.Offset != eb.Offset {
			return fmt.Errorf("errors differ: %v vs %v", a.err, b.err)
		}
	}
	return nil
}

// frChunks cuts stream into chunks whose sizes cycle through plan (each
// byte b gives b%23+1 bytes).
func frChunks(stream, plan []byte) [][]byte {
	if len(plan) == 0 {
		return [][]byte{stream}
	}
	var out [][]byte
	for i, k := 0, 0; i < len(stream); k++ {
		n := min(int(plan[k%len(plan)])%23+1, len(stream)-i)
		out = append(out, stream[i:i+n])
		i += n
	}
	return out
}

// frLimits derives small limits from the plan sometimes, so that the limit
// paths are fuzzed too.
func frLimits(plan []byte) framing.Limits {
	if len(plan) < 2 || plan[0]&0x80 == 0 {
		return framing.Limits{}
	}
	return framing.Limits{MaxFrameSize: int(plan[1]) + 1, MaxDepth: int(plan[0]&0x0f) + 1}
}

// frPerlBools maps bools to what the encoders write for them ("1", ""),
// so that decode -> encode -> decode can be compared.
func frPerlBools(v any) any {
	switch x := v.(type) {
	case bool:
		if x {
			return "1"
		}
		return ""
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = frPerlBools(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = frPerlBools(e)
		}
		return out
	}
	return v
}

// frReencode encodes each message again and checks that it decodes to the
// same port and arguments (booleans become "1"/"").
func frReencode(t *testing.T, codec framing.Codec, r frResult) {
	for i := range r.raws {
		if !utf8.ValidString(r.ports[i]) {
			continue // lenient bytes in a zero-copy port name: not encodable
		}
		out, err := codec.AppendMessage(nil, r.ports[i], r.args[i])
		if err != nil {
			t.Fatalf("re-encode %x: %v", r.raws[i], err)
		}
		again := frFeed(t, codec, framing.Limits{MaxFrameSize: len(out) + 1, MaxDepth: 600}, [][]byte{out})
		if again.err != nil || len(again.raws) != 1 {
			t.Fatalf("re-encoded %x does not decode: %v", out, again.err)
		}
		want := frPerlBools(r.args[i]).([]any)
		if again.ports[0] != r.ports[i] || !reflect.DeepEqual(again.args[0], want) {
			t.Fatalf("round trip of %x: %q %#v, want %q %#v", r.raws[i], again.ports[0], again.args[0], r.ports[i], want)
		}
	}
}

func FuzzJSONSplit(f *testing.F) {
	for _, s := range frSeedStreams(f, "json_vectors.txt") {
		if len(s) > 4096 {
			continue // the big vectors make slow seeds
		}
		f.Add(s, []byte{})
		f.Add(s, []byte{0})
		f.Add(s, []byte{2, 0, 6, 1})
		f.Add(s, []byte{0x83, 20})
	}
	f.Fuzz(func(t *testing.T, stream, plan []byte) {
		lim := frLimits(plan)
		ref := frFeed(t, framing.JSON, lim, [][]byte{stream})
		if err := frSame(ref, frFeed(t, framing.JSON, lim, frChunks(stream, plan))); err != nil {
			t.Fatalf("chunked: %v", err)
		}
		if len(stream) <= 2048 {
			if err := frSame(ref, frFeed(t, framing.JSON, lim, frChunks(stream, []byte{0}))); err != nil {
				t.Fatalf("bytewise: %v", err)
			}
		}
		for _, raw := range ref.raws {
			if !json.Valid(raw) || raw[0] != '[' {
				t.Fatalf("yielded invalid JSON %q", raw)
			}
		}
		if ref.err != nil && !errors.Is(ref.err, framing.ErrMalformed) && !errors.Is(ref.err, framing.ErrNotArray) &&
			!errors.Is(ref.err, framing.ErrTooDeep) && !errors.Is(ref.err, framing.ErrFrameTooLarge) {
			t.Fatalf("unexpected error kind: %v", ref.err)
		}
		frReencode(t, framing.JSON, ref)
	})
}

func FuzzStorableDecode(f *testing.F) {
	for _, s := range frSeedStreams(f, "storable_vectors.txt") {
		if len(s) > 4096 {
			continue
		}
		f.Add(s, []byte{})
		f.Add(s, []byte{3, 1})
	}
	for _, s := range frSeedStreams(f, "storable_bad.txt") {
		if len(s) > 4096 {
			continue
		}
		f.Add(s, []byte{})
	}
	f.Fuzz(func(t *testing.T, data, plan []byte) {
		lim := frLimits(plan)
		// data as a stream, and as one image behind a correct prefix (so
		// that mutations inside the image keep the frame length right)
		streams := [][]byte{data, append(framing.AppendBER(nil, uint64(len(data))), data...)}
		for _, stream := range streams {
			ref := frFeed(t, framing.Storable, lim, [][]byte{stream})
			if err := frSame(ref, frFeed(t, framing.Storable, lim, frChunks(stream, plan))); err != nil {
				t.Fatalf("chunked: %v", err)
			}
			if len(stream) <= 2048 {
				if err := frSame(ref, frFeed(t, framing.Storable, lim, frChunks(stream, []byte{0}))); err != nil {
					t.Fatalf("bytewise: %v", err)
				}
			}
			if ref.err != nil && !errors.Is(ref.err, framing.ErrMalformed) && !errors.Is(ref.err, framing.ErrNotArray) &&
				!errors.Is(ref.err, framing.ErrUnsupported) && !errors.Is(ref.err, framing.ErrTooDeep) &&
				!errors.Is(ref.err, framing.ErrFrameTooLarge) {
				t.Fatalf("unexpected error kind: %v", ref.err)
			}
			frReencode(t, framing.Storable, ref)
		}
	})
}
