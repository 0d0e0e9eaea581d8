package mesh

import (
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/aemp-go/aemp/framing"
)

// Bounds DB2 applies on top of Limits (derived from it where they scale).
const (
	// db2MaxValueDepth bounds the nesting of a database value from a peer.
	// Values are re-sent inside three or four levels of message structure,
	// and encoders refuse anything deeper than 512.
	db2MaxValueDepth = 32
	// db2EntryOverhead is what one stored entry costs besides its key and
	// value, for the byte budgets.
	db2EntryOverhead = 48
	// db2MaxKeepalive bounds the global nodes a global node keeps
	// connections to (AnyEvent::MP's global nodes are its seeds: a few).
	db2MaxKeepalive = 256
	// db2SortMax is the most families of one message that are taken in
	// sorted order (for reproducible output); more are taken as they come.
	db2SortMax = 4096
)

// db2Text returns the string a peer meant by a decoded scalar: strings
// and byte strings (cbor carries Perl strings as either), numbers as their
// decimal text. ok is false for nil, booleans and containers.
func db2Text(v any) (string, bool) {
	switch v.(type) {
	case string, []byte, framing.Number, int64:
		return framing.Text(v)
	}
	return "", false
}

// db2Scalar reports whether v is a scalar a query ID may be: anything
// but a container.
func db2Scalar(v any) bool {
	switch v.(type) {
	case []any, map[string]any:
		return false
	}
	return true
}

// db2ValueSize checks a database value that came from a peer and returns
// its approximate size in bytes. ok is false when the value is nested
// deeper than db2MaxValueDepth, holds a number that cannot be sent on (NaN,
// infinities), holds a type the framings do not produce, or exceeds max
// bytes.
func db2ValueSize(v any, max int) (int, bool) {
	n := 0
	ok := db2Walk(v, 0, max, &n)
	return n, ok && n <= max
}

// db2Walk adds the size of v to *n and reports whether v is plain data
// within the depth limit and (so far) max bytes.
func db2Walk(v any, depth, max int, n *int) bool {
	if depth > db2MaxValueDepth || *n > max {
		return false
	}
	switch x := v.(type) {
	case nil, bool:
		*n++
	case int64:
		*n += 8
	case string:
		*n += len(x)
	case []byte:
		*n += len(x)
	case framing.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if math.IsNaN(f) || math.IsInf(f, 0) || (err != nil && !x.IsInt()) {
			return false
		}
		*n += len(x)
	case []any:
		*n += 8
		for _, e := range x {
			if !db2Walk(e, depth+1, max, n) {
				return false
			}
		}
	case map[string]any:
		*n += 8
		for k, e := range x {
			*n += len(k)
			if !db2Walk(e, depth+1, max, n) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// db2LocalSize is the size of a value the local program stored (any Go
// value the engine can encode); containers it does not know count 16.
func db2LocalSize(v any) int {
	n := 0
	if !db2Walk(v, 0, math.MaxInt, &n) {
		return 16
	}
	return n
}

// db2Equal reports whether two database values are the same, as Perl's
// sv_eq decides before re-announcing a value: scalars compare as strings
// (1 and "1" are equal) and by definedness (undef and "" are not),
// containers by their contents.
func db2Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !db2Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !db2Equal(e, f) {
				return false
			}
		}
		return true
	}
	switch b.(type) {
	case nil, []any, map[string]any:
		return false
	}
	sa, oka := framing.Text(a)
	sb, okb := framing.Text(b)
	if oka && okb {
		return sa == sb
	}
	return false
}

// perlIncrement returns s incremented the way Perl's ++ increments a
// string of letters ("a" -> "b", "z" -> "aa", "Az" -> "Ba"): AnyEvent::MP
// numbers its database queries that way, starting after "a".
func perlIncrement(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		switch c := b[i]; {
		case c == 'z':
			b[i] = 'a'
		case c == 'Z':
			b[i] = 'A'
		case c == '9':
			b[i] = '0'
		default:
			b[i]++
			return string(b)
		}
	}
	// every position wrapped: prepend the first digit of its kind
	switch {
	case len(s) == 0:
		return "1"
	case s[0] >= 'a' && s[0] <= 'z':
		return "a" + string(b)
	case s[0] >= 'A' && s[0] <= 'Z':
		return "A" + string(b)
	}
	return "1" + string(b)
}

// db2CanonAddr returns the comparable form of a host:port address (host
// lower-cased, IPv6 brackets and zones normalised by net.SplitHostPort)
// and whether it names a concrete remote endpoint: a host and a port
// 1..65535, not an unspecified address (0.0.0.0, ::), which would point
// at the local machine.
func db2CanonAddr(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", false
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", false
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return "", false
		}
		host = ip.String()
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(p)), true
}
