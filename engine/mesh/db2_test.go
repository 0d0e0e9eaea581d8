package mesh

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// db2Net is an in-memory network of DB2 instances: it carries out their
// Actions, delivering Sends over links that are up after a round trip
// through a real framing (cbor with Perl-style byte strings, or json).
type db2Net struct {
	t        *testing.T
	now      time.Time
	nodes    map[string]*db2Node
	links    map[[2]string]bool
	queue    []db2Msg
	codec    framing.Codec
	bytes    bool // send strings as byte strings, as Perl's cbor does
	lost     int  // sends over links that were down
	autoDial bool // connect on a Dial to a node's address
}

type db2Node struct {
	id      string
	d       *DB2
	addr    string
	seeds   map[string]bool
	changes []Change
	replies []Reply
	dials   []Dial
	warns   []Warning
	sent    []db2Msg
	monitor []string
}

type db2Msg struct {
	from, to string
	args     []any
}

func newDB2Net(t *testing.T) *db2Net {
	return &db2Net{
		t:     t,
		now:   time.Unix(1_800_000_000, 0),
		nodes: map[string]*db2Node{},
		links: map[[2]string]bool{},
		codec: framing.CBOR,
		bytes: true,
	}
}

// add starts a node; seeds are the node IDs it reaches through seed
// addresses.
func (n *db2Net) add(id string, global bool, seeds ...string) *db2Node {
	n.t.Helper()
	addr := fmt.Sprintf("10.0.0.%d:4040", len(n.nodes)+1)
	return n.addAt(id, addr, global, seeds...)
}

func (n *db2Net) addAt(id, addr string, global bool, seeds ...string) *db2Node {
	nd := &db2Node{id: id, addr: addr, seeds: map[string]bool{}}
	for _, s := range seeds {
		nd.seeds[s] = true
	}
	nd.d = NewDB2(DB2Config{Self: id, Addrs: []string{addr}, Global: global,
		Rand: rand.New(rand.NewPCG(uint64(len(n.nodes)), 7))})
	n.nodes[id] = nd
	return nd
}

func linkKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// connect brings the link a-b up, as the engine reports it to both sides.
func (n *db2Net) connect(a, b string) {
	n.t.Helper()
	if n.links[linkKey(a, b)] {
		return
	}
	n.links[linkKey(a, b)] = true
	na, nb := n.nodes[a], n.nodes[b]
	n.take(na, na.d.NodeUp(b, na.seeds[b], n.now))
	n.take(nb, nb.d.NodeUp(a, nb.seeds[a], n.now))
	n.run()
}

// disconnect takes the link a-b down.
func (n *db2Net) disconnect(a, b string) {
	n.t.Helper()
	if !n.links[linkKey(a, b)] {
		return
	}
	delete(n.links, linkKey(a, b))
	if na := n.nodes[a]; na != nil {
		n.take(na, na.d.NodeDown(b, n.now))
	}
	if nb := n.nodes[b]; nb != nil {
		n.take(nb, nb.d.NodeDown(a, n.now))
	}
	n.run()
}

// stop takes a node off the network (all its links go down).
func (n *db2Net) stop(id string) {
	for k := range n.links {
		if k[0] == id || k[1] == id {
			other := k[0]
			if other == id {
				other = k[1]
			}
			n.disconnect(id, other)
		}
	}
	delete(n.nodes, id)
}

// do carries out the Actions a node's API call returned.
func (n *db2Net) do(id string, a Actions) {
	n.t.Helper()
	n.take(n.nodes[id], a)
	n.run()
}

func (n *db2Net) tick(d time.Duration) {
	n.now = n.now.Add(d)
	for _, id := range db2Sorted(n.nodes) {
		nd := n.nodes[id]
		n.take(nd, nd.d.Tick(n.now))
	}
	n.run()
}

func (n *db2Net) take(nd *db2Node, a Actions) {
	n.t.Helper()
	nd.changes = append(nd.changes, a.Changes...)
	nd.replies = append(nd.replies, a.Replies...)
	nd.dials = append(nd.dials, a.Dial...)
	nd.warns = append(nd.warns, a.Warn...)
	nd.monitor = append(nd.monitor, a.Monitor...)
	for _, s := range a.Send {
		to, port, ok := strings.Cut(s.To, "#")
		if !ok || port != "" {
			n.t.Fatalf("%s sent to %q, not a node port", nd.id, s.To)
		}
		if to == nd.id {
			n.t.Fatalf("%s sent %v to itself", nd.id, s.Args)
		}
		m := db2Msg{from: nd.id, to: to, args: n.wire(s.Args)}
		nd.sent = append(nd.sent, m)
		n.queue = append(n.queue, m)
	}
	for _, dl := range a.Dial {
		if dl.Node == nd.id {
			n.t.Fatalf("%s dialled itself", nd.id)
		}
		for _, ad := range dl.Addrs {
			if ad == nd.addr {
				n.t.Fatalf("%s dialled its own address %s", nd.id, ad)
			}
		}
	}
}

// wire encodes and decodes args as the engine and the peer would.
func (n *db2Net) wire(args []any) []any {
	n.t.Helper()
	if n.bytes {
		args = perlBytes(args).([]any)
	}
	buf, err := n.codec.AppendMessage(nil, "", args)
	if err != nil {
		n.t.Fatalf("encode %v: %v", args, err)
	}
	dec := framing.NewDecoder(n.codec, framing.Limits{})
	m, used, err := dec.Next(buf)
	if err != nil || used != len(buf) {
		n.t.Fatalf("decode %x: %v", buf, err)
	}
	got, err := m.Args()
	if err != nil {
		n.t.Fatal(err)
	}
	return got
}

// perlBytes turns strings into byte strings, as a Perl node's cbor does.
func perlBytes(v any) any {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = perlBytes(e)
		}
		return l
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = []byte(e)
		}
		return l
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = perlBytes(e)
		}
		return m
	}
	return v
}

// run delivers queued messages until none are left.
func (n *db2Net) run() {
	n.t.Helper()
	for steps := 0; len(n.queue) > 0; steps++ {
		if steps > 100_000 {
			n.t.Fatal("messages keep flowing")
		}
		m := n.queue[0]
		n.queue = n.queue[1:]
		to := n.nodes[m.to]
		if to == nil || !n.links[linkKey(m.from, m.to)] {
			n.lost++
			continue
		}
		name, _ := framing.Text(m.args[0])
		n.take(to, to.d.Request(m.from, name, m.args[1:], n.now))
	}
	if n.autoDial {
		for _, id := range db2Sorted(n.nodes) {
			nd := n.nodes[id]
			dials := nd.dials
			nd.dials = nil
			for _, dl := range dials {
				for _, ad := range dl.Addrs {
					for _, other := range n.nodes {
						if other.addr == ad && other.id == dl.Node {
							n.connect(id, other.id)
						}
					}
				}
			}
		}
	}
}

// lastChange returns the last Change a node reported for family.
func (nd *db2Node) lastChange(family string) (Change, bool) {
	for i := len(nd.changes) - 1; i >= 0; i-- {
		if nd.changes[i].Name == family {
			return nd.changes[i], true
		}
	}
	return Change{}, false
}

// watched replays a node's Changes for family into the set of keys a
// watcher would hold.
func (nd *db2Node) watched(family string) []string {
	set := map[string]bool{}
	for _, c := range nd.changes {
		if c.Name != family {
			continue
		}
		for _, k := range c.Added {
			set[k] = true
		}
		for _, k := range c.Removed {
			delete(set, k)
		}
	}
	return db2Sorted(set)
}

// reply returns the Reply to query id.
func (nd *db2Node) reply(t *testing.T, id uint64) Reply {
	t.Helper()
	for _, r := range nd.replies {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("%s: no reply to query %d (replies %v)", nd.id, id, nd.replies)
	return Reply{}
}

func (n *db2Net) queryKeys(t *testing.T, id, family string) []string {
	t.Helper()
	nd := n.nodes[id]
	q, a := nd.d.QueryKeys(family)
	n.do(id, a)
	r := nd.reply(t, q)
	keys, ok := r.Result.([]string)
	if !ok {
		t.Fatalf("%s: keys reply %#v", id, r.Result)
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

func (n *db2Net) noWarnings(t *testing.T) {
	t.Helper()
	for _, id := range db2Sorted(n.nodes) {
		if w := n.nodes[id].warns; len(w) > 0 {
			t.Fatalf("%s: warnings %v", id, w)
		}
	}
}

// fourNodes is a mesh of a seed s (an ordinary node that turns global when
// the others make it their master) and n1..n3, each registering a port
// in family "workers".
func fourNodes(t *testing.T) *db2Net {
	n := newDB2Net(t)
	n.add("s", false)
	for _, id := range []string{"n1", "n2", "n3"} {
		n.add(id, false, "s")
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		n.connect(id, "s")
	}
	for _, id := range []string{"s", "n1", "n2", "n3"} {
		n.do(id, n.nodes[id].d.Reg("workers", id+"#w", nil))
	}
	return n
}

func TestDB2MeshOfFour(t *testing.T) {
	n := fourNodes(t)
	s := n.nodes["s"]
	if !s.d.IsGlobal() || s.d.Master() != "s" {
		t.Fatalf("seed: global %v master %q", s.d.IsGlobal(), s.d.Master())
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if d := n.nodes[id].d; d.IsGlobal() || d.Master() != "s" {
			t.Fatalf("%s: global %v master %q", id, d.IsGlobal(), d.Master())
		}
	}
	want := []string{"n1#w", "n2#w", "n3#w", "s#w"}
	for _, id := range []string{"s", "n1", "n2", "n3"} {
		if got := n.queryKeys(t, id, "workers"); !slices.Equal(got, want) {
			t.Errorf("%s: keys %v, want %v", id, got, want)
		}
		n.do(id, n.nodes[id].d.Watch("workers"))
		if got := n.nodes[id].watched("workers"); !slices.Equal(got, want) {
			t.Errorf("%s: watched %v, want %v", id, got, want)
		}
	}
	// family queries carry values, addresses are in 'l
	q, a := n.nodes["n2"].d.QueryFamily("'l")
	n.do("n2", a)
	fam := n.nodes["n2"].reply(t, q).Result.(map[string]any)
	if len(fam) != 4 || fmt.Sprint(fam["n3"]) != "[10.0.0.4:4040]" {
		t.Errorf("'l = %v", fam)
	}
	q, a = n.nodes["n1"].d.QueryValues("workers")
	n.do("n1", a)
	if v := n.nodes["n1"].reply(t, q).Result.([]any); len(v) != 4 || v[0] != nil {
		t.Errorf("values %v", v)
	}
	// a new registration reaches every watcher as a g_chg2
	n.do("n3", n.nodes["n3"].d.Reg("workers", "n3#x", "busy"))
	for _, id := range []string{"s", "n1", "n2", "n3"} {
		c, _ := n.nodes[id].lastChange("workers")
		if !slices.Equal(c.Added, []string{"n3#x"}) || fmt.Sprint(c.Values["n3#x"]) != "busy" {
			t.Errorf("%s: change %+v", id, c)
		}
	}
	// the port dies: deleted everywhere
	n.do("n3", n.nodes["n3"].d.PortDied("n3#x"))
	for _, id := range []string{"s", "n1", "n2", "n3"} {
		c, _ := n.nodes[id].lastChange("workers")
		if !slices.Equal(c.Removed, []string{"n3#x"}) || len(c.Added) != 0 {
			t.Errorf("%s: change %+v", id, c)
		}
		if got := n.nodes[id].watched("workers"); !slices.Equal(got, want) {
			t.Errorf("%s: watched %v, want %v", id, got, want)
		}
	}
	// Lookup: a global node's view, an ordinary node's watched copy
	if l := n.nodes["n1"].d.Lookup("workers"); len(l) != 4 {
		t.Errorf("n1 lookup %v", l)
	}
	if l := s.d.Lookup("'g"); len(l) != 1 {
		t.Errorf("s 'g %v", l)
	}
	if l := n.nodes["n1"].d.Lookup("'l"); l != nil {
		t.Errorf("n1 knows 'l without watching it: %v", l)
	}
	if n.lost != 0 {
		t.Errorf("%d messages lost", n.lost)
	}
	n.noWarnings(t)
}
