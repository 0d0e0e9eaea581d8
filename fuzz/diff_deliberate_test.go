package fuzz

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/aemp-go/aemp/framing"
)

// The deliberate differences from Perl's codecs, in one place (and in
// docs/framing.md section 6): where our decoder rejects what Perl takes, or
// fails a connection where Perl waits. Each entry decides whether one
// disagreement is an instance of it; anything else is a disagreement to
// fix. Differences inside values (text that is not Unicode, CBOR::XS's
// wrapped negative integers, CBOR undefined, JSON::XS's float parsing) are
// part of the equivalence relation in diff_equiv_test.go.

// ourReject is the situation of one rejection: our error, where its frame
// starts in the stream, and what Perl made of that frame (a message it
// took, or nil if it waits for more or already failed).
type ourReject struct {
	codec framing.Codec
	err   *framing.Error
	start int // stream offset of the frame our error is in
	frame []byte
	perl  *perlValue // Perl's message, if it took one
	wait  bool       // Perl waits for more bytes
	json  *perlValue // json: the value JSON::XS waits to see delimited
	drop  []byte     // json: what JSON::XS dropped instead
}

type deliberate struct {
	name string
	// applies reports whether the rejection r is this difference.
	applies func(r *ourReject) bool
}

var deliberateRejects = []deliberate{
	// A top-level value that is not an array: JSON::XS and CBOR::XS take
	// it and AnyEvent::MP then uses a string or number as the name of an
	// array (normally the empty message) and dies on a hash; Storable
	// takes any root and the node fails the frame. Every message is an
	// array [PORT, ARGS...]: we fail the connection, as soon as the first
	// byte of the value shows it (Perl may still be waiting for its end).
	{"not-array", func(r *ourReject) bool {
		if !errors.Is(r.err, framing.ErrNotArray) {
			return false
		}
		return r.wait || r.perl != nil && r.perl.kind != 'a' || r.json != nil && r.json.kind != 'a'
	}},
	// Nesting deeper than Limits.MaxDepth (512): JSON::XS and CBOR::XS
	// stop at 512 as we do, Storable's thaw has no limit.
	{"depth", func(r *ourReject) bool {
		return errors.Is(r.err, framing.ErrTooDeep) && (r.wait || r.perl != nil && perlDepth(r.perl) > framing.DefaultMaxDepth)
	}},
	// A frame beyond Limits.MaxFrameSize: Perl has no limit (it waits for
	// a storable frame of any announced length).
	{"frame-size", func(r *ourReject) bool { return errors.Is(r.err, framing.ErrFrameTooLarge) }},
	// Storable: bytes after the root object inside the frame. Perl
	// ignores them; we fail the frame. The image without them must be
	// Perl's message.
	{"storable-trailing", func(r *ourReject) bool {
		if r.codec != framing.Storable || r.perl == nil || !errors.Is(r.err, framing.ErrMalformed) {
			return false
		}
		pre := berPrefix(r.frame)
		end := int(r.err.Offset) - r.start
		if pre <= 0 || end <= pre || end > len(r.frame) {
			return false
		}
		img := r.frame[pre:end]
		again := framing.AppendBER(nil, uint64(len(img)))
		again = append(again, img...)
		d := framing.NewDecoder(framing.Storable, framing.Limits{})
		m, n, err := d.Next(again)
		if err != nil || n != len(again) {
			return false
		}
		args, err := m.Args()
		if err != nil {
			return false
		}
		return sameMessage(r.codec, &ourMsg{port: m.PortString(), routable: m.Routable(), args: args}, r.perl) == ""
	}},
	// Storable: a length prefix with a leading 0x80 group (not minimal).
	// Perl decodes the number, then starts the image after the minimal
	// form's length, at the wrong byte.
	{"storable-ber", func(r *ourReject) bool {
		return r.codec == framing.Storable && len(r.frame) > 0 && r.frame[0] == 0x80
	}},
	// Storable: an image that nfreeze does not write: native byte order
	// (freeze), the "pst0" file magic, a minor version above 12. Perl's
	// thaw takes some of them.
	{"storable-header", func(r *ourReject) bool {
		if r.codec != framing.Storable {
			return false
		}
		pre := berPrefix(r.frame)
		if pre <= 0 || len(r.frame) < pre+2 {
			return false
		}
		img := r.frame[pre:]
		return img[0] != 0x05 || img[1] > 12
	}},
	// Storable: data that has no place in AEMP messages (blessed objects
	// other than the relay of JSON booleans, tied containers, hooks, code,
	// references to scalars, weak references, regular expressions,
	// v-strings, native SX_INTEGER/SX_DOUBLE). Perl's thaw builds them,
	// some by loading and calling code; we refuse them.
	{"storable-unsupported", func(r *ourReject) bool {
		if r.codec != framing.Storable || !errors.Is(r.err, framing.ErrUnsupported) {
			return false
		}
		switch r.err.Opcode {
		case 0x06, 0x07, 0x0b, 0x0c, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x20, 0x21:
			return true
		}
		return r.perl == nil || perlHas(r.perl, "orx")
	}},
	// Storable: a shared reference to a container that encloses it: Perl
	// builds a cyclic structure; we have no cycles.
	{"storable-cycle", func(r *ourReject) bool {
		return r.codec == framing.Storable && errors.Is(r.err, framing.ErrMalformed) && r.perl != nil && perlHas(r.perl, "c")
	}},
	// JSON: control characters between texts. JSON::XS's incremental
	// scanner skips them like whitespace, and drops them when nothing
	// follows them in the same read (followed by a text, they are a
	// syntax error); they are not JSON whitespace: we fail the frame.
	{"json-control-space", func(r *ourReject) bool {
		if r.codec != framing.JSON || !errors.Is(r.err, framing.ErrMalformed) || len(r.drop) == 0 {
			return false
		}
		for _, c := range r.drop {
			if c == 0 || c > 0x20 {
				return false
			}
		}
		return true
	}},
	// JSON: bytes in strings that are not UTF-8, beyond the forms we let
	// through as JSON::XS does (surrogates, 4-byte sequences up to F7):
	// JSON::XS also takes Perl's 5- and 6-byte forms (lead bytes F9..FD)
	// and some malformed sequences (a stray byte right before E2 80 80,
	// as Perl's UTF-8 check lets it pass). They are not text, and Perl
	// never writes them: we fail the frame. The bytes around our error
	// must indeed not be UTF-8.
	{"json-utf8", func(r *ourReject) bool {
		i := int(r.err.Offset) - r.start
		if r.codec != framing.JSON || !errors.Is(r.err, framing.ErrMalformed) || i < 0 || i >= len(r.frame) || r.frame[i] < 0x80 {
			return false
		}
		return !utf8.Valid(r.frame[max(0, i-3):min(len(r.frame), i+4)])
	}},
	// CBOR: a tag other than 55799. CBOR::XS turns tags into objects
	// (bignums, dates, URIs, CBOR::XS::Tagged, objects revived by class
	// name), shared values or string references; AnyEvent::MP never
	// writes tags.
	{"cbor-tag", func(r *ourReject) bool {
		return r.codec == framing.CBOR && errors.Is(r.err, framing.ErrUnsupported) && r.opcodeAtOffset()>>5 == 6
	}},
	// CBOR: a chunk of an indefinite-length string that is not a definite
	// string of the same type (RFC 8949 section 3.2.3): CBOR::XS takes
	// text chunks in a byte string and the other way round, and even
	// other items; we fail the frame (not well-formed CBOR).
	{"cbor-chunk", func(r *ourReject) bool {
		return r.codec == framing.CBOR && errors.Is(r.err, framing.ErrMalformed) && (r.perl != nil || r.wait) &&
			strings.HasPrefix(r.err.Detail, "indefinite-length string chunk")
	}},
	// CBOR: an item that is never valid (reserved additional information,
	// an indefinite-length integer or tag, a simple value other than
	// false, true, null, undefined and the floats), or undefined as a map
	// key: we fail as soon as its first byte arrives; CBOR::XS compares an
	// enclosing array's or map's count with the bytes there before it
	// reads the items, and may still be waiting (once they are there, it
	// fails on the item too).
	{"cbor-early", func(r *ourReject) bool {
		i := int(r.err.Offset) - r.start
		if r.codec != framing.CBOR || !r.wait || i < 0 || i >= len(r.frame) {
			return false
		}
		c := r.frame[i]
		ai := c & 31
		if c == 0xf7 && errors.Is(r.err, framing.ErrUnsupported) {
			return true // undefined as a map key
		}
		return ai >= 28 && ai <= 30 || c == 0x1f || c == 0x3f || c == 0xdf || c >= 0xe0 && c <= 0xf3 || c == 0xf8
	}},
	// CBOR: an array or map as a map key: CBOR::XS uses the reference's
	// address ("ARRAY(0x...)") as the key.
	{"cbor-container-key", func(r *ourReject) bool {
		if r.codec != framing.CBOR || !errors.Is(r.err, framing.ErrUnsupported) {
			return false
		}
		m := r.opcodeAtOffset() >> 5
		return m == 4 || m == 5
	}},
}

// opcodeAtOffset is the byte the error points at, if it is the error's
// Opcode (else 0xff).
func (r *ourReject) opcodeAtOffset() byte {
	i := int(r.err.Offset) - r.start
	if r.err.Opcode < 0 || i < 0 || i >= len(r.frame) || r.frame[i] != byte(r.err.Opcode) {
		return 0xff
	}
	return r.frame[i]
}

// berPrefix is the length of the BER length prefix at the start of frame
// (0 if it does not end there).
func berPrefix(frame []byte) int {
	for i, c := range frame {
		if c < 0x80 {
			return i + 1
		}
	}
	return 0
}

// deliberateReject returns the name of the deliberate difference r is an
// instance of, or "".
func deliberateReject(r *ourReject) string {
	for _, d := range deliberateRejects {
		if d.applies(r) {
			return d.name
		}
	}
	return ""
}
