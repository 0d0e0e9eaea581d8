package handshake

import (
	"strconv"
	"strings"
)

// MaxLine is the longest handshake line, counted with its line end (LF or
// CR LF), that either side may send or will accept.
const MaxLine = 4096

// KV is one KEY=VALUE field of a greeting line. NoValue marks a field that
// had no '=' at all (Perl stores undef for it; Value is then "").
type KV struct {
	Key     string
	Value   string
	NoValue bool
}

// Greeting is greeting line 1, split the way AnyEvent::MP 1.30 splits it.
type Greeting struct {
	Protocol string   // field 1: "aemp" or "aemp-WORD"
	Version  string   // field 2, verbatim ("1"; compared numerically)
	NodeID   string   // field 3
	Auths    []string // field 4 split at ',' (trailing empty entries dropped)
	Framings []string // field 5 split at ','
	Pairs    []KV     // fields 6..: in order; empty fields and fields starting with '=' are dropped
}

// perlSplit splits s at sep like Perl's split /SEP/: empty fields in the
// middle and at the start are kept, trailing empty fields are dropped, and an
// empty string gives no fields at all.
func perlSplit(s string, sep byte) []string {
	end := len(s)
	for end > 0 && s[end-1] == sep {
		end--
	}
	if end == 0 {
		return nil
	}
	return strings.Split(s[:end], string(sep))
}

// field returns f[i], or "" (Perl's undef in string context) when missing.
func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// ParseGreeting splits greeting line 1 (without its line end). It never
// fails: like Perl, missing fields are empty and nothing is unescaped; the
// checks (protocol word, version, ...) are made by the Handshake.
func ParseGreeting(line string) Greeting {
	return greetingFromFields(perlSplit(line, ';'))
}

func greetingFromFields(f []string) Greeting {
	g := Greeting{
		Protocol: field(f, 0),
		Version:  field(f, 1),
		NodeID:   field(f, 2),
		Auths:    perlSplit(field(f, 3), ','),
		Framings: perlSplit(field(f, 4), ','),
	}
	if len(f) > 5 {
		g.Pairs = make([]KV, 0, len(f)-5)
		for _, kv := range f[5:] {
			// Perl: /^([^=]+)(?:=(.*))?/ -- a key needs at least one byte.
			if kv == "" || kv[0] == '=' {
				continue
			}
			if i := strings.IndexByte(kv, '='); i >= 0 {
				g.Pairs = append(g.Pairs, KV{Key: kv[:i], Value: kv[i+1:]})
			} else {
				g.Pairs = append(g.Pairs, KV{Key: kv, NoValue: true})
			}
		}
	}
	return g
}

// Map returns the KEY=VALUE pairs as a map; for a repeated key the last one
// wins, as in Perl.
func (g *Greeting) Map() map[string]string {
	m := make(map[string]string, len(g.Pairs))
	for _, kv := range g.Pairs {
		m[kv.Key] = kv.Value
	}
	return m
}

// Value returns the value of key (the last one if repeated).
func (g *Greeting) Value(key string) (value string, ok bool) {
	for i := len(g.Pairs) - 1; i >= 0; i-- {
		if g.Pairs[i].Key == key {
			return g.Pairs[i].Value, true
		}
	}
	return "", false
}

// String formats the greeting as a line (without line end). Nothing is
// escaped: a Greeting holding ';', ',' (in list entries), '=' (in keys), CR
// or LF does not survive a round trip; Handshake validates what it sends.
func (g *Greeting) String() string {
	return string(g.appendLine(nil))
}

func (g *Greeting) appendLine(b []byte) []byte {
	b = append(b, g.Protocol...)
	b = append(b, ';')
	b = append(b, g.Version...)
	b = append(b, ';')
	b = append(b, g.NodeID...)
	b = append(b, ';')
	b = appendList(b, g.Auths)
	b = append(b, ';')
	b = appendList(b, g.Framings)
	for _, kv := range g.Pairs {
		b = append(b, ';')
		b = append(b, kv.Key...)
		if !kv.NoValue {
			b = append(b, '=')
			b = append(b, kv.Value...)
		}
	}
	return b
}

func appendList(b []byte, l []string) []byte {
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return b
}

// perlNum converts s to a number the way Perl numifies a string: leading
// white space is skipped, then the longest decimal prefix
// ([+-]digits[.digits][e[+-]digits]) is used; anything else ("", "abc",
// "0x1") is 0. Inf/NaN spellings are returned as 0 too, which is fine for
// the only uses here (== 1 and int() == 1).
func perlNum(s string) float64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	// The prefix is always valid syntax; the only possible error is a range
	// error, for which ParseFloat returns ±Inf or 0 as Perl does.
	v, _ := strconv.ParseFloat(s[start:i], 64)
	return v
}

// isUpgradeWord reports whether p matches Perl's /^aemp-\w+$/ (ASCII \w).
func isUpgradeWord(p string) bool {
	if len(p) <= 5 || p[:5] != "aemp-" {
		return false
	}
	for i := 5; i < len(p); i++ {
		c := p[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
