package mesh

import (
	"runtime"
	"strconv"
	"testing"
)

// global1HeapInUse returns the live heap after a full collection.
func global1HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// checkGlobal1Limits fails when g holds more than its limits allow.
func checkGlobal1Limits(t testing.TB, g *Global1) {
	t.Helper()
	lim := g.lim
	total := 0
	for owner, n := range g.reg.count {
		if n > lim.MaxEntriesPerNode {
			t.Errorf("%s holds %d entries, limit %d", owner, n, lim.MaxEntriesPerNode)
		}
		total += n
	}
	if total != g.reg.total || total > lim.MaxEntries {
		t.Errorf("entries: counted %d, total %d, limit %d", total, g.reg.total, lim.MaxEntries)
	}
	held := 0
	for group, ports := range g.reg.groups {
		if len(group) > lim.MaxStringLen || len(ports) == 0 {
			t.Errorf("group %.40q with %d members", group, len(ports))
		}
		for p, owner := range ports {
			if len(p) > lim.MaxStringLen {
				t.Errorf("port ID of %d bytes", len(p))
			}
			if owner != g.self {
				held++
			}
		}
	}
	if held != g.reg.total {
		t.Errorf("%d entries held for peers, total says %d", held, g.reg.total)
	}
	for _, m := range []int{len(g.port), len(g.addr), len(g.spawned), len(g.forwards), len(g.seeds)} {
		if m > lim.MaxNodes {
			t.Errorf("%d nodes kept, limit %d", m, lim.MaxNodes)
		}
	}
	for node, addrs := range g.addr {
		if len(addrs) > lim.MaxAddrs {
			t.Errorf("%s: %d addresses", node, len(addrs))
		}
		for _, a := range addrs {
			if len(a) > lim.MaxStringLen || !validHostPort(a) {
				t.Errorf("%s: address %.40q", node, a)
			}
		}
	}
}

// TestGlobal1SetFlood: peers sending a million entries each in set end up
// holding their limits, and the state machine keeps only that much memory.
func TestGlobal1SetFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds million-entry messages")
	}
	lim := Limits{MaxEntriesPerNode: 10_000, MaxEntries: 25_000, MaxNodes: 1000}
	g := newG1("me", lim, 1)
	before := global1HeapInUse()
	const million = 1_000_000
	for i, src := range []string{"a", "b", "c"} {
		g.NodeUp(src, false, g1T0)
		port := spawnFrom(t, g, src)
		var set map[string]any
		switch i {
		case 0: // one group of a million ports
			ports := make([]any, million)
			for j := range ports {
				ports[j] = src + "#" + strconv.Itoa(j)
			}
			set = map[string]any{"big": ports}
		case 1: // a million groups of one port
			set = make(map[string]any, million)
			for j := range million {
				set["g"+strconv.Itoa(j)] = []any{src + "#1"}
			}
		case 2: // a million ports of other nodes
			ports := make([]any, million)
			for j := range ports {
				ports[j] = "n" + strconv.Itoa(j) + "#1"
			}
			set = map[string]any{"big": ports}
		}
		a := g.Receive(port, src, []any{"set", set}, g1T0)
		if len(a.Warn) != 1 {
			t.Errorf("%s: %d warnings", src, len(a.Warn))
		}
		added := 0
		for _, c := range a.Changes {
			added += len(c.Added)
		}
		want := []int{10_000, 10_000, 5_000}[i] // the third hits MaxEntries
		if added != want || g.reg.count[src] != want {
			t.Errorf("%s: %d added, %d held, want %d", src, added, g.reg.count[src], want)
		}
		checkGlobal1Limits(t, g)
	}
	// More from a sender at its limit adds nothing.
	a := g.Receive("gp-a", "a", []any{"reg1", "x", "a#x"}, g1T0)
	if len(a.Changes) != 0 || len(a.Warn) != 1 {
		t.Errorf("reg1 over the limit: %+v", a)
	}
	grown := global1HeapInUse() - before
	t.Logf("heap grew by %d bytes for %d entries (%d B/entry)", grown, g.reg.total, grown/uint64(g.reg.total))
	if grown > 25_000*600 {
		t.Errorf("heap grew by %d bytes for %d entries", grown, g.reg.total)
	}
	// The entries go with their senders.
	for _, src := range []string{"a", "b", "c"} {
		g.NodeDown(src, g1T0)
	}
	if g.reg.total != 0 || len(g.reg.groups) != 0 || len(g.reg.byNode) != 0 || len(g.reg.foreign) != 0 || len(g.reg.count) != 0 {
		t.Errorf("left behind: total %d, %d groups, %d byNode, %d foreign", g.reg.total, len(g.reg.groups), len(g.reg.byNode), len(g.reg.foreign))
	}
}

// TestGlobal1NodesFlood: a nodes message with a million nodes makes at
// most MaxNodes dials and Global ports; addr with a million addresses
// keeps MaxAddrs.
func TestGlobal1NodesFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds million-entry messages")
	}
	lim := Limits{MaxNodes: 1000, MaxAddrs: 4}
	g := newG1("me", lim, 1)
	g.NodeUp("a", false, g1T0)
	port := spawnFrom(t, g, "a")
	before := global1HeapInUse()
	const million = 1_000_000
	for round := range 2 {
		nodes := make(map[string]any, million)
		for j := range million {
			nodes["r"+strconv.Itoa(round)+"n"+strconv.Itoa(j)] = []any{"10.1.0.1:" + strconv.Itoa(1+j%60000), "10.1.0.2:1", "10.1.0.3:1", "10.1.0.4:1", "10.1.0.5:1"}
		}
		a := g.Receive(port, "a", []any{"nodes", nodes}, g1T0)
		if len(a.Warn) != 1 {
			t.Errorf("round %d: %d warnings", round, len(a.Warn))
		}
		want := 0
		if round == 0 {
			want = lim.MaxNodes - 1 // a has a port already
		}
		if len(a.Dial) != want || len(a.Monitor) != want || len(a.Send) > 5*want {
			t.Errorf("round %d: %d dials, %d monitors, %d sends; want %d", round, len(a.Dial), len(a.Monitor), len(a.Send), want)
		}
		for _, d := range a.Dial {
			if len(d.Addrs) != lim.MaxAddrs {
				t.Fatalf("dial %+v", d)
			}
		}
		checkGlobal1Limits(t, g)
	}
	addrs := make([]any, million)
	for j := range addrs {
		addrs[j] = "10.2.0.1:" + strconv.Itoa(1+j%60000)
	}
	a := g.Receive(port, "a", []any{"addr", addrs}, g1T0)
	if len(a.Warn) != 1 || len(g.NodeAddrs("a")) != lim.MaxAddrs {
		t.Errorf("addr flood: %v, kept %d", a.Warn, len(g.NodeAddrs("a")))
	}
	checkGlobal1Limits(t, g)
	grown := global1HeapInUse() - before
	t.Logf("heap grew by %d bytes for %d nodes", grown, len(g.port))
	if grown > 1000*2000 {
		t.Errorf("heap grew by %d bytes for %d nodes", grown, len(g.port))
	}
	// When the engine gives up on them, their ports are forgotten.
	for node, id := range g.port {
		if node != "a" {
			g.PortDied(id, []any{"transport_error", node, "unable to connect"}, g1T0)
		}
	}
	if len(g.port) != 1 {
		t.Errorf("%d ports left", len(g.port))
	}
}
