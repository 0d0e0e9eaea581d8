package nodefuzz

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// target is what the generator knows of the target, from its greeting
// at the start of a run: it stays fixed, so that a seed gives the same
// decisions all run long.
type target struct {
	id       string   // its node ID
	framings []string // the framings both it and we accept, in our order
	method   string   // the auth method we use with it
	addr     string   // HOST:PORT we connect to (our peeraddr)
}

// generator makes cases. It is a pure function of (seed, case number,
// target): no I/O, no clock.
type generator struct {
	seed   uint64
	secret []byte
	t      target
}

// maxFrame bounds the frames the generator builds (sizes beyond it are
// claimed by lengths that lie, never sent).
const maxFrame = 1 << 20

func (g *generator) rng(n int) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, uint64(n)))
}

// idFor returns the node IDs of case n's fuzzed link and probe. They
// cycle through 64 values each: a node remembers the IDs that connected
// to it, and refuses one that is still connected.
func idFor(n int) (link, probe string) {
	k := strconv.Itoa(n % 64)
	return "fz-link" + k, "fz-probe" + k
}

// generate makes case n.
func (g *generator) generate(n int) *Case {
	r := g.rng(n)
	id, _ := idFor(n)
	c := &Case{N: n, ourID: id, marker: marker(r)}
	switch p := r.IntN(100); {
	case p < 20:
		g.greetingCase(r, c)
	case p < 35:
		g.authCase(r, c)
	default:
		g.dataCase(r, c)
	}
	return c
}

// marker is a unique text for a time request: 12 letters and digits.
func marker(r *rand.Rand) string {
	const al = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	for i := range b {
		b[i] = al[r.IntN(len(al))]
	}
	return "fzt" + string(b)
}

func pick[T any](r *rand.Rand, l []T) T { return l[r.IntN(len(l))] }

// nonce is a nonce line like Perl's: base64 of 66 random bytes.
func nonce(r *rand.Rand) string {
	b := make([]byte, 66)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// ourAuths is the auth list we advertise.
var ourAuths = strings.Join(handshake.DefaultAuthAccept, ",")

// greetingParts is our greeting under construction.
type greetingParts struct {
	prefix  string   // bytes before line 1
	fields  []string // fields 1-5, then KEY=VALUE pairs
	end1    string   // line end of line 1
	nonce   string
	end2    string
	extra   string // bytes after line 2
	echo    bool   // send the target's own lines instead
	noNonce bool   // line 1 only, then nothing
	cut     int    // > 0: keep only this many fields of line 1 (+1)
	utf16   bool   // line 1 in UTF-16LE
}

func (g *generator) baseGreeting(r *rand.Rand, id, framing string) *greetingParts {
	fr := []string{framing}
	for _, f := range g.t.framings {
		if f != framing {
			fr = append(fr, f)
		}
	}
	return &greetingParts{
		fields: []string{"aemp", "1", id, ourAuths, strings.Join(fr, ","),
			"provider=aemp-fuzz", "peeraddr=" + g.t.addr},
		end1: "\n", nonce: nonce(r), end2: "\n",
	}
}

func (gp *greetingParts) bytes() []byte {
	var b strings.Builder
	b.WriteString(gp.prefix)
	fields := gp.fields
	if gp.cut > 0 {
		fields = fields[:min(len(fields), gp.cut-1)]
	}
	l1 := strings.Join(fields, ";")
	if gp.utf16 {
		var u strings.Builder
		for i := range len(l1) {
			u.WriteByte(l1[i])
			u.WriteByte(0)
		}
		l1 = u.String()
	}
	b.WriteString(l1)
	b.WriteString(gp.end1)
	if !gp.noNonce {
		b.WriteString(gp.nonce)
		b.WriteString(gp.end2)
	}
	b.WriteString(gp.extra)
	return []byte(b.String())
}

// linesOf returns the first two lines of b as a line reader sees them
// (LF ends a line, one CR before it is dropped).
func linesOf(b []byte) [2]string {
	var out [2]string
	s := string(b)
	for i := range out {
		j := strings.IndexByte(s, '\n')
		if j < 0 {
			out[i] = s
			break
		}
		out[i] = trimLine(s[:j+1])
		s = s[j+1:]
	}
	return out
}

// deliver sets how a step's bytes go out: in one write, cut at random
// places, or trickled in small pieces with pauses (at most ~200 ms).
func deliver(r *rand.Rand, s *step) string {
	n := len(s.bytes)
	if s.auth != nil {
		n = 200 // about an auth line
	}
	switch p := r.IntN(10); {
	case p < 5 || n < 2:
		return ""
	case p < 8:
		k := 1 + r.IntN(4)
		for range k {
			s.chunks = append(s.chunks, 1+r.IntN(max(1, n/k)))
		}
		s.pause = time.Duration(r.IntN(3)) * time.Millisecond
		return " split"
	default:
		size := 1 + r.IntN(16)
		pieces := min(n/size+1, 64)
		for range pieces {
			s.chunks = append(s.chunks, size)
		}
		s.pause = time.Duration(r.IntN(4)) * time.Millisecond
		return fmt.Sprintf(" trickled %d B at a time", size)
	}
}

// pad returns a KEY=VALUE field that makes a line of length cur reach
// want bytes.
func pad(cur, want int) string {
	n := want - cur - len(";fzpad=")
	if n < 0 {
		n = 0
	}
	return "fzpad=" + strings.Repeat("p", n)
}

func (g *generator) greetingCase(r *rand.Rand, c *Case) {
	c.Phase = PhaseGreeting
	framing := pick(r, g.t.framings)
	gp := g.baseGreeting(r, c.ourID, framing)
	var what []string
	for range 1 + r.IntN(3) {
		what = append(what, g.mutateGreeting(r, gp))
	}
	st := step{phase: PhaseGreeting, bytes: gp.bytes(), echo: gp.echo}
	w := deliver(r, &st)
	c.steps = append(c.steps, st)
	c.What = "greeting: " + strings.Join(what, ", ") + w
	if gp.noNonce || r.IntN(10) < 3 {
		return
	}
	// Carry on as if the target took it: auth line and a time request.
	ours := linesOf(st.bytes)
	c.steps = append(c.steps, step{phase: PhaseAuth, auth: &authLine{
		template: g.t.method + ";{token};" + framing + "\n", method: g.t.method, ours: ours}})
	c.steps = append(c.steps, g.timeStep(c, framing, false))
}

// timeStep is a well-formed time request to our port; probe marks the
// link check's.
func (g *generator) timeStep(c *Case, framing string, probe bool) step {
	m := arr(str(""), str("time"), str(c.ourID+"#"+c.marker), str(c.marker))
	b, _ := encode(framing, m, -1)
	return step{phase: PhaseData, bytes: b, probe: probe}
}

var (
	protoWords = []string{"aemp-dataconn", "aemp-fz", "AEMP", "", "aemp ", "aemp\x00", "aemp-", "aem", "aemp-dataconn-x", "aemp;aemp"}
	versions   = []string{"0", "2", "1.0", "1e0", " 1", "01", "", "-1", "99999999999999999999", "0x1", "nan", "inf", "1 ", "+1", "1.9"}
	authLists  = []string{"", "cleartext", "fz_unknown", ",,,", "tls_anon", "HMAC_SHA3_512", "hmac_sha3_512,hmac_sha3_512",
		"tls_sha3_512,tls_md6_64_256", " hmac_sha3_512", "hmac_md6_64_256", "hmac_sha3_512"}
	framingLists = []string{"", "fz", "json,json,json", ",", "storable", "cbor", "json", "JSON", "json,fz", ",json", "json;"}
	extraKVs     = []string{"tls=1", "tls=2", "tls=", "tls", "tls=abc", "=x", "==", "peeraddr=", "peeraddr=garbage", "peeraddr=[::1]:1",
		"dataconn_id=fz", "dataconn_id=", "mproto=999", "gproto=-1", "provider=", "k=v=w", "fz", "fz=\xff\xfe", "provider=AE-1.30",
		"mproto=1;gproto=1;mproto=2"}
)

// mutateGreeting applies one mutation to our greeting and says which.
func (g *generator) mutateGreeting(r *rand.Rand, gp *greetingParts) string {
	switch r.IntN(16) {
	case 0:
		w := pick(r, protoWords)
		gp.fields[0] = w
		if w == "aemp-dataconn" && r.IntN(2) == 0 {
			gp.fields = append(gp.fields, "dataconn_id="+pick(r, []string{"fz@fz", "", "b@" + g.t.id, strings.Repeat("d", 3000)}))
		}
		return fmt.Sprintf("protocol %q", w)
	case 1:
		w := pick(r, versions)
		gp.fields[1] = w
		return fmt.Sprintf("version %q", w)
	case 2:
		w := pick(r, []string{"", strings.Repeat("n", 100), strings.Repeat("n", 4000), "fz#x", "fz%3bx", "fz x", "fz\xff",
			"fz\x00z", g.t.id, "anon/", "fz-\u00e9\u20ac", "#", "fz,x", gp.fields[2] + "=1"})
		gp.fields[2] = w
		return fmt.Sprintf("node ID %.40q", w)
	case 3:
		w := pick(r, authLists)
		if r.IntN(4) == 0 {
			w = strings.Repeat("hmac_sha3_512,", 200)
		}
		gp.fields[3] = w
		return fmt.Sprintf("auth list %.40q", w)
	case 4:
		w := pick(r, framingLists)
		if r.IntN(4) == 0 {
			w = strings.Repeat("fz,", 500) + gp.fields[4]
		}
		gp.fields[4] = w
		return fmt.Sprintf("framings %.40q", w)
	case 5:
		w := pick(r, extraKVs)
		i := 5 + r.IntN(len(gp.fields)-4)
		gp.fields = append(gp.fields[:i], append([]string{w}, gp.fields[i:]...)...)
		return fmt.Sprintf("pair %q", w)
	case 6:
		k := 50 + r.IntN(400)
		for i := range k {
			gp.fields = append(gp.fields, fmt.Sprintf("k%d=v%d", i, i))
		}
		return fmt.Sprintf("%d pairs", k)
	case 7:
		switch r.IntN(3) {
		case 0:
			i := 1 + r.IntN(len(gp.fields)-1)
			gp.fields = append(gp.fields[:i], append([]string{""}, gp.fields[i:]...)...)
			return "empty field"
		case 1:
			gp.fields[len(gp.fields)-1] += ";;;"
			return "trailing separators"
		default:
			k := r.IntN(5)
			gp.cut = k + 1
			return fmt.Sprintf("only %d fields", k)
		}
	case 8:
		w := pick(r, []string{"\r\n", "\r", "\n\r", "\r\r\n", "", "\n\n"})
		if r.IntN(2) == 0 {
			gp.end1 = w
		} else {
			gp.end2 = w
		}
		return fmt.Sprintf("line end %q", w)
	case 9:
		want := pick(r, []int{4094, 4095, 4096, 4097, 8192, 65536})
		cur := len(strings.Join(gp.fields, ";")) + len(gp.end1)
		gp.fields = append(gp.fields, pad(cur, want))
		return fmt.Sprintf("line 1 of %d bytes", want)
	case 10:
		w := pick(r, []string{"\xef\xbb\xbf", "\xff\xfe", "\x00", "\n", " ", "\r\n", "\x1b[2J"})
		gp.prefix = w
		return fmt.Sprintf("prefix %q", w)
	case 11:
		gp.utf16 = true
		return "line 1 in UTF-16LE"
	case 12:
		switch k := r.IntN(6); k {
		case 0:
			gp.nonce = ""
		case 1:
			gp.nonce = "x"
		case 2:
			gp.nonce = strings.Repeat("n", pick(r, []int{4094, 4095, 4096, 5000}))
		case 3:
			b := make([]byte, 100)
			for i := range b {
				b[i] = byte(r.IntN(256))
				if b[i] == '\n' {
					b[i] = 0
				}
			}
			gp.nonce = string(b)
		case 4:
			gp.nonce = strings.Join(gp.fields, ";")
		default:
			gp.nonce += "\r"
		}
		return fmt.Sprintf("nonce of %d bytes", len(gp.nonce))
	case 13:
		gp.echo = true
		return "echo of the target's lines"
	case 14:
		gp.noNonce = true
		return "no nonce line"
	default:
		w := pick(r, []string{"\n", "garbage\n", "aemp;1;fz2;hmac_sha3_512;json\n", strings.Repeat("x", 5000) + "\n"})
		gp.extra = w
		return fmt.Sprintf("extra line of %d bytes", len(w))
	}
}

var authMethods = []string{"", "fz_unknown", handshake.AuthTLSSHA3, handshake.AuthTLSMD6, handshake.AuthTLSAnon,
	handshake.AuthClear, "HMAC_SHA3_512", strings.Repeat("m", 4200)}

var tokenOps = []string{"flip", "upper", "cut", "extend", "empty", "nonhex", "long", "nul", "space"}

func (g *generator) authCase(r *rand.Rand, c *Case) {
	c.Phase = PhaseAuth
	framing := pick(r, g.t.framings)
	gp := g.baseGreeting(r, c.ourID, framing)
	gb := gp.bytes()
	c.steps = append(c.steps, step{phase: PhaseGreeting, bytes: gb})
	a := &authLine{method: g.t.method, ours: linesOf(gb)}
	method, fr, end, tail := g.t.method, framing, "\n", ""
	var what []string
	for range 1 + r.IntN(2) {
		switch r.IntN(9) {
		case 0:
			method = pick(r, append(authMethods, otherMethod(g.t.method)))
			what = append(what, fmt.Sprintf("method %.30q", method))
			if method == handshake.AuthClear || strings.HasPrefix(method, "tls_") || method == otherMethod(g.t.method) {
				a.method = method // the token that method would have
			}
		case 1:
			a.op = pick(r, tokenOps)
			what = append(what, "token "+a.op)
		case 2:
			a.swap = true
			what = append(what, "token for the other direction")
		case 3:
			a.wrongSecret = true
			what = append(what, "token with another secret")
		case 4:
			fr = pick(r, []string{"fz", "", "JSON", "json,cbor", strings.Repeat("f", 4200), "storable", "cbor", "json"})
			what = append(what, fmt.Sprintf("framing %.30q", fr))
		case 5:
			tail = pick(r, []string{";", ";extra", ";extra;fields;here", ";" + strings.Repeat("e", 4100)})
			what = append(what, fmt.Sprintf("%d bytes after the framing", len(tail)))
		case 6:
			end = pick(r, []string{"\r\n", "\r", "", "\n\n", "\r\r\n"})
			what = append(what, fmt.Sprintf("line end %q", end))
		case 7:
			c.steps = append(c.steps, step{phase: PhaseAuth, bytes: []byte(pick(r, []string{"\n", "garbage\n", "\r\n"}))})
			what = append(what, "a line before the auth line")
		default:
			method = handshake.AuthClear
			a.method = handshake.AuthClear
			what = append(what, "cleartext with the right secret")
		}
	}
	if end == "" {
		what = append(what, "then close")
	}
	a.template = method + ";{token};" + fr + tail + end
	st := step{phase: PhaseAuth, auth: a}
	w := deliver(r, &st)
	c.steps = append(c.steps, st)
	if r.IntN(5) == 0 {
		c.steps = append(c.steps, step{phase: PhaseAuth, auth: a})
		what = append(what, "twice")
	}
	c.What = "auth: " + strings.Join(what, ", ") + w
	if end != "" {
		c.steps = append(c.steps, g.timeStep(c, framing, false))
	}
}

// dataCase: a genuine handshake, then frames.
func (g *generator) dataCase(r *rand.Rand, c *Case) {
	c.Phase = PhaseData
	c.Framing = pick(r, g.t.framings)
	gp := g.baseGreeting(r, c.ourID, c.Framing)
	gb := gp.bytes()
	c.steps = append(c.steps, step{phase: PhaseGreeting, bytes: gb})
	a := &authLine{method: g.t.method, ours: linesOf(gb), template: g.t.method + ";{token};" + c.Framing + "\n"}
	fb := &frameBuilder{g: g, r: r, c: c, sf: safety{ourID: c.ourID, target: g.t.id}}
	var what []string
	var frames [][]byte
	complete := true
	// The switch: how the auth line ends and what follows it.
	sw := ""
	switch r.IntN(12) {
	case 0:
		a.template = strings.TrimSuffix(a.template, "\n") + "\r\n"
		sw = "auth line ends in CR LF"
	case 1:
		sw = "frames in the write of the auth line"
	case 2:
		if c.Framing == fJSON { // bytes between frames mean something in the others
			lead := pick(r, []string{"\n", "\r\n  \t", "\xef\xbb\xbf", " "})
			frames = append(frames, []byte(lead))
			sw = fmt.Sprintf("%q before the first frame", lead)
		}
	case 3:
		other := pick(r, []string{fJSON, fCBOR, fStorable})
		if other != c.Framing {
			frames = append(frames, fb.encodeIn(other, fb.request(), -1))
			sw = "a frame in " + other + " where " + c.Framing + " was announced"
			// read in the wrong framing, its bytes may announce a length
			// the rest of the case does not fill
			complete = false
		}
	}
	n := 1 + r.IntN(3)
	for i := range n {
		f, desc, comp := fb.frame(i == n-1)
		frames = append(frames, f)
		what = append(what, desc)
		if !comp {
			complete = false
		}
	}
	data := []byte{}
	for _, f := range frames {
		data = append(data, f...)
	}
	if sw == "frames in the write of the auth line" {
		c.steps = append(c.steps, step{phase: PhaseAuth, auth: a, tail: data})
	} else {
		c.steps = append(c.steps, step{phase: PhaseAuth, auth: a})
		st := step{phase: PhaseData, bytes: data}
		if w := deliver(r, &st); w != "" {
			what = append(what, strings.TrimSpace(w))
		}
		c.steps = append(c.steps, st)
	}
	if sw != "" {
		what = append([]string{sw}, what...)
	}
	c.Link = complete
	if complete {
		c.steps = append(c.steps, g.timeStep(c, c.Framing, true))
	}
	c.What = c.Framing + ": " + strings.Join(what, "; ")
}

// frameBuilder builds the frames of one data case.
type frameBuilder struct {
	g  *generator
	r  *rand.Rand
	c  *Case
	sf safety
}

// frame returns one frame, a description, and whether the frame is
// complete (the target has all its bytes and can decide on it: the link
// check applies). The last frame of a case may be a bad one.
func (fb *frameBuilder) frame(last bool) (frame []byte, what string, complete bool) {
	r := fb.r
	p := r.IntN(100)
	if !last && p >= 60 {
		p = r.IntN(60)
	}
	var m *vArr
	switch {
	case p < 30:
		m, what = fb.requestDesc()
	case p < 40:
		m = arr(str(portPrefix+"-none"), fb.value(3))
		for range r.IntN(4) {
			m.elems = append(m.elems, fb.value(3))
		}
		what = "message to a port that does not exist"
	case p < 48:
		m, what = fb.big()
	case p < 54:
		m = pick(r, []*vArr{arr(), arr(str("")), arr(null()), arr(str(""), str("")), arr(str(""), str("devnull"), fb.value(2))})
		what = "keepalive-like message"
	case p < 60:
		m, what = fb.exotic()
	default:
		return fb.bad()
	}
	return fb.encode(m, -1), what, true
}

// encode sanitizes m, checks it against the safety rules and encodes it;
// a message that fails the check is a bug in the generator.
func (fb *frameBuilder) encode(m *vArr, markAt int) []byte {
	return fb.encodeIn(fb.c.Framing, m, markAt)
}

// encodeIn is encode in framing f.
func (fb *frameBuilder) encodeIn(f string, m *vArr, at int) []byte {
	if approxSize(m, 4*maxFrame) > 4*maxFrame {
		m.elems = append(m.elems[:min(len(m.elems), 2)], str("too big"))
	}
	if len(m.elems) > 0 {
		fb.sanitize(m)
	}
	if err := fb.sf.check(m); err != nil {
		panic(fmt.Sprintf("nodefuzz: generated an unsafe message (%v): case %d", err, fb.c.N))
	}
	b, _ := encode(f, m, at)
	return b
}

func (fb *frameBuilder) request() *vArr { m, _ := fb.requestDesc(); return m }

// ourPort is a reply port on our node.
func (fb *frameBuilder) ourPort() *vStr {
	return str(fb.c.ourID + "#" + portPrefix + strconv.Itoa(fb.r.IntN(1000)))
}

// replySlot: usually our port, sometimes a wrong type that names no
// node's port.
func (fb *frameBuilder) replySlot() (value, string) {
	switch fb.r.IntN(8) {
	case 0:
		return num(int64(1 + fb.r.IntN(1<<20))), "a number as reply port"
	case 1:
		return arr(num(1)), "an array as reply port"
	case 2:
		return mapOf(str("a"), num(1)), "a map as reply port"
	}
	return fb.ourPort(), ""
}

// killSlot: one of our made-up port names, never "" or null (a Perl
// node would kill its own node port).
func (fb *frameBuilder) killSlot() *vStr {
	s := portPrefix + pick(fb.r, []string{"x", "-none", strings.Repeat("k", 300), "\u00e9", "\xff\xfe", "0"})
	v := str(s)
	v.text = fb.r.IntN(2) == 0
	return v
}

// destSlot: a relay destination that is a port of ours.
func (fb *frameBuilder) destSlot() value {
	switch fb.r.IntN(6) {
	case 0:
		return arr(num(1))
	case 1:
		return str(fb.g.t.id + "#" + portPrefix + "-none")
	case 2:
		return str(portPrefix + "other#" + portPrefix + "p")
	}
	return fb.ourPort()
}

func (fb *frameBuilder) addrs() value {
	r := fb.r
	switch r.IntN(5) {
	case 0:
		return null()
	case 1:
		return arr()
	}
	a := arr()
	for range 1 + r.IntN(3) {
		a.elems = append(a.elems, str(pick(r, safeAddrs)))
	}
	return a
}

// requestDesc builds a node-port request with odd arguments.
func (fb *frameBuilder) requestDesc() (*vArr, string) {
	r := fb.r
	name := pick(r, Requests)
	nm := str(name)
	nm.text = r.IntN(3) > 0
	m := arr(str(""), nm)
	if r.IntN(4) == 0 {
		m.elems[0] = bstr("")
	}
	var odd []string
	add := func(v value) { m.elems = append(m.elems, v) }
	reply := func() {
		v, d := fb.replySlot()
		add(v)
		if d != "" {
			odd = append(odd, d)
		}
	}
	switch name {
	case "kil", "kil1":
		add(fb.killSlot())
	case "snd":
		add(fb.destSlot())
	case "snd_multiple":
		for range r.IntN(4) {
			if r.IntN(4) == 0 {
				add(fb.value(2))
				continue
			}
			rel := arr(fb.destSlot())
			for range r.IntN(3) {
				rel.elems = append(rel.elems, fb.value(2))
			}
			add(rel)
		}
	case "info", "known_nodes", "up_nodes", "time":
		reply()
	case "can":
		add(fb.value(1))
		reply()
	case "g_found":
		add(fb.value(1))
		add(fb.addrs())
	case "g_slave", "g_set":
		db := mapOf(str("'l"), mapOf(str(portPrefix+"n"), fb.addrs()), str(portPrefix+"fam"), mapOf(str("k"), fb.value(2)))
		if r.IntN(3) == 0 {
			db = mapOf(str("'g"), mapOf(str(portPrefix+"g"), null()))
		}
		if name == "g_slave" && r.IntN(3) == 0 {
			break // g_slave without database
		}
		add(db)
	case "g_upd":
		if r.IntN(2) == 0 {
			add(str("'l"))
			add(mapOf(str(portPrefix+"n"), fb.addrs()))
		} else {
			add(str(portPrefix + "fam"))
			add(mapOf(str("k"), fb.value(2)))
		}
		add(arr(str(portPrefix + "del")))
	}
	// free arguments: odd types, sizes, extra values
	k := len(m.elems)
	extra := r.IntN(4)
	if name == "" || name == "devnull" || name == "mon1" || name == "mon0" || name == "kil0" || strings.HasPrefix(name, "g_") {
		extra++
	}
	for range extra {
		m.elems = append(m.elems, fb.value(3))
	}
	// structure-aware mutations of the free arguments (after the slots
	// with restricted values)
	free := k
	switch name {
	case "mon1", "mon0", "kil0", "", "devnull", "g_find", "g_db_family", "g_db_keys", "g_db_values", "g_reply", "g_mon1", "g_mon0", "g_chg1", "g_chg2", "g_global":
		free = 2
	}
	for range r.IntN(3) {
		if free >= len(m.elems) {
			break
		}
		i := free + r.IntN(len(m.elems)-free)
		v, d := fb.mutate(m.elems[i])
		m.elems[i] = v
		odd = append(odd, d)
	}
	fb.sanitize(m)
	desc := fmt.Sprintf("request %q", name)
	if len(odd) > 0 {
		desc += " with " + strings.Join(odd, ", ")
	}
	return m, desc
}

// Scalar dictionaries.
var (
	strDict = []string{"", "a", "fz", "0", "1", "-1", "1e400", "null", "true", "\u00e9", "\u20ac", "\U0001F600", "a\x00b",
		"\n\r\t", "\"\\", "'l", "#", "fz#x", "%3b", ";", "\u2028", "\ufeff"}
	invalidUTF8 = []string{"\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "a\xfeb", "\xf8\x88\x80\x80\x80"}
	intDict     = []int64{0, 1, -1, 127, 128, -128, -129, 255, 256, 65535, 65536, math.MaxInt32, math.MaxInt32 + 1, math.MinInt32,
		math.MinInt32 - 1, 1 << 53, (1 << 53) + 1, math.MaxInt64, math.MinInt64}
	numLits = []string{"1e400", "-1e400", "-0", "1e-400", "123456789012345678901234567890", "-123456789012345678901234567890",
		"18446744073709551615", "18446744073709551616", "-9223372036854775809", "0.1", "1E+2", "1e-7", "4.9e-324", "1.7976931348623157e308"}
	floatDict = []float64{1.5, -0.0, 1e308, 5e-324, 0.1, -2.5e-300, 1 << 63}
)

// value returns a random value with at most depth levels of containers.
// It is sanitized by the caller (nested arrays).
func (fb *frameBuilder) value(depth int) value {
	r := fb.r
	k := r.IntN(12)
	if depth <= 0 && k >= 9 {
		k = r.IntN(9)
	}
	switch k {
	case 0, 1:
		s := str(pick(r, strDict))
		s.text = r.IntN(3) > 0
		return s
	case 2:
		return num(pick(r, intDict))
	case 3:
		if r.IntN(2) == 0 {
			return &vUint{math.MaxUint64 - uint64(r.IntN(2))}
		}
		return lit(pick(r, numLits))
	case 4:
		return flt(pick(r, floatDict))
	case 5:
		return null()
	case 6:
		return boolean(r.IntN(2) == 0)
	case 7:
		s := str(strings.Repeat(pick(r, []string{"a", "\u00e9", "x"}), pick(r, []int{24, 255, 256, 65535, 65536})))
		return s
	case 8:
		return num(int64(r.IntN(1000)))
	case 9, 10:
		a := arr()
		for range r.IntN(5) {
			a.elems = append(a.elems, fb.value(depth-1))
		}
		return a
	default:
		m := mapOf()
		for range r.IntN(4) {
			key := value(str(pick(r, strDict)))
			if fb.c.Framing == fCBOR && r.IntN(4) == 0 {
				key = num(pick(r, intDict)) // cbor map keys need not be strings
			}
			m.keys = append(m.keys, key)
			m.vals = append(m.vals, fb.value(depth-1))
		}
		return m
	}
}

// mutate applies one structure-aware mutation to a free value.
func (fb *frameBuilder) mutate(v value) (value, string) { return fb.mutateOp(v, fb.r.IntN(9)) }

func (fb *frameBuilder) mutateOp(v value, op int) (value, string) {
	r := fb.r
	switch op {
	case 0:
		d := pick(r, []int{64, 511, 512, 513, 1000, 3000})
		inner := v
		if r.IntN(2) == 0 {
			for range d - 1 {
				inner = arr(inner)
			}
			return inner, fmt.Sprintf("nested %d deep in arrays", d)
		}
		for range d - 1 {
			inner = mapOf(str("a"), inner)
		}
		return inner, fmt.Sprintf("nested %d deep in maps", d)
	case 1:
		n := pick(r, []int{4096, 65535, 65536, 300000, maxFrame - 4096})
		s := str(strings.Repeat("s", n))
		s.text = r.IntN(2) == 0
		return s, fmt.Sprintf("a %d-byte string", n)
	case 2:
		n := pick(r, []int{1000, 65536, 200000})
		a := arr()
		a.elems = make([]value, n)
		for i := range a.elems {
			a.elems[i] = smallInts[i&0xff]
		}
		return a, fmt.Sprintf("an array of %d", n)
	case 3:
		n := pick(r, []int{1000, 30000})
		m := mapOf()
		for i := range n {
			m.keys = append(m.keys, str("k"+strconv.Itoa(i)))
			m.vals = append(m.vals, num(1))
		}
		return m, fmt.Sprintf("a map of %d", n)
	case 4:
		s := str(pick(r, strDict) + pick(r, invalidUTF8) + pick(r, strDict))
		s.text = true
		return s, fmt.Sprintf("invalid UTF-8 %q", s.b)
	case 5:
		l := pick(r, numLits)
		return lit(l), "number " + l
	case 6:
		i := r.IntN(7)
		w := []value{str(""), arr(), mapOf(), null(), boolean(false), num(0), flt(-0.0)}[i]
		return w, []string{"an empty string", "an empty array", "an empty map", "null", "false", "0", "-0.0"}[i]
	case 7:
		return fb.value(2), "another type"
	default:
		n := pick(r, []int{100, 10000})
		n = min(n, maxFrame/max(1, approxSize(v, maxFrame)))
		a := arr()
		for range n {
			a.elems = append(a.elems, v)
		}
		return a, fmt.Sprintf("the value %d times", n)
	}
}

// smallInts are shared leaves for big arrays.
var smallInts = func() (t [256]value) {
	for i := range t {
		t[i] = num(int64(i))
	}
	return
}()

// approxSize estimates the encoded size of v in bytes, stopping once it
// is over limit.
func approxSize(v value, limit int) int {
	n := 0
	var walk func(v value)
	walk = func(v value) {
		if n > limit {
			return
		}
		switch x := v.(type) {
		case *vStr:
			n += len(x.b) + 3
		case *vNum:
			n += len(x.lit)
		case *vRaw:
			n += max(len(x.json), len(x.cbor), len(x.storable))
		case *vArr:
			n += 2
			for _, e := range x.elems {
				walk(e)
			}
		case *vMap:
			n += 2
			for i := range x.keys {
				walk(x.keys[i])
				walk(x.vals[i])
			}
		default:
			n += 9
		}
	}
	walk(v)
	return n
}

// sanitize makes every nested array of m start with something that names
// no existing port: a string gets our prefix (unless it is one of our
// addresses), null/bool/raw become 0.
func (fb *frameBuilder) sanitize(m *vArr) {
	var walk func(v value)
	walk = func(v value) {
		switch x := v.(type) {
		case *vArr:
			if len(x.elems) > 0 {
				switch e := x.elems[0].(type) {
				case *vStr:
					if !strings.HasPrefix(string(e.b), portPrefix) && !slices.Contains(safeAddrs, string(e.b)) {
						x.elems[0] = str(portPrefix + string(e.b))
					}
				case *vNull, *vBool, *vRaw:
					x.elems[0] = num(0)
				}
			}
			for _, e := range x.elems {
				walk(e)
			}
		case *vMap:
			for i := range x.keys {
				walk(x.keys[i])
				walk(x.vals[i])
			}
		}
	}
	for _, e := range m.elems[1:] {
		walk(e)
	}
}

// big builds a large or deep valid message.
func (fb *frameBuilder) big() (*vArr, string) {
	v, d := fb.mutateOp(num(1), pick(fb.r, []int{0, 1, 2, 3, 8}))
	m := arr(str(portPrefix+"-none"), v)
	fb.sanitize(m)
	return m, "message with " + d
}

// exotic builds a valid frame using the framing's rarer features.
func (fb *frameBuilder) exotic() (*vArr, string) {
	r := fb.r
	m := arr(str(portPrefix+"-none"), fb.value(2))
	switch fb.c.Framing {
	case fCBOR:
		switch r.IntN(5) {
		case 0:
			m.indef = true
			return m, "indefinite-length message array"
		case 1:
			s := str("indefinite string")
			s.indef, s.chunk = true, 1+r.IntN(5)
			m.elems = append(m.elems, s)
			return m, "indefinite-length string"
		case 2:
			m.elems[0] = bstr(portPrefix + "-none")
			return m, "port name as a byte string"
		case 3:
			m.elems = append(m.elems, raw("", pick(r, []string{"\xf9\x7e\x00", "\xf9\x7c\x00", "\xfa\x3f\xc0\x00\x00", "\xf9\x00\x01", "\xf7", "\xd9\xd9\xf7\x01"}), ""))
			return m, "half float, float32, undefined or tag 55799"
		default:
			mp := mapOf(arr(num(1)), num(1), num(1), num(2), str("k"), num(1), str("k"), num(2))
			mp.indef = r.IntN(2) == 0
			m.elems = append(m.elems, mp)
			return m, "map with array, integer and duplicate keys"
		}
	case fStorable:
		switch r.IntN(3) {
		case 0:
			m.elems = append(m.elems, raw("", "", pick(r, []string{"\x0e", "\x1f", "\x0f", "\x10", "\x06\x00\x00\x00\x00\x00\x00\x00\x01", "\x07\x00\x00\x00\x00\x00\x00\xf0\x3f"})))
			return m, "rare scalar opcode"
		case 1:
			m.elems = append(m.elems, raw("", "", "\x01\x00\x00\x00\x02ab"))
			return m, "short string as SX_LSCALAR"
		default:
			m.elems = append(m.elems, raw("", "", "\x04\x19\x00\x00\x00\x00\x01\x08\x81\x01\x00\x00\x00\x02\xc3\xa9"))
			return m, "SX_FLAG_HASH with a UTF-8 key"
		}
	default:
		switch r.IntN(3) {
		case 0:
			m.elems = append(m.elems, raw(pick(r, []string{`"\u00e9\ud83d\ude00"`, `"\/"`, `1E+2`, `-0.0e-0`, `{"a":1,"a":2}`, `[ 1 , 2 ]`}), "", ""))
			return m, "JSON escapes, exponents, duplicate keys, spaces"
		case 1:
			s := str("x")
			s.b = []byte{0xc3, 0xbc, 0x7f, 0xe2, 0x80, 0xa8}
			m.elems = append(m.elems, s)
			return m, "raw UTF-8, DEL and U+2028 in a string"
		default:
			m.elems = append(m.elems, lit(pick(r, numLits)))
			return m, "number literal"
		}
	}
}
