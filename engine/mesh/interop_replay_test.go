package mesh

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// TestInteropReplay replays the captures in testdata/interop (real
// AnyEvent::MP 1.30 and 2.02 nodes in meshes with an aemp-go node "go";
// see each INDEX.txt) against a Global1 (1.30) or DB2 (2.02) standing in
// for the Go node. It rebuilds the Go node's timeline from the captured
// bytes and TCP segment times: connections coming up and going down, the
// mesh messages it received, the program's calls (from go.out), and feeds
// them to the state machine in that order. Every mesh message the Go node
// sent must be what the state machine sends to that node, in the same
// order per node, with our Global port names standing for the captured
// random ones. Lookups the engine starts by itself (a 1.x find or 2.x
// g_find for a node that is not up and whose address the mesh did not
// give, a g_db_keys for a group the program looked up) are made when the
// capture shows them. Address forwards (1.x nodes after an addr) go 2 to
// 3 s after the addr at random times: the stand-in forwards after exactly
// 2 s and the Go node's forward must come within the window. The group
// changes the state machine reports must be those the Go node's
// WatchGroup printed, the last answer to a group lookup what its last
// Group returned, and every connection the Go node opened to a node other
// than its seeds must follow a Dial for that address.
func TestInteropReplay(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/interop/*/INDEX.txt")
	if len(dirs) == 0 {
		t.Fatal("no captures in testdata/interop")
	}
	for _, idx := range dirs {
		dir := filepath.Dir(idx)
		t.Run(filepath.Base(dir), func(t *testing.T) { replayInterop(t, dir) })
	}
}

// ioConn is one captured connection of the Go node.
type ioConn struct {
	nn      string
	peer    string
	out     bool   // the Go node dialled
	addr    string // the listener's address
	gen     int    // 1 or 2, from the auth method
	up      time.Time
	down    time.Time
	seedDst bool // dialled to one of the Go node's seed addresses
}

// ioEvent is one step of the Go node's timeline.
type ioEvent struct {
	t    time.Time
	kind string // start, reg, watch, up, down, rcv, snd, exit
	c    *ioConn
	port string // rcv, snd: the message's port name
	args []any
	name string // reg, watch: the group; reg: also portID
	id   string
	seq  int // start: which incarnation
}

// ioStart is an incarnation of the Go node (go.out "configured").
type ioStart struct {
	addrs, seeds []string
}

var (
	ioOutLine    = regexp.MustCompile(`^(\d+)\.(\d{3}) \[go\] (.*)$`)
	ioConfigured = regexp.MustCompile(`^configured binds=\[([^\]]*)\] seeds=\[([^\]]*)\]`)
	ioRegister   = regexp.MustCompile(`^RegisterGroup (\S+) (\S+)$`)
	ioWatchStart = regexp.MustCompile(`^WatchGroup (\S+) started$`)
	ioWatchChg   = regexp.MustCompile(`^WatchGroup (\S+) members=\[(.*)\] added=\[(.*)\] removed=\[(.*)\]$`)
	ioFound      = regexp.MustCompile(`^Group (\S+) found \[(.*)\]`)
	ioPoll       = regexp.MustCompile(`^poll Group (\S+) = \[(.*)\]$`)
	ioConnLine   = regexp.MustCompile(`^(\d+) dialler=(\S+) \((\S+)\) listener=(\S+) \((\S+)\) syn=\S+ c2s=\d+ s2c=\d+ end=(.*) files=(\S+)-\{c2s,s2c\}\.bin$`)
	ioEndFIN     = regexp.MustCompile(`([\d.]+) (FIN|RST)-(c2s|s2c)`)
)

func epoch(sec, ms string) time.Time {
	s, _ := strconv.ParseInt(sec, 10, 64)
	m, _ := strconv.ParseInt(ms, 10, 64)
	return time.Unix(s, m*1e6)
}

func epochF(t *testing.T, s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad time %q", s)
	}
	return time.Unix(a, b)
}

// quotedList parses `"a" "b"` (Go's %q of a []string) into its strings.
func quotedList(t *testing.T, s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			t.Fatalf("bad list %q", s)
		}
		v, _ := strconv.Unquote(q)
		out = append(out, v)
		s = s[len(q):]
	}
	return out
}

// ioSegment is a TCP segment with payload.
type ioSegment struct {
	t        time.Time
	off, len int
}

func readSegments(t *testing.T, dir string) map[string][]ioSegment {
	f, err := os.Open(filepath.Join(dir, "segments.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	segs := map[string][]ioSegment{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 5 {
			t.Fatalf("segments.txt: %q", sc.Text())
		}
		off, _ := strconv.Atoi(fl[3])
		n, _ := strconv.Atoi(fl[4])
		if n > 0 {
			k := fl[1] + "-" + fl[2]
			segs[k] = append(segs[k], ioSegment{epochF(t, fl[0]), off, n})
		}
	}
	return segs
}

// timeAt returns when the byte before stream offset end arrived.
func timeAt(t *testing.T, segs []ioSegment, end int) time.Time {
	for _, s := range segs {
		if s.off < end && end <= s.off+s.len {
			return s.t
		}
	}
	t.Fatalf("no segment holds offset %d", end)
	return time.Time{}
}

// ioMsg is a message of one captured direction, with its arrival time.
type ioMsg struct {
	t    time.Time
	port string
	args []any
}

// readDirection parses one direction: the three handshake lines (it
// returns the auth method and when the auth line was complete) and the
// messages in the framing the auth line names.
func readDirection(t *testing.T, file string, segs []ioSegment) (node, auth string, authAt time.Time, msgs []ioMsg) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	var lines []string
	for range 3 {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			t.Fatalf("%s: handshake incomplete", file)
		}
		lines = append(lines, string(b[pos:pos+i]))
		pos += i + 1
	}
	g := strings.Split(lines[0], ";")
	a := strings.Split(lines[2], ";")
	if len(g) < 3 || len(a) < 3 {
		t.Fatalf("%s: handshake %q", file, lines)
	}
	var codec framing.Codec
	switch a[2] {
	case "json":
		codec = framing.JSON
	case "cbor":
		codec = framing.CBOR
	default:
		t.Fatalf("%s: framing %q", file, a[2])
	}
	authAt = timeAt(t, segs, pos)
	dec := framing.NewDecoder(codec, framing.Limits{})
	for pos < len(b) {
		m, n, err := dec.Next(b[pos:])
		if err != nil || n == 0 {
			t.Fatalf("%s at %d: %v (n=%d)", file, pos, err, n)
		}
		args, err := m.Args()
		if err != nil {
			t.Fatal(err)
		}
		pos += n
		msgs = append(msgs, ioMsg{timeAt(t, segs, pos), m.PortString(), args})
	}
	return g[2], a[0], authAt, msgs
}

// ioCanon renders a message [PORT, ARGS...] as canonical JSON.
func ioCanon(t *testing.T, port string, args []any) string {
	b, err := json.Marshal(db2Plain(append([]any{port}, args...)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ioExpected is a message the stand-in sent to a node.
type ioExpected struct {
	port    string
	args    []any
	forward time.Time // 1.x address forward: when the addr arrived; else zero
	whileUp bool      // the node was up when it was sent
	at      time.Time
}

// lowSource makes a rand.Rand whose bounded draws are all 0: forwards
// wait exactly 2 s, and the first candidate is taken. (1, not 0: the
// bounded draws reject 0 for most bounds and would draw forever.)
type lowSource struct{}

func (lowSource) Uint64() uint64 { return 1 }

func replayInterop(t *testing.T, dir string) {
	segs := readSegments(t, dir)
	var events []ioEvent
	var conns []*ioConn
	gen := 0
	// Connections.
	cf, err := os.ReadFile(filepath.Join(dir, "connections.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cf)), "\n") {
		m := ioConnLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("connections.txt: %q", line)
		}
		nn, dnode, laddr, lnode, end, base := m[1], m[3], m[4], m[5], m[6], m[7]
		c := &ioConn{nn: nn, addr: laddr, out: dnode == "go"}
		c.peer = lnode
		if !c.out {
			c.peer = dnode
		}
		if (dnode == "go") == (lnode == "go") {
			t.Fatalf("connection %s: not one of the Go node's", nn)
		}
		goDir, peerDir := "c2s", "s2c"
		if !c.out {
			goDir, peerDir = peerDir, goDir
		}
		gnode, gauth, gAuthAt, sent := readDirection(t, filepath.Join(dir, base+"-"+goDir+".bin"), segs[nn+"-"+goDir])
		pnode, pauth, pAuthAt, rcvd := readDirection(t, filepath.Join(dir, base+"-"+peerDir+".bin"), segs[nn+"-"+peerDir])
		if gnode != "go" || pnode != c.peer {
			t.Fatalf("connection %s: greetings from %s and %s", nn, gnode, pnode)
		}
		switch {
		case strings.Contains(pauth, "md6") && strings.Contains(gauth, "md6"):
			c.gen = 1
		case strings.Contains(pauth, "sha3") && strings.Contains(gauth, "sha3"):
			c.gen = 2
		default:
			t.Fatalf("connection %s: auth %s / %s", nn, gauth, pauth)
		}
		if gen != 0 && gen != c.gen {
			t.Fatal("a capture of both generations")
		}
		gen = c.gen
		// The node is up once both auth lines are through; the Go node's
		// first messages follow its own auth line at once, so the later of
		// the two is when it counted the node as up.
		c.up = gAuthAt
		if pAuthAt.After(c.up) {
			c.up = pAuthAt
		}
		// It is down when the Go node read the end: the first FIN or RST
		// (the peer's, but for the Go node's own exit).
		for _, f := range ioEndFIN.FindAllStringSubmatch(end, -1) {
			if ft := epochF(t, f[1]); c.down.IsZero() || ft.Before(c.down) {
				c.down = ft
			}
		}
		conns = append(conns, c)
		events = append(events, ioEvent{t: c.up, kind: "up", c: c})
		if !c.down.IsZero() {
			events = append(events, ioEvent{t: c.down, kind: "down", c: c})
		}
		for i, m := range rcvd {
			events = append(events, ioEvent{t: m.t, kind: "rcv", c: c, port: m.port, args: m.args, seq: i})
		}
		for i, m := range sent {
			events = append(events, ioEvent{t: m.t, kind: "snd", c: c, port: m.port, args: m.args, seq: i})
		}
	}
	// The Go node's own output.
	out, err := os.ReadFile(filepath.Join(dir, "go.out"))
	if err != nil {
		t.Fatal(err)
	}
	var starts []ioStart
	type watchLine struct {
		name           string
		added, removed []string
	}
	var watchLines []watchLine
	found := map[string][]string{} // the last result of Group, by group
	polled := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := ioOutLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("go.out: %q", line)
		}
		at, text := epoch(m[1], m[2]), m[3]
		if c := ioConfigured.FindStringSubmatch(text); c != nil {
			starts = append(starts, ioStart{strings.Fields(c[1]), strings.Fields(c[2])})
			events = append(events, ioEvent{t: at, kind: "start", seq: len(starts) - 1})
		} else if c := ioRegister.FindStringSubmatch(text); c != nil {
			events = append(events, ioEvent{t: at, kind: "reg", name: c[1], id: c[2]})
		} else if c := ioWatchStart.FindStringSubmatch(text); c != nil {
			events = append(events, ioEvent{t: at, kind: "watch", name: c[1]})
		} else if c := ioWatchChg.FindStringSubmatch(text); c != nil {
			watchLines = append(watchLines, watchLine{c[1], quotedList(t, c[3]), quotedList(t, c[4])})
		} else if c := ioFound.FindStringSubmatch(text); c != nil {
			found[c[1]] = quotedList(t, c[2])
		} else if c := ioPoll.FindStringSubmatch(text); c != nil {
			found[c[1]] = quotedList(t, c[2])
			polled[c[1]] = true
		} else if strings.HasPrefix(text, "exiting") {
			events = append(events, ioEvent{t: at, kind: "exit"})
		}
	}
	if len(starts) == 0 {
		t.Fatal("go.out: the node never started")
	}
	for _, c := range conns {
		for _, s := range starts {
			c.seedDst = c.seedDst || c.out && slices.Contains(s.seeds, c.addr)
		}
	}
	// Order: by time; at equal times as listed here (a connection is up
	// before its messages, which come before its end).
	rank := map[string]int{"start": 0, "reg": 1, "watch": 2, "up": 3, "rcv": 4, "snd": 5, "down": 6, "exit": 7}
	slices.SortStableFunc(events, func(a, b ioEvent) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return rank[a.kind] - rank[b.kind]
	})

	r := &ioReplay{t: t, gen: gen, expected: map[string][]ioExpected{}, up: map[string]bool{},
		ourPorts: map[string]map[string]string{}, theirPorts: map[string]string{}, addrAt: map[string]time.Time{},
		watched: map[string]map[string]bool{}, found: found, polled: polled}
	running := false
	for _, e := range events {
		if e.kind == "start" {
			r.start(starts[e.seq], e.t)
			running = true
			continue
		}
		if !running {
			continue
		}
		if e.kind == "exit" {
			r.flush(e.t)
			running = false
			continue
		}
		r.tick(e.t)
		r.event(e)
	}
	r.finish()
	// Group changes, as WatchGroup printed them.
	var want []string
	for _, w := range watchLines {
		want = append(want, fmt.Sprintf("%s +%v -%v", w.name, w.added, w.removed))
	}
	if !slices.Equal(want, r.changes) {
		t.Errorf("group changes:\n got  %q\n want %q (go.out)", r.changes, want)
	}
	t.Logf("%d mesh messages received, %d sent and matched (%d forwards, %d lookups the engine started), %d dials, %d changes",
		r.nRcv, r.nSnd, r.nFwd, r.nLookup, r.nDial, len(r.changes))
}

// ioReplay is the stand-in for the Go node.
type ioReplay struct {
	t        *testing.T
	gen      int
	g1       *Global1
	d2       *DB2
	n        int // port names handed out
	expected map[string][]ioExpected
	up       map[string]bool
	// ourPorts: node -> captured name of our Global port there -> our name
	ourPorts map[string]map[string]string
	// theirPorts: the Global port name a node spawned on the Go node
	theirPorts map[string]string
	addrAt     map[string]time.Time
	dials      []Dial
	watched    map[string]map[string]bool
	changes    []string
	queries    map[uint64]string // 2.x query ID -> family
	replies    map[string][]string
	found      map[string][]string
	polled     map[string]bool
	now        time.Time

	nRcv, nSnd, nFwd, nLookup, nDial int
}

// start makes a new stand-in: the Go node (re)started.
func (r *ioReplay) start(s ioStart, now time.Time) {
	r.now = now
	rng := rand.New(lowSource{})
	if r.gen == 1 {
		r.g1 = NewGlobal1(Global1Config{Self: "go", Addrs: s.addrs, Rand: rng,
			PortName: func() string { r.n++; return "our.g" + strconv.Itoa(r.n) }})
	} else {
		r.d2 = NewDB2(DB2Config{Self: "go", Addrs: s.addrs, Rand: rng})
	}
	r.queries = map[uint64]string{}
	r.replies = map[string][]string{}
	r.dials = nil
	r.theirPorts = map[string]string{}
	r.addrAt = map[string]time.Time{}
}

func (r *ioReplay) tick(now time.Time) {
	r.now = now
	if r.g1 != nil {
		r.take(r.g1.Tick(now), true)
	} else {
		r.take(r.d2.Tick(now), false)
	}
}

// take records what the stand-in asks for; from a 1.x Tick, Sends are
// address forwards.
func (r *ioReplay) take(a Actions, forwards bool) {
	t := r.t
	t.Helper()
	for _, w := range a.Warn {
		t.Errorf("%v: warning %+v", r.now, w)
	}
	for _, s := range a.Send {
		node, port, _ := strings.Cut(s.To, "#")
		e := ioExpected{port: port, args: s.Args, whileUp: r.up[node], at: r.now}
		if forwards {
			from := ""
			for k := range s.Args[1].(map[string]any) {
				from = k
			}
			e.forward = r.addrAt[from]
			if e.forward.IsZero() {
				t.Errorf("%v: forward of %s, whose addr never came", r.now, from)
			}
		}
		r.expected[node] = append(r.expected[node], e)
	}
	for _, p := range a.Monitor {
		node, port, _ := strings.Cut(p, "#")
		r.expected[node] = append(r.expected[node], ioExpected{args: []any{"mon1", port}, whileUp: r.up[node], at: r.now})
	}
	r.dials = append(r.dials, a.Dial...)
	r.nDial += len(a.Dial)
	for _, c := range a.Changes {
		if r.watched[c.Name] == nil {
			continue
		}
		set := r.watched[c.Name]
		before := slices.Sorted(mapKeysOf(set))
		for _, k := range c.Removed {
			delete(set, k)
		}
		for _, k := range c.Added {
			set[k] = true
		}
		after := slices.Sorted(mapKeysOf(set))
		var added, removed []string
		for _, k := range after {
			if !slices.Contains(before, k) {
				added = append(added, k)
			}
		}
		for _, k := range before {
			if !slices.Contains(after, k) {
				removed = append(removed, k)
			}
		}
		if len(added)+len(removed) > 0 {
			r.changes = append(r.changes, fmt.Sprintf("%s +%v -%v", c.Name, orEmpty(added), orEmpty(removed)))
		}
	}
	for _, rep := range a.Replies {
		fam, ok := r.queries[rep.ID]
		if !ok {
			t.Errorf("%v: reply to unknown query %d", r.now, rep.ID)
			continue
		}
		delete(r.queries, rep.ID)
		keys, _ := rep.Result.([]string)
		r.replies[fam] = keys
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mapKeysOf(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (r *ioReplay) event(e ioEvent) {
	t := r.t
	peer := ""
	if e.c != nil {
		peer = e.c.peer
	}
	switch e.kind {
	case "reg":
		if r.g1 != nil {
			a, err := r.g1.Register(e.name, e.id)
			if err != nil {
				t.Fatal(err)
			}
			r.take(a, false)
		} else {
			r.take(r.d2.Reg(e.name, e.id, nil), false)
		}
	case "watch":
		r.watched[e.name] = map[string]bool{}
		if r.d2 != nil {
			r.take(r.d2.Watch(e.name), false)
		}
	case "up":
		if e.c.out && !e.c.seedDst && !slices.ContainsFunc(r.dials, func(d Dial) bool {
			return d.Node == peer && slices.Contains(d.Addrs, e.c.addr)
		}) {
			t.Errorf("%v: the Go node connected to %s at %s without a Dial for it (dials %v)", e.t, peer, e.c.addr, r.dials)
		}
		r.up[peer] = true
		if r.g1 != nil {
			r.take(r.g1.NodeUp(peer, e.c.seedDst, e.t), false)
		} else {
			r.take(r.d2.NodeUp(peer, e.c.seedDst, e.t), false)
		}
	case "down":
		for _, x := range r.expected[peer] {
			if x.whileUp {
				t.Errorf("%v: the stand-in sent %s to %s while it was up (at %v); the Go node did not", e.t, ioCanon(t, x.port, x.args), peer, x.at)
			}
		}
		r.expected[peer] = slices.DeleteFunc(r.expected[peer], func(x ioExpected) bool { return x.whileUp })
		delete(r.up, peer)
		if r.g1 != nil {
			r.take(r.g1.NodeDown(peer, e.t), false)
		} else {
			r.take(r.d2.NodeDown(peer, e.t), false)
		}
	case "rcv":
		r.receive(peer, e)
	case "snd":
		r.sent(peer, e)
	}
}

// receive feeds a message the Go node received to the stand-in.
func (r *ioReplay) receive(peer string, e ioEvent) {
	t := r.t
	tag, _ := framing.Text(argAt(e.args, 0))
	if r.d2 != nil {
		if e.port == "" && strings.HasPrefix(tag, "g_") {
			r.nRcv++
			r.take(r.d2.Request(peer, tag, e.args[1:], e.t), false)
		}
		return
	}
	init, _ := framing.Text(argAt(e.args, 2))
	switch {
	case e.port == "" && tag == global1SpawnRequest && init == global1InitFunc:
		name, _ := framing.Text(e.args[1])
		r.theirPorts[peer] = name
		r.nRcv++
		a, err := r.g1.Spawned(peer, name, e.args[3:], e.t)
		if err != nil {
			t.Errorf("%v: spawn from %s: %v", e.t, peer, err)
		}
		r.take(a, false)
	case e.port == "" && tag == "kil0":
		name, _ := framing.Text(argAt(e.args, 1))
		if our, ok := r.ourPorts[peer][name]; ok {
			r.nRcv++
			r.take(r.g1.PortDied(peer+"#"+our, e.args[2:], e.t), false)
		}
	case e.port != "" && e.port == r.theirPorts[peer]:
		r.nRcv++
		if tag == "addr" {
			r.addrAt[peer] = e.t
		}
		r.take(r.g1.Receive(e.port, peer, e.args, e.t), false)
	}
}

// sent checks a message the Go node sent against the stand-in's.
func (r *ioReplay) sent(peer string, e ioEvent) {
	t := r.t
	tag, _ := framing.Text(argAt(e.args, 0))
	port, args := e.port, e.args
	if r.d2 != nil {
		if port != "" || !strings.HasPrefix(tag, "g_") {
			return
		}
	} else {
		ours := r.ourPorts[peer]
		init, _ := framing.Text(argAt(args, 2))
		arg1, _ := framing.Text(argAt(args, 1))
		switch {
		case port == "" && tag == global1SpawnRequest && init == global1InitFunc:
		case port == "" && (tag == "mon1" || tag == "mon0") && ours[arg1] != "":
			args = []any{tag, ours[arg1]}
		case port != "" && ours[port] != "":
			port = ours[port]
		default:
			return // not mesh traffic
		}
	}
	got := ioCanon(t, port, args)
	// In order, except that a forward can be anywhere: the stand-in may
	// have made it before the Go node did.
	match := func() bool {
		q := r.expected[peer]
		i := slices.IndexFunc(q, func(x ioExpected) bool { return x.forward.IsZero() })
		if i >= 0 {
			x := q[i]
			if r.g1 != nil && port == "" && tag == global1SpawnRequest && x.port == "" && argAt(x.args, 0) == global1SpawnRequest {
				// our port name stands for the captured one
				captured, _ := framing.Text(e.args[1])
				if r.ourPorts[peer] == nil {
					r.ourPorts[peer] = map[string]string{}
				}
				r.ourPorts[peer][captured] = x.args[1].(string)
				args = slices.Clone(e.args)
				args[1] = x.args[1]
				got = ioCanon(t, port, args)
			}
			if ioCanon(t, x.port, x.args) == got {
				r.expected[peer] = slices.Delete(q, i, i+1)
				return true
			}
		}
		for i, x := range q {
			if !x.forward.IsZero() && ioCanon(t, x.port, x.args) == got {
				r.expected[peer] = slices.Delete(q, i, i+1)
				r.nFwd++
				if d := e.t.Sub(x.forward); d < 2*time.Second-10*time.Millisecond || d > 3300*time.Millisecond {
					t.Errorf("%v: forward %s to %s %v after the addr", e.t, got, peer, d)
				}
				return true
			}
		}
		return false
	}
	if match() {
		r.nSnd++
		return
	}
	// A lookup the engine started (the program called a port of a node it
	// did not know, or looked up a group): make it now.
	// The engine asks where a node listens only for a node that is not
	// up and whose addresses it was not given, and the program looked up
	// only the groups go.out names.
	var a Actions
	lookup := true
	arg, _ := framing.Text(argAt(args, 1))
	unknown := !r.up[arg] && !slices.ContainsFunc(r.dials, func(d Dial) bool { return d.Node == arg })
	switch {
	case r.g1 != nil && tag == "find" && unknown:
		a = r.g1.Find(arg, e.t)
	case r.d2 != nil && tag == "g_find" && unknown:
		a = r.d2.Find(arg, e.t)
	case r.d2 != nil && tag == "g_db_keys" && (r.found[arg] != nil || r.polled[arg]):
		var id uint64
		id, a = r.d2.QueryKeys(arg)
		r.queries[id] = arg
	default:
		lookup = false
	}
	if lookup {
		r.nLookup++
		r.take(a, false)
		if match() {
			r.nSnd++
			return
		}
	}
	next := "nothing"
	if q := r.expected[peer]; len(q) > 0 {
		next = ioCanon(t, q[0].port, q[0].args)
	}
	t.Errorf("%v: the Go node sent %s to %s; the stand-in's next message to it: %s", e.t, got, peer, next)
}

// flush ends an incarnation of the Go node: what the stand-in still had
// to send to nodes that were up is missing from the capture, except for
// forwards the Go node could still have been waiting with.
func (r *ioReplay) flush(now time.Time) {
	for node, q := range r.expected {
		for _, x := range q {
			if !x.forward.IsZero() && now.Before(x.forward.Add(3300*time.Millisecond)) {
				continue
			}
			if x.whileUp && r.up[node] {
				r.t.Errorf("%v: the stand-in sent %s to %s (at %v); the Go node did not before it exited", now, ioCanon(r.t, x.port, x.args), node, x.at)
			}
		}
	}
	clear(r.expected)
	clear(r.up)
	clear(r.ourPorts)
	r.g1, r.d2 = nil, nil
}

// finish checks that the last answer to a group lookup the stand-in got
// from its master is what the Go node's last Group call returned.
func (r *ioReplay) finish() {
	for fam, want := range r.found {
		if got, ok := r.replies[fam]; ok && !slices.Equal(got, want) {
			r.t.Errorf("last reply for %s: %v, the Go node's last Group gave %v", fam, got, want)
		}
	}
}
