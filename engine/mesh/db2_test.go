package mesh

import (
	"encoding/json"
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

// db2Check verifies a DB2's bookkeeping: shard counts and budgets, the
// merged view against the shards, and the limits.
func db2Check(t testing.TB, d *DB2) {
	t.Helper()
	entries, bytes := 0, 0
	want := map[string]map[string][]string{} // family -> key -> holders
	for node, sh := range d.shards {
		n, b := 0, 0
		for f, kv := range sh.fams {
			if len(kv) == 0 {
				t.Fatalf("%s: empty family %q kept", node, f)
			}
			for k, v := range kv {
				n++
				b += len(k) + db2LocalSize(v) + db2EntryOverhead
				if want[f] == nil {
					want[f] = map[string][]string{}
				}
				want[f][k] = append(want[f][k], node)
			}
		}
		if n != sh.n || b != sh.bytes {
			t.Fatalf("%s: shard counts %d/%d, recounted %d/%d", node, sh.n, sh.bytes, n, b)
		}
		if node != d.self {
			if n > d.lim.MaxEntriesPerNode || b > d.nodeB {
				t.Fatalf("%s: %d entries, %d bytes: over the limits", node, n, b)
			}
			entries += n
			bytes += b
		}
	}
	if entries != d.entries || bytes != d.bytes {
		t.Fatalf("totals %d/%d, recounted %d/%d", d.entries, d.bytes, entries, bytes)
	}
	if entries > d.lim.MaxEntries || bytes > d.maxBytes || len(d.shards) > d.lim.MaxNodes+1 {
		t.Fatalf("%d entries, %d bytes, %d shards: over the limits", entries, bytes, len(d.shards))
	}
	if len(want) != len(d.fams) {
		t.Fatalf("%d families in the view, %d in the shards", len(d.fams), len(want))
	}
	for f, keys := range want {
		fam := d.fams[f]
		if fam == nil || len(fam.merged) != len(keys) || len(fam.holders) != len(keys) {
			t.Fatalf("family %q: view %v, shards %v", f, fam, keys)
		}
		for k, hs := range keys {
			got := fam.holders[k]
			l := got.list()
			slices.Sort(l)
			slices.Sort(hs)
			if !slices.Equal(l, hs) {
				t.Fatalf("%q/%q: holders %v, shards %v", f, k, l, hs)
			}
			if _, ok := fam.merged[k]; !ok {
				t.Fatalf("%q/%q: not in the view", f, k)
			}
		}
	}
	n, b := 0, 0
	for _, w := range d.watches {
		if len(w.db) != len(w.bytes) {
			t.Fatal("watch sizes out of step")
		}
		n += len(w.db)
		for _, s := range w.bytes {
			b += s
		}
	}
	if n != d.watchN || b != d.watchB || n > d.lim.MaxEntries {
		t.Fatalf("watch totals %d/%d, recounted %d/%d", d.watchN, d.watchB, n, b)
	}
	for f, ws := range d.gmon {
		if len(ws) == 0 {
			t.Fatalf("empty watcher set for %q", f)
		}
		for w := range ws {
			if !d.slaves[w][f] && !d.exWatch[w][f] {
				t.Fatalf("%s watches %q unrecorded", w, f)
			}
		}
	}
	if len(d.keep) > db2MaxKeepalive || len(d.finds) > d.lim.MaxNodes || len(d.found) > d.lim.MaxNodes {
		t.Fatalf("keep %d, finds %d, found %d", len(d.keep), len(d.finds), len(d.found))
	}
}

func TestDB2NodeDownAndRestart(t *testing.T) {
	n := fourNodes(t)
	for _, id := range []string{"s", "n1", "n3"} {
		n.do(id, n.nodes[id].d.Watch("workers"))
		n.do(id, n.nodes[id].d.Watch("'l"))
	}
	n.stop("n2")
	for _, id := range []string{"s", "n1", "n3"} {
		nd := n.nodes[id]
		if got := nd.watched("workers"); !slices.Equal(got, []string{"n1#w", "n3#w", "s#w"}) {
			t.Errorf("%s: workers %v", id, got)
		}
		if got := nd.watched("'l"); !slices.Equal(got, []string{"n1", "n3", "s"}) {
			t.Errorf("%s: 'l %v", id, got)
		}
		if c, _ := nd.lastChange("workers"); !slices.Equal(c.Removed, []string{"n2#w"}) {
			t.Errorf("%s: last change %+v", id, c)
		}
	}
	// the watchers were told by g_chg2 with the deleted key
	var chg2 []string
	for _, m := range n.nodes["s"].sent {
		if name, _ := framing.Text(m.args[0]); name == "g_chg2" {
			b, _ := json.Marshal(db2Plain(m.args))
			chg2 = append(chg2, m.to+" "+string(b))
		}
	}
	for _, w := range []string{`n1 ["g_chg2","workers",{},["n2#w"]]`, `n3 ["g_chg2","'l",{},["n2"]]`} {
		if !slices.Contains(chg2, w) {
			t.Errorf("no %s in %v", w, chg2)
		}
	}
	db2Check(t, n.nodes["s"].d)
	if got := n.queryKeys(t, "n3", "workers"); !slices.Equal(got, []string{"n1#w", "n3#w", "s#w"}) {
		t.Errorf("keys after n2 went down: %v", got)
	}
	// n2 is unknown now: g_found with null becomes a Dial without addresses
	n1 := n.nodes["n1"]
	n.do("n1", n1.d.Find("n2", n.now))
	if len(n1.dials) != 1 || n1.dials[0].Node != "n2" || n1.dials[0].Addrs != nil {
		t.Fatalf("dials %+v", n1.dials)
	}
	n1.dials = nil
	// restarted at another address, it is found there
	n.addAt("n2", "10.0.0.99:4040", false, "s")
	n.connect("n2", "s")
	n.do("n2", n.nodes["n2"].d.Reg("workers", "n2#new", nil))
	n.do("n1", n1.d.Find("n2", n.now))
	if len(n1.dials) != 1 || !slices.Equal(n1.dials[0].Addrs, []string{"10.0.0.99:4040"}) {
		t.Fatalf("dials %+v", n1.dials)
	}
	if got := n1.d.NodeAddrs("n2"); !slices.Equal(got, []string{"10.0.0.99:4040"}) {
		t.Errorf("NodeAddrs %v", got)
	}
	if got := n1.watched("workers"); !slices.Equal(got, []string{"n1#w", "n2#new", "n3#w", "s#w"}) {
		t.Errorf("n1 workers %v", got)
	}
	// a global node answers Find from its own view
	s := n.nodes["s"]
	n.do("s", s.d.Find("n2", n.now))
	if d := s.dials[len(s.dials)-1]; d.Node != "n2" || !slices.Equal(d.Addrs, []string{"10.0.0.99:4040"}) {
		t.Errorf("global find %+v", d)
	}
	n.noWarnings(t)
}

func TestDB2TwoGlobalsMerge(t *testing.T) {
	n := newDB2Net(t)
	n.add("A", true)
	n.add("B", true)
	n.add("a1", false, "A")
	n.add("b1", false, "B")
	n.connect("a1", "A")
	n.connect("b1", "B")
	n.do("a1", n.nodes["a1"].d.Reg("workers", "a1#w", nil))
	n.do("b1", n.nodes["b1"].d.Reg("workers", "b1#w", "x"))
	n.do("A", n.nodes["A"].d.Set("conf", "k", "A's"))
	n.do("a1", n.nodes["a1"].d.Watch("workers"))
	if got := n.queryKeys(t, "a1", "workers"); !slices.Equal(got, []string{"a1#w"}) {
		t.Fatalf("before the merge: %v", got)
	}
	n.connect("A", "B")
	for _, id := range []string{"A", "B", "a1", "b1"} {
		if got := n.queryKeys(t, id, "workers"); !slices.Equal(got, []string{"a1#w", "b1#w"}) {
			t.Errorf("%s: workers %v", id, got)
		}
		if got := n.queryKeys(t, id, "'g"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("%s: 'g %v", id, got)
		}
		if got := n.queryKeys(t, id, "'l"); !slices.Equal(got, []string{"A", "B", "a1", "b1"}) {
			t.Errorf("%s: 'l %v", id, got)
		}
		if got := n.queryKeys(t, id, "conf"); !slices.Equal(got, []string{"k"}) {
			t.Errorf("%s: conf %v", id, got)
		}
	}
	if got := n.nodes["a1"].watched("workers"); !slices.Equal(got, []string{"a1#w", "b1#w"}) {
		t.Errorf("a1 watched %v", got)
	}
	// the exchange: g_global both ways, then g_set with the slaves' entries
	var seen []string
	for _, m := range n.nodes["A"].sent {
		if m.to == "B" {
			name, _ := framing.Text(m.args[0])
			seen = append(seen, name)
		}
	}
	if len(seen) < 2 || seen[0] != "g_global" || !slices.Contains(seen, "g_set") || !slices.Contains(seen, "g_upd") {
		t.Errorf("A -> B: %v", seen)
	}
	// an update of b1 travels b1 -> B -> A (g_upd) -> a1 (g_chg2)
	n.do("b1", n.nodes["b1"].d.Reg("workers", "b1#v", nil))
	if c, _ := n.nodes["a1"].lastChange("workers"); !slices.Equal(c.Added, []string{"b1#v"}) {
		t.Errorf("a1 change %+v", c)
	}
	// a value both sides hold survives when one side deletes it
	n.do("a1", n.nodes["a1"].d.Set("shared", "k", "same"))
	n.do("b1", n.nodes["b1"].d.Set("shared", "k", "same"))
	n.do("b1", n.nodes["b1"].d.Del("shared", "k"))
	for _, id := range []string{"A", "B"} {
		if l := n.nodes[id].d.Lookup("shared"); fmt.Sprint(l) != "map[k:same]" {
			t.Errorf("%s: shared %v", id, l)
		}
	}
	// b1 goes down: its entries vanish on A too
	n.stop("b1")
	if got := n.nodes["a1"].watched("workers"); !slices.Equal(got, []string{"a1#w"}) {
		t.Errorf("a1 watched after b1 went down: %v", got)
	}
	if got := n.queryKeys(t, "a1", "'l"); !slices.Equal(got, []string{"A", "B", "a1"}) {
		t.Errorf("'l after b1 went down: %v", got)
	}
	for _, id := range []string{"A", "B"} {
		db2Check(t, n.nodes[id].d)
	}
	// the globals lose each other: each forgets the other's slaves
	n.disconnect("A", "B")
	if got := n.queryKeys(t, "a1", "conf"); !slices.Equal(got, []string{"k"}) {
		t.Errorf("conf %v", got)
	}
	if got := n.queryKeys(t, "B", "conf"); len(got) != 0 {
		t.Errorf("B still has A's conf: %v", got)
	}
	if n.lost != 0 {
		t.Errorf("%d messages lost", n.lost)
	}
	n.noWarnings(t)
}

func TestDB2PendingRequestsAndFailover(t *testing.T) {
	n := newDB2Net(t)
	n.add("s1", true)
	n.add("s2", false)
	n.add("y", false, "s1")
	x := n.add("x", false, "s1", "s2")
	n.connect("y", "s1")
	n.do("y", n.nodes["y"].d.Reg("workers", "y#w", nil))
	// no master yet: requests wait
	n.do("x", x.d.Find("y", n.now))
	n.do("x", x.d.Watch("workers"))
	q, a := x.d.QueryKeys("workers")
	n.do("x", a)
	if len(x.sent) != 0 || x.d.Master() != "" {
		t.Fatalf("sent %v without a master", x.sent)
	}
	n.connect("x", "s1")
	if x.d.Master() != "s1" {
		t.Fatalf("master %q", x.d.Master())
	}
	var names []string
	for _, m := range x.sent {
		b, _ := json.Marshal(db2Plain(m.args))
		names = append(names, string(b))
	}
	want := []string{`["g_slave"]`, `["g_slave",{"'l":{"x":["10.0.0.4:4040"]}}]`, `["g_find","y"]`,
		`["g_mon1","workers"]`, `["g_db_keys","workers","b"]`, `["g_slave"]`}
	if !slices.Equal(names, want) {
		t.Errorf("sent to the new master:\n %v\nwant\n %v", names, want)
	}
	if r := x.reply(t, q); !slices.Equal(r.Result.([]string), []string{"y#w"}) {
		t.Errorf("reply %+v", r)
	}
	if len(x.dials) != 1 || !slices.Equal(x.dials[0].Addrs, []string{"10.0.0.3:4040"}) {
		t.Errorf("dials %+v", x.dials)
	}
	if got := x.watched("workers"); !slices.Equal(got, []string{"y#w"}) {
		t.Errorf("watched %v", got)
	}
	// the second seed comes up: asked to go global, but s1 stays master
	n.connect("x", "s2")
	if x.d.Master() != "s1" || !n.nodes["s2"].d.IsGlobal() {
		t.Fatalf("master %q, s2 global %v", x.d.Master(), n.nodes["s2"].d.IsGlobal())
	}
	// s1 goes down: s2 takes over and gets everything again; s2 does not
	// know y, so the watched family loses y#w
	x.sent = nil
	n.disconnect("x", "s1")
	if x.d.Master() != "s2" {
		t.Fatalf("master %q after failover", x.d.Master())
	}
	if got := x.watched("workers"); len(got) != 0 {
		t.Errorf("watched after failover %v", got)
	}
	if c, _ := x.lastChange("workers"); !slices.Equal(c.Removed, []string{"y#w"}) {
		t.Errorf("change %+v", c)
	}
	n.do("x", x.d.Set("conf", "k", 1))
	if got := n.queryKeys(t, "x", "conf"); !slices.Equal(got, []string{"k"}) {
		t.Errorf("conf on the new master %v", got)
	}
	// no seed left: requests wait for the next one
	n.disconnect("x", "s2")
	if x.d.Master() != "" {
		t.Fatalf("master %q with no seed up", x.d.Master())
	}
	x.sent = nil
	q, a = x.d.QueryFamily("conf")
	n.do("x", a)
	if len(x.sent) != 0 {
		t.Errorf("sent %v without a master", x.sent)
	}
	n.connect("x", "s2")
	if r := x.reply(t, q); fmt.Sprint(r.Result) != "map[k:1]" {
		t.Errorf("reply %+v", r)
	}
	n.noWarnings(t)
}

// TestDB2Wire checks single messages against Perl's formats.
func TestDB2Wire(t *testing.T) {
	now := time.Unix(1, 0)
	d := NewDB2(DB2Config{Self: "x", Addrs: []string{"127.0.0.1:1"}})
	if s := fmt.Sprint(d.Set("f", "k", "v")); s != "{[] [] [] [] [] [] []}" {
		t.Fatalf("no master, still sent: %s", s)
	}
	a := d.NodeUp("m", true, now)
	if len(a.Send) != 3 || fmt.Sprint(a.Send[1].Args[1]) != "map['l:map[x:[127.0.0.1:1]] f:map[k:v]]" {
		t.Fatalf("master set %+v", a.Send)
	}
	for _, c := range []struct {
		a    Actions
		want string
	}{
		{d.Set("f", "k", "v"), "[]"}, // unchanged value: not re-sent
		{d.Set("f", "k", "w"), "[{m# [g_upd f map[k:w]]}]"},
		{d.Del("f", "k", "nope"), "[{m# [g_upd f <nil> [k]]}]"},
		{d.Del("f", "k"), "[]"},
		{d.Watch("g"), "[{m# [g_mon1 g]}]"},
		{d.Watch("g"), "[]"},
		{d.Unwatch("g"), "[]"},
		{d.Unwatch("g"), "[{m# [g_mon0 g]}]"},
		{d.Find("x", now), "[]"},
		{d.Find("y", now), "[{m# [g_find y]}]"},
		{d.Find("y", now), "[]"}, // pending: not asked twice
		{d.SetAddrs([]string{"127.0.0.1:2"}), "[{m# [g_upd 'l map[x:[127.0.0.1:2]]]}]"},
	} {
		if got := fmt.Sprint(c.a.Send); got != c.want {
			t.Errorf("sent %s, want %s", got, c.want)
		}
	}
	id, a := d.QueryValues("f")
	if got := fmt.Sprint(a.Send); got != "[{m# [g_db_values f b]}]" {
		t.Errorf("query sent %s", got)
	}
	a = d.Request("m", "g_reply", []any{[]byte("b"), []any{"v1", framing.Number("2")}}, now)
	if len(a.Replies) != 1 || a.Replies[0].ID != id || fmt.Sprint(a.Replies[0].Result) != "[v1 2]" {
		t.Errorf("reply %+v", a)
	}
	// a g_found for our own addresses, or an address that is no address
	a = d.Request("m", "g_found", []any{"y", []any{"127.0.0.1:2", "[::1]:5", "nohost", "0.0.0.0:3", "h:0", "h:7"}}, now)
	if len(a.Dial) != 1 || !slices.Equal(a.Dial[0].Addrs, []string{"[::1]:5", "h:7"}) {
		t.Errorf("dial %+v", a.Dial)
	}
	if d.Serves("g_find") || !d.Serves("g_chg2") || d.Serves("g_clr") {
		t.Error("ordinary node serves the wrong requests")
	}
	// Reg of a remote port asks for a monitor; its death deletes the entry
	a = d.Reg("grp", "z#p", nil)
	if !slices.Equal(a.Monitor, []string{"z#p"}) || fmt.Sprint(a.Send) != "[{m# [g_upd grp map[z#p:<nil>]]}]" {
		t.Errorf("reg %+v", a)
	}
	if a = d.Reg("grp", "x#p", nil); len(a.Monitor) != 0 {
		t.Errorf("reg of a local port monitors: %+v", a)
	}
	if a = d.PortDied("z#p"); fmt.Sprint(a.Send) != "[{m# [g_upd grp <nil> [z#p]]}]" {
		t.Errorf("port died %+v", a)
	}
	// g_slave turns us global; requests then go to ourselves
	a = d.Request("o", "g_slave", nil, now)
	if !d.IsGlobal() || d.Master() != "x" || !d.Serves("g_find") {
		t.Fatalf("not global after g_slave")
	}
	if got := fmt.Sprint(a.Send); got != "[{m# [g_global]}]" {
		t.Errorf("turning global sent %s", got)
	}
	id, a = d.QueryFamily("grp")
	if len(a.Replies) != 1 || a.Replies[0].ID != id || fmt.Sprint(a.Replies[0].Result) != "map[x#p:<nil>]" {
		t.Errorf("global query %+v", a)
	}
}

func TestDB2Keepalive(t *testing.T) {
	n := newDB2Net(t)
	for _, id := range []string{"A", "B", "C"} {
		n.add(id, true)
	}
	// B and C learn of each other through A and connect: a full mesh
	n.autoDial = true
	n.connect("A", "B")
	n.connect("A", "C")
	n.autoDial = false
	if !n.links[linkKey("B", "C")] {
		t.Fatal("B and C did not connect")
	}
	for _, id := range []string{"A", "B", "C"} {
		if got := n.queryKeys(t, id, "'g"); !slices.Equal(got, []string{"A", "B", "C"}) {
			t.Fatalf("%s: 'g %v", id, got)
		}
	}
	n.tick(time.Minute)
	for _, id := range []string{"A", "B", "C"} {
		if d := n.nodes[id].dials; len(d) != 0 {
			t.Fatalf("%s dialled %v while all were up", id, d)
		}
	}
	// A loses B, but C still lists B: A dials B at once, then backs off
	n.disconnect("A", "B")
	a := n.nodes["A"]
	if len(a.dials) != 1 || a.dials[0].Node != "B" || !slices.Equal(a.dials[0].Addrs, []string{n.nodes["B"].addr}) {
		t.Fatalf("A dials %+v", a.dials)
	}
	a.dials = nil
	var at []time.Duration
	start := n.now
	for range 600 {
		n.tick(100 * time.Millisecond)
		if len(a.dials) > 0 {
			at = append(at, n.now.Sub(start))
			a.dials = nil
		}
	}
	if len(at) < 4 || len(at) > 8 || at[0] < 600*time.Millisecond || at[0] > 1300*time.Millisecond {
		t.Errorf("redials at %v", at)
	}
	// a failed attempt does not restart the schedule
	n.do("A", a.d.NodeDown("B", n.now))
	if len(a.dials) != 0 {
		t.Errorf("redial after a failed attempt: %v", a.dials)
	}
	n.connect("A", "B")
	n.tick(time.Minute)
	if len(a.dials) != 0 {
		t.Errorf("dials while B is up: %v", a.dials)
	}
	// with only two global nodes left, losing the other forgets it (Perl
	// deletes its 'g entry on disconnect): no redial
	n.stop("C")
	a.dials = nil
	n.disconnect("A", "B")
	n.tick(time.Minute)
	if len(a.dials) != 0 {
		t.Errorf("A dials %v", a.dials)
	}
	n.noWarnings(t)
}
