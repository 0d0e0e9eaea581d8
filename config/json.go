package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Values of a configuration document are what JSON::XS gives Perl:
//
//	nil             null (undef)
//	bool            true, false
//	string          a JSON string
//	Number          a JSON number, in the form JSON::XS writes it back
//	[]any           an array
//	map[string]any  an object
//
// The decoder keeps every value, known or not, so that rewriting a file
// loses nothing but comments and key order.

// Number is a JSON number as JSON::XS would write it back after reading
// it: integers in decimal, other numbers with 15 significant digits
// (Perl's %.15g: 2.50 becomes 2.5, 1e3 becomes 1000).
type Number string

// Float returns the number's value.
func (n Number) Float() float64 {
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// maxDepth is JSON::XS's default nesting limit.
const maxDepth = 512

// ErrSyntax is wrapped by every decoding error.
var ErrSyntax = errors.New("malformed JSON")

// SyntaxError says where a text stops being (relaxed) JSON.
type SyntaxError struct {
	Msg    string
	Offset int // byte offset of the problem
	Line   int // 1-based line of Offset
}

// Error returns the message with its line and byte offset.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s, at line %d (byte offset %d)", e.Msg, e.Line, e.Offset)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Decode parses one JSON value. In relaxed mode it accepts what JSON::XS's
// relaxed mode accepts beyond JSON: a comma before a closing bracket,
// #-comments up to the end of the line wherever whitespace may stand, and
// literal tabs inside strings. Input must be UTF-8. Objects with a key
// given twice keep the last value, as in Perl.
func Decode(text []byte, relaxed bool) (any, error) {
	d := decoder{in: text, relaxed: relaxed}
	d.ws()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.pos < len(d.in) {
		return nil, d.fail("garbage after the JSON value")
	}
	return v, nil
}

type decoder struct {
	in      []byte
	pos     int
	relaxed bool
}

func (d *decoder) fail(msg string) error {
	line := 1 + strings.Count(string(d.in[:min(d.pos, len(d.in))]), "\n")
	return &SyntaxError{Msg: msg, Offset: d.pos, Line: line}
}

// ws skips whitespace and, when relaxed, comments.
func (d *decoder) ws() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		case '#':
			if !d.relaxed {
				return
			}
			for d.pos < len(d.in) && d.in[d.pos] != '\n' && d.in[d.pos] != '\r' {
				d.pos++
			}
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.in) {
		return nil, d.fail("unexpected end of text, expected a value")
	}
	switch c := d.in[d.pos]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, d.fail("expected a value (object, array, string, number, true, false or null)")
}

func (d *decoder) literal(word string) bool {
	if strings.HasPrefix(string(d.in[d.pos:min(d.pos+len(word), len(d.in))]), word) {
		d.pos += len(word)
		return true
	}
	return false
}

func (d *decoder) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.fail("nested more than 512 levels deep")
	}
	d.pos++ // {
	obj := map[string]any{}
	d.ws()
	if d.pos < len(d.in) && d.in[d.pos] == '}' {
		d.pos++
		return obj, nil
	}
	for {
		if d.pos >= len(d.in) || d.in[d.pos] != '"' {
			return nil, d.fail(`expected '"' (an object key)`)
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.pos >= len(d.in) || d.in[d.pos] != ':' {
			return nil, d.fail("expected ':' after an object key")
		}
		d.pos++
		d.ws()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		obj[k] = v
		d.ws()
		if d.pos >= len(d.in) {
			return nil, d.fail("unexpected end of text inside an object")
		}
		switch d.in[d.pos] {
		case '}':
			d.pos++
			return obj, nil
		case ',':
			d.pos++
			d.ws()
			if d.relaxed && d.pos < len(d.in) && d.in[d.pos] == '}' {
				d.pos++
				return obj, nil
			}
		default:
			return nil, d.fail("expected ',' or '}' in an object")
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.fail("nested more than 512 levels deep")
	}
	d.pos++ // [
	arr := []any{}
	d.ws()
	if d.pos < len(d.in) && d.in[d.pos] == ']' {
		d.pos++
		return arr, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.ws()
		if d.pos >= len(d.in) {
			return nil, d.fail("unexpected end of text inside an array")
		}
		switch d.in[d.pos] {
		case ']':
			d.pos++
			return arr, nil
		case ',':
			d.pos++
			d.ws()
			if d.relaxed && d.pos < len(d.in) && d.in[d.pos] == ']' {
				d.pos++
				return arr, nil
			}
		default:
			return nil, d.fail("expected ',' or ']' in an array")
		}
	}
}

func (d *decoder) str() (string, error) {
	d.pos++ // "
	var b []byte
	for {
		if d.pos >= len(d.in) {
			return "", d.fail("unexpected end of text inside a string")
		}
		c := d.in[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(b), nil
		case c == '\\':
			r, err := d.escape()
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
		case c < 0x20 && !(c == '\t' && d.relaxed):
			return "", d.fail("control character inside a string")
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.pos++
		default:
			r, n := utf8.DecodeRune(d.in[d.pos:])
			if r == utf8.RuneError && n <= 1 {
				return "", d.fail("malformed UTF-8 inside a string")
			}
			b = append(b, d.in[d.pos:d.pos+n]...)
			d.pos += n
		}
	}
}

// escape decodes the escape sequence at d.pos (a backslash).
func (d *decoder) escape() (rune, error) {
	if d.pos+1 >= len(d.in) {
		return 0, d.fail("unexpected end of text inside a string")
	}
	d.pos += 2
	switch d.in[d.pos-1] {
	case '"':
		return '"', nil
	case '\\':
		return '\\', nil
	case '/':
		return '/', nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := d.hex4()
		if !ok {
			return 0, d.fail(`\u must be followed by four hex digits`)
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r >= 0xdc00 || !strings.HasPrefix(string(d.in[d.pos:min(d.pos+2, len(d.in))]), `\u`) {
			return 0, d.fail("unpaired surrogate in a \\u escape")
		}
		d.pos += 2
		lo, ok := d.hex4()
		if !ok || lo < 0xdc00 || lo > 0xdfff {
			return 0, d.fail("unpaired surrogate in a \\u escape")
		}
		return utf16.DecodeRune(r, lo), nil
	}
	d.pos--
	return 0, d.fail("illegal backslash escape in a string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.in) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.in[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.pos += 4
	return rune(v), true
}

// number parses a JSON number and returns the value JSON::XS would hold:
// an integer that fits Perl's IV or UV, a float, or (an integer too big
// for both) a string.
func (d *decoder) number() (any, error) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.in) && d.in[d.pos] >= '0' && d.in[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.in[d.pos] == '-' {
		d.pos++
	}
	intStart := d.pos
	if digits() == 0 {
		return nil, d.fail("malformed number (no digits after the minus)")
	}
	if d.in[intStart] == '0' && d.pos-intStart > 1 {
		d.pos = intStart + 1
		return nil, d.fail("malformed number (leading zero followed by another digit)")
	}
	isFloat := false
	if d.pos < len(d.in) && d.in[d.pos] == '.' {
		d.pos++
		isFloat = true
		if digits() == 0 {
			return nil, d.fail("malformed number (no digits after the decimal point)")
		}
	}
	if d.pos < len(d.in) && (d.in[d.pos] == 'e' || d.in[d.pos] == 'E') {
		d.pos++
		isFloat = true
		if d.pos < len(d.in) && (d.in[d.pos] == '+' || d.in[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.fail("malformed number (no digits in the exponent)")
		}
	}
	return numberValue(string(d.in[start:d.pos]), isFloat), nil
}

// numberValue applies JSON::XS's rules to a valid JSON number literal.
func numberValue(lit string, isFloat bool) any {
	if !isFloat {
		if strings.HasPrefix(lit, "-") {
			if v, err := strconv.ParseInt(lit, 10, 64); err == nil && v != math.MinInt64 {
				return Number(strconv.FormatInt(v, 10))
			}
		} else if v, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return Number(strconv.FormatUint(v, 10))
		}
		return lit // too big: JSON::XS keeps the digits as a string
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return Number(lit) // out of range: keep the literal rather than write "inf"
	}
	return Number(perlFloat(f))
}

// perlFloat formats f as Perl prints a floating-point number (%.15g).
func perlFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', 15, 64)
}

// Encode returns v as JSON::XS->new->pretty->canonical->utf8 writes it:
// three spaces of indentation per level, `"key" : value`, keys sorted,
// empty arrays and objects as [] and {}, a newline at the end.
// Strings are written as UTF-8 with only '"', '\' and control characters
// escaped.
func Encode(v any) []byte {
	b := encodeValue(nil, v, 0)
	return append(b, '\n')
}

func encodeValue(b []byte, v any, level int) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case string:
		return encodeString(b, v)
	case Number:
		return append(b, v...)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case float64:
		return append(b, perlFloat(v)...)
	case []string:
		a := make([]any, len(v))
		for i, s := range v {
			a[i] = s
		}
		return encodeValue(b, a, level)
	case []any:
		if len(v) == 0 {
			return append(b, "[]"...)
		}
		b = append(b, "[\n"...)
		for i, e := range v {
			b = indent(b, level+1)
			b = encodeValue(b, e, level+1)
			if i < len(v)-1 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		return append(indent(b, level), ']')
	case map[string]any:
		if len(v) == 0 {
			return append(b, "{}"...)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, "{\n"...)
		for i, k := range keys {
			b = indent(b, level+1)
			b = encodeString(b, k)
			b = append(b, " : "...)
			b = encodeValue(b, v[k], level+1)
			if i < len(keys)-1 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		return append(indent(b, level), '}')
	}
	panic(fmt.Sprintf("config: cannot encode %T", v))
}

func indent(b []byte, level int) []byte {
	for range level {
		b = append(b, "   "...)
	}
	return b
}

func encodeString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, `\"`...)
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// PerlString returns the text Perl would see for a scalar value, and
// false for arrays and objects (which Perl compares by address).
func PerlString(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case bool:
		if v {
			return "1", true
		}
		return "0", true
	case string:
		return v, true
	case Number:
		return string(v), true
	}
	return "", false
}

// PerlTrue reports whether Perl treats v as true: everything except
// null, false, "", "0" and numbers equal to zero.
func PerlTrue(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != "" && v != "0"
	case Number:
		return v.Float() != 0
	}
	return true
}
