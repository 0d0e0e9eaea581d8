package mesh

import (
	"bufio"
	"encoding/json"
	"fmt"
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

// The replay test stands a Global1 in for each real AnyEvent::MP 1.30
// node of the captures in testdata/g1 (see its README): it feeds it what
// the Perl node received and what happened to its connections, in the
// order of the node's trace, and checks that it sends what the Perl node
// sent to Global ports, in the same order and with the same payloads. Our
// port names differ (Perl's traces show destination node IDs only), and
// the forwards of announced addresses go 2 to 3 s after the addr message
// at random times: those are matched in any order, within that window.

var (
	g1TraceMsg  = regexp.MustCompile(`^(\d+)\.(\d{3}) \[[^\]]+\] (SND|RCV) (\S+) (<-|->) (.*)$`)
	g1TraceUp   = regexp.MustCompile(`^\S+ \S+ <7> (\S+) is (up|down) \(`)
	g1TraceConn = regexp.MustCompile(`^\S+ \S+ <9> (\S+) connected as (\S+)$`)
	g1TraceSelf = regexp.MustCompile(`^\S+ \S+ <8> node (\S+) starting up\.$`)
	g1TraceAddr = regexp.MustCompile(`^\S+ \S+ <8> node listens on \[(.*)\]\.$`)
	g1OutSeeds  = regexp.MustCompile(` seeds=(\[[^\]]*\])`)
	g1OutExit   = regexp.MustCompile(`(?m)^(\d+)\.(\d{3}) \[[^\]]+\] exiting`)
	g1OutReg    = regexp.MustCompile(`(?m)^(\d+)\.(\d{3}) \[[^\]]+\] grp_reg (\S+) (\S+)$`)
)

// g1Event is one line of a Perl node's trace that matters to Global.
type g1Event struct {
	t    time.Time
	kind string // "up", "down", "rcv", "snd", "reg" (the program's grp_reg)
	node string // the peer; reg: the group
	seed bool   // up: connected through a seed address
	port string // rcv: destination port name; reg: the port ID
	args []any
	line int
}

// g1Trace is a Perl node's trace, parsed.
type g1Trace struct {
	self   string
	addrs  []string
	events []g1Event
	exit   time.Time // when the node exited
}

// decodeG1 decodes one json message, [PORT, ARGS...].
func decodeG1(t *testing.T, text string) (string, []any) {
	t.Helper()
	m, n, err := framing.NewDecoder(framing.JSON, framing.Limits{}).Next([]byte(text + "\n"))
	if err != nil || n == 0 {
		t.Fatalf("undecodable %q: %v", text, err)
	}
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	return m.PortString(), args
}

func readG1Trace(t *testing.T, dir, node string) g1Trace {
	out, err := os.ReadFile(filepath.Join(dir, node+".out"))
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	if m := g1OutSeeds.FindSubmatch(out); m == nil || json.Unmarshal(m[1], &seeds) != nil {
		t.Fatalf("%s.out: no seeds", node)
	}
	f, err := os.Open(filepath.Join(dir, node+".trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tr g1Trace
	via := map[string]string{}
	var now time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if m := g1TraceMsg.FindStringSubmatch(s); m != nil {
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			ms, _ := strconv.ParseInt(m[2], 10, 64)
			now = time.Unix(sec, ms*1e6)
			e := g1Event{t: now, node: m[4], line: line}
			if m[3] == "SND" {
				e.kind = "snd"
				_, e.args = decodeG1(t, `["",`+strings.TrimPrefix(m[6], "[")) // SND shows no port name
				if len(e.args) == 0 || !strings.HasPrefix(m[6], "[") {
					t.Fatalf("%s.trace:%d: %s", node, line, s)
				}
			} else {
				e.kind = "rcv"
				e.port, e.args = decodeG1(t, m[6])
			}
			tr.events = append(tr.events, e)
			continue
		}
		if m := g1TraceSelf.FindStringSubmatch(s); m != nil {
			tr.self = m[1]
		} else if m := g1TraceAddr.FindStringSubmatch(s); m != nil {
			tr.addrs = strings.Fields(m[1])
		} else if m := g1TraceConn.FindStringSubmatch(s); m != nil {
			via[m[2]] = m[1]
		} else if m := g1TraceUp.FindStringSubmatch(s); m != nil {
			e := g1Event{t: now, kind: m[2], node: m[1], line: line}
			e.seed = e.kind == "up" && slices.Contains(seeds, via[e.node])
			tr.events = append(tr.events, e)
		}
	}
	// The program's registrations, from its output, go before the trace
	// lines of later times.
	for _, m := range g1OutReg.FindAllStringSubmatch(string(out), -1) {
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		ms, _ := strconv.ParseInt(m[2], 10, 64)
		e := g1Event{t: time.Unix(sec, ms*1e6), kind: "reg", node: m[3], port: m[4]}
		i := slices.IndexFunc(tr.events, func(x g1Event) bool { return x.t.After(e.t) })
		if i < 0 {
			i = len(tr.events)
		}
		tr.events = slices.Insert(tr.events, i, e)
	}
	m := g1OutExit.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%s.out: no exit", node)
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	ms, _ := strconv.ParseInt(m[2], 10, 64)
	tr.exit = time.Unix(sec, ms*1e6)
	if tr.self != node || sc.Err() != nil {
		t.Fatalf("%s.trace: node %q, %v", node, tr.self, sc.Err())
	}
	return tr
}

// g1Sent is a message to a Global port: "NODE" + the json of its args.
type g1Sent struct {
	canon string
	t     time.Time // when the Perl node sent it
	line  int
}

func canonG1(t *testing.T, node string, args []any) string {
	b, err := framing.JSON.AppendMessage(nil, node, args)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// global1Tags are the messages Global ports understand.
var global1Tags = []string{"setup", "addr", "nodes", "set", "find", "reg0", "reg1", "seedme0", "seedme1"}

func TestGlobal1ReplayPerlCaptures(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/g1/*")
	if len(dirs) == 0 {
		t.Fatal("no captures in testdata/g1")
	}
	for _, dir := range dirs {
		traces, _ := filepath.Glob(filepath.Join(dir, "*.trace"))
		for _, file := range traces {
			node := strings.TrimSuffix(filepath.Base(file), ".trace")
			t.Run(filepath.Base(dir)+"/"+node, func(t *testing.T) {
				replayG1(t, readG1Trace(t, dir, node))
			})
		}
	}
}

// forwardPending is a forward our Global1 made at a Tick, waiting to be
// matched with one the Perl node made 2 to 3 s after the addr message.
type forwardPending struct {
	canon    string
	earliest time.Time
}

func replayG1(t *testing.T, tr g1Trace) {
	n := 0
	g := NewGlobal1(Global1Config{
		Self:     tr.self,
		Addrs:    tr.addrs,
		PortName: func() string { n++; return fmt.Sprintf("go.%d", n) },
		Rand:     newG1("x", Limits{}, 1).rnd,
	})
	var want []g1Sent
	var got []string
	var forwards []forwardPending
	addrAt := map[string]time.Time{}
	ports := map[string]bool{}
	ours := map[string]string{} // node -> our Global port ID there
	collect := func(e g1Event, a Actions) {
		t.Helper()
		if len(a.Warn) > 0 {
			t.Errorf("line %d: warnings %v", e.line, a.Warn)
		}
		for _, s := range a.Send {
			node, port, _ := strings.Cut(s.To, "#")
			if port == "" {
				if s.Args[0] != global1SpawnRequest || s.Args[2] != global1InitFunc {
					t.Errorf("line %d: node-port message %v", e.line, s.Args)
				}
				ours[node] = node + "#" + s.Args[1].(string)
				continue
			}
			if ours[node] != s.To {
				t.Errorf("line %d: send to %s, not our Global port %s", e.line, s.To, ours[node])
			}
			got = append(got, canonG1(t, node, s.Args))
		}
		for _, m := range a.Monitor {
			if ours[nodeOf(m)] != m {
				t.Errorf("line %d: monitor %s", e.line, m)
			}
		}
	}
	tick := func(now time.Time, line int) {
		a := g.Tick(now)
		if len(a.Warn)+len(a.Dial)+len(a.Monitor)+len(a.Kill)+len(a.Changes) > 0 {
			t.Errorf("line %d: tick %+v", line, a)
		}
		for _, s := range a.Send {
			var from string
			for k := range s.Args[1].(map[string]any) {
				from = k
			}
			forwards = append(forwards, forwardPending{canonG1(t, nodeOf(s.To), s.Args), addrAt[from].Add(2 * time.Second)})
		}
	}
	for _, e := range tr.events {
		tick(e.t, e.line)
		var a Actions
		switch e.kind {
		case "up":
			a = g.NodeUp(e.node, e.seed, e.t)
		case "down":
			a = g.NodeDown(e.node, e.t)
		case "reg":
			var err error
			if a, err = g.Register(e.node, e.port); err != nil {
				t.Fatal(err)
			}
		case "snd":
			if tag, _ := e.args[0].(string); slices.Contains(global1Tags, tag) {
				want = append(want, g1Sent{canonG1(t, e.node, e.args), e.t, e.line})
			}
			continue
		case "rcv":
			tag, _ := argAt(e.args, 0).(string)
			switch {
			case e.port == "" && tag == global1SpawnRequest && argAt(e.args, 2) == global1InitFunc:
				port := e.args[1].(string)
				var err error
				if a, err = g.Spawned(e.node, port, e.args[3:], e.t); err != nil {
					t.Fatalf("line %d: %v", e.line, err)
				}
				ports[port] = true
			case e.port == "" && tag == "kil0":
				if id := e.node + "#" + fmt.Sprint(argAt(e.args, 1)); ours[e.node] == id {
					a = g.PortDied(id, e.args[2:], e.t)
				}
			case ports[e.port]:
				if tag == "addr" {
					addrAt[e.node] = e.t
				}
				a = g.Receive(e.port, e.node, e.args, e.t)
			}
		}
		collect(e, a)
	}
	tick(tr.exit, -1)

	// Match in order; a send of the Perl node that is not the next one of
	// ours must be one of our forwards, in its time window.
	j := 0
	for _, w := range want {
		if j < len(got) && got[j] == w.canon {
			j++
			continue
		}
		i := slices.IndexFunc(forwards, func(f forwardPending) bool { return f.canon == w.canon })
		if i < 0 {
			next := "nothing"
			if j < len(got) {
				next = got[j]
			}
			t.Fatalf("line %d: Perl sent %s; we sent %s", w.line, w.canon, next)
		}
		if f := forwards[i]; w.t.Before(f.earliest.Add(-10*time.Millisecond)) || w.t.After(f.earliest.Add(1200*time.Millisecond)) {
			t.Errorf("line %d: forward %s at %v, addr came at %v", w.line, w.canon, w.t, f.earliest.Add(-2*time.Second))
		}
		forwards = slices.Delete(forwards, i, i+1)
	}
	if j < len(got) {
		t.Errorf("we sent more: %v", got[j:])
	}
	for _, f := range forwards {
		t.Errorf("we forwarded, Perl did not: %s", f.canon)
	}
	t.Logf("%d messages to Global ports matched (%d forwards)", len(want), len(want)-len(got))
}
