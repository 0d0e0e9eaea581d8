package framing

import (
	"math"
	"strconv"
)

// cborArgs decodes the arguments of a cbor message.
//
// Value mapping (the package's value model):
//
//	unsigned/negative integer  int64; beyond int64 a Number with the exact
//	                           decimal value ("18446744073709551615",
//	                           "-18446744073709551616")
//	byte string (major 2)      string if all bytes are ASCII, else []byte
//	                           (a Perl byte string, as in storable)
//	text string (major 3)      string; invalid UTF-8 (CBOR::XS neither
//	                           checks nor rejects it) becomes U+FFFD
//	indefinite-length strings  the concatenated chunks, as above
//	float16/32/64              Number: integral values below 2^53 as
//	                           integers ("2"), others in the shortest form
//	                           that round-trips the float64 ("0.1",
//	                           "1e+300"); NaN, infinities as "NaN", "Inf",
//	                           "-Inf" (not JSON numbers: cannot be re-sent)
//	false, true                bool
//	null, undefined            nil
//	array (any length form)    []any (never nil)
//	map (any length form)      map[string]any; keys as Perl stringifies
//	                           them: strings as above (byte strings as
//	                           Latin-1), integers in decimal, floats as
//	                           their Number, true/false "1"/"0", null and
//	                           undefined ""; duplicate keys: last wins
//	tag 55799                  skipped (no other tag passes the splitter)
func (m *Message) cborArgs() ([]any, error) {
	if m.flags&flagNoElems != 0 {
		return nil, nil
	}
	r := cborReader{b: m.raw, i: m.argOff}
	if m.nargs >= 0 {
		if m.nargs == 0 {
			return nil, nil
		}
		if m.nargs > len(r.b)-r.i {
			return nil, r.err()
		}
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
	var args []any
	for {
		if r.i >= len(r.b) {
			return nil, r.err()
		}
		if r.b[r.i] == cborBreak {
			return args, nil
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
}

// cborReader decodes validated CBOR into the value model. It still checks
// every bound, so that malformed input gives an error, never a panic.
type cborReader struct {
	b   []byte
	i   int
	tmp []byte // scratch for indefinite-length strings
}

func (r *cborReader) err() error {
	return newError("cbor", int64(r.i), ErrMalformed, "malformed CBOR in a validated frame")
}

// head reads the head at r.i, skipping tags 55799.
func (r *cborReader) head() (c, major, ai byte, arg uint64, ok bool) {
	for r.i < len(r.b) {
		var hl int
		c = r.b[r.i]
		major, ai, arg, hl, ok = cborHead(r.b, r.i)
		if !ok || (ai >= 28 && ai < cborAIIndef) {
			return c, major, ai, arg, false
		}
		r.i += hl
		if major != cborTag {
			return c, major, ai, arg, true
		}
		if arg != cborSelfDescribe || ai == cborAIIndef {
			return c, major, ai, arg, false
		}
	}
	return 0, 0, 0, 0, false
}

// payload returns the next n bytes.
func (r *cborReader) payload(n uint64) ([]byte, bool) {
	if uint64(len(r.b)-r.i) < n {
		return nil, false
	}
	p := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return p, true
}

// chunks reads the chunks of an indefinite-length string of type major
// (its head has been read) into r.tmp.
func (r *cborReader) chunks(major byte) ([]byte, bool) {
	buf := r.tmp[:0]
	for {
		if r.i >= len(r.b) {
			return nil, false
		}
		if r.b[r.i] == cborBreak {
			r.i++
			r.tmp = buf
			return buf, true
		}
		_, mj, ai, n, ok := r.head()
		if !ok || mj != major || ai == cborAIIndef {
			return nil, false
		}
		p, ok := r.payload(n)
		if !ok {
			return nil, false
		}
		buf = append(buf, p...)
	}
}

// str reads the string whose head (type major) has been read.
func (r *cborReader) str(major, ai byte, n uint64) ([]byte, bool) {
	if ai == cborAIIndef {
		return r.chunks(major)
	}
	return r.payload(n)
}

// cborInt converts an integer of major type 0 or 1.
func cborInt(major byte, n uint64) any {
	if n <= math.MaxInt64 {
		if major == cborNeg {
			return -1 - int64(n)
		}
		return int64(n)
	}
	if major == cborNeg {
		return Number(appendCBORNeg(nil, n))
	}
	return Number(strconv.FormatUint(n, 10))
}

func (r *cborReader) value() (any, error) {
	c, major, ai, arg, ok := r.head()
	if !ok {
		return nil, r.err()
	}
	switch major {
	case cborUint, cborNeg:
		return cborInt(major, arg), nil
	case cborBytes:
		p, ok := r.str(major, ai, arg)
		if !ok {
			return nil, r.err()
		}
		return scalarBytes(p), nil
	case cborText:
		p, ok := r.str(major, ai, arg)
		if !ok {
			return nil, r.err()
		}
		return utf8Text(p), nil
	case cborArray:
		if ai == cborAIIndef {
			a := []any{}
			for {
				if r.i >= len(r.b) {
					return nil, r.err()
				}
				if r.b[r.i] == cborBreak {
					r.i++
					return a[:len(a):len(a)], nil
				}
				v, err := r.value()
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
		}
		if arg > uint64(len(r.b)-r.i) {
			return nil, r.err()
		}
		a := make([]any, arg)
		for k := range a {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			a[k] = v
		}
		return a, nil
	case cborMap:
		indef := ai == cborAIIndef
		if !indef && arg > uint64(len(r.b)-r.i)/2 {
			return nil, r.err()
		}
		size := int(arg)
		if indef {
			size = 0
		}
		h := make(map[string]any, size)
		for k := 0; indef || k < size; k++ {
			if indef {
				if r.i >= len(r.b) {
					return nil, r.err()
				}
				if r.b[r.i] == cborBreak {
					r.i++
					break
				}
			}
			key, err := r.key()
			if err != nil {
				return nil, err
			}
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			h[key] = v
		}
		return h, nil
	case cborSimple:
		switch c {
		case cborFalse:
			return false, nil
		case cborTrue:
			return true, nil
		case cborNull, cborUndefined:
			return nil, nil
		case cborFloat16, cborFloat32, cborFloat64:
			return cborFloatNumber(cborFloatValue(c, arg)), nil
		}
	}
	return nil, r.err()
}

// key reads a map key and returns it as Perl stringifies it.
func (r *cborReader) key() (string, error) {
	c, major, ai, arg, ok := r.head()
	if !ok {
		return "", r.err()
	}
	switch major {
	case cborUint:
		return strconv.FormatUint(arg, 10), nil
	case cborNeg:
		return string(appendCBORNeg(nil, arg)), nil
	case cborBytes:
		p, ok := r.str(major, ai, arg)
		if !ok {
			return "", r.err()
		}
		return latin1Key(p), nil
	case cborText:
		p, ok := r.str(major, ai, arg)
		if !ok {
			return "", r.err()
		}
		return perlText(p), nil
	case cborSimple:
		switch c {
		case cborFalse:
			return "0", nil
		case cborTrue:
			return "1", nil
		case cborNull, cborUndefined:
			return "", nil
		case cborFloat16, cborFloat32, cborFloat64:
			var buf [32]byte
			return string(appendPerlNumber(buf[:0], cborFloatValue(c, arg))), nil
		}
	}
	return "", r.err()
}
