package engine

import (
	"fmt"

	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aemp-go/aemp/engine/handshake"
)

// Handler receives the messages of a port. Handlers of one port may run
// concurrently for messages from different connections (like
// http.Handler); the messages of one connection, and of one goroutine's
// local Sends, arrive in order. A message from another node is handled on
// the event loop of its connection, a local one on the goroutine that
// called Send: either way the handler must not block. It may call Send,
// Dest.Send, Kill, Monitor, Register, NewPort and Spawn; not Close, Call,
// Group, DBFamily, WaitNode or Dest.Wait, which wait for the event loops.
// A handler that panics kills its port with reason ("die", TEXT), as a
// Perl node does; the node goes on. The Message is valid only until the
// handler returns; Clone keeps it.
type Handler func(m *Message)

// port is a registered local port.
type port struct {
	name    string
	handler Handler
	// monitors holds the nodes that asked (mon1) to hear of this port's
	// death; guarded by portTable.mu.
	monitors map[string]struct{}
}

// portTable maps port names to ports. Ports named by Register (and
// spawned ones) live in an immutable map that Register and Kill replace
// under mu, so that lookups (one per message) are lock-free and
// allocation-free. Ports made by NewPort, which are often short-lived
// (Call's reply ports), live in a plain map under tmu instead: making and
// killing one costs no copy of the named ports, and a lookup reaches
// them only when the name is not a named port.
type portTable struct {
	m atomic.Pointer[map[string]*port]
	// gen changes whenever a port is added or removed, so that a reader
	// may keep the port it looked up last (reader.cachedPort).
	gen     atomic.Uint64
	mu      sync.Mutex
	tmu     sync.RWMutex
	temp    map[string]*port
	counter atomic.Uint64
	prefix  string // for generated names
}

// add inserts p unless its name is taken.
func (t *portTable) add(p *port) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.load()
	if _, ok := old[p.name]; ok {
		return false
	}
	m := make(map[string]*port, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[p.name] = p
	t.m.Store(&m)
	t.gen.Add(1)
	return true
}

// remove deletes the named port and returns it.
func (t *portTable) remove(name string) *port {
	t.tmu.Lock()
	if p, ok := t.temp[name]; ok {
		delete(t.temp, name)
		t.gen.Add(1)
		t.tmu.Unlock()
		return p
	}
	t.tmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.load()[name]
	if !ok {
		return nil
	}
	t.drop(name)
	return p
}

// removePort deletes p if it is still the port registered under its name.
func (t *portTable) removePort(p *port) bool {
	t.tmu.Lock()
	if t.temp[p.name] == p {
		delete(t.temp, p.name)
		t.gen.Add(1)
		t.tmu.Unlock()
		return true
	}
	t.tmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.load()[p.name] != p {
		return false
	}
	t.drop(p.name)
	return true
}

// drop replaces the map with one without name; t.mu must be held.
func (t *portTable) drop(name string) {
	old := t.load()
	m := make(map[string]*port, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	t.m.Store(&m)
	t.gen.Add(1)
}

func (t *portTable) load() map[string]*port {
	if m := t.m.Load(); m != nil {
		return *m
	}
	return nil
}

// SplitPortID splits "NODE#PORT" at the first '#'. A port ID without '#'
// (or with nothing after it) names the node port "".
func SplitPortID(id string) (node, port string) {
	node, port, _ = strings.Cut(id, "#")
	return node, port
}

// Register creates the local port name (the full ID is NODEID#name) with
// handler h and returns its ID. The node port "" cannot be registered; a
// name in use gives ErrPortExists, an empty name or nil handler
// ErrBadPortID. Any goroutine may call it, handlers included, before or
// after Start.
func (n *Node) Register(name string, h Handler) (string, error) {
	if name == "" || h == nil {
		return "", fmt.Errorf("%w: empty port name or nil handler", ErrBadPortID)
	}
	if n.ports.lookup([]byte(name)) != nil || !n.ports.add(&port{name: name, handler: h}) {
		return "", fmt.Errorf("%w: %q", ErrPortExists, name)
	}
	return n.id + "#" + name, nil
}

// NewPort creates a local port with a generated name (never reused, like
// Perl's port) and returns its full ID. Kill it when done. Any goroutine
// may call it, handlers included, before or after Start.
func (n *Node) NewPort(h Handler) string {
	name := n.ports.prefix + strconv.FormatUint(n.ports.counter.Add(1), 36)
	n.ports.addTemp(&port{name: name, handler: h})
	return n.id + "#" + name
}

// Kill removes a local port. Its monitors fire with reason (none for a
// normal kill): local ones at once, on the calling goroutine; remote nodes
// that monitor it are told with ["", "kil0", PORT, REASON...]. A port of
// another node is killed with the request that node understands: "kil1"
// for AnyEvent::MP 2.x, "kil" for 1.x (never its node port ""). Any
// goroutine may call it, handlers included.
func (n *Node) Kill(portID string, reason ...any) {
	node, name := SplitPortID(portID)
	if node != n.id && node != "" {
		if name == "" {
			return // never ask a node to kill its node port
		}
		req := "kil"
		if n.generation(node) == handshake.Gen2 {
			req = "kil1"
		}
		n.sendTo(node, "", append([]any{req, name}, reason...))
		return
	}
	if p := n.ports.remove(name); p != nil {
		n.portKilled(p, reason)
	}
}

// killPort kills the local port p (if it is still registered) with reason.
func (n *Node) killPort(p *port, reason []any) {
	if n.ports.removePort(p) {
		n.portKilled(p, reason)
	}
}

// portKilled tells the monitors of p, a port just removed, that it died.
func (n *Node) portKilled(p *port, reason []any) {
	n.ports.mu.Lock()
	mons := p.monitors
	p.monitors = nil
	n.ports.mu.Unlock()
	n.nodePorts.mu.Lock()
	for node := range mons {
		removeFromSet(n.nodePorts.monitoredBy, node, p.name)
	}
	n.nodePorts.mu.Unlock()
	for node := range mons {
		n.sendNodePort(node, append([]any{"kil0", p.name}, reason...)...)
	}
	n.nodePorts.fire(n, n.id+"#"+p.name, reason)
}

// lookup finds a port by name without allocating.
func (t *portTable) lookup(name []byte) *port {
	if p := t.load()[string(name)]; p != nil {
		return p
	}
	t.tmu.RLock()
	p := t.temp[string(name)]
	t.tmu.RUnlock()
	return p
}

// lookupLocked is lookup for a caller holding t.mu (not t.tmu).
func (t *portTable) lookupLocked(name string) *port {
	if p := t.load()[name]; p != nil {
		return p
	}
	t.tmu.RLock()
	defer t.tmu.RUnlock()
	return t.temp[name]
}

// addTemp inserts a port with a generated name (which no Register uses).
func (t *portTable) addTemp(p *port) {
	t.tmu.Lock()
	if t.temp == nil {
		t.temp = map[string]*port{}
	}
	t.temp[p.name] = p
	t.gen.Add(1)
	t.tmu.Unlock()
}

// all returns every port, named and temporary.
func (t *portTable) all() []*port {
	var l []*port
	for _, p := range t.load() {
		l = append(l, p)
	}
	t.tmu.RLock()
	for _, p := range t.temp {
		l = append(l, p)
	}
	t.tmu.RUnlock()
	return l
}
