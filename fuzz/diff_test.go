package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aemp-go/aemp/framing"
)

// Differential fuzzing against Perl's own codecs (the oracle in
// perl/oracle.pl). Each input is used three ways:
//
//   - the stream is decoded by us and by Perl: both reject it at the same
//     message or both take the same messages (diffDecode);
//   - a value is built from the recipe bytes and encoded by us: Perl reads
//     exactly that value back (diffOurEncoding);
//   - the same recipe is built and encoded by Perl: we read what Perl
//     reads from those bytes (diffPerlEncoding).
//
// Differences that are on purpose are listed in diff_deliberate_test.go
// (rejections) and diff_equiv_test.go (values), and described in
// docs/framing.md section 6 (The Perl codecs and options).

// framingByte is the oracle's name of a framing.
func framingByte(c framing.Codec) byte { return c.Name()[0] }

// ourStream is what our decoder made of a stream.
type ourStream struct {
	msgs   []ourMsg
	starts []int // stream offset of each message
	err    *framing.Error
	errAt  int    // stream offset of the frame the error is in
	rest   []byte // no error: bytes not consumed
}

func ourDecode(t *testing.T, codec framing.Codec, stream []byte) *ourStream {
	d := framing.NewDecoder(codec, framing.Limits{})
	s := &ourStream{}
	used := 0
	for used < len(stream) {
		m, n, err := d.Next(stream[used:])
		if err != nil {
			if !errors.As(err, &s.err) {
				t.Fatalf("decoder error without *framing.Error: %v", err)
			}
			s.errAt = used
			return s
		}
		if n == 0 {
			break
		}
		args, err := m.Args()
		if err != nil {
			t.Fatalf("Args of a validated message: %v", err)
		}
		s.msgs = append(s.msgs, ourMsg{port: m.PortString(), routable: m.Routable(), args: args, raw: bytes.Clone(m.Raw())})
		s.starts = append(s.starts, used)
		used += n
	}
	s.rest = stream[used:]
	return s
}

func onlyJSONSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// diffDecode decodes stream with us and with Perl and returns the first
// disagreement that is not deliberate ("" if none).
func diffDecode(t *testing.T, o *oracle, codec framing.Codec, stream []byte) string {
	ours := ourDecode(t, codec, stream)
	perl, err := o.decode(framingByte(codec), stream)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for ; k < len(ours.msgs) && k < len(perl.msgs); k++ {
		if d := sameMessage(codec, &ours.msgs[k], perl.msgs[k]); d != "" {
			return fmt.Sprintf("message %d: %s", k, d)
		}
	}
	switch {
	case k < len(ours.msgs):
		return fmt.Sprintf("we take message %d [%q %#v]; Perl stops: %s", k, ours.msgs[k].port, ours.msgs[k].args, perlEnd(perl))
	case ours.err != nil:
		r := &ourReject{codec: codec, err: ours.err, start: ours.errAt, frame: stream[ours.errAt:], drop: perl.drop}
		switch {
		case k < len(perl.msgs):
			r.perl = perl.msgs[k]
		case perl.end == 'X' || perl.end == 'D' || perl.end == 'Q':
			return "" // both reject (Q: Perl would, by the evidence of padding)
		case perl.end == 'P':
			r.wait = true
		case perl.end == 'N':
			r.json = perl.next
		}
		if deliberateReject(r) != "" {
			return ""
		}
		if r.perl != nil {
			return fmt.Sprintf("we fail message %d (%v), Perl takes %v", k, ours.err, r.perl)
		}
		return fmt.Sprintf("we fail after %d messages (%v), Perl: %s", k, ours.err, perlEnd(perl))
	case k < len(perl.msgs):
		return fmt.Sprintf("Perl takes message %d %v, we wait (%d bytes left)", k, perl.msgs[k], len(ours.rest))
	}
	// The same messages, no error on our side.
	complete := len(ours.rest) == 0 || codec == framing.JSON && onlyJSONSpace(ours.rest)
	switch perl.end {
	case 'K':
		if complete {
			return ""
		}
	case 'P', 'Q': // Q: no proof that the beginning is bad
		if !complete {
			return ""
		}
	}
	return fmt.Sprintf("after %d messages we have %d bytes left, valid so far; Perl: %s", k, len(ours.rest), perlEnd(perl))
}

func perlEnd(p *perlStream) string {
	switch p.end {
	case 'K':
		return "nothing left"
	case 'P':
		return "waits for the rest of a frame"
	case 'Q':
		return "waits for the rest of a frame, which looks bad: " + p.err
	case 'N':
		return "waits to deliver " + p.next.String()
	case 'X':
		return "error: " + p.err
	case 'D':
		return "died: " + p.err
	}
	return "?"
}

// diffMaxStream bounds the stream of one input, so that an iteration
// stays fast.
const diffMaxStream = 1 << 16

// fuzzDiff runs the three comparisons on every input.
func fuzzDiff(f *testing.F, codec framing.Codec, seeds [][]byte) {
	f.Logf("oracle: %s", perlOracle(f).version)
	recipes := [][]byte{
		{},
		{0, 5, 2, 'p', 'o', 'r', 't', 'x', 1, 0x9c, 6, 2, 'a', 'b', 9, 0x03, 4},
		[]byte("\x02\x04\x03\xe2\x82\xac\x06\x00\x08\x02\x0d\x03\x01\x05\x04\x02\x09\x0e"),
		[]byte("\x01\x07\x0f\x02\x06\x00\x02\x03\x01\x0b\x10\x08\x03\x05\x11\x22\x33\x44\x05\x04"),
		[]byte("\x03\x06\x02\xff\xfe\x04\x3f\xb9\x99\x99\x99\x99\x99\x9a\x09\x07\x05\x10\x07\x02\x00\x00\xd8\x00\x00\x11\x00\x00"),
	}
	for i, s := range seeds {
		if len(s) > 4096 {
			continue
		}
		f.Add(s, recipes[i%len(recipes)])
	}
	f.Fuzz(func(t *testing.T, stream, recipe []byte) {
		o := perlOracle(t)
		if len(stream) > diffMaxStream {
			stream = stream[:diffMaxStream]
		}
		if d := diffDecode(t, o, codec, stream); d != "" {
			t.Fatalf("stream %x:\n%s", stream, d)
		}
		if len(recipe) == 0 {
			return
		}
		msg := genMessage(recipe)
		if d := diffOurEncoding(t, o, codec, msg); d != "" {
			t.Fatalf("recipe %x (our encoding):\n%s", recipe, d)
		}
		if d := diffPerlEncoding(t, o, codec, msg); d != "" {
			t.Fatalf("recipe %x (Perl's encoding):\n%s", recipe, d)
		}
	})
}

// FuzzDiffJSON compares the json framing with JSON::XS (see fuzzDiff).
func FuzzDiffJSON(f *testing.F) {
	fuzzDiff(f, framing.JSON, frSeedStreams(f, "json_vectors.txt"))
}

// FuzzDiffStorable compares the storable framing with Storable.
func FuzzDiffStorable(f *testing.F) {
	seeds := frSeedStreams(f, "storable_vectors.txt")
	for _, s := range frSeedStreams(f, "storable_bad.txt") {
		seeds = append(seeds, s)
	}
	fuzzDiff(f, framing.Storable, seeds)
}

// FuzzDiffCBOR compares the cbor framing with CBOR::XS.
func FuzzDiffCBOR(f *testing.F) {
	fuzzDiff(f, framing.CBOR, frSeedStreams(f, "cbor_seeds.txt"))
}

// TestDiffEdges runs the encoding comparisons on values at the edges of
// each framing's mapping (those a fuzzer rarely builds: negative zero,
// the limits of 32 and 64 bits, huge literals, non-ASCII keys), in every
// framing. It needs the oracle like the fuzz targets.
func TestDiffEdges(t *testing.T) {
	o := perlOracle(t)
	num := func(op byte, s string) *recipe { return &recipe{op: op, b: []byte(s)} }
	str := func(s string) *recipe { return &recipe{op: 't', b: []byte(s)} }
	var args []*recipe
	for _, f := range []float64{math.Copysign(0, -1), 0, 1, -1, 0.1, 1.0 / 3, 1 << 53, -(1 << 53), 1e300, 5e-324, 2.2250738585072014e-308, math.MaxFloat64, 1.5, 1e20, 1e-7, 123456.0} {
		args = append(args, &recipe{op: 'n', f: f})
	}
	for _, i := range []int64{0, -1, 127, 128, -128, -129, math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64} {
		args = append(args, &recipe{op: 'i', i: i})
	}
	args = append(args, &recipe{op: 'w', u: math.MaxUint64}, &recipe{op: 'w', u: 1 << 63})
	for _, s := range []string{"-0", "-0.0", "0.0", "1e400", "-1e400", "123456789012345678901234567890", "-123456789012345678901234567890",
		"-9223372036854775808", "18446744073709551615", "18446744073709551616", "88000.0", "1E2", "0.1", "2.5e-7"} {
		args = append(args, num('N', s), num('d', s))
	}
	for _, s := range []string{"", "ascii", strings.Repeat("x", 255), strings.Repeat("y", 256), "ü", "€uro", "😀", "a\x00b\x1f\"\\/\x7f", "\u2028"} {
		args = append(args, str(s))
	}
	args = append(args, &recipe{op: 'b', b: []byte{0, 0xff, 0xfc, 'a'}}, &recipe{op: 'b'},
		&recipe{op: 'T'}, &recipe{op: 'F'}, &recipe{op: 'y'}, &recipe{op: 'z'}, &recipe{op: 'u'},
		&recipe{op: 'a', kids: []*recipe{{op: 'a'}, {op: 'h'}, {op: 'a', kids: []*recipe{{op: 'u'}}}}},
		&recipe{op: 'h', kids: []*recipe{str("ü"), {op: 'i', i: 1}, {op: 'b', b: []byte{0xfc, 'x'}}, {op: 'i', i: 2}, str(""), {op: 'u'}, str("€"), str("v")}})
	for _, codec := range framing.All() {
		for i, a := range args {
			msg := &recipe{op: 'a', kids: []*recipe{str("port"), a}}
			if d := diffOurEncoding(t, o, codec, msg); d != "" {
				t.Errorf("%s arg %d (our encoding): %s", codec.Name(), i, d)
			}
			if d := diffPerlEncoding(t, o, codec, msg); d != "" {
				t.Errorf("%s arg %d (Perl's encoding): %s", codec.Name(), i, d)
			}
		}
	}
}
