package framing

import (
	"strconv"
	"unicode/utf8"
)

// Number is a JSON number kept as its literal text, exactly as the peer
// wrote it ("42", "-9223372036854775808", "18446744073709551615", "1e+20",
// "1e400", "123456789012345678901234567890"), so that no precision is lost
// and no number fails to decode. AppendMessage writes a Number back as its
// literal (json), as Perl's Storable would write the number (storable) or
// as CBOR::XS would write the number JSON::XS reads from it (cbor); it must
// be valid JSON number syntax. CBOR floats decode to a Number too.
type Number string

// String returns the literal.
func (n Number) String() string { return string(n) }

// Int64 parses the literal as a decimal integer (strconv.ParseInt rules:
// "1.0" or "1e3" are errors).
func (n Number) Int64() (int64, error) { return strconv.ParseInt(string(n), 10, 64) }

// Uint64 parses the literal as an unsigned decimal integer.
func (n Number) Uint64() (uint64, error) { return strconv.ParseUint(string(n), 10, 64) }

// Float64 parses the literal as a float64. Out-of-range literals such as
// "1e400" give ±Inf and a *strconv.NumError wrapping strconv.ErrRange.
func (n Number) Float64() (float64, error) { return strconv.ParseFloat(string(n), 64) }

// IsInt reports whether the literal is an integer (no fraction, no
// exponent); it may still be beyond 64 bits.
func (n Number) IsInt() bool {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return len(n) > 0
}

// validNumber reports whether s is a JSON number (RFC 8259 grammar).
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

// Text returns the string value of a decoded scalar the way Perl would see
// it: a string as is; a []byte (storable or CBOR byte string) as Latin-1 converted
// to UTF-8; a Number as its literal; an int64 in decimal; a bool as "1" or
// "". ok is false for nil, arrays and maps.
func Text(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(latin1ToUTF8(nil, x)), true
	case Number:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		if x {
			return "1", true
		}
		return "", true
	}
	return "", false
}

// Bytes returns the bytes of a decoded scalar as a Perl byte string: a
// []byte as is (a copy), a string as its Latin-1 bytes if every character
// is below U+0100 (JSON carries Perl byte strings that way), Number and
// int64 as their decimal text. ok is false otherwise (including strings
// with characters above U+00FF).
func Bytes(v any) (b []byte, ok bool) {
	switch x := v.(type) {
	case []byte:
		return append([]byte(nil), x...), true
	case string:
		out := make([]byte, 0, len(x))
		for _, r := range x {
			if r > 0xff {
				return nil, false
			}
			out = append(out, byte(r))
		}
		return out, true
	case Number:
		return []byte(x), true
	case int64:
		return strconv.AppendInt(nil, x, 10), true
	}
	return nil, false
}

// Int64 returns the integer value of a decoded scalar: an int64, or a
// Number, string or []byte holding a decimal integer that fits 64 bits
// (Perl sends numbers as strings in many cases). ok is false otherwise.
func Int64(v any) (n int64, ok bool) {
	var s string
	switch x := v.(type) {
	case int64:
		return x, true
	case Number:
		s = string(x)
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Float64 returns the numeric value of a decoded scalar: an int64, or a
// Number, string or []byte holding a number Go can parse (finite). ok is
// false otherwise.
func Float64(v any) (f float64, ok bool) {
	var s string
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case Number:
		s = string(x)
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// Bool returns Perl's truth value of a decoded value: false for nil,
// false, "", "0", an empty []byte or "0" bytes, integer 0 and numbers
// equal to 0; true for everything else (including arrays and maps).
func Bool(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "0"
	case []byte:
		return len(x) != 0 && !(len(x) == 1 && x[0] == '0')
	case int64:
		return x != 0
	case Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err != nil || f != 0
	}
	return true
}

// latin1ToUTF8 appends the Latin-1 bytes b to dst as UTF-8.
func latin1ToUTF8(dst, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = append(dst, 0xc0|c>>6, 0x80|c&0x3f)
		}
	}
	return dst
}

// isASCII reports whether every byte of s is below 0x80.
func isASCII[T string | []byte](s T) bool {
	i := 0
	// 32 bytes a step, OR-ed so that the loop has no branch per word
	// (a 64 KiB payload otherwise costs a compare and branch per byte).
	for ; i+32 <= len(s); i += 32 {
		w := load64(s[i:]) | load64(s[i+8:]) | load64(s[i+16:]) | load64(s[i+24:])
		if w&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if load64(s[i:])&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
