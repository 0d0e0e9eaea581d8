package mesh

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// g1Mesh starts a seed S and nodes A, B, C, each with a port in group
// "grp" (S and A also in "only"), and connects A, B, C to S through S's
// seed address.
func g1Mesh(t *testing.T) (*g1Net, []*g1Node) {
	n := newG1Net(t)
	var nodes []*g1Node
	for i, id := range []string{"S", "A", "B", "C"} {
		nd := n.add(id, fmt.Sprintf("127.0.0.1:%d", 4040+i), Limits{})
		n.register(nd, "grp", id+"#p")
		nodes = append(nodes, nd)
	}
	n.register(nodes[0], "only", "S#q")
	n.register(nodes[1], "only", "A#q")
	for _, nd := range nodes[1:] {
		n.connect(nd, nodes[0], true)
	}
	n.settle(5 * time.Second)
	return n, nodes
}

func (n *g1Net) register(nd *g1Node, group, port string) {
	a, err := nd.g.Register(group, port)
	if err != nil {
		n.t.Fatal(err)
	}
	n.do(nd, a)
}

// checkMesh checks that every live node is connected to every other and
// sees the group members want.
func checkMesh(t *testing.T, n *g1Net, want map[string][]string) {
	t.Helper()
	var live []string
	for _, id := range sortedKeys(n.nodes) {
		if n.nodes[id].alive {
			live = append(live, id)
		}
	}
	for _, id := range live {
		nd := n.nodes[id]
		for _, other := range live {
			if other != id && !nd.links[other] {
				t.Errorf("%s is not connected to %s", id, other)
			}
		}
		for group, ports := range want {
			if got := nd.g.Members(group); !slices.Equal(got, ports) {
				t.Errorf("%s: Members(%q) = %v, want %v", id, group, got, ports)
			}
		}
		var groups []string
		for group, ports := range want {
			if len(ports) > 0 {
				groups = append(groups, group)
			}
		}
		slices.Sort(groups)
		if got := nd.g.Groups(); !slices.Equal(got, groups) {
			t.Errorf("%s: Groups() = %v, want %v", id, got, groups)
		}
		if len(nd.warns) > 0 {
			t.Errorf("%s: warnings %v", id, nd.warns)
		}
	}
}

func TestGlobal1MeshFindsGroups(t *testing.T) {
	n, nodes := g1Mesh(t)
	checkMesh(t, n, map[string][]string{
		"grp":  {"A#p", "B#p", "C#p", "S#p"},
		"only": {"A#q", "S#q"},
	})
	for _, nd := range nodes[1:] {
		if m := nd.g.Master(); m != "S" {
			t.Errorf("%s: master %q, want S", nd.id, m)
		}
		if !nd.g.isSeed("S") {
			t.Errorf("%s: S is not a seed", nd.id)
		}
	}
	// S has no seed: its master is the first node that came up, A, and
	// stays while A is up.
	if m := nodes[0].g.Master(); m != "A" {
		t.Errorf("S: master %q, want A", m)
	}
	// Everybody knows everybody's addresses.
	for _, nd := range nodes {
		for i, other := range nodes {
			if other == nd {
				continue
			}
			want := []string{fmt.Sprintf("127.0.0.1:%d", 4040+i)}
			if got := nd.g.NodeAddrs(other.id); !slices.Equal(got, want) {
				t.Errorf("%s: NodeAddrs(%s) = %v, want %v", nd.id, other.id, got, want)
			}
		}
	}
	// The group changes A saw add up to the members.
	members := map[string]bool{}
	for _, c := range nodes[1].changes {
		if c.Name != "grp" {
			continue
		}
		for _, p := range c.Added {
			members[p] = true
		}
		for _, p := range c.Removed {
			delete(members, p)
		}
	}
	if got := sortedKeys(members); !slices.Equal(got, []string{"A#p", "B#p", "C#p", "S#p"}) {
		t.Errorf("A's changes of grp give %v", got)
	}
}

func TestGlobal1NodeDownRemovesGroups(t *testing.T) {
	n, nodes := g1Mesh(t)
	c := nodes[3]
	n.stop(c)
	n.settle(5 * time.Second)
	checkMesh(t, n, map[string][]string{
		"grp":  {"A#p", "B#p", "S#p"},
		"only": {"A#q", "S#q"},
	})
	for _, nd := range nodes[:3] {
		if got := nd.g.NodeAddrs("C"); got != nil {
			t.Errorf("%s still has C's addresses %v", nd.id, got)
		}
		if _, ok := nd.g.port["C"]; ok {
			t.Errorf("%s still has a Global port on C", nd.id)
		}
	}
	if m := nodes[0].g.Master(); m != "A" {
		t.Errorf("S: master %q, want A", m)
	}
	// S loses its master A: it picks the greatest remaining node.
	n.stop(nodes[1])
	n.settle(time.Second)
	checkMesh(t, n, map[string][]string{"grp": {"B#p", "S#p"}, "only": {"S#q"}})
	if m := nodes[0].g.Master(); m != "B" {
		t.Errorf("S: master %q, want B", m)
	}
}

func TestGlobal1RestartedNodeFoundAgain(t *testing.T) {
	n, nodes := g1Mesh(t)
	c := n.restart(nodes[3], "127.0.0.1:4043")
	n.register(c, "grp", "C#p2")
	n.settle(time.Second)
	for _, nd := range nodes[:3] {
		if got := nd.g.Members("grp"); !slices.Equal(got, []string{"A#p", "B#p", "S#p"}) {
			t.Errorf("%s: grp %v while C is down", nd.id, got)
		}
	}
	n.connect(c, nodes[0], true)
	n.settle(5 * time.Second)
	checkMesh(t, n, map[string][]string{
		"grp":  {"A#p", "B#p", "C#p2", "S#p"},
		"only": {"A#q", "S#q"},
	})
	// Restarted at another address, reached through a non-seed: the
	// others learn the new address through the seed.
	c = n.restart(c, "127.0.0.1:5000")
	n.register(c, "grp", "C#p3")
	n.connect(c, nodes[2], false)
	n.settle(5 * time.Second)
	checkMesh(t, n, map[string][]string{
		"grp":  {"A#p", "B#p", "C#p3", "S#p"},
		"only": {"A#q", "S#q"},
	})
}

// TestGlobal1UnreachableNodes: nodes announced with addresses nobody
// listens on get a spawn queued; when the engine gives up, the port is
// forgotten and nothing is left behind.
func TestGlobal1UnreachableNodes(t *testing.T) {
	n, nodes := g1Mesh(t)
	s := nodes[0]
	// S's Global port on A tells A about a node that does not exist.
	a := nodes[1]
	port := a.g.spawnedBy["S"]
	n.do(a, a.g.Receive(port, "S", []any{"nodes", map[string]any{"ghost": []any{"10.9.9.9:1"}}}, n.now))
	if len(a.warns) > 0 {
		t.Fatal(a.warns)
	}
	if got := a.dials[len(a.dials)-1]; got.Node != "ghost" || !slices.Equal(got.Addrs, []string{"10.9.9.9:1"}) {
		t.Fatalf("dial %v", got)
	}
	if _, ok := a.g.port["ghost"]; !ok || len(a.queue["ghost"]) == 0 {
		t.Fatal("no spawn queued for ghost")
	}
	n.giveUp(a)
	if _, ok := a.g.port["ghost"]; ok {
		t.Error("port on ghost not forgotten")
	}
	_ = s
}

// TestGlobal1RegisterAfterMesh: registrations after the mesh formed are
// announced with reg1/reg0, and a dead local port's Unregister reaches
// every node.
func TestGlobal1RegisterAfterMesh(t *testing.T) {
	n, nodes := g1Mesh(t)
	b := nodes[2]
	n.register(b, "late", "B#x")
	n.register(b, "late", "B#y")
	n.run()
	checkMesh(t, n, map[string][]string{
		"grp":  {"A#p", "B#p", "C#p", "S#p"},
		"only": {"A#q", "S#q"},
		"late": {"B#x", "B#y"},
	})
	n.do(b, b.g.Unregister("late", "B#x"))
	n.run()
	checkMesh(t, n, map[string][]string{
		"grp":  {"A#p", "B#p", "C#p", "S#p"},
		"only": {"A#q", "S#q"},
		"late": {"B#y"},
	})
}
