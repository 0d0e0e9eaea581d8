package framing

import (
	"encoding/binary"
)

// storableArgs decodes the arguments of a storable message.
func (m *Message) storableArgs() ([]any, error) {
	if m.flags&flagNoElems != 0 {
		return nil, nil
	}
	r := storableReader{b: m.raw}
	if m.flags&flagFromStart == 0 {
		if m.nargs == 0 {
			return nil, nil
		}
		r.i = m.argOff
		args := make([]any, m.nargs)
		for k := range args {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			args[k] = v
		}
		return args, nil
	}
	// Shared references: decode the whole image with a tag table.
	pre := 0
	for pre < len(m.raw) && m.raw[pre]&0x80 != 0 {
		pre++
	}
	pre++         // the last prefix byte
	r.i = pre + 3 // BER, header (2), SX_ARRAY opcode of the root
	r.tags = make([]any, m.ntags)
	root, err := r.array()
	if err != nil {
		return nil, err
	}
	all := root.([]any)
	if len(all) <= 1 {
		return nil, nil
	}
	return all[1:], nil
}

// inProgress marks a tag table slot whose object is still being decoded.
type inProgress struct{}

// storableReader decodes validated storable objects into the value model.
// Bounds are still checked, so malformed input gives an error, not a panic.
type storableReader struct {
	b    []byte
	i    int
	tags []any // nil unless the image has SX_OBJECT
	ntag int
}

func (r *storableReader) err() error {
	return newError("storable", int64(r.i), ErrMalformed, "malformed image in a validated frame")
}

func (r *storableReader) tag() int {
	t := r.ntag
	r.ntag++
	if t < len(r.tags) {
		r.tags[t] = inProgress{}
	}
	return t
}

func (r *storableReader) set(t int, v any) {
	if t < len(r.tags) {
		r.tags[t] = v
	}
}

func (r *storableReader) u32() (int, bool) {
	if len(r.b)-r.i < 4 {
		return 0, false
	}
	n := binary.BigEndian.Uint32(r.b[r.i:])
	r.i += 4
	return int(n), n < 1<<31
}

func (r *storableReader) bytes(n int) ([]byte, bool) {
	if n < 0 || len(r.b)-r.i < n {
		return nil, false
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b, true
}

// scalarBytes converts a byte string (SX_SCALAR/SX_LSCALAR): ASCII becomes
// a string, anything with a byte >= 0x80 a []byte copy.
func scalarBytes(b []byte) any {
	if isASCII(b) {
		return string(b)
	}
	return append([]byte(nil), b...)
}

// utf8Text converts the bytes of a Perl string with the UTF-8 flag on
// (storable SX_UTF8STR, CBOR text strings) to valid UTF-8 (perlText).
func utf8Text(b []byte) string {
	return perlText(b)
}

// latin1Key converts a byte-string hash key to text.
func latin1Key(b []byte) string {
	if isASCII(b) {
		return string(b)
	}
	return string(latin1ToUTF8(make([]byte, 0, 2*len(b)), b))
}

func (r *storableReader) value() (any, error) {
	if r.i >= len(r.b) {
		return nil, r.err()
	}
	op := r.b[r.i]
	r.i++
	switch op {
	case sxObject:
		t, ok := r.u32()
		if !ok || t >= len(r.tags) {
			return nil, r.err()
		}
		v := r.tags[t]
		if _, bad := v.(inProgress); bad {
			return nil, r.err()
		}
		return v, nil
	case sxScalar, sxUTF8Str, sxLScalar, sxLUTF8Str:
		var n int
		if op == sxScalar || op == sxUTF8Str {
			if r.i >= len(r.b) {
				return nil, r.err()
			}
			n = int(r.b[r.i])
			r.i++
		} else {
			var ok bool
			if n, ok = r.u32(); !ok {
				return nil, r.err()
			}
		}
		b, ok := r.bytes(n)
		if !ok {
			return nil, r.err()
		}
		var v any
		if op == sxScalar || op == sxLScalar {
			v = scalarBytes(b)
		} else {
			v = utf8Text(b)
		}
		r.set(r.tag(), v)
		return v, nil
	case sxUndef, sxSvUndef, sxSvUndefElem:
		r.tag()
		return nil, nil
	case sxSvYes, sxBoolTrue:
		r.set(r.tag(), "1")
		return "1", nil
	case sxSvNo, sxBoolFalse:
		r.set(r.tag(), "")
		return "", nil
	case sxByte:
		b, ok := r.bytes(1)
		if !ok {
			return nil, r.err()
		}
		v := int64(b[0]) - 128
		r.set(r.tag(), v)
		return v, nil
	case sxNetint:
		b, ok := r.bytes(4)
		if !ok {
			return nil, r.err()
		}
		v := int64(int32(binary.BigEndian.Uint32(b)))
		r.set(r.tag(), v)
		return v, nil
	case sxArray:
		return r.array()
	case sxHash, sxFlagHash:
		return r.hash(op == sxFlagHash)
	case sxRef:
		t := r.tag()
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		r.set(t, v)
		return v, nil
	case sxOverload:
		return r.boolean()
	}
	return nil, r.err()
}

// array decodes an SX_ARRAY whose opcode has been read.
func (r *storableReader) array() (any, error) {
	t := r.tag()
	n, ok := r.u32()
	if !ok || n > len(r.b)-r.i {
		return nil, r.err()
	}
	a := make([]any, n)
	for k := range a {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		a[k] = v
	}
	r.set(t, a)
	return a, nil
}

// hash decodes an SX_HASH or SX_FLAG_HASH whose opcode has been read.
func (r *storableReader) hash(flagged bool) (any, error) {
	t := r.tag()
	if flagged {
		if _, ok := r.bytes(1); !ok {
			return nil, r.err()
		}
	}
	n, ok := r.u32()
	if !ok || n > (len(r.b)-r.i)/5 {
		return nil, r.err()
	}
	h := make(map[string]any, n)
	for ; n > 0; n-- {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		var kf byte
		if flagged {
			b, ok := r.bytes(1)
			if !ok {
				return nil, r.err()
			}
			kf = b[0]
		}
		kl, ok := r.u32()
		if !ok {
			return nil, r.err()
		}
		kb, ok := r.bytes(kl)
		if !ok {
			return nil, r.err()
		}
		switch {
		case kf&kfPlaceholder != 0: // deleted entry of a restricted hash
		case kf&kfUTF8 != 0:
			h[utf8Text(kb)] = v
		default:
			h[latin1Key(kb)] = v
		}
	}
	r.set(t, h)
	return h, nil
}

// boolean decodes a relayed JSON boolean (see storableValidator.boolean).
func (r *storableReader) boolean() (any, error) {
	t := r.tag()
	if r.i >= len(r.b) {
		return nil, r.err()
	}
	switch r.b[r.i] {
	case sxBless:
		r.i++
		if r.i >= len(r.b) {
			return nil, r.err()
		}
		n := int(r.b[r.i])
		r.i++
		if _, ok := r.bytes(n); !ok {
			return nil, r.err()
		}
	case sxIxBless:
		r.i++
		if _, ok := r.bytes(1); !ok {
			return nil, r.err()
		}
	case sxObject:
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		r.set(t, v)
		return v, nil
	default:
		return nil, r.err()
	}
	b, ok := r.bytes(2)
	if !ok || b[0] != sxByte {
		return nil, r.err()
	}
	v := b[1] == 0x81
	r.set(r.tag(), v)
	r.set(t, v)
	return v, nil
}
