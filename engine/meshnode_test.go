package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitGroup polls n's view of group name until it equals want (sorted).
func waitGroup(t *testing.T, n *testNode, name string, want []string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var err error
		got, err = n.Group(ctx, name)
		cancel()
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: group %s is %v (err %v), want %v after %v; mesh %+v\nlog:\n%s", n.ID(), name, got, err, want, d, n.Mesh(), tail(n.log.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// meshNodes starts k nodes of one generation: m0 the seed, the others
// seeded on it. Each registers its echo port in group "svc" and in a
// group of its own.
func meshNodes(t *testing.T, gen, k int, prefix string) []*testNode {
	t.Helper()
	cfg := Config{Generation: gen, MonitorTimeout: 4 * time.Second}
	nodes := []*testNode{startNode(t, prefix+"0", cfg)}
	cfg.Seeds = []string{nodes[0].Addrs()[0]}
	for i := 1; i < k; i++ {
		nodes = append(nodes, startNode(t, fmt.Sprintf("%s%d", prefix, i), cfg))
	}
	for _, n := range nodes {
		registerInGroups(t, n)
	}
	return nodes
}

func registerInGroups(t *testing.T, n *testNode) {
	t.Helper()
	for _, g := range []string{"svc", "own-" + n.ID()} {
		_, err := n.RegisterGroup(g, n.ID()+"#echo")
		mustf(t, err, "%s: register %s", n.ID(), g)
	}
}

// testMesh: every node finds every other node's registrations and sends
// to them; a node that goes down leaves the groups of the others within
// the monitor timeout; restarted, it is found again.
func testMesh(t *testing.T, gen int, prefix string) {
	nodes := meshNodes(t, gen, 4, prefix)
	var all []string
	for _, n := range nodes {
		all = append(all, n.ID()+"#echo")
	}
	slices.Sort(all)
	for _, n := range nodes {
		waitGroup(t, n, "svc", all, 15*time.Second)
		for _, o := range nodes {
			waitGroup(t, n, "own-"+o.ID(), []string{o.ID() + "#echo"}, 5*time.Second)
		}
	}
	// Every node reaches every member through the group.
	for _, n := range nodes {
		back, backID := newCollector(t, n.Node, "back")
		members, err := n.Group(context.Background(), "svc")
		mustf(t, err, "group")
		for _, m := range members {
			mustf(t, n.Send(m, backID, "hi", m), "send to %s", m)
		}
		seen := map[string]bool{}
		for range members {
			got := back.next(t, 10*time.Second)
			seen[fmt.Sprint(got[1])] = true
		}
		if len(seen) != len(members) {
			t.Fatalf("%s: answers from %v of %v", n.ID(), seen, members)
		}
	}
	// A node goes down: it leaves every view.
	gone := nodes[2]
	addr := gone.Addrs()[0]
	closeNode(gone.Node)
	left := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return strings.HasPrefix(s, gone.ID()+"#") })
	for _, n := range []*testNode{nodes[0], nodes[1], nodes[3]} {
		waitGroup(t, n, "svc", left, 4*time.Second+2*time.Second)
	}
	// Restarted at the same address, it is found again.
	back := startNode(t, gone.ID(), Config{Generation: gen, MonitorTimeout: 4 * time.Second,
		Binds: []string{addr}, Seeds: []string{nodes[0].Addrs()[0]}})
	registerInGroups(t, back)
	for _, n := range []*testNode{nodes[0], nodes[1], nodes[3], back} {
		waitGroup(t, n, "svc", all, 15*time.Second)
	}
}

func TestMeshGen1(t *testing.T) { testMesh(t, 1, "g1n") }
func TestMeshGen2(t *testing.T) { testMesh(t, 2, "g2n") }

// WatchGroup reports the current members, then changes, merged from both
// generations; the registration ends with the port.
func TestWatchGroup(t *testing.T) {
	a := startNode(t, "wa", Config{})
	b := startNode(t, "wb", Config{Seeds: []string{a.Addrs()[0]}})
	changes := make(chan GroupChange, 16)
	cancel := a.WatchGroup("w", func(c GroupChange) { changes <- c })
	defer cancel()
	next := func() GroupChange {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no group change")
		}
		return GroupChange{}
	}
	port := b.NewPort(func(*Message) {})
	_, err := b.RegisterGroup("w", port)
	mustf(t, err, "register")
	if c := next(); !slices.Equal(c.Members, []string{port}) || !slices.Equal(c.Added, []string{port}) {
		t.Fatalf("after register: %+v", c)
	}
	b.Kill(port)
	if c := next(); len(c.Members) != 0 || !slices.Equal(c.Removed, []string{port}) {
		t.Fatalf("after the port died: %+v", c)
	}
}
