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
// local Sends, arrive in order. A handler runs on the event loop of the
// connection the message came from: it must not block. The Message is
// valid only until the handler returns; Clone keeps it.
type Handler func(m *Message)

// port is a registered local port.
type port struct {
	name    string
	handler Handler
	// monitors holds the nodes that asked (mon1) to hear of this port's
	// death; guarded by portTable.mu.
	monitors map[string]struct{}
}

// portTable maps port names to ports. Lookups (one per message) are
// lock-free and allocation-free: they read an immutable map that Register
// and Kill replace under mu.
type portTable struct {
	m       atomic.Pointer[map[string]*port]
	mu      sync.Mutex
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
	return true
}

// remove deletes the named port and returns it.
func (t *portTable) remove(name string) *port {
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
// handler h. The node port "" cannot be registered.
func (n *Node) Register(name string, h Handler) (string, error) {
	if name == "" || h == nil {
		return "", fmt.Errorf("%w: empty port name or nil handler", ErrBadPortID)
	}
	if !n.ports.add(&port{name: name, handler: h}) {
		return "", fmt.Errorf("%w: %q", ErrPortExists, name)
	}
	return n.id + "#" + name, nil
}

// NewPort creates a local port with a generated name and returns its
// full ID.
func (n *Node) NewPort(h Handler) string {
	for {
		name := n.ports.prefix + strconv.FormatUint(n.ports.counter.Add(1), 36)
		if id, err := n.Register(name, h); err == nil {
			return id
		}
	}
}

// Kill removes a local port. Remote nodes that monitor it are told with
// ["", "kil0", PORT, REASON...] (no reason for a normal kill). A port of
// another node is killed with the request that node understands: "kil1"
// for AnyEvent::MP 2.x, "kil" for 1.x.
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
	for node := range mons {
		n.sendNodePort(node, append([]any{"kil0", p.name}, reason...)...)
	}
	n.nodePorts.fire(n, n.id+"#"+p.name, reason)
}

// lookup finds a port by name without allocating.
func (t *portTable) lookup(name []byte) *port {
	return t.load()[string(name)]
}
