package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aemp-go/aemp/config"
	"github.com/aemp-go/aemp/framing"
)

// Values on the command line and in the output of the protocol commands,
// as Perl's aemp 1.30 takes and prints them.

// perlArg applies Perl aemp's rule to one argument: text starting with
// [, { or " is a JSON value (strict JSON in UTF-8, as JSON::XS decodes
// it); anything else is the argument itself, which Perl holds as a byte
// string: text with bytes over 0x7f is sent as one ([]byte: each byte a
// character, as Perl sends it), so that a Perl port gets what Perl's aemp
// would have sent it. The value is ready for Send.
func perlArg(a string) (any, error) {
	if a == "" || !strings.ContainsRune(`[{"`, rune(a[0])) {
		for i := 0; i < len(a); i++ {
			if a[i] >= 0x80 {
				return []byte(a), nil
			}
		}
		return a, nil
	}
	if !utf8.ValidString(a) {
		return nil, fmt.Errorf("%q: malformed UTF-8 in a JSON argument", a)
	}
	v, err := config.Decode([]byte(a), false)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", a, err)
	}
	return wireValue(v), nil
}

// wireValue turns a decoded configuration value into one framing takes:
// config.Number becomes framing.Number, recursively.
func wireValue(v any) any {
	switch v := v.(type) {
	case config.Number:
		return framing.Number(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = wireValue(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = wireValue(x)
		}
		return out
	}
	return v
}

// perlNumber returns the text Perl shows for a JSON number literal after
// JSON::XS decoded it: an integer that fits 64 bits stays as it is, other
// numbers become doubles printed with 15 significant digits (%.15g), and
// an integer too large for a double without loss stays a string
// (isString).
func perlNumber(lit string) (text string, isString bool) {
	n := framing.Number(lit)
	if n.IsInt() {
		if v, err := n.Int64(); err == nil {
			return strconv.FormatInt(v, 10), false
		}
		if v, err := n.Uint64(); err == nil {
			return strconv.FormatUint(v, 10), false
		}
		if f, err := n.Float64(); err == nil && exactFloat(lit, f) {
			return framing.PerlNumber(f), false
		}
		return lit, true
	}
	f, _ := n.Float64()
	return framing.PerlNumber(f), false
}

// exactFloat reports whether the integer literal lit equals f exactly:
// printing f in full gives lit's digits.
func exactFloat(lit string, f float64) bool {
	want := strings.TrimPrefix(lit, "-")
	got := strconv.FormatFloat(math.Abs(f), 'f', 0, 64)
	return want == got && (f < 0) == strings.HasPrefix(lit, "-")
}

// The text functions below return Perl's characters as a Go string (a
// byte string's bytes become the characters U+0000..U+00FF); perlPrint
// turns them into the bytes Perl's print writes.

// latin1 returns the characters of a Perl byte string.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// perlPrint returns the bytes Perl's print writes for the characters of
// s on a handle without an encoding layer: one byte per character when
// every character is below U+0100, else UTF-8 (Perl then also warns
// "Wide character in print").
func perlPrint(s string) string {
	for _, r := range s {
		if r > 0xff {
			return s
		}
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// perlString returns a received value as Perl's print shows it: strings
// as they are, numbers as Perl formats them, true and false as 1 and 0,
// undef as nothing. Perl prints a reference as ARRAY(0x...) or
// HASH(0x...); aemp-go prints its JSON instead.
func perlString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return latin1(v)
	case bool:
		if v {
			return "1"
		}
		return "0"
	case framing.Number:
		s, _ := perlNumber(string(v))
		return s
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return framing.PerlNumber(v)
	case []any, map[string]any:
		return string(appendPerlJSON(nil, v))
	}
	return fmt.Sprint(v)
}

// perlTrue reports whether Perl takes a received value as true: all but
// undef, false, "", "0" and numbers equal to zero.
func perlTrue(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != "" && v != "0"
	case []byte:
		return len(v) != 0 && string(v) != "0"
	case int64:
		return v != 0
	case float64:
		return v != 0
	case framing.Number:
		f, err := v.Float64()
		return err != nil || f != 0
	}
	return true
}

// perlWords is Perl's join " ", VALUES, "\n": the values separated by
// spaces, a space before the newline unless there are none.
func perlWords(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		b.WriteString(perlString(v))
		b.WriteByte(' ')
	}
	b.WriteByte('\n')
	return b.String()
}

// perlJoin is Perl's join " ", VALUES.
func perlJoin(vals []any) string {
	words := make([]string, len(vals))
	for i, v := range vals {
		words[i] = perlString(v)
	}
	return strings.Join(words, " ")
}

// perlList is what Perl's aemp prints for a reply: the JSON::XS encoding
// of the values as a list, without its brackets, then a newline. Object
// keys are sorted (Perl's order is its hash order, which varies).
func perlList(vals []any) string {
	b := appendPerlJSON(nil, vals)
	return string(b[1:len(b)-1]) + "\n"
}

// appendPerlJSON appends v as JSON::XS->new->encode writes the Perl value
// that v came from: compact, strings with only ", \ and control
// characters escaped, numbers as Perl holds them.
func appendPerlJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case string:
		return appendPerlJSONString(b, v)
	case []byte:
		return appendPerlJSONString(b, latin1(v))
	case framing.Number:
		s, isString := perlNumber(string(v))
		if isString {
			return appendPerlJSONString(b, s)
		}
		return append(b, s...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		return append(b, framing.PerlNumber(v)...)
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPerlJSON(b, x)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPerlJSONString(b, k)
			b = append(b, ':')
			b = appendPerlJSON(b, v[k])
		}
		return append(b, '}')
	}
	return appendPerlJSONString(b, fmt.Sprint(v))
}

// appendPerlJSONString appends s as a JSON::XS string.
func appendPerlJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			if c < 0x20 {
				b = fmt.Appendf(b, `\u%04x`, c)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}
