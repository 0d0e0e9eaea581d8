package framing

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendCBOR appends the cbor frame of the message [port, args...] to dst:
// one definite-length CBOR array (docs/framing.md section 3), written so that
// CBOR::XS decodes it to the Perl values JSON::XS would decode the json
// frame of the same message to:
//
//   - strings (port, values, map keys) must be valid UTF-8 and are written
//     as text strings (ErrInvalidValue otherwise; use []byte for binary
//     data); []byte is a byte string (a Perl byte string);
//   - bool is Perl's own true/false, the text strings "1" and "", as in
//     the other framings; nil is null;
//   - integers in the shortest head; floats: NaN and ±Inf are
//     ErrInvalidValue, integral values below 2^53 other than -0 are
//     integers, others float32 when that is exact, else float64 (what
//     CBOR::XS writes; never float16);
//   - Number (and json.Number) must be JSON number syntax: integers that
//     fit int64 or uint64 are integers, larger ones the literal as a text
//     string (JSON::XS makes a string of them too), other literals the
//     float they parse to (1e400 becomes +Inf, as JSON::XS reads it);
//   - arrays and maps definite-length, map keys sorted;
//   - other types as in the package documentation (reflection, JSON
//     marshalling);
//   - nesting deeper than 512 (the message array counting as 1) is
//     ErrTooDeep.
//
// On error dst is returned unchanged.
func AppendCBOR(dst []byte, port string, args []any) ([]byte, error) {
	return appendCBORMessage(dst, port, nil, args)
}

// appendCBORMessage is AppendCBOR, with the port's encoding pe when the
// caller has it (see Port).
func appendCBORMessage(dst []byte, port string, pe []byte, args []any) ([]byte, error) {
	n := len(dst)
	out := appendCBORHead(dst, cborArray, uint64(len(args))+1)
	var err error
	if pe != nil {
		out = append(out, pe...)
	} else if out, err = appendCBORString(out, port); err != nil {
		return dst[:n], err
	}
	for _, a := range args {
		if out, err = appendCBORValue(out, a, 1); err != nil {
			return dst[:n], err
		}
	}
	return out, nil
}

// appendCBORHead appends a head of type major with argument v in the
// shortest form.
func appendCBORHead(dst []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < cborAI1:
		return append(dst, m|byte(v))
	case v <= math.MaxUint8:
		return append(dst, m|cborAI1, byte(v))
	case v <= math.MaxUint16:
		return append(dst, m|(cborAI1+1), byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|(cborAI1+2)), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|cborAI8), v)
}

func appendCBORInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendCBORHead(dst, cborNeg, uint64(^v))
	}
	return appendCBORHead(dst, cborUint, uint64(v))
}

// appendCBORString appends s as a text string; s must be valid UTF-8.
func appendCBORString(dst []byte, s string) ([]byte, error) {
	if !isASCII(s) && !utf8.ValidString(s) {
		return dst, encodeError("cbor", ErrInvalidValue, "string is not valid UTF-8")
	}
	return append(appendCBORHead(dst, cborText, uint64(len(s))), s...), nil
}

// appendCBORFloat writes f as an integer when it is integral and below
// 2^53 (but not -0, which stays a float), else as float32 if exact, else
// float64.
func appendCBORFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, encodeError("cbor", ErrInvalidValue, "NaN or infinity")
	}
	if cborIntegral(f) {
		return appendCBORInt(dst, int64(f)), nil
	}
	return appendCBORRawFloat(dst, f), nil
}

// cborIntegral reports whether f is written as an integer: integral,
// below 2^53, not -0.
func cborIntegral(f float64) bool {
	return f == math.Trunc(f) && math.Abs(f) < 1<<53 && !(f == 0 && math.Signbit(f))
}

// appendCBORRawFloat writes f (also ±Inf) as float32 if exact, else
// float64.
func appendCBORRawFloat(dst []byte, f float64) []byte {
	if f32 := float32(f); float64(f32) == f {
		return binary.BigEndian.AppendUint32(append(dst, cborFloat32), math.Float32bits(f32))
	}
	return binary.BigEndian.AppendUint64(append(dst, cborFloat64), math.Float64bits(f))
}

// appendCBORNumber writes a JSON number literal as JSON::XS would read it.
func appendCBORNumber(dst []byte, s string) ([]byte, error) {
	if !validNumber(s) {
		return dst, encodeError("cbor", ErrInvalidValue, "Number "+strconv.Quote(s)+" is not a JSON number")
	}
	if Number(s).IsInt() {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return appendCBORInt(dst, v), nil
		}
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return appendCBORHead(dst, cborUint, v), nil
		}
		return append(appendCBORHead(dst, cborText, uint64(len(s))), s...), nil
	}
	f, _ := strconv.ParseFloat(s, 64) // valid syntax: only range errors, f is then ±Inf or 0
	if cborIntegral(f) {
		return appendCBORInt(dst, int64(f)), nil
	}
	return appendCBORRawFloat(dst, f), nil
}

func appendCBORValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, cborNull), nil
	case string:
		return appendCBORString(dst, x)
	case []byte:
		return append(appendCBORHead(dst, cborBytes, uint64(len(x))), x...), nil
	case bool:
		if x {
			return append(dst, cborText<<5|1, '1'), nil
		}
		return append(dst, cborText<<5), nil
	case int:
		return appendCBORInt(dst, int64(x)), nil
	case int64:
		return appendCBORInt(dst, x), nil
	case int32:
		return appendCBORInt(dst, int64(x)), nil
	case int16:
		return appendCBORInt(dst, int64(x)), nil
	case int8:
		return appendCBORInt(dst, int64(x)), nil
	case uint:
		return appendCBORHead(dst, cborUint, uint64(x)), nil
	case uint64:
		return appendCBORHead(dst, cborUint, x), nil
	case uint32:
		return appendCBORHead(dst, cborUint, uint64(x)), nil
	case uint16:
		return appendCBORHead(dst, cborUint, uint64(x)), nil
	case uint8:
		return appendCBORHead(dst, cborUint, uint64(x)), nil
	case float64:
		return appendCBORFloat(dst, x)
	case float32:
		return appendCBORFloat(dst, float64(x))
	case Number:
		return appendCBORNumber(dst, string(x))
	case json.Number:
		return appendCBORNumber(dst, string(x))
	case []any:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("cbor")
		}
		dst = appendCBORHead(dst, cborArray, uint64(len(x)))
		for _, e := range x {
			var err error
			if dst, err = appendCBORValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("cbor")
		}
		dst = appendCBORHead(dst, cborArray, uint64(len(x)))
		for _, e := range x {
			var err error
			if dst, err = appendCBORString(dst, e); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("cbor")
		}
		dst = appendCBORHead(dst, cborMap, uint64(len(x)))
		for _, k := range sortedKeys(x) {
			var err error
			if dst, err = appendCBORString(dst, k); err != nil {
				return dst, err
			}
			if dst, err = appendCBORValue(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]string:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("cbor")
		}
		dst = appendCBORHead(dst, cborMap, uint64(len(x)))
		for _, k := range sortedKeys(x) {
			var err error
			if dst, err = appendCBORString(dst, k); err != nil {
				return dst, err
			}
			if dst, err = appendCBORString(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	nv, err := normalize("cbor", v)
	if err != nil {
		return dst, err
	}
	return appendCBORValue(dst, nv, depth)
}
