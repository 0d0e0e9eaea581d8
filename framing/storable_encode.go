package framing

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// storableMinor is the minor version nfreeze of Storable 3.x writes.
const storableMinor = 11

// AppendStorable appends the storable frame of the message [port,
// args...] to dst: the BER length prefix, then the nfreeze image (header 05
// 0b, root SX_ARRAY), written byte for byte as Perl's Storable would for
// the same data (docs/framing.md section 2), with hash keys sorted. On error dst is
// returned unchanged, with an error wrapping ErrInvalidValue or
// ErrTooDeep. See the package documentation for the Go value mapping.
func AppendStorable(dst []byte, port string, args []any) ([]byte, error) {
	return appendStorableMessage(dst, port, nil, args)
}

// appendStorableMessage is AppendStorable, with the port's encoding pe
// when the caller has it (see Port).
func appendStorableMessage(dst []byte, port string, pe []byte, args []any) ([]byte, error) {
	n := len(dst)
	if len(args) >= math.MaxInt32 {
		return dst, encodeError("storable", ErrInvalidValue, "too many arguments")
	}
	// One byte is reserved for the length prefix; longer prefixes move the
	// image.
	out := append(dst, 0, storableMajorNet, storableMinor, sxArray)
	out = binary.BigEndian.AppendUint32(out, uint32(len(args)+1))
	var err error
	if pe != nil {
		out = append(out, pe...)
	} else if out, err = appendStorableString(out, port); err != nil {
		return dst[:n], err
	}
	for _, a := range args {
		if out, err = appendStorableValue(out, a, 1); err != nil {
			return dst[:n], err
		}
	}
	size := uint64(len(out) - n - 1)
	pl := berLen(size)
	if pl > 1 {
		out = append(out, make([]byte, pl-1)...)
		copy(out[n+pl:], out[n+1:len(out)-(pl-1)])
	}
	putBER(out[n:n+pl], size)
	return out, nil
}

// berLen returns the length of the minimal BER encoding of v.
func berLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// putBER writes v as BER (base 128, most significant group first, bit 7 set
// on all but the last byte) into b, which has exactly berLen(v) bytes.
func putBER(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(v&0x7f) | 0x80
		v >>= 7
	}
	b[len(b)-1] &= 0x7f
}

// AppendBER appends v in Perl's pack "w" form (minimal BER compressed
// integer), as used for storable frame lengths.
func AppendBER(dst []byte, v uint64) []byte {
	n := berLen(v)
	dst = append(dst, make([]byte, n)...)
	putBER(dst[len(dst)-n:], v)
	return dst
}

func appendStorableValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, sxUndef), nil
	case string:
		return appendStorableString(dst, x)
	case []byte:
		return appendStorableBytes(dst, sxScalar, sxLScalar, x)
	case bool:
		if x {
			return append(dst, sxScalar, 1, '1'), nil
		}
		return append(dst, sxScalar, 0), nil
	case int:
		return appendStorableInt(dst, int64(x)), nil
	case int64:
		return appendStorableInt(dst, x), nil
	case int32:
		return appendStorableInt(dst, int64(x)), nil
	case int16:
		return appendStorableInt(dst, int64(x)), nil
	case int8:
		return appendStorableInt(dst, int64(x)), nil
	case uint:
		return appendStorableUint(dst, uint64(x)), nil
	case uint64:
		return appendStorableUint(dst, x), nil
	case uint32:
		return appendStorableInt(dst, int64(x)), nil
	case uint16:
		return appendStorableInt(dst, int64(x)), nil
	case uint8:
		return appendStorableInt(dst, int64(x)), nil
	case float64:
		return appendStorableFloat(dst, x, 64)
	case float32:
		return appendStorableFloat(dst, float64(x), 32)
	case Number:
		return appendStorableNumber(dst, string(x))
	case json.Number:
		return appendStorableNumber(dst, string(x))
	case []any:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("storable")
		}
		if len(x) >= math.MaxInt32 {
			return dst, encodeError("storable", ErrInvalidValue, "array too long")
		}
		dst = append(dst, sxRef, sxArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(x)))
		for _, e := range x {
			var err error
			if dst, err = appendStorableValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("storable")
		}
		if len(x) >= math.MaxInt32 {
			return dst, encodeError("storable", ErrInvalidValue, "array too long")
		}
		dst = append(dst, sxRef, sxArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(x)))
		for _, e := range x {
			var err error
			if dst, err = appendStorableString(dst, e); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("storable")
		}
		return appendStorableMap(dst, x, depth)
	case map[string]string:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("storable")
		}
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return appendStorableMap(dst, m, depth)
	}
	nv, err := normalize("storable", v)
	if err != nil {
		return dst, err
	}
	return appendStorableValue(dst, nv, depth)
}

// appendStorableMap writes SX_REF + SX_HASH, or SX_REF + SX_FLAG_HASH when
// a key has non-ASCII characters; entries in sorted key order.
func appendStorableMap(dst []byte, x map[string]any, depth int) ([]byte, error) {
	if len(x) >= math.MaxInt32 {
		return dst, encodeError("storable", ErrInvalidValue, "map too large")
	}
	keys := sortedKeys(x)
	flagged := false
	for _, k := range keys {
		if !isASCII(k) {
			if !utf8.ValidString(k) {
				return dst, encodeError("storable", ErrInvalidValue, "map key is not valid UTF-8")
			}
			flagged = true
		}
		if len(k) >= math.MaxInt32 {
			return dst, encodeError("storable", ErrInvalidValue, "map key too long")
		}
	}
	if flagged {
		dst = append(dst, sxRef, sxFlagHash, 0)
	} else {
		dst = append(dst, sxRef, sxHash)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		var err error
		if dst, err = appendStorableValue(dst, x[k], depth+1); err != nil {
			return dst, err
		}
		if flagged {
			if isASCII(k) {
				dst = append(dst, 0)
			} else {
				dst = append(dst, kfUTF8)
			}
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(k)))
		dst = append(dst, k...)
	}
	return dst, nil
}

// appendStorableString writes a Go string: SX_SCALAR/SX_LSCALAR when it is
// ASCII, else SX_UTF8STR/SX_LUTF8STR (it must be valid UTF-8).
func appendStorableString(dst []byte, s string) ([]byte, error) {
	if isASCII(s) {
		return appendStorableBytes(dst, sxScalar, sxLScalar, s)
	}
	if !utf8.ValidString(s) {
		return dst, encodeError("storable", ErrInvalidValue, "string is not valid UTF-8")
	}
	return appendStorableBytes(dst, sxUTF8Str, sxLUTF8Str, s)
}

func appendStorableBytes[T string | []byte](dst []byte, short, long byte, b T) ([]byte, error) {
	switch {
	case len(b) <= 255:
		dst = append(dst, short, byte(len(b)))
	case len(b) < math.MaxInt32:
		dst = append(dst, long)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	default:
		return dst, encodeError("storable", ErrInvalidValue, "string longer than 2 GiB")
	}
	return append(dst, b...), nil
}

// appendStorableInt writes SX_BYTE for -128..127, SX_NETINT for the int32
// range, else the decimal string (what nfreeze does with 64-bit integers).
func appendStorableInt(dst []byte, v int64) []byte {
	switch {
	case v >= -128 && v <= 127:
		return append(dst, sxByte, byte(v+128))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		dst = append(dst, sxNetint)
		return binary.BigEndian.AppendUint32(dst, uint32(int32(v)))
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	return append(append(dst, sxScalar, byte(len(s))), s...)
}

func appendStorableUint(dst []byte, v uint64) []byte {
	if v <= math.MaxInt64 {
		return appendStorableInt(dst, int64(v))
	}
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], v, 10)
	return append(append(dst, sxScalar, byte(len(s))), s...)
}

// appendStorableFloat writes integral values below 2^53 as integers (as
// Storable does for integral doubles), others as the shortest decimal
// string that round-trips (Perl numifies it). NaN and infinities are
// errors, as in json framing.
func appendStorableFloat(dst []byte, f float64, bitSize int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, encodeError("storable", ErrInvalidValue, "NaN or infinity")
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return appendStorableInt(dst, int64(f)), nil
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], f, 'g', -1, bitSize)
	return append(append(dst, sxScalar, byte(len(s))), s...), nil
}

// appendStorableNumber writes a JSON number literal the way a Perl node
// relays it: integers (and integral doubles below 2^53) as integers, the
// rest as the literal string.
func appendStorableNumber(dst []byte, s string) ([]byte, error) {
	if !validNumber(s) {
		return dst, encodeError("storable", ErrInvalidValue, "Number "+strconv.Quote(s)+" is not a JSON number")
	}
	if Number(s).IsInt() {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return appendStorableInt(dst, v), nil
		}
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return appendStorableInt(dst, int64(f)), nil
	}
	return appendStorableBytes(dst, sxScalar, sxLScalar, s)
}
