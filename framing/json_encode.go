package framing

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the json frame of the message [port, args...] to dst:
// compact UTF-8 JSON, no separator, no newline, strings escaped the way
// JSON::XS escapes them. On error dst is returned unchanged, with an error
// wrapping ErrInvalidValue (NaN/Inf, invalid UTF-8, malformed Number,
// unsupported type) or ErrTooDeep (nesting above 512, the message array
// counting as 1). See the package documentation for the Go value mapping.
func AppendJSON(dst []byte, port string, args []any) ([]byte, error) {
	return appendJSONMessage(dst, port, nil, args)
}

// appendJSONMessage is AppendJSON, with the port's encoding pe when the
// caller has it (see Port).
func appendJSONMessage(dst []byte, port string, pe []byte, args []any) ([]byte, error) {
	n := len(dst)
	out := append(dst, '[')
	var err error
	if pe != nil {
		out = append(out, pe...)
	} else if out, err = appendJSONString(out, port); err != nil {
		return dst[:n], err
	}
	for _, a := range args {
		out = append(out, ',')
		if s, ok := a.(string); ok { // most arguments: skip the type switch
			out, err = appendJSONString(out, s)
		} else {
			out, err = appendJSONValue(out, a, 1)
		}
		if err != nil {
			return dst[:n], err
		}
	}
	return append(out, ']'), nil
}

// appendJSONValue appends v, which sits at nesting depth depth (the number
// of containers around it).
func appendJSONValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, x)
	case []byte:
		return appendJSONLatin1(dst, x), nil
	case bool:
		if x {
			return append(dst, `"1"`...), nil
		}
		return append(dst, `""`...), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return appendJSONFloat(dst, x, 64)
	case float32:
		return appendJSONFloat(dst, float64(x), 32)
	case Number:
		return appendJSONNumber(dst, string(x))
	case json.Number:
		return appendJSONNumber(dst, string(x))
	case []any:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("json")
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("json")
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONString(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("json")
		}
		return appendJSONMap(dst, x, depth)
	case map[string]string:
		if depth >= encodeMaxDepth {
			return dst, tooDeepEncode("json")
		}
		keys := sortedKeys(x)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONString(dst, k); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = appendJSONString(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	nv, err := normalize("json", v)
	if err != nil {
		return dst, err
	}
	return appendJSONValue(dst, nv, depth)
}

func appendJSONMap(dst []byte, x map[string]any, depth int) ([]byte, error) {
	keys := sortedKeys(x)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendJSONString(dst, k); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, err = appendJSONValue(dst, x[k], depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// sortedKeys returns the keys of m in sorted order (deterministic output;
// Perl's order is random, the test vectors sort).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func tooDeepEncode(framing string) error {
	return encodeError(framing, ErrTooDeep, "nesting deeper than 512")
}

// jsonEscape[c] is the escape for bytes that JSON::XS escapes: 0 = none,
// 'u' = \u00XX, else the letter after the backslash.
var jsonEscape = func() (t [utf8.RuneSelf]byte) {
	for c := 0; c < 0x20; c++ {
		t[c] = 'u'
	}
	t['"'] = '"'
	t['\\'] = '\\'
	t['\n'] = 'n'
	t['\t'] = 't'
	t['\b'] = 'b'
	t['\f'] = 'f'
	t['\r'] = 'r'
	return
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s must be valid UTF-8.
func appendJSONString(dst []byte, s string) ([]byte, error) {
	if plainString(s) { // the common case, copied in one piece
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), nil
	}
	return appendJSONStringEscaped(dst, s)
}

// plainString reports whether no byte of s needs an escape or a UTF-8
// check (see plainWord). It calls nothing, so that its loop keeps its
// values in registers.
func plainString(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(load64(s[i:])) {
			return false
		}
	}
	switch {
	case i == len(s):
		return true
	case len(s) >= 8: // the last 8 bytes, overlapping some already seen
		return plainWord(load64(s[len(s)-8:]))
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || jsonEscape[c] != 0 {
			return false
		}
	}
	return true
}

// appendJSONStringEscaped is appendJSONString for a string with bytes to
// escape or to check as UTF-8.
func appendJSONStringEscaped(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight plain ASCII bytes at a time (no control character, no
		// quote, no backslash, no byte >= 0x80): the common case of
		// payload strings, copied below in one append.
		for i+8 <= len(s) && plainWord(load64(s[i:])) {
			i += 8
		}
		// Fewer than 8 bytes left: check them as the 8-byte window that
		// ends the string, overlapping bytes already found plain.
		if i < len(s) && len(s)-i < 8 && len(s) >= 8 && plainWord(load64(s[len(s)-8:])) {
			i = len(s)
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonEscape[c] == 0 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst, encodeError("json", ErrInvalidValue, "string is not valid UTF-8")
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// plainASCII8 reports whether the 8 bytes of b need no escaping and no
// UTF-8 check: each is in 0x20..0x7f and is neither '"' nor '\\'.
func plainASCII8(b string) bool { return plainWord(load64(b)) }

// load64 reads the first 8 bytes of b, little-endian (one load once
// compiled).
func load64[T string | []byte](b T) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// plainWord is plainASCII8 of a word. The classic word tricks:
// (x - 0x01..01) &^ x has a byte's high bit set if some byte of x is zero
// (exact for "some byte", which is all that is asked); likewise for
// "below 0x20" when no byte is >= 0x80.
func plainWord(v uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := v ^ '"'*ones
	bs := v ^ '\\'*ones
	return (v|(v-0x20*ones)&^v|(q-ones)&^q|(bs-ones)&^bs)&highs == 0
}

func appendEscape(dst []byte, c byte) []byte {
	e := jsonEscape[c]
	if e == 'u' {
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
	}
	return append(dst, '\\', e)
}

// appendJSONLatin1 appends the byte string b as a JSON string of the
// characters U+0000..U+00FF, like JSON::XS writes a Perl byte string.
func appendJSONLatin1(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c >= utf8.RuneSelf:
			dst = append(dst, 0xc0|c>>6, 0x80|c&0x3f)
		case jsonEscape[c] != 0:
			dst = appendEscape(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// appendJSONFloat writes integral values below 2^53 as integers (Perl then
// holds an integer, as it would for its own 1.0), negative zero as
// "-0.0" (the double -0 for JSON::XS), others in the shortest form that
// round-trips ("0.1", "1e+20", "1.5e-07"). NaN and infinities are errors:
// Perl would read them as nothing valid.
func appendJSONFloat(dst []byte, f float64, bitSize int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, encodeError("json", ErrInvalidValue, "NaN or infinity")
	}
	if f == 0 && math.Signbit(f) {
		return append(dst, "-0.0"...), nil // "-0" is JSON::XS's integer 0
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendFloat(dst, f, 'f', -1, bitSize), nil
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bitSize), nil
}

func appendJSONNumber(dst []byte, s string) ([]byte, error) {
	if !validNumber(s) {
		return dst, encodeError("json", ErrInvalidValue, "Number "+strconv.Quote(s)+" is not a JSON number")
	}
	return append(dst, s...), nil
}
