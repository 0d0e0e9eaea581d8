package framing

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// How Perl sees strings and numbers, where our decoders follow it
// (docs/framing.md section 4).

// perlUTF8Skip is the length of a Perl character from its first byte, as
// Perl walks a string whose UTF-8 flag is on: the UTF-8 lengths, 1 for a
// stray continuation byte, and Perl's extended forms (F8..FF: 5 to 13
// bytes).
func perlUTF8Skip(c byte) int { return int(perlUTF8Skips[c]) }

var perlUTF8Skips = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0xc0:
			t[c] = 1
		case c < 0xe0:
			t[c] = 2
		case c < 0xf0:
			t[c] = 3
		case c < 0xf8:
			t[c] = 4
		case c < 0xfc:
			t[c] = 5
		case c < 0xfe:
			t[c] = 6
		case c == 0xfe:
			t[c] = 7
		default:
			t[c] = 13
		}
	}
	return
}()

// appendPerlText appends the text of a Perl string whose UTF-8 flag is on,
// given its internal bytes b, as valid UTF-8. JSON::XS lets surrogates and
// code points beyond U+10FFFF through, Storable (SX_UTF8STR) and CBOR::XS
// (text strings) any bytes at all; Perl then holds characters that are no
// Unicode scalar values, or malformed ones. Each such character (as long
// as its first byte says, as Perl counts them) becomes one U+FFFD, so the
// text has as many characters as Perl's string.
func appendPerlText(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			dst = append(dst, b[0])
			b = b[1:]
			continue
		}
		n := min(perlUTF8Skip(b[0]), len(b))
		if r, size := utf8.DecodeRune(b[:n]); size == n && (r != utf8.RuneError || n == 3) {
			dst = append(dst, b[:n]...)
		} else {
			dst = append(dst, "\uFFFD"...)
		}
		b = b[n:]
	}
	return dst
}

// perlText is appendPerlText as a string.
func perlText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(appendPerlText(make([]byte, 0, len(b)+8), b))
}

// perlCharCount is the number of characters of a Perl string with its UTF-8
// flag on, given its internal bytes (Perl's length()).
func perlCharCount(b []byte) int {
	n := 0
	for i := 0; i < len(b); n++ {
		// Eight ASCII bytes are eight characters (a long payload would
		// otherwise cost a dependent table lookup per byte).
		for i+32 <= len(b) && (load64(b[i:])|load64(b[i+8:])|load64(b[i+16:])|load64(b[i+24:]))&0x8080808080808080 == 0 {
			i += 32
			n += 32
		}
		for i+8 <= len(b) && load64(b[i:])&0x8080808080808080 == 0 {
			i += 8
			n += 8
		}
		if i >= len(b) {
			break
		}
		i += perlUTF8Skip(b[i])
	}
	return n
}

// PerlNumber returns f as Perl writes a double as a string ("%.15g",
// "Inf", "-Inf", "NaN"; negative zero as "0"), what print or a hash key
// makes of a number.
func PerlNumber(f float64) string {
	var b [32]byte
	return string(appendPerlNumber(b[:0], f))
}

// appendPerlNumber appends a double the way Perl writes it as a string
// (its "%.15g", "Inf", "-Inf", "NaN"; negative zero as "0"): what a
// number used as a port name or a hash key becomes.
func appendPerlNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-Inf"...)
	case f == 0:
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, f, 'g', 15, 64)
}

// appendJSONNumberText appends a JSON number literal the way Perl writes
// the number JSON::XS reads from it: integers that fit 64 bits in
// decimal ("-0" is 0), larger ones as the literal (JSON::XS keeps them as
// strings), others as the double they are (appendPerlNumber).
func appendJSONNumberText(dst []byte, lit []byte) []byte {
	if Number(lit).IsInt() {
		if v, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
			return strconv.AppendInt(dst, v, 10)
		}
		if v, err := strconv.ParseUint(string(lit), 10, 64); err == nil {
			return strconv.AppendUint(dst, v, 10)
		}
		return append(dst, lit...)
	}
	f, _ := strconv.ParseFloat(string(lit), 64) // valid syntax: out of range gives ±Inf or 0
	return appendPerlNumber(dst, f)
}
