package mesh

import (
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// recvAddr handles ["addr", [HOSTPORT...]]: the sender's listen addresses.
// They are kept and, 2 to 3 s later (Tick), passed on to the nodes this
// node seeds. A newer announcement replaces one still waiting.
func (g *Global1) recvAddr(node string, rest []any, now time.Time, r *global1Report) {
	list, ok := argAt(rest, 0).([]any)
	if !ok {
		r.add(global1Malformed, 1)
		return
	}
	addrs := g.validAddrs(list, r)
	g.addr[node] = addrs
	if f, ok := g.forwardOf[node]; ok {
		f.addrs = addrs
		return
	}
	if len(g.forwards) >= g.lim.MaxNodes {
		r.add(global1NodeLimit, 1)
		return
	}
	delay := 2*time.Second + time.Duration(g.rnd.Int64N(int64(time.Second)))
	f := &global1Forward{due: now.Add(delay), node: node, addrs: addrs}
	i, _ := slices.BinarySearchFunc(g.forwards, f.due, func(x *global1Forward, t time.Time) int {
		if x.due.After(t) {
			return 1
		}
		return -1 // equal due times keep arrival order
	})
	g.forwards = slices.Insert(g.forwards, i, f)
	g.forwardOf[node] = f
}

// recvNodes handles ["nodes", {NODEID: [HOSTPORT...], ...}]: nodes to
// connect to. Each node that is not up is dialled (when it has addresses)
// and Global is started on it at once, its spawn waiting in the engine's
// queue until the connection is up, as in Perl. This node's own entry is
// skipped; an entry whose addresses are all this node's is dropped; new
// nodes beyond MaxNodes Global ports are refused.
func (g *Global1) recvNodes(node string, rest []any, a *Actions, r *global1Report) {
	kv, ok := argAt(rest, 0).(map[string]any)
	if !ok {
		r.add(global1Malformed, 1)
		return
	}
	type entry struct {
		id    string
		addrs []string
	}
	var accepted []entry
	room := g.lim.MaxNodes - len(g.port)
	for id, v := range kv {
		if id == g.self {
			continue
		}
		if !g.validNodeID(id) {
			r.add(global1Malformed, 1)
			continue
		}
		list, ok := v.([]any)
		if !ok {
			r.add(global1Malformed, 1)
			continue
		}
		_, known := g.port[id]
		if !known {
			if room <= 0 {
				r.add(global1NodeLimit, 1)
				continue
			}
			room--
		}
		own := r.n[global1OwnAddr]
		addrs := g.validAddrs(list, r)
		if len(addrs) == 0 && r.n[global1OwnAddr] > own {
			if !known {
				room++
			}
			continue // it points back at this node
		}
		accepted = append(accepted, entry{id, addrs})
	}
	slices.SortFunc(accepted, func(x, y entry) int { return strings.Compare(x.id, y.id) })
	for _, e := range accepted {
		if _, up := g.up[e.id]; !up && len(e.addrs) > 0 {
			a.Dial = append(a.Dial, Dial{Node: e.id, Addrs: e.addrs})
		}
		g.startNode(e.id, a)
	}
}

// recvSet handles ["set", {GROUP: [PORTID...], ...}]: the sender's group
// registrations, added to what is known.
func (g *Global1) recvSet(node string, rest []any, a *Actions, r *global1Report) {
	kv, ok := argAt(rest, 0).(map[string]any)
	if !ok {
		r.add(global1Malformed, 1)
		return
	}
	start := len(a.Changes)
	for group, v := range kv {
		list, ok := v.([]any)
		if !ok {
			r.add(global1Malformed, 1)
			continue
		}
		if len(group) > g.lim.MaxStringLen {
			r.add(global1TooLong, len(list))
			continue
		}
		var added []string
		for _, p := range list {
			if port, ok := g.peerEntry(node, group, p, r); ok {
				added = append(added, port)
			}
		}
		if len(added) > 0 {
			slices.Sort(added)
			a.Changes = append(a.Changes, Change{Name: group, Added: added})
		}
	}
	slices.SortFunc(a.Changes[start:], func(x, y Change) int { return strings.Compare(x.Name, y.Name) })
}

// recvReg handles ["reg1", GROUP, PORTID] and ["reg0", GROUP, PORTID].
// Only the entry's owner or the port's node may withdraw it.
func (g *Global1) recvReg(node string, add bool, rest []any, a *Actions, r *global1Report) {
	group, ok := perlText(argAt(rest, 0))
	if !ok {
		r.add(global1Malformed, 1)
		return
	}
	if len(group) > g.lim.MaxStringLen {
		r.add(global1TooLong, 1)
		return
	}
	if add {
		if port, ok := g.peerEntry(node, group, argAt(rest, 1), r); ok {
			a.Changes = append(a.Changes, Change{Name: group, Added: []string{port}})
		}
		return
	}
	port, ok := perlText(argAt(rest, 1))
	if !ok {
		r.add(global1Malformed, 1)
		return
	}
	owner, ok := g.reg.owner(group, port)
	if !ok {
		return
	}
	if owner != node && nodeOf(port) != node {
		r.add(global1NotOwner, 1)
		return
	}
	g.reg.remove(group, port)
	a.Changes = append(a.Changes, Change{Name: group, Removed: []string{port}})
}

// peerEntry checks a port ID a peer put into group and adds it on the
// peer's behalf; it returns the port ID when the group gained it.
func (g *Global1) peerEntry(node, group string, v any, r *global1Report) (string, bool) {
	port, ok := perlText(v)
	if !ok {
		r.add(global1Malformed, 1)
		return "", false
	}
	if len(port) > g.lim.MaxStringLen {
		r.add(global1TooLong, 1)
		return "", false
	}
	pn := nodeOf(port)
	switch {
	case !g.validNodeID(pn):
		r.add(global1Malformed, 1)
		return "", false
	case pn == g.self:
		r.add(global1OwnPort, 1)
		return "", false
	case pn != node:
		r.add(global1Foreign, 1)
	}
	switch g.reg.add(group, port, node) {
	case global1Added:
		return port, true
	case global1OverNode:
		r.add(global1PerNodeLimit, 1)
	case global1OverTotal:
		r.add(global1TotalLimit, 1)
	}
	return "", false
}

// recvFind handles ["find", NODEID]: the sender lost the node; it gets the
// node's addresses if this node has them.
func (g *Global1) recvFind(node string, rest []any, a *Actions, r *global1Report) {
	other, ok := perlText(argAt(rest, 0))
	if !ok {
		r.add(global1Malformed, 1)
		return
	}
	addrs, known := g.addr[other]
	if p, ok := g.port[node]; ok && known {
		a.Send = append(a.Send, Send{To: p, Args: []any{"nodes", map[string]any{other: addrs}}})
	}
}

// validAddrs returns the usable addresses of a peer's address list (never
// nil), at most MaxAddrs, and counts the rest in r: non-strings, strings
// too long, not HOST:PORT, or one of this node's listen addresses.
func (g *Global1) validAddrs(list []any, r *global1Report) []string {
	out := make([]string, 0, min(len(list), g.lim.MaxAddrs))
	for i, v := range list {
		if len(out) == g.lim.MaxAddrs {
			r.add(global1TooManyAddrs, len(list)-i)
			break
		}
		s, ok := perlText(v)
		switch {
		case !ok:
			r.add(global1Malformed, 1)
		case len(s) > g.lim.MaxStringLen:
			r.add(global1TooLong, 1)
		case !validHostPort(s):
			r.add(global1BadAddr, 1)
		case slices.Contains(g.listen, s):
			r.add(global1OwnAddr, 1)
		default:
			out = append(out, s)
		}
	}
	return out
}

// validHostPort reports whether s is HOST:PORT with a port 1-65535, the
// form Perl's listeners announce ("[::1]:4040" for IPv6).
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" || len(port) > 5 {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535 && port[0] != '+' && port[0] != '-'
}

// validNodeID reports whether id can be a node ID: not empty, within the
// length limit, and without '#' (port ID separator) or the greeting's
// separators ';', CR and LF.
func (g *Global1) validNodeID(id string) bool {
	return id != "" && len(id) <= g.lim.MaxStringLen && !strings.ContainsAny(id, "#;\r\n")
}

// argAt returns args[i], nil past the end (Perl's undef).
func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// perlText returns a scalar as the string Perl code would see; ok is false
// for undef, arrays and hashes.
func perlText(v any) (string, bool) {
	switch x := v.(type) {
	case nil, []any, map[string]any:
		return "", false
	case int:
		return strconv.Itoa(x), true
	case float64:
		return framing.PerlNumber(x), true
	}
	return framing.Text(v)
}

// perlString returns v as Perl interpolates it into a string ("$v"):
// numbers as Perl prints them, undef as "", references as
// ARRAY(0x0)/HASH(0x0) (Perl prints their address).
func perlString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int:
		return strconv.Itoa(x)
	case float64:
		return framing.PerlNumber(x)
	case framing.Number:
		if _, err := x.Int64(); err == nil {
			return string(x)
		}
		if _, err := x.Uint64(); err == nil {
			return string(x)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return framing.PerlNumber(f)
	case []any:
		return "ARRAY(0x0)"
	case map[string]any:
		return "HASH(0x0)"
	}
	s, _ := framing.Text(v)
	return s
}

// perlIntIsZero reports whether Perl's int(v) is 0, as Global's version
// check computes it: undef, false, 0.9, "0", "abc" and "" are 0; a
// reference is its (nonzero) address.
func perlIntIsZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case int64:
		return x == 0
	case int:
		return x == 0
	case float64:
		return math.Abs(x) < 1
	case framing.Number:
		f, _ := strconv.ParseFloat(string(x), 64) // ±Inf when too large
		return math.Abs(f) < 1
	case string:
		return perlNumPrefixIsZero(x)
	case []byte:
		return perlNumPrefixIsZero(string(x))
	}
	return false
}

// perlNumPrefixIsZero reports whether Perl's int() of the string s is 0:
// Perl numifies the longest numeric prefix after leading whitespace
// (nothing numeric gives 0), and knows Inf and NaN.
func perlNumPrefixIsZero(s string) bool {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	rest := strings.ToLower(s[i:])
	if strings.HasPrefix(rest, "inf") || strings.HasPrefix(rest, "nan") {
		return false
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	start := i
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			i = j
		}
	}
	f, _ := strconv.ParseFloat(s[start:i], 64) // ±Inf when too large
	return math.Abs(f) < 1
}

// global1Problem is a kind of peer input Global1 ignored or cut short.
type global1Problem int

const (
	global1Malformed global1Problem = iota
	global1Unknown
	global1TooLong
	global1BadAddr
	global1OwnAddr
	global1TooManyAddrs
	global1NodeLimit
	global1PerNodeLimit
	global1TotalLimit
	global1OwnPort
	global1Foreign
	global1NotOwner
	global1NumProblems
)

// global1ProblemText words each problem for the Warning.
var global1ProblemText = [global1NumProblems]string{
	global1Malformed:    "malformed values ignored",
	global1Unknown:      "unknown message ignored",
	global1TooLong:      "strings over the length limit ignored",
	global1BadAddr:      "addresses not HOST:PORT ignored",
	global1OwnAddr:      "addresses of this node ignored",
	global1TooManyAddrs: "addresses over the per-node limit ignored",
	global1NodeLimit:    "nodes over the node limit ignored",
	global1PerNodeLimit: "entries over the per-node limit ignored",
	global1TotalLimit:   "entries over the total limit ignored",
	global1OwnPort:      "entries for this node's ports refused",
	global1Foreign:      "entries for other nodes' ports held for the sender",
	global1NotOwner:     "withdrawals of entries the sender does not hold ignored",
}

// global1Report counts the problems of one message, for one Warning.
type global1Report struct {
	node, what string
	n          [global1NumProblems]int
}

// add counts n occurrences of p.
func (r *global1Report) add(p global1Problem, n int) { r.n[p] += n }

// flush appends the message's Warning, if anything was wrong with it.
func (r *global1Report) flush(a *Actions) {
	var b strings.Builder
	for p, n := range r.n {
		if n == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("Global ")
			b.WriteString(r.what)
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(n))
		b.WriteByte(' ')
		b.WriteString(global1ProblemText[p])
	}
	if b.Len() > 0 {
		a.Warn = append(a.Warn, Warning{Node: r.node, Msg: b.String()})
	}
}
