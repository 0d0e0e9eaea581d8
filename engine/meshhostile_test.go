package engine

// Hostile mesh input against a started node over 127.0.0.1: a raw peer
// speaks the 1.x Global service or the 2.x global database to it and
// floods it with a million entries (nodes at addresses that do not
// resolve, point back at the node or at closed ports; registrations and
// database entries, some for other nodes' ports), and sends malformed
// mesh messages. The node must stay within its mesh limits (Config.
// MeshLimits, MaxMeshDialsPerSecond), log what it dropped (rate
// limited), and keep the link: the peer's echo round trips still answer.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// meshFloodEntries is the size of each flood: a million, 100,000 under
// -short with -race (the node decodes the whole message before the mesh
// sees it; a million takes long under the race detector).
func meshFloodEntries() int {
	if testing.Short() && raceEnabled {
		return 100_000
	}
	return 1_000_000
}

// meshTrap is a listener that counts the connections made to it and
// closes each at once.
type meshTrap struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newMeshTrap(t *testing.T) *meshTrap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustf(t, err, "trap listener")
	tr := &meshTrap{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tr
}

func (tr *meshTrap) addr() string { return tr.ln.Addr().String() }

// dialCounter counts the connection attempts a node makes: dials that
// failed (its log's "connection attempt failed"), dials that reached the trap,
// and dials that reached the node itself (each counts twice in its
// opened connections: the dialling and the accepting end).
type dialCounter struct {
	n                 *testNode
	trap              *meshTrap
	failed0, trap0    int64
	opened0           int64
	accepted0, extra0 int64
}

func countDials(n *testNode, trap *meshTrap) *dialCounter {
	d := &dialCounter{n: n, trap: trap}
	d.failed0, d.trap0, d.opened0 = d.read()
	return d
}

func (d *dialCounter) read() (failed, trap, opened int64) {
	return int64(strings.Count(d.n.log.String(), `msg="connection attempt failed"`)), d.trap.accepted.Load(), d.n.stats.opened.Load()
}

// since returns the attempts since the counter was made.
func (d *dialCounter) since() (total, failed, trapped, self int64) {
	f, tr, o := d.read()
	failed, trapped = f-d.failed0, tr-d.trap0
	self = (o - d.opened0 - trapped) / 2
	return failed + trapped + self, failed, trapped, self
}

// meshRaw is a raw peer that takes part in the target's mesh by hand. A
// goroutine reads what the node sends: replies to port "r" go to replies,
// the rest is counted.
type meshRaw struct {
	p        *rawPeer
	id       string
	w        *bufio.Writer
	replies  chan []any
	received atomic.Int64
	spawns   atomic.Int64 // Global ports the node spawned on us (1.x)
	readErr  atomic.Pointer[error]
	seq      int
}

// dialMeshRaw connects to n as node id, of generation gen, speaking json.
func dialMeshRaw(t *testing.T, n *testNode, id string, gen int) *meshRaw {
	t.Helper()
	o := handshake.Options{NodeID: id, Secret: []byte(hostileSecret), Framings: []string{"json"}}
	if gen == 1 {
		o.AuthOffer, o.AuthAccept = handshake.AuthOffer1x, handshake.AuthAccept1x
	} else {
		o.AuthOffer, o.AuthAccept = handshake.AuthOffer2x, handshake.AuthAccept2x
	}
	p, err := dialRawWith(t, n.Addrs()[0], o)
	mustf(t, err, "%s: handshake", id)
	if p.res.Generation != gen {
		t.Fatalf("%s: handshake of generation %d, want %d", id, p.res.Generation, gen)
	}
	r := &meshRaw{p: p, id: id, w: bufio.NewWriterSize(p.conn, 256<<10), replies: make(chan []any, 64)}
	go func() {
		fr := newFrameReader(p.rd, "json")
		for {
			port, args, err := fr.next()
			if err != nil {
				r.readErr.Store(&err)
				close(r.replies)
				return
			}
			r.received.Add(1)
			switch {
			case port == "r":
				select {
				case r.replies <- args:
				default:
				}
			case port == "" && len(args) > 0 && args[0] == "AnyEvent::MP::_spawn":
				r.spawns.Add(1)
			}
		}
	}()
	t.Cleanup(func() { p.conn.Close() })
	n.waitEvent(t, id, true, 5*time.Second)
	return r
}

// send writes messages (json texts) and flushes them.
func (r *meshRaw) send(t *testing.T, msgs ...string) {
	t.Helper()
	r.p.conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
	for _, m := range msgs {
		r.w.WriteString(m)
	}
	mustf(t, r.w.Flush(), "%s: write", r.id)
}

// echo makes one round trip through the node's echo port: the link is up
// and the node reads it.
func (r *meshRaw) echo(t *testing.T, d time.Duration) {
	t.Helper()
	r.seq++
	want := fmt.Sprint(r.seq)
	r.send(t, fmt.Sprintf(`["echo","%s#r","ping",%d]`, r.id, r.seq))
	timeout := time.After(d)
	for {
		select {
		case args, ok := <-r.replies:
			if !ok {
				t.Fatalf("%s: link closed: %v", r.id, *r.readErr.Load())
			}
			if len(args) == 2 && args[0] == "ping" && fmt.Sprint(args[1]) == want {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no echo reply %s within %v", r.id, want, d)
		}
	}
}

// floodWriter streams one big json message to the node without holding
// it in memory.
type floodWriter struct {
	r     *meshRaw
	t     *testing.T
	first bool
}

func (r *meshRaw) flood(t *testing.T, head string) *floodWriter {
	r.p.conn.SetWriteDeadline(time.Now().Add(120 * time.Second))
	r.w.WriteString(head)
	return &floodWriter{r: r, t: t, first: true}
}

// entry writes `"key":value` with a comma before all but the first.
func (f *floodWriter) entry(key, value string) {
	if !f.first {
		f.r.w.WriteByte(',')
	}
	f.first = false
	f.r.w.WriteByte('"')
	f.r.w.WriteString(key)
	f.r.w.WriteString(`":`)
	f.r.w.WriteString(value)
}

// raw writes s as it is.
func (f *floodWriter) raw(s string) { f.r.w.WriteString(s) }

func (f *floodWriter) end(tail string) {
	f.r.w.WriteString(tail)
	mustf(f.t, f.r.w.Flush(), "%s: write flood", f.r.id)
}

// retainedHeap collects garbage and returns the live heap less the
// node's log, which the test keeps in memory.
func retainedHeap(n *testNode) int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc) - int64(len(n.log.String()))
}

// meshWarnings counts the node's mesh warnings (lines logged at WARN
// whose message starts with "mesh:").
func meshWarnings(n *testNode) int {
	return strings.Count(n.log.String(), `level=WARN msg="mesh:`)
}

// groupTotal returns how many members the groups the node knows hold
// (1.x: every group of Mesh().Groups).
func groupTotal(t *testing.T, n *testNode) (total int, own bool) {
	t.Helper()
	for _, g := range n.Mesh().Groups {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		members, err := n.Group(ctx, g)
		cancel()
		mustf(t, err, "group %s", g)
		total += len(members)
		for _, m := range members {
			if strings.HasPrefix(m, n.ID()+"#") && m != n.ID()+"#echo" {
				own = true
			}
		}
	}
	return total, own
}

// meshTarget starts the node under attack: one generation, a short
// monitor timeout (so that what it queues for unreachable nodes expires
// within the test), the default mesh limits and dial budget, its echo
// port in group "svc".
func meshTarget(t *testing.T, id string, gen int) *testNode {
	t.Helper()
	n := startHostile(t, id, Config{Generation: gen, MonitorTimeout: 3 * time.Second})
	_, err := n.RegisterGroup("svc", n.ID()+"#echo")
	mustf(t, err, "register")
	return n
}

// linkUp reports whether node id is connected to n.
func linkUp(n *testNode, id string) bool {
	p, ok := n.peers.load(id)
	return ok && p.conn.Load() != nil
}

// checkDials watches the node dial for d after a flood that began at
// start, then checks the attempts against the dial budget: each address
// the budget admits (MaxMeshDialsPerSecond a second) is dialled at once
// and again every connect interval while the node is wanted (a monitor
// timeout), as Perl keeps connecting to a node it learnt of. Addresses of
// the node itself are never dialled, and it never holds more peer
// entries than MaxNodes. It returns the attempts.
func checkDials(t *testing.T, n *testNode, dc *dialCounter, start time.Time, basePeers int, d time.Duration) int64 {
	t.Helper()
	peak := 0
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		peak = max(peak, len(n.peers.all()))
		time.Sleep(100 * time.Millisecond)
	}
	total, failed, trapped, self := dc.since()
	secs := time.Since(start).Seconds()
	perAddr := 1 + int64(n.cfg.MonitorTimeout/n.cfg.ConnectInterval)
	bound := int64(float64(n.cfg.MaxMeshDialsPerSecond)*(secs+1)) * perAddr
	t.Logf("dials in %.1f s since the flood began: %d (%.0f/s; bound %d): %d failed (refused, unresolvable), %d to the trap listener, %d to the node itself; peer entries %d -> %d at most",
		secs, total, float64(total)/secs, bound, failed, trapped, self, basePeers, peak)
	if total > bound {
		t.Errorf("%d dials in %.1f s: over the budget of %d addresses a second (each dialled at most %d times)",
			total, secs, n.cfg.MaxMeshDialsPerSecond, perAddr)
	}
	if self > 0 {
		t.Errorf("%d dials to the node itself", self)
	}
	if peak > basePeers+n.meshLimits.MaxNodes+2 {
		t.Errorf("%d peer entries, more than the %d nodes allowed", peak-basePeers, n.meshLimits.MaxNodes)
	}
	return total
}

// checkHeap fails when the retained heap grew by more than limit since
// base (a retainedHeap figure).
func checkHeap(t *testing.T, n *testNode, base int64, limit int64, what string) float64 {
	t.Helper()
	g := float64(retainedHeap(n)-base) / mib
	if g > float64(limit)/mib {
		t.Errorf("%s: heap grew by %.1f MiB (limit %d MiB)", what, g, limit/mib)
	}
	return g
}

// floodAddrs returns the address list of flood entry i: addresses that do
// not resolve (.onion names and IPv4 addresses out of range, both refused
// without a DNS query), the node's own address (as announced, or as
// 0.0.0.0 and ::ffff:127.0.0.1), a closed local port, the trap listener,
// or junk and the closed port.
func floodAddrs(i int, self, selfPort, closed, trap string) string {
	switch i % 7 {
	case 0:
		return fmt.Sprintf(`["nohost%d.onion:4040"]`, i)
	case 1:
		return fmt.Sprintf(`["256.%d.%d.1:4040"]`, i%256, i/256%256)
	case 2:
		return `["` + self + `"]`
	case 3:
		return `["0.0.0.0:` + selfPort + `","[::ffff:127.0.0.1]:` + selfPort + `"]`
	case 4:
		return `["` + closed + `"]`
	case 5:
		return `["` + trap + `"]`
	}
	return `[1,null,"no port","` + closed + `"]`
}

// gen1Peer connects a 1.x raw peer and runs Global with the node: the
// node spawns its Global port on us, we spawn ours (X.1) on it and are
// the node's master (its only node).
func gen1Peer(t *testing.T, n *testNode, id string) *meshRaw {
	t.Helper()
	r := dialMeshRaw(t, n, id, 1)
	r.send(t, `["","AnyEvent::MP::_spawn","X.1","AnyEvent::MP::Global::connect",0,"`+id+`"]`,
		`["X.1","addr",[]]`, `["X.1","setup"]`)
	r.echo(t, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for r.spawns.Load() == 0 || n.Mesh().Master1 != id {
		if time.Now().After(deadline) {
			t.Fatalf("no Global with the raw peer: spawns %d, mesh %+v", r.spawns.Load(), n.Mesh())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// TestMeshHostileGen1Flood: a 1.x peer floods the node's Global port with
// a million nodes and a million group registrations.
func TestMeshHostileGen1Flood(t *testing.T) {
	goroutineGuard(t, 10)
	entries := meshFloodEntries()
	n := meshTarget(t, "h1target", 1)
	lim := n.meshLimits
	trap := newMeshTrap(t)
	closed := freeAddr(t)
	self := n.Addrs()[0]
	_, selfPort, _ := net.SplitHostPort(self)
	r := gen1Peer(t, n, "h1raw")

	// nodes: a million nodes to connect to.
	base := retainedHeap(n)
	basePeers := len(n.peers.all())
	dc := countDials(n, trap)
	t0 := time.Now()
	f := r.flood(t, `["X.1","nodes",{`)
	for i := range entries {
		f.entry(fmt.Sprintf("n%d", i), floodAddrs(i, self, selfPort, closed, trap.addr()))
	}
	f.end(`}]`)
	line := waitLogLine(t, n.log, 120*time.Second, "level=WARN", `Global nodes:`)
	took := time.Since(t0)
	if !strings.Contains(line, "over the node limit ignored") || !strings.Contains(line, "addresses of this node ignored") {
		t.Errorf("the warning names neither the node limit nor the node's own addresses: %s", line)
	}
	r.echo(t, 10*time.Second)
	// The node learnt of MaxNodes nodes and dials them within its budget,
	// for a monitor timeout; the rest were dropped.
	checkDials(t, n, dc, t0, basePeers, n.cfg.MonitorTimeout+3*time.Second)
	// What the node queued for them expires after a monitor timeout.
	deadline := time.Now().Add(60 * time.Second)
	for len(n.peers.all()) > basePeers+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d peer entries left of the flood", len(n.peers.all())-basePeers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	g := checkHeap(t, n, base, 32*mib, "nodes flood")
	t.Logf("nodes flood of %d entries: processed after %v; heap growth %.1f MiB; %s", entries, took.Round(time.Millisecond), g, line)
	r.echo(t, 5*time.Second)

	// set: a million registrations in 1,000 groups: ports of the peer,
	// of other nodes (held for the peer), of the target (refused).
	base = retainedHeap(n)
	t1 := time.Now()
	f = r.flood(t, `["X.1","set",{`)
	per := entries / 1000
	var b strings.Builder
	for grp := range 1000 {
		b.Reset()
		b.WriteByte('[')
		for i := range per {
			if i > 0 {
				b.WriteByte(',')
			}
			switch i % 4 {
			case 0, 1:
				fmt.Fprintf(&b, `"h1raw#p%d.%d"`, grp, i)
			case 2:
				fmt.Fprintf(&b, `"other%d#p%d"`, i, grp)
			case 3:
				fmt.Fprintf(&b, `"h1target#p%d.%d"`, grp, i)
			}
		}
		b.WriteByte(']')
		f.entry(fmt.Sprintf("grp%d", grp), b.String())
	}
	f.end(`}]`)
	// The target's own registration (svc) and the peer's quota.
	want := min(lim.MaxEntriesPerNode, entries*3/4) + 1
	deadline = time.Now().Add(120 * time.Second)
	total, own := groupTotal(t, n)
	for total != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d members known, want %d (the peer's quota of %d and svc)", total, want, lim.MaxEntriesPerNode)
		}
		time.Sleep(50 * time.Millisecond)
		total, own = groupTotal(t, n)
	}
	took = time.Since(t1)
	line = floodWarning(t, n, 5*time.Second, `Global set:`)
	r.echo(t, 10*time.Second)
	g = checkHeap(t, n, base, 64*mib, "set flood")
	t.Logf("set flood of %d registrations: processed after %v; %d members known; heap growth %.1f MiB; %s",
		entries, took.Round(time.Millisecond), total, g, line)
	if own {
		t.Errorf("a peer registered ports of the target node")
	}

	// The peer leaves: everything it registered goes, ports of other
	// nodes included.
	r.p.conn.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		total, _ := groupTotal(t, n)
		if total == 1 && !linkUp(n, "h1raw") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d members left after the peer left, want 1 (svc)", total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectWarning sends one message and waits for a new mesh warning
// containing want; the link stays up.
func expectWarning(t *testing.T, n *testNode, r *meshRaw, msg, want string) {
	t.Helper()
	before := len(n.log.String())
	r.send(t, msg)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l := n.log.String()[before:]; strings.Contains(l, `level=WARN msg="mesh:`) && strings.Contains(l, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no mesh warning with %q; log:\n%s", msg, want, tail(n.log.String()[before:], 3000))
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.echo(t, 5*time.Second)
	if !linkUp(n, r.id) {
		t.Fatalf("%s: the link went down", msg)
	}
}

// checkWarningRate floods the node with count messages that each cause a
// mesh warning and checks that the warnings are rate limited (at most
// logBurst lines a second, the rest counted as suppressed) and that the
// link stays up.
func checkWarningRate(t *testing.T, n *testNode, r *meshRaw, msg string, count int) {
	t.Helper()
	before := meshWarnings(n)
	t0 := time.Now()
	r.send(t, strings.Repeat(msg, count))
	r.echo(t, 20*time.Second)
	// Wait until the mesh goroutine has handled them all.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := &n.mesh
		m.mu.Lock()
		q := len(m.q)
		m.mu.Unlock()
		if q == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mesh queue still holds %d events", q)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	secs := time.Since(t0).Seconds()
	lines := meshWarnings(n) - before
	t.Logf("%d malformed messages in %.2f s: %d warning lines", count, secs, lines)
	if lines == 0 {
		t.Errorf("no warnings for %d malformed messages", count)
	}
	// logBurst lines in each second the flood touched
	if max := logBurst * (int(secs) + 2); lines > max {
		t.Errorf("%d warning lines in %.2f s: not rate limited (%d a second)", lines, secs, logBurst)
	}
	// The next line that gets through counts what was left out.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	mark := len(n.log.String())
	r.send(t, msg)
	r.echo(t, 5*time.Second)
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(n.log.String()[mark:], "suppressed_before=") {
		if time.Now().After(deadline) {
			t.Fatalf("no line counts the suppressed warnings; log:\n%s", tail(n.log.String()[mark:], 2000))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !linkUp(n, r.id) {
		t.Fatalf("the link went down")
	}
}

// TestMeshHostileGen1Malformed: malformed Global messages and spawns are
// ignored with a warning; the link stays up and the node learns nothing
// from them.
func TestMeshHostileGen1Malformed(t *testing.T) {
	n := meshTarget(t, "m1target", 1)
	r := gen1Peer(t, n, "m1raw")
	for _, c := range []struct{ msg, want string }{
		{`["X.1"]`, "empty message ignored"},
		{`["X.1",{"a":1}]`, "unknown message ignored"},
		{`["X.1","bogus",1,2]`, "unknown message ignored"},
		{`["X.1","nodes","x"]`, "Global nodes: 1 malformed"},
		{`["X.1","nodes",{"a":"b","c#d":["1.2.3.4:5"]}]`, "Global nodes: 2 malformed"},
		{`["X.1","nodes",{"e":["1.2.3.4",":5","x:0","x:65536","x:-1"]}]`, "5 addresses not HOST:PORT"},
		{`["X.1","set",[1]]`, "Global set: 1 malformed"},
		{`["X.1","set",{"g":"x","h":[[1],null,{},"#p","m1target#echo"]}]`, "5 malformed values ignored, 1 entries for this node's ports refused"},
		{`["X.1","addr",{"a":1}]`, "Global addr: 1 malformed"},
		{`["X.1","reg1"]`, "Global reg1: 1 malformed"},
		{`["X.1","reg1","g",[1]]`, "Global reg1: 1 malformed"},
		{`["X.1","reg0",{},"x"]`, "Global reg0: 1 malformed"},
		{`["X.1","reg0","svc","m1target#echo"]`, "withdrawals of entries the sender does not hold"},
		{`["X.1","find",[]]`, "Global find: 1 malformed"},
		{`["X.1","set",{"` + strings.Repeat("g", 2000) + `":["m1raw#p"]}]`, "over the length limit"},
		{`["","AnyEvent::MP::_spawn","X.3","AnyEvent::MP::Global::connect",0,"someone"]`, "spawn for another node ID refused"},
		{`["","AnyEvent::MP::_spawn","X.4","AnyEvent::MP::Global::connect",0,"m1raw"]`, "second Global port from one node"},
	} {
		expectWarning(t, n, r, c.msg, c.want)
	}
	// A spawn with another version is refused (the port dies with Perl's
	// reason); no warning, the link stays up.
	r.send(t, `["","AnyEvent::MP::_spawn","X.5","AnyEvent::MP::Global::connect",1,"m1raw"]`)
	r.echo(t, 5*time.Second)
	// Nothing malformed got in: the groups are the target's own.
	if groups := n.Mesh().Groups; len(groups) != 1 || groups[0] != "svc" {
		t.Errorf("groups after malformed input: %v", groups)
	}
	checkWarningRate(t, n, r, `["X.4","bogus"]`, 20_000)
}

// dbCount returns how many entries family holds in the node's database.
func dbCount(t *testing.T, n *testNode, family string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fam, err := n.DBFamily(ctx, family)
	mustf(t, err, "DBFamily %s", family)
	return len(fam)
}

// waitDBCount waits until family holds want entries.
func waitDBCount(t *testing.T, n *testNode, family string, want int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := dbCount(t, n, family)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("family %s holds %d entries, want %d", family, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// floodValue is the value of flood entry i: null, text, a number, a
// small list or map.
func floodValue(i int) string {
	switch i % 5 {
	case 0:
		return "null"
	case 1:
		return `"v` + fmt.Sprint(i) + `"`
	case 2:
		return fmt.Sprint(i)
	case 3:
		return `[1,"a",null]`
	}
	return `{"k":[` + fmt.Sprint(i) + `]}`
}

// floodWarning returns the node's mesh warning about a flood (a WARN line
// holding every one of subs), waiting up to d. When other lines filled
// the rate limiter's second the line may have been left out: then the
// log must show that lines were suppressed.
func floodWarning(t *testing.T, n *testNode, d time.Duration, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if logHas(n.log, append([]string{"level=WARN"}, subs...)...) {
			return waitLogLine(t, n.log, 0, append([]string{"level=WARN"}, subs...)...)
		}
		if time.Now().After(deadline) {
			if n.logSuppressed.Load() > 0 || strings.Contains(n.log.String(), "suppressed_before=") {
				return fmt.Sprintf("(the warning with %q was left out by the rate limiter)", subs)
			}
			t.Fatalf("no warning with %q within %v; log:\n%s", subs, d, tail(n.log.String(), 4000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds, failing after d with what.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMeshHostileGen2Flood: a 2.x peer floods the node with a million
// database entries (g_slave, g_upd sets and deletions) and, claiming to
// be a global node, a million global nodes and addresses (g_set).
func TestMeshHostileGen2Flood(t *testing.T) {
	goroutineGuard(t, 10)
	entries := meshFloodEntries()
	n := meshTarget(t, "h2target", 2)
	quota := n.meshLimits.MaxEntriesPerNode
	trap := newMeshTrap(t)
	closed := freeAddr(t)
	self := n.Addrs()[0]
	_, selfPort, _ := net.SplitHostPort(self)
	r := dialMeshRaw(t, n, "h2raw", 2)
	r.echo(t, 5*time.Second)
	base0 := retainedHeap(n)

	// g_slave: the peer makes the node its master (a global node) and
	// hands it a database of a million entries: half in family "fam",
	// half address entries ('l) for other nodes, which a node that is
	// not global may not set.
	base := retainedHeap(n)
	t0 := time.Now()
	f := r.flood(t, `["","g_slave",{"'l":{"h2raw":[]`)
	f.first = false
	for i := range entries / 2 {
		f.entry(fmt.Sprintf("n%d", i), `["`+closed+`"]`)
	}
	f.raw(`},"fam":{`)
	f.first = true
	for i := range entries / 2 {
		f.entry(fmt.Sprintf("k%d", i), floodValue(i))
	}
	f.end(`}}]`)
	// The peer's own address entry and its quota's rest.
	want := min(quota-1, entries/2)
	waitFor(t, 120*time.Second, "g_slave flood taken", func() bool { return n.Mesh().Global && dbCount(t, n, "fam") == want })
	took := time.Since(t0)
	line := floodWarning(t, n, 5*time.Second, `g_slave:`)
	r.echo(t, 10*time.Second)
	got := dbCount(t, n, "fam")
	g := checkHeap(t, n, base, 64*mib, "g_slave flood")
	t.Logf("g_slave flood of %d entries: processed after %v; %d entries kept; heap growth %.1f MiB; %s",
		entries, took.Round(time.Millisecond), got, g, line)
	if got != want {
		t.Errorf("family fam holds %d entries, want %d (the per-node quota of %d less the peer's address entry)", got, want, quota)
	}
	if l := dbCount(t, n, "'l"); l != 2 {
		t.Errorf("'l holds %d entries, want 2 (the node's and the peer's)", l)
	}

	// g_upd: a million deletions, then a million new entries.
	base = retainedHeap(n)
	t1 := time.Now()
	f = r.flood(t, `["","g_upd","fam",null,[`)
	for i := range entries {
		if i > 0 {
			f.raw(",")
		}
		f.raw(fmt.Sprintf(`"k%d"`, i))
	}
	f.end(`]]`)
	waitDBCount(t, n, "fam", 0, 120*time.Second)
	tookDel := time.Since(t1)
	t2 := time.Now()
	f = r.flood(t, `["","g_upd","fam2",{`)
	for i := range entries {
		f.entry(fmt.Sprintf("u%d", i), floodValue(i))
	}
	f.end(`},[]]`)
	waitFor(t, 120*time.Second, "g_upd flood taken", func() bool { return dbCount(t, n, "fam2") == quota-1 })
	took = time.Since(t2)
	line = floodWarning(t, n, 5*time.Second, `g_upd:`, "over the limits")
	r.echo(t, 10*time.Second)
	got = dbCount(t, n, "fam2")
	g = checkHeap(t, n, base, 64*mib, "g_upd flood")
	t.Logf("g_upd flood: %d deletions processed after %v; %d entries processed after %v, %d kept; heap growth %.1f MiB; %s",
		entries, tookDel.Round(time.Millisecond), entries, took.Round(time.Millisecond), got, g, line)
	if got != quota-1 {
		t.Errorf("family fam2 holds %d entries, want %d", got, quota-1)
	}

	// g_global, then g_set: the peer, now a global node, hands over a
	// database naming a million global nodes ('g) and, for the first
	// tenth, addresses ('l) to dial: the node keeps at most 256 global
	// nodes connected and dials within its budget.
	base = retainedHeap(n)
	basePeers := len(n.peers.all())
	dc := countDials(n, trap)
	r.send(t, `["","g_global"]`)
	waitDBCount(t, n, "fam2", 0, 30*time.Second) // what it held as a slave goes
	t3 := time.Now()
	f = r.flood(t, `["","g_set",{"'l":{`)
	for i := range entries / 10 {
		f.entry(fmt.Sprintf("n%d", i), floodAddrs(i, self, selfPort, closed, trap.addr()))
	}
	f.raw(`},"'g":{`)
	f.first = true
	for i := range entries {
		f.entry(fmt.Sprintf("n%d", i), "null")
	}
	f.end(`}}]`)
	waitFor(t, 120*time.Second, "g_set flood taken", func() bool { return dbCount(t, n, "'g")+dbCount(t, n, "'l") >= quota })
	took = time.Since(t3)
	line = floodWarning(t, n, 5*time.Second, `g_set:`)
	kept := floodWarning(t, n, 5*time.Second, `global nodes beyond 256 not kept connected`)
	r.echo(t, 10*time.Second)
	checkDials(t, n, dc, t3, basePeers, n.cfg.MonitorTimeout+3*time.Second)
	gl, ll := dbCount(t, n, "'g"), dbCount(t, n, "'l")
	g = checkHeap(t, n, base, 64*mib, "g_set flood")
	g0 := checkHeap(t, n, base0, 64*mib, "all floods")
	t.Logf("g_set flood of %d global nodes and %d addresses: processed after %v; 'g %d, 'l %d entries; heap growth %.1f MiB (%.1f MiB since before the first flood); %s; %s",
		entries, entries/10, took.Round(time.Millisecond), gl, ll, g, g0, line, kept)
	if gl+ll > quota+4 {
		t.Errorf("'g and 'l hold %d entries: over the per-node quota of %d", gl+ll, quota)
	}
	if !linkUp(n, "h2raw") {
		t.Fatalf("the link went down")
	}

	// The peer leaves: what it gave goes.
	r.p.conn.Close()
	waitDBCount(t, n, "'g", 1, 30*time.Second)
}

// TestMeshHostileGen2Malformed: malformed g_* requests are ignored with a
// warning; the link stays up and the database learns nothing from them.
func TestMeshHostileGen2Malformed(t *testing.T) {
	n := meshTarget(t, "m2target", 2)
	r := dialMeshRaw(t, n, "m2raw", 2)
	r.echo(t, 5*time.Second)
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	for _, c := range []struct{ msg, want string }{
		// while the node is an ordinary node
		{`["","g_upd","fam",{"k":1},[]]`, "g_upd: only served by global nodes"},
		{`["","g_find","x"]`, "g_find: only served by global nodes"},
		{`["","g_bogus",1]`, "g_bogus: unknown request"},
		{`["","g_slave",[1]]`, "g_slave: database is not a map"},
		// g_slave makes it global; bad entries are dropped
		{`["","g_slave",{"fam":"x","f2":{"k":` + deep + `},"'l":{"other":["1.2.3.4:5"]},"'g":{"other":null}}]`, "g_slave: 4 bad entries ignored"},
		{`["","g_upd",[1],{}]`, "g_upd: bad family name"},
		{`["","g_upd","f","x"]`, "g_upd: entries are not a map"},
		{`["","g_upd","f",{},"x"]`, "g_upd: deleted keys are not a list of strings"},
		{`["","g_upd","f",{},[[1]]]`, "g_upd: deleted keys are not a list of strings"},
		{`["","g_upd","'l",{"m2raw":["a:1","b:2","c:3","d:4","e:5","f:6","g:7","h:8","i:9","j:10","k:11","l:12","m:13","n:14","o:15","p:16","q:17"]},[]]`, "g_upd: 1 bad entries ignored"},
		{`["","g_upd","` + strings.Repeat("f", 2000) + `",{},[]]`, "g_upd: bad family name"},
		{`["","g_set","x"]`, "g_set: database is not a map"},
		{`["","g_set",{"fam":{"k":1}}]`, "g_set: not from a global node"},
		{`["","g_find",{}]`, "g_find: bad node ID"},
		{`["","g_db_keys",[],"id"]`, "g_db_keys: bad family name or query ID"},
		{`["","g_db_family","f",{}]`, "g_db_family: bad family name or query ID"},
		{`["","g_mon1",null]`, "g_mon1: bad family name"},
		{`["","g_mon0",[]]`, "g_mon0: bad family name"},
		{`["","g_found",{},[]]`, "g_found: bad node ID"},
		{`["","g_found","x","y"]`, "g_found: addresses are not a list"},
		{`["","g_chg1",[],{}]`, "g_chg1: bad family name"},
		{`["","g_chg2","f",{},5]`, "g_chg2: deleted keys are not a list of strings"},
	} {
		expectWarning(t, n, r, c.msg, c.want)
	}
	if !n.Mesh().Global {
		t.Errorf("g_slave did not make the node global")
	}
	// Nothing malformed got in.
	for _, fam := range []string{"fam", "f", "f2"} {
		if c := dbCount(t, n, fam); c != 0 {
			t.Errorf("family %s holds %d entries", fam, c)
		}
	}
	if c := dbCount(t, n, "'l"); c != 1 {
		t.Errorf("'l holds %d entries, want the node's own", c)
	}
	checkWarningRate(t, n, r, `["","g_bogus"]`, 20_000)
}
