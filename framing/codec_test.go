package framing

import (
	"errors"
	"slices"
	"testing"
)

// TestRegistry checks that All, ByIndex, ByName, the exported codecs and
// the decoders agree on every framing's name and index.
func TestRegistry(t *testing.T) {
	all := All()
	if len(all) != NumCodecs || NumCodecs != 3 {
		t.Fatalf("All has %d codecs, NumCodecs %d", len(all), NumCodecs)
	}
	want := []Codec{JSON, Storable, CBOR}
	for i, c := range all {
		if c != want[i] || c.Index() != i || ByIndex(i) != c {
			t.Fatalf("codec %d: %v index %d ByIndex %v", i, c.Name(), c.Index(), ByIndex(i))
		}
		byName, err := ByName(c.Name())
		if err != nil || byName != c {
			t.Fatalf("ByName(%q): %v %v", c.Name(), byName, err)
		}
		if got := NewDecoder(c, Limits{}).Framing(); got != c.Name() {
			t.Fatalf("%s: decoder says %q", c.Name(), got)
		}
	}
	if ByIndex(-1) != nil || ByIndex(NumCodecs) != nil {
		t.Fatal("ByIndex out of range returned a codec")
	}
	if c, err := ByName("msgpack"); c != nil || !errors.Is(err, ErrUnknownFraming) {
		t.Fatalf("msgpack: %v %v", c, err)
	}
	all[0] = nil
	if All()[0] != JSON {
		t.Fatal("All returned the registry itself")
	}
}

// TestDefaultOrder: the default preference lists every framing once,
// cbor first (2.x's and our fastest), json before storable.
func TestDefaultOrder(t *testing.T) {
	order := DefaultOrder()
	if !slices.Equal(order, []string{"cbor", "json", "storable"}) {
		t.Fatalf("DefaultOrder %v", order)
	}
	for _, c := range All() {
		if !slices.Contains(order, c.Name()) {
			t.Fatalf("%s missing from DefaultOrder", c.Name())
		}
	}
	order[0] = "x"
	if DefaultOrder()[0] != "cbor" {
		t.Fatal("DefaultOrder returned shared storage")
	}
}

// TestKeepalive: each framing's keepalive frame is exactly one message,
// the empty message [] (node port, no arguments), and for json and
// storable it is what Perl writes (the vectors' empty_message).
func TestKeepalive(t *testing.T) {
	perl := map[string]string{"json": "[]", "storable": "\x07\x05\x0b\x02\x00\x00\x00\x00", "cbor": "\x80"}
	for _, c := range All() {
		k := c.Keepalive()
		if string(k) != perl[c.Name()] {
			t.Errorf("%s: keepalive %x", c.Name(), k)
		}
		if cap(k) != len(k) {
			t.Errorf("%s: keepalive can be appended to in place", c.Name())
		}
		m, n, err := NewDecoder(c, Limits{}).Next(k)
		if err != nil || n != len(k) || len(m.Port()) != 0 || !m.Routable() || m.Framing() != c.Name() {
			t.Fatalf("%s: keepalive decodes to n %d err %v port %q", c.Name(), n, err, m.Port())
		}
		if args, err := m.Args(); err != nil || args != nil {
			t.Fatalf("%s: keepalive args %v %v", c.Name(), args, err)
		}
		if nargs, _, _, ok := m.ScalarArgs(); !ok || nargs != 0 {
			t.Fatalf("%s: keepalive ScalarArgs %d %v", c.Name(), nargs, ok)
		}
	}
}

// TestErrorsNameTheFraming: one set of sentinels for every framing, the
// framing named in the *Error.
func TestErrorsNameTheFraming(t *testing.T) {
	cases := []struct {
		codec    Codec
		in       string
		sentinel error
	}{
		{JSON, `["a",]`, ErrMalformed},
		{JSON, `{"a":1}`, ErrNotArray},
		{JSON, `[[[1]]]`, ErrTooDeep},
		{JSON, `["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]`, ErrFrameTooLarge},
		{Storable, "\x03\x05\x0b\x02", ErrMalformed},
		{Storable, "\x04\x05\x0b\x0a\x00", ErrNotArray},
		{Storable, "\x0c\x05\x0b\x02\x00\x00\x00\x01\x04\x11\x01Xx", ErrUnsupported},
		{Storable, "\x7f", ErrFrameTooLarge},
		{CBOR, "\x81\x1c", ErrMalformed},
		{CBOR, "\xa0", ErrNotArray},
		{CBOR, "\x81\xc1\x00", ErrUnsupported},
		{CBOR, "\x81\x81\x81\x80", ErrTooDeep},
		{CBOR, "\x81\x58\x40", ErrFrameTooLarge},
	}
	for _, tc := range cases {
		_, _, err := NewDecoder(tc.codec, Limits{MaxDepth: 2, MaxFrameSize: 32}).Next([]byte(tc.in))
		var e *Error
		if !errors.Is(err, tc.sentinel) || !errors.As(err, &e) || e.Framing != tc.codec.Name() || e.Offset < 0 {
			t.Errorf("%s %q: %v, want %v naming the framing", tc.codec.Name(), tc.in, err, tc.sentinel)
		}
	}
}

// TestAppendMessageTo checks that a message written with a Port encoded
// beforehand is the frame AppendMessage writes, in every framing, errors
// included.
func TestAppendMessageTo(t *testing.T) {
	ports := []string{"", "sink", "a#b\"c\\d\n", "p\u00e9rl\u4e16", "long-" + string(make([]byte, 300)), "bad\xff"}
	argLists := [][]any{nil, {"x"}, {1, "two", 3.5, nil, []any{"n"}}, {make(chan int)}, {"bad\xfe"}}
	for _, c := range All() {
		for _, port := range ports {
			p := NewPort(port)
			if p.Name() != port {
				t.Fatalf("Name %q, want %q", p.Name(), port)
			}
			for _, args := range argLists {
				prefix := []byte("keep")
				want, werr := c.AppendMessage(slices.Clone(prefix), port, args)
				got, gerr := c.AppendMessageTo(slices.Clone(prefix), p, args)
				if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
					t.Fatalf("%s %q %v: error %v, AppendMessage's %v", c.Name(), port, args, gerr, werr)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s %q %v:\n got % x\nwant % x", c.Name(), port, args, got, want)
				}
			}
		}
	}
}
