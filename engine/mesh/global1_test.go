package mesh

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

var g1T0 = time.Unix(1_700_000_000, 0)

// newG1 returns a Global1 for node self listening on 10.0.0.1:4040, whose
// Global ports are named p1, p2, ...
func newG1(self string, lim Limits, seed uint64) *Global1 {
	n := 0
	return NewGlobal1(Global1Config{
		Self:     self,
		Addrs:    []string{"10.0.0.1:4040"},
		PortName: func() string { n++; return fmt.Sprintf("p%d", n) },
		Limits:   lim,
		Rand:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	})
}

// spawnFrom has src start its Global port "gp-SRC" on g.
func spawnFrom(t *testing.T, g *Global1, src string) string {
	t.Helper()
	port := "gp-" + src
	a, err := g.Spawned(src, port, []any{framing.Number("0"), src}, g1T0)
	if err != nil || !a.Empty() {
		t.Fatalf("Spawned: %v %+v", err, a)
	}
	return port
}

// sends returns the messages of a sent to port ID to, in order.
func sends(a Actions, to string) [][]any {
	var out [][]any
	for _, s := range a.Send {
		if s.To == to {
			out = append(out, s.Args)
		}
	}
	return out
}

// tags returns "TO TAG" for each send.
func tags(a Actions) []string {
	var out []string
	for _, s := range a.Send {
		out = append(out, s.To+" "+fmt.Sprint(s.Args[0]))
	}
	return out
}

func TestGlobal1StartNode(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	a, err := g.Register("grp", "me#r")
	if err != nil || len(a.Send) != 0 || !reflect.DeepEqual(a.Changes, []Change{{Name: "grp", Added: []string{"me#r"}}}) {
		t.Fatalf("Register: %v %+v", err, a)
	}
	a = g.NodeUp("b", false, g1T0)
	want := []Send{
		{To: "b#", Args: []any{"AnyEvent::MP::_spawn", "p1", "AnyEvent::MP::Global::connect", 0, "me"}},
		{To: "b#p1", Args: []any{"addr", []string{"10.0.0.1:4040"}}},
		{To: "b#p1", Args: []any{"set", map[string]any{"grp": []string{"me#r"}}}},
		{To: "b#p1", Args: []any{"setup"}},
		{To: "b#p1", Args: []any{"seedme1"}}, // b is the only node: the master
	}
	if !reflect.DeepEqual(a.Send, want) {
		t.Errorf("sends\n got %#v\nwant %#v", a.Send, want)
	}
	if !slices.Equal(a.Monitor, []string{"b#p1"}) {
		t.Errorf("monitor %v", a.Monitor)
	}
	// b announces itself; a second node gets nodes with b's addresses.
	spawnFrom(t, g, "b")
	g.Receive("gp-b", "b", []any{"addr", []any{"10.0.0.2:4040"}}, g1T0)
	a = g.NodeUp("c", false, g1T0)
	if got := sends(a, "c#p2"); len(got) != 4 || !reflect.DeepEqual(got[1], []any{"nodes", map[string]any{"b": []string{"10.0.0.2:4040"}}}) {
		t.Errorf("second node gets %v", got)
	}
	// A node that is up already is not started twice.
	if a := g.NodeUp("c", false, g1T0); len(a.Send) != 0 {
		t.Errorf("second NodeUp sends %v", tags(a))
	}
	// No listener: addr carries [], as Perl's empty $LISTENER.
	g2 := NewGlobal1(Global1Config{Self: "x"})
	a = g2.NodeUp("y", false, g1T0)
	if got := a.Send[1].Args; !reflect.DeepEqual(got[1], []string{}) {
		t.Errorf("addr without listeners: %#v", got)
	}
	if !strings.HasSuffix(a.Send[0].To, "#") || a.Send[0].Args[1] == "" {
		t.Errorf("default port name: %v", a.Send[0])
	}
}

func TestGlobal1SetAddrs(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	g.NodeUp("b", false, g1T0)
	g.NodeUp("c", false, g1T0)
	a := g.SetAddrs([]string{"10.0.0.1:5000", "[::1]:5000"})
	want := []Send{
		{To: "b#p1", Args: []any{"addr", []string{"10.0.0.1:5000", "[::1]:5000"}}},
		{To: "c#p2", Args: []any{"addr", []string{"10.0.0.1:5000", "[::1]:5000"}}},
	}
	if !reflect.DeepEqual(a.Send, want) {
		t.Errorf("got %v", a.Send)
	}
}

func TestGlobal1MasterSelection(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	// Without seeds the first node is master and stays while it is up.
	a := g.NodeUp("b", false, g1T0)
	if g.Master() != "b" || !slices.Contains(tags(a), "b#p1 seedme1") {
		t.Fatalf("master %q, sends %v", g.Master(), tags(a))
	}
	a = g.NodeUp("c", false, g1T0)
	if g.Master() != "b" || slices.ContainsFunc(tags(a), func(s string) bool { return strings.Contains(s, "seedme") }) {
		t.Fatalf("master %q, sends %v", g.Master(), tags(a))
	}
	g.NodeUp("a", false, g1T0)
	// The master goes: the greatest up node ID takes over; the old master
	// is down, so no seedme0; the new one is asked to find the lost node.
	a = g.NodeDown("b", g1T0)
	if g.Master() != "c" {
		t.Fatalf("master %q", g.Master())
	}
	if got := tags(a); !slices.Equal(got, []string{"c#p2 seedme1", "c#p2 find"}) {
		t.Errorf("sends %v", got)
	}
	if f := sends(a, "c#p2"); !reflect.DeepEqual(f[1], []any{"find", "b"}) {
		t.Errorf("find %v", f[1])
	}
	// A seed beats a non-seed: seedme0 to the old master, seedme1 to it.
	a = g.NodeUp("s1", true, g1T0)
	if g.Master() != "s1" {
		t.Fatalf("master %q", g.Master())
	}
	if got := tags(a); !slices.Equal(got[len(got)-2:], []string{"c#p2 seedme0", "s1#p4 seedme1"}) {
		t.Errorf("sends %v", got)
	}
	// A node that is not up cannot be master: none left -> no master.
	for _, n := range []string{"a", "c", "s1"} {
		g.NodeDown(n, g1T0)
	}
	if g.Master() != "" {
		t.Errorf("master %q with no nodes up", g.Master())
	}
	// Seed-ness is remembered for the node ID, as Perl's %SEEDS keeps the
	// node ID of a seed address: s1 connecting to us is still a seed.
	g.NodeUp("z", false, g1T0)
	g.NodeUp("s1", false, g1T0)
	if g.Master() != "s1" {
		t.Errorf("master %q, want the seed s1", g.Master())
	}
	// With no seed up the greatest node is chosen, not a random one.
	g.NodeDown("s1", g1T0)
	if g.Master() != "z" {
		t.Errorf("master %q, want z", g.Master())
	}
}

// TestGlobal1SeedSwitching: a seed coming up while a seed is master takes
// over with probability 1 - 1/#upseeds; when the master goes, a random up
// seed is chosen.
func TestGlobal1SeedSwitching(t *testing.T) {
	const trials = 4000
	for _, nseeds := range []int{2, 3, 4} {
		switched := 0
		for i := range trials {
			g := newG1("me", Limits{}, uint64(i))
			for s := 1; s < nseeds; s++ {
				g.NodeUp(fmt.Sprintf("s%d", s), true, g1T0)
			}
			old := g.Master()
			g.NodeUp("new", true, g1T0)
			if g.Master() == "new" {
				switched++
			} else if g.Master() != old {
				t.Fatalf("master %q -> %q", old, g.Master())
			}
		}
		got, want := float64(switched)/trials, 1-1/float64(nseeds)
		if got < want-0.04 || got > want+0.04 {
			t.Errorf("%d up seeds: switched in %.3f of the cases, want %.3f", nseeds, got, want)
		}
	}
	// When the master goes, each remaining up seed is equally likely.
	chosen, avail := map[string]int{}, map[string]int{}
	for i := range 1200 {
		g := newG1("me", Limits{}, uint64(i))
		g.NodeUp("n", false, g1T0)
		for _, s := range []string{"s1", "s2", "s3", "s4"} {
			g.NodeUp(s, true, g1T0)
		}
		m := g.Master()
		g.NodeDown(m, g1T0)
		if !strings.HasPrefix(g.Master(), "s") || g.Master() == m {
			t.Fatalf("after %s went: master %q", m, g.Master())
		}
		chosen[g.Master()]++
		for _, s := range []string{"s1", "s2", "s3", "s4"} {
			if s != m {
				avail[s]++
			}
		}
	}
	for s, n := range avail {
		if f := float64(chosen[s]) / float64(n); f < 0.25 || f > 0.42 {
			t.Errorf("seed %s chosen in %.3f of the cases it could be, want 1/3", s, f)
		}
	}
}

func TestGlobal1VersionMismatch(t *testing.T) {
	for _, tc := range []struct {
		version any
		text    string // "" for accepted
	}{
		{framing.Number("0"), ""},
		{int64(0), ""},
		{nil, ""},
		{framing.Number("0.9"), ""},
		{"0", ""},
		{"abc", ""}, // Perl's int("abc") is 0
		{"", ""},
		{false, ""},
		{framing.Number("-0.5"), ""},
		{framing.Number("1"), "node version mismatch (requested 1; we have 0)"},
		{int64(2), "node version mismatch (requested 2; we have 0)"},
		{"1.5", "node version mismatch (requested 1.5; we have 0)"},
		{" 7x", "node version mismatch (requested  7x; we have 0)"},
		{framing.Number("1.0"), "node version mismatch (requested 1; we have 0)"},
		{framing.Number("1e400"), "node version mismatch (requested Inf; we have 0)"},
		{framing.Number("12345678901234567890123"), "node version mismatch (requested 1.23456789012346e+22; we have 0)"},
		{"inf", "node version mismatch (requested inf; we have 0)"},
		{true, "node version mismatch (requested 1; we have 0)"},
		{[]any{}, "node version mismatch (requested ARRAY(0x0); we have 0)"},
	} {
		g := newG1("me", Limits{}, 1)
		_, err := g.Spawned("b", "gp", []any{tc.version, "b"}, g1T0)
		switch {
		case tc.text == "" && err != nil:
			t.Errorf("version %#v: %v", tc.version, err)
		case tc.text != "" && (err == nil || err.Error() != tc.text || !errors.Is(err, ErrGlobal1Version)):
			t.Errorf("version %#v: %v, want %q", tc.version, err, tc.text)
		}
		if tc.text != "" {
			if a := g.Receive("gp", "b", []any{"addr", []any{"10.0.0.2:1"}}, g1T0); len(a.Warn) != 1 || g.NodeAddrs("b") != nil {
				t.Errorf("refused port still works: %+v", a)
			}
		}
	}
	// Missing arguments: version undef passes (int undef is 0), the node
	// is missing.
	g := newG1("me", Limits{}, 1)
	if _, err := g.Spawned("b", "gp", nil, g1T0); !errors.Is(err, ErrGlobal1Spawn) {
		t.Errorf("no arguments: %v", err)
	}
	if _, err := g.Spawned("b", "gp", []any{0, "c"}, g1T0); !errors.Is(err, ErrGlobal1Spawn) {
		t.Errorf("spawn for another node: %v", err)
	}
	if _, err := g.Spawned("me", "gp", []any{0, "me"}, g1T0); !errors.Is(err, ErrGlobal1Spawn) {
		t.Errorf("spawn from ourselves: %v", err)
	}
}

func TestGlobal1SecondSpawnReplacesFirst(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	spawnFrom(t, g, "b")
	a, err := g.Spawned("b", "gp2", []any{0, "b"}, g1T0)
	if err != nil || !reflect.DeepEqual(a.Kill, []Kill{{Port: "gp-b"}}) || len(a.Warn) != 1 {
		t.Fatalf("%v %+v", err, a)
	}
	if a := g.Receive("gp-b", "b", []any{"seedme1"}, g1T0); len(a.Warn) != 1 {
		t.Error("old port still served")
	}
	if a := g.Receive("gp2", "b", []any{"seedme1"}, g1T0); len(a.Warn) != 0 {
		t.Error(a.Warn)
	}
}

func TestGlobal1NodeDown(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	g.NodeUp("b", false, g1T0)
	g.NodeUp("c", false, g1T0)
	spawnFrom(t, g, "b")
	g.Receive("gp-b", "b", []any{"addr", []any{"10.0.0.2:1"}}, g1T0)
	g.Receive("gp-b", "b", []any{"seedme1"}, g1T0)
	g.Receive("gp-b", "b", []any{"set", map[string]any{"g": []any{"b#1", "b#2"}, "h": []any{"b#3"}}}, g1T0)
	g.Register("g", "me#1")
	a := g.NodeDown("b", g1T0)
	if !reflect.DeepEqual(a.Kill, []Kill{{Port: "gp-b"}}) {
		t.Errorf("kill %v", a.Kill)
	}
	want := []Change{{Name: "g", Removed: []string{"b#1", "b#2"}}, {Name: "h", Removed: []string{"b#3"}}}
	if !reflect.DeepEqual(a.Changes, want) {
		t.Errorf("changes %+v", a.Changes)
	}
	if got := tags(a); !slices.Equal(got, []string{"c#p2 seedme1", "c#p2 find"}) {
		t.Errorf("sends %v", got)
	}
	if g.NodeAddrs("b") != nil || len(g.seedme) != 0 || len(g.port) != 1 || len(g.spawned) != 0 {
		t.Errorf("b not forgotten: %v %v %v %v", g.NodeAddrs("b"), g.seedme, g.port, g.spawned)
	}
	if got := g.Members("g"); !slices.Equal(got, []string{"me#1"}) || g.Members("h") != nil {
		t.Errorf("members %v %v", got, g.Members("h"))
	}
	if got := g.Groups(); !slices.Equal(got, []string{"g"}) {
		t.Errorf("groups %v", got)
	}
	// A second NodeDown, or one for a node never up, does nothing.
	if a := g.NodeDown("b", g1T0); !a.Empty() {
		t.Errorf("%+v", a)
	}
}

// TestGlobal1PortDied: our Global port on a node dies while the node stays
// up (Perl's mon callback in start_node): its groups go, the port is
// forgotten, and a stale report for an older port changes nothing.
func TestGlobal1PortDied(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	g.NodeUp("b", false, g1T0)
	spawnFrom(t, g, "b")
	g.Receive("gp-b", "b", []any{"reg1", "g", "b#1"}, g1T0)
	if a := g.PortDied("b#old", nil, g1T0); !a.Empty() {
		t.Errorf("stale PortDied: %+v", a)
	}
	a := g.PortDied("b#p1", []any{"no_such_port", "cannot monitor nonexistent port", "b#p1"}, g1T0)
	if !reflect.DeepEqual(a.Changes, []Change{{Name: "g", Removed: []string{"b#1"}}}) {
		t.Errorf("changes %+v", a.Changes)
	}
	if _, ok := g.port["b"]; ok {
		t.Error("port kept")
	}
	// A nodes message naming b starts Global on it again (Perl's
	// start_node checks only %port), without dialling the up node.
	spawnFrom(t, g, "c")
	a = g.Receive("gp-c", "c", []any{"nodes", map[string]any{"b": []any{"10.0.0.2:1"}}}, g1T0)
	if len(a.Dial) != 0 || len(a.Send) == 0 || a.Send[0].To != "b#" {
		t.Errorf("%+v", a)
	}
}

func TestGlobal1RegisterErrors(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	if _, err := g.Register("g", "other#1"); !errors.Is(err, ErrGlobal1NotLocal) {
		t.Errorf("foreign port: %v", err)
	}
	g.NodeUp("b", false, g1T0)
	a, err := g.Register("g", "me#1")
	if err != nil || !reflect.DeepEqual(sends(a, "b#p1"), [][]any{{"reg1", "g", "me#1"}}) {
		t.Fatalf("%v %+v", err, a)
	}
	if _, err := g.Register("g", "me#1"); !errors.Is(err, ErrGlobal1Registered) || err.Error() != "'g': group already registered, cannot register a second time" {
		t.Errorf("twice: %v", err)
	}
	a = g.Unregister("g", "me#1")
	if !reflect.DeepEqual(sends(a, "b#p1"), [][]any{{"reg0", "g", "me#1"}}) || !reflect.DeepEqual(a.Changes, []Change{{Name: "g", Removed: []string{"me#1"}}}) {
		t.Errorf("%+v", a)
	}
	if a := g.Unregister("g", "me#1"); !a.Empty() {
		t.Errorf("second Unregister: %+v", a)
	}
	if g.Members("g") != nil || len(g.Groups()) != 0 || len(g.lreg) != 0 {
		t.Error("group left behind")
	}
}

func TestGlobal1AddrForward(t *testing.T) {
	g := newG1("me", Limits{}, 3)
	g.NodeUp("b", false, g1T0)
	g.NodeUp("c", false, g1T0)
	spawnFrom(t, g, "b")
	spawnFrom(t, g, "c")
	// c asks to be seeded: it gets every address known (none yet: nothing).
	if a := g.Receive("gp-c", "c", []any{"seedme1"}, g1T0); len(a.Send) != 0 {
		t.Errorf("%v", tags(a))
	}
	g.Receive("gp-b", "b", []any{"addr", []any{"10.0.0.2:1", "[fe80::1]:2"}}, g1T0)
	due, ok := g.NextTick()
	if !ok || due.Before(g1T0.Add(2*time.Second)) || !due.Before(g1T0.Add(3*time.Second)) {
		t.Fatalf("forward due %v", due.Sub(g1T0))
	}
	if a := g.Tick(due.Add(-time.Millisecond)); !a.Empty() {
		t.Errorf("early: %+v", a)
	}
	a := g.Tick(due)
	want := []Send{{To: "c#p2", Args: []any{"nodes", map[string]any{"b": []string{"10.0.0.2:1", "[fe80::1]:2"}}}}}
	if !reflect.DeepEqual(a.Send, want) {
		t.Errorf("forward %v", a.Send)
	}
	if _, ok := g.NextTick(); ok {
		t.Error("still pending")
	}
	// seedme1 now answers with everything; find answers for known nodes.
	a = g.Receive("gp-c", "c", []any{"seedme1"}, g1T0)
	if !reflect.DeepEqual(a.Send, want) {
		t.Errorf("seedme1 answer %v", a.Send)
	}
	a = g.Receive("gp-c", "c", []any{"find", "b"}, g1T0)
	if !reflect.DeepEqual(a.Send, want) {
		t.Errorf("find answer %v", a.Send)
	}
	if a := g.Receive("gp-c", "c", []any{"find", "zz"}, g1T0); !a.Empty() {
		t.Errorf("find unknown %+v", a)
	}
	// After seedme0 nothing more is forwarded.
	g.Receive("gp-c", "c", []any{"seedme0"}, g1T0)
	g.Receive("gp-b", "b", []any{"addr", []any{"10.0.0.2:3"}}, g1T0)
	if a := g.Tick(g1T0.Add(time.Minute)); !a.Empty() {
		t.Errorf("forward without slaves %+v", a)
	}
	// Find asks the master.
	if a := g.Find("x", g1T0); !reflect.DeepEqual(a.Send, []Send{{To: "b#p1", Args: []any{"find", "x"}}}) {
		t.Errorf("Find %+v", a.Send)
	}
}

// TestGlobal1PeerGroups: a peer's entries are its own; entries for other
// nodes' ports are held for the sender and go with it, unless the port's
// node takes them over; entries for our ports are refused; only the owner
// or the port's node withdraws an entry.
func TestGlobal1PeerGroups(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	for _, n := range []string{"a", "c"} {
		g.NodeUp(n, false, g1T0)
		spawnFrom(t, g, n)
	}
	g.Register("g", "me#1")
	a := g.Receive("gp-a", "a", []any{"set", map[string]any{"g": []any{"a#1", "c#1", "c#2", "me#1", "me#2"}}}, g1T0)
	if !reflect.DeepEqual(a.Changes, []Change{{Name: "g", Added: []string{"a#1", "c#1", "c#2"}}}) {
		t.Errorf("changes %+v", a.Changes)
	}
	if len(a.Warn) != 1 || !strings.Contains(a.Warn[0].Msg, "2 entries for this node's ports refused") || !strings.Contains(a.Warn[0].Msg, "2 entries for other nodes' ports held") {
		t.Errorf("warn %v", a.Warn)
	}
	// c announces c#1 itself: it takes the entry over.
	if a := g.Receive("gp-c", "c", []any{"reg1", "g", "c#1"}, g1T0); len(a.Changes) != 0 || len(a.Warn) != 0 {
		t.Errorf("%+v", a)
	}
	// a cannot withdraw c's entry, nor ours.
	for _, p := range []string{"c#1", "me#1"} {
		if a := g.Receive("gp-a", "a", []any{"reg0", "g", p}, g1T0); len(a.Changes) != 0 || len(a.Warn) != 1 {
			t.Errorf("reg0 %s: %+v", p, a)
		}
	}
	// c can withdraw c#2 even though a announced it.
	if a := g.Receive("gp-c", "c", []any{"reg0", "g", "c#2"}, g1T0); !reflect.DeepEqual(a.Changes, []Change{{Name: "g", Removed: []string{"c#2"}}}) {
		t.Errorf("%+v", a)
	}
	g.Receive("gp-a", "a", []any{"reg1", "g", "c#3"}, g1T0)
	a = g.NodeDown("a", g1T0)
	if !reflect.DeepEqual(a.Changes, []Change{{Name: "g", Removed: []string{"a#1", "c#3"}}}) {
		t.Errorf("a down: %+v", a.Changes)
	}
	if got := g.Members("g"); !slices.Equal(got, []string{"c#1", "me#1"}) {
		t.Errorf("members %v", got)
	}
	if g.reg.total != 1 || g.reg.count["c"] != 1 || len(g.reg.foreign) != 0 || len(g.reg.count) != 1 {
		t.Errorf("accounting: total %d, count %v, foreign %v", g.reg.total, g.reg.count, g.reg.foreign)
	}
}

func TestGlobal1NodesEntries(t *testing.T) {
	g := newG1("me", Limits{}, 1)
	g.NodeUp("b", false, g1T0)
	spawnFrom(t, g, "b")
	a := g.Receive("gp-b", "b", []any{"nodes", map[string]any{
		"me":    []any{"10.0.0.1:4040"},               // ourselves: skipped silently
		"loop":  []any{"10.0.0.1:4040"},               // our address under another ID
		"mixed": []any{"10.0.0.1:4040", "10.0.0.7:1"}, // ours dropped, the rest dialled
		"b":     []any{"10.0.0.2:1"},                  // up already: no dial
		"noadr": []any{},                              // started, nothing to dial
		"d":     []any{"10.0.0.4:1", "nohost", 17, "10.0.0.4:99999"},
	}}, g1T0)
	wantDial := []Dial{{Node: "d", Addrs: []string{"10.0.0.4:1"}}, {Node: "mixed", Addrs: []string{"10.0.0.7:1"}}}
	if !reflect.DeepEqual(a.Dial, wantDial) {
		t.Errorf("dials %+v", a.Dial)
	}
	var spawned []string
	for _, s := range a.Send {
		if strings.HasSuffix(s.To, "#") {
			spawned = append(spawned, s.To)
		}
	}
	if !slices.Equal(spawned, []string{"d#", "mixed#", "noadr#"}) {
		t.Errorf("spawns %v", spawned)
	}
	if len(a.Warn) != 1 || a.Warn[0].Msg != "Global nodes: 3 addresses not HOST:PORT ignored, 2 addresses of this node ignored" {
		t.Errorf("warn %v", a.Warn)
	}
}

// TestGlobal1Malformed: each malformed message gives one Warning, changes
// nothing, and the port goes on working.
func TestGlobal1Malformed(t *testing.T) {
	long := strings.Repeat("x", 2000)
	for _, args := range [][]any{
		{},
		{nil},
		{"nosuch"},
		{framing.Number("5")},
		{[]any{"addr"}},
		{"addr"},
		{"addr", "10.0.0.2:1"},
		{"addr", map[string]any{}},
		{"addr", []any{[]any{}, nil, map[string]any{}}},
		{"addr", []any{long + ":1"}},
		{"nodes"},
		{"nodes", []any{"x"}},
		{"nodes", map[string]any{"x": "10.0.0.2:1"}},
		{"nodes", map[string]any{"x#y": []any{"10.0.0.2:1"}}},
		{"nodes", map[string]any{long: []any{"10.0.0.2:1"}}},
		{"nodes", map[string]any{"": []any{"10.0.0.2:1"}}},
		{"set"},
		{"set", []any{}},
		{"set", map[string]any{"g": "b#1"}},
		{"set", map[string]any{"g": []any{[]any{"b#1"}}}},
		{"set", map[string]any{"g": []any{"#1"}}},
		{"set", map[string]any{long: []any{"b#1"}}},
		{"set", map[string]any{"g": []any{"b#" + long}}},
		{"reg1", "g"},
		{"reg1", []any{}, "b#1"},
		{"reg1", "g", map[string]any{}},
		{"reg0", "g", nil},
		{"reg0", nil, "b#1"},
		{"find"},
		{"find", []any{}},
	} {
		g := newG1("me", Limits{}, 1)
		g.NodeUp("b", false, g1T0)
		spawnFrom(t, g, "b")
		a := g.Receive("gp-b", "b", args, g1T0)
		if len(a.Warn) != 1 || a.Warn[0].Node != "b" || len(a.Send)+len(a.Dial)+len(a.Changes)+len(a.Kill) != 0 {
			t.Errorf("%.80v: %+v", args, a)
		}
		if g.reg.total != 0 || len(g.port) != 1 || g.NodeAddrs("b") != nil && len(g.NodeAddrs("b")) != 0 {
			t.Errorf("%.80v: state changed", args)
		}
		a = g.Receive("gp-b", "b", []any{"reg1", "g", "b#ok"}, g1T0)
		if len(a.Changes) != 1 || len(a.Warn) != 0 {
			t.Errorf("%.80v: port broken: %+v", args, a)
		}
	}
	// Messages to a port that is not a Global port, or from another node
	// than its spawner, are ignored.
	g := newG1("me", Limits{}, 1)
	spawnFrom(t, g, "b")
	for _, tc := range []struct{ port, src string }{{"nope", "b"}, {"gp-b", "c"}} {
		a := g.Receive(tc.port, tc.src, []any{"reg1", "g", "b#1"}, g1T0)
		if len(a.Warn) != 1 || len(a.Changes) != 0 {
			t.Errorf("%v: %+v", tc, a)
		}
	}
	// Storable-style values: byte strings and numbers are text to Perl.
	a := g.Receive("gp-b", "b", []any{"reg1", []byte("gr\xfcn"), framing.Number("7")}, g1T0)
	if len(a.Warn) != 1 { // "7" is a node port ID of node "7", not b's
		t.Errorf("%+v", a)
	}
	if got := g.Members("grün"); !slices.Equal(got, []string{"7"}) {
		t.Errorf("members %v", got)
	}
}
