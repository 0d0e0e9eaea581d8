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

// g1Net is an in-memory network of Global1 nodes for tests. It plays the
// engine: it delivers Sends over "connections" in order (through the json
// framing, so the values are what a peer decodes), queues Sends to nodes
// that are not connected, creates the ports a spawn asks for, carries out
// mon1/kil0 for Monitor and Kill, and reports node up/down.
type g1Net struct {
	t     *testing.T
	now   time.Time
	nodes map[string]*g1Node
	at    map[string]string // listen address -> node
	wire  []g1Msg           // in flight, in order
	trace []g1Msg           // everything put on the wire, if tracing
	tr    bool
}

// g1Node is one node of a g1Net.
type g1Node struct {
	id      string
	g       *Global1
	alive   bool
	links   map[string]bool     // connected nodes
	queue   map[string][]g1Msg  // node -> messages waiting for a connection
	ports   map[string]bool     // local Global ports (spawned by peers)
	rmon    map[string][]string // local port -> nodes monitoring it
	mons    map[string]bool     // port IDs on other nodes we monitor
	dials   []Dial
	changes []Change
	warns   []Warning
	kills   []Kill
	seq     int
}

// g1Msg is a message from one node to a port on another.
type g1Msg struct {
	from, to, port string
	frame          []byte
}

func newG1Net(t *testing.T) *g1Net {
	return &g1Net{t: t, now: time.Unix(1_700_000_000, 0), nodes: map[string]*g1Node{}, at: map[string]string{}}
}

// add starts a node listening on addr ("" for none).
func (n *g1Net) add(id, addr string, lim Limits) *g1Node {
	var addrs []string
	if addr != "" {
		addrs = []string{addr}
		n.at[addr] = id
	}
	nd := &g1Node{id: id, alive: true}
	nd.reset()
	nd.g = NewGlobal1(Global1Config{
		Self:     id,
		Addrs:    addrs,
		PortName: func() string { nd.seq++; return fmt.Sprintf("%s.g%d", id, nd.seq) },
		Limits:   lim,
		Rand:     rand.New(rand.NewPCG(uint64(len(n.nodes)+1), 7)),
	})
	n.nodes[id] = nd
	return nd
}

func (nd *g1Node) reset() {
	nd.links = map[string]bool{}
	nd.queue = map[string][]g1Msg{}
	nd.ports = map[string]bool{}
	nd.rmon = map[string][]string{}
	nd.mons = map[string]bool{}
}

// do carries out a node's actions.
func (n *g1Net) do(nd *g1Node, a Actions) {
	for _, s := range a.Send {
		node, port, _ := strings.Cut(s.To, "#")
		n.send(nd, node, port, s.Args)
	}
	// After the Sends: mon1 must follow the spawn it refers to.
	for _, id := range a.Monitor {
		node, port, _ := strings.Cut(id, "#")
		nd.mons[id] = true
		n.send(nd, node, "", []any{"mon1", port})
	}
	for _, k := range a.Kill {
		n.kill(nd, k.Port, k.Reason)
	}
	nd.dials = append(nd.dials, a.Dial...)
	nd.changes = append(nd.changes, a.Changes...)
	nd.warns = append(nd.warns, a.Warn...)
	for _, d := range a.Dial {
		for _, addr := range d.Addrs {
			if to, ok := n.at[addr]; ok && n.nodes[to].alive && to != nd.id && !nd.links[to] {
				n.connect(nd, n.nodes[to], false)
				break
			}
		}
	}
}

func (n *g1Net) send(from *g1Node, to, port string, args []any) {
	frame, err := framing.JSON.AppendMessage(nil, port, args)
	if err != nil {
		n.t.Fatalf("%s: cannot encode %v: %v", from.id, args, err)
	}
	m := g1Msg{from: from.id, to: to, port: port, frame: frame}
	if from.links[to] {
		n.wire = append(n.wire, m)
		if n.tr {
			n.trace = append(n.trace, m)
		}
		return
	}
	from.queue[to] = append(from.queue[to], m)
}

// kill kills a local port: monitors get kil0 with the reason.
func (n *g1Net) kill(nd *g1Node, port string, reason []any) {
	if !nd.ports[port] {
		return
	}
	delete(nd.ports, port)
	for _, m := range nd.rmon[port] {
		n.send(nd, m, "", append([]any{"kil0", port}, reason...))
	}
	delete(nd.rmon, port)
	nd.kills = append(nd.kills, Kill{Port: port, Reason: reason})
}

// connect brings up a connection; seed: a reached b through a seed
// address. Queued messages go first, then what NodeUp sends.
func (n *g1Net) connect(a, b *g1Node, seed bool) {
	if a.links[b.id] || !a.alive || !b.alive || a == b {
		return
	}
	a.links[b.id], b.links[a.id] = true, true
	for _, x := range []*g1Node{a, b} {
		other := b
		if x == b {
			other = a
		}
		for _, m := range x.queue[other.id] {
			n.wire = append(n.wire, m)
		}
		delete(x.queue, other.id)
	}
	n.do(a, a.g.NodeUp(b.id, seed, n.now))
	n.do(b, b.g.NodeUp(a.id, false, n.now))
}

// disconnect takes a connection down: monitors of the other side's ports
// fire with a transport error, then node down (Perl's order).
func (n *g1Net) disconnect(a, b *g1Node) {
	if !a.links[b.id] {
		return
	}
	delete(a.links, b.id)
	delete(b.links, a.id)
	// Drop what is in flight between them.
	n.wire = slices.DeleteFunc(n.wire, func(m g1Msg) bool {
		return m.from == a.id && m.to == b.id || m.from == b.id && m.to == a.id
	})
	for _, x := range []*g1Node{a, b} {
		other := b
		if x == b {
			other = a
		}
		for p, ms := range x.rmon {
			x.rmon[p] = slices.DeleteFunc(ms, func(s string) bool { return s == other.id })
		}
		for _, id := range sortedKeys(x.mons) {
			if nodeOf(id) == other.id {
				delete(x.mons, id)
				n.do(x, x.g.PortDied(id, []any{"transport_error", other.id, "Unexpected end-of-file"}, n.now))
			}
		}
		n.do(x, x.g.NodeDown(other.id, n.now))
	}
}

// stop takes a node off the network.
func (n *g1Net) stop(nd *g1Node) {
	for _, id := range sortedKeys(nd.links) {
		n.disconnect(nd, n.nodes[id])
	}
	nd.alive = false
}

// giveUp drops the messages nd queued for nodes it never connected to and
// fires its monitors for them, as the engine does after monitor_timeout.
func (n *g1Net) giveUp(nd *g1Node) {
	for _, to := range sortedKeys(nd.queue) {
		delete(nd.queue, to)
		for _, id := range sortedKeys(nd.mons) {
			if nodeOf(id) == to {
				delete(nd.mons, id)
				n.do(nd, nd.g.PortDied(id, []any{"transport_error", to, "unable to connect"}, n.now))
			}
		}
	}
}

// deliver hands one message to its destination node.
func (n *g1Net) deliver(m g1Msg) {
	nd := n.nodes[m.to]
	dec := framing.NewDecoder(framing.JSON, framing.Limits{})
	fm, _, err := dec.Next(m.frame)
	if err != nil {
		n.t.Fatalf("undecodable frame %q: %v", m.frame, err)
	}
	args, err := fm.Args()
	if err != nil {
		n.t.Fatal(err)
	}
	if m.port != "" {
		if nd.ports[m.port] {
			n.do(nd, nd.g.Receive(m.port, m.from, args, n.now))
		}
		return
	}
	tag, _ := argAt(args, 0).(string)
	switch tag {
	case global1SpawnRequest:
		name, _ := argAt(args, 1).(string)
		if fn, _ := argAt(args, 2).(string); fn != global1InitFunc {
			n.t.Fatalf("spawn of %q", fn)
		}
		nd.ports[name] = true
		a, err := nd.g.Spawned(m.from, name, args[3:], n.now)
		n.do(nd, a)
		if err != nil {
			n.kill(nd, name, []any{"die", err.Error()})
		}
	case "mon1":
		port, _ := argAt(args, 1).(string)
		if !nd.ports[port] {
			n.send(nd, m.from, "", []any{"kil0", port, "no_such_port", "cannot monitor nonexistent port", nd.id + "#" + port})
			return
		}
		nd.rmon[port] = append(nd.rmon[port], m.from)
	case "kil0":
		port, _ := argAt(args, 1).(string)
		id := m.from + "#" + port
		if nd.mons[id] {
			delete(nd.mons, id)
			n.do(nd, nd.g.PortDied(id, args[2:], n.now))
		}
	default:
		n.t.Fatalf("unexpected node-port message %v", args)
	}
}

// run delivers messages until none are in flight.
func (n *g1Net) run() {
	for i := 0; len(n.wire) > 0; i++ {
		if i > 1_000_000 {
			n.t.Fatal("network does not settle")
		}
		m := n.wire[0]
		n.wire = n.wire[1:]
		if n.nodes[m.from].links[m.to] {
			n.deliver(m)
		}
	}
}

// settle runs the network for d of simulated time, ticking every 100 ms.
func (n *g1Net) settle(d time.Duration) {
	n.run()
	for end := n.now.Add(d); n.now.Before(end); {
		n.now = n.now.Add(100 * time.Millisecond)
		for _, id := range sortedKeys(n.nodes) {
			if nd := n.nodes[id]; nd.alive {
				n.do(nd, nd.g.Tick(n.now))
			}
		}
		n.run()
	}
}

// restart replaces a stopped node by a fresh one with the same ID.
func (n *g1Net) restart(nd *g1Node, addr string) *g1Node {
	n.stop(nd)
	delete(n.nodes, nd.id)
	return n.add(nd.id, addr, nd.g.lim)
}
