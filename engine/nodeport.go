package engine

import (
	"strings"
	"sync"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// The node port "" answers the requests of docs/protocol.md section 6:
// monitoring (mon1, mon0, kil0, and the kill request,
// kil from 1.x nodes and kil1 from 2.x nodes), relaying (snd,
// snd_multiple) and queries (info, known_nodes, up_nodes, time, can). Requests for Perl functions
// (spawn, Global, eval, ...) are ignored without disconnecting; eval with
// a reply port is answered "eval not supported". Nothing here executes
// code a peer names.

// nodePortState holds the monitors this node set on other nodes' ports.
type nodePortState struct {
	mu      sync.Mutex
	watches map[string][]*watch // full port ID (or node ID) -> callbacks
	// byNode indexes watches by node ID, so that a node going down costs
	// what was watched there, not a walk over every watch.
	byNode map[string]map[string]struct{}
	// monitoredBy holds, per node, the names of our ports it monitors
	// (mon1), for the same reason.
	monitoredBy map[string]map[string]struct{}
}

type watch struct {
	cb func(reason []any)
}

func (s *nodePortState) init() {
	s.watches = map[string][]*watch{}
	s.byNode = map[string]map[string]struct{}{}
	s.monitoredBy = map[string]map[string]struct{}{}
}

// addKey records key (a port ID or node ID) under its node; s.mu must be
// held.
func (s *nodePortState) addKey(key string) { addToSet(s.byNode, nodeOfKey(key), key) }

// dropKey forgets key; s.mu must be held.
func (s *nodePortState) dropKey(key string) { removeFromSet(s.byNode, nodeOfKey(key), key) }

func nodeOfKey(key string) string {
	node, _ := SplitPortID(key)
	return node
}

func addToSet(m map[string]map[string]struct{}, k, v string) {
	set := m[k]
	if set == nil {
		set = map[string]struct{}{}
		m[k] = set
	}
	set[v] = struct{}{}
}

func removeFromSet(m map[string]map[string]struct{}, k, v string) {
	if set := m[k]; set != nil {
		delete(set, v)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// Monitor calls cb once when the port dies (with the reason list of
// docs/protocol.md section 7) or, for a node ID without '#', when the
// connection to that node goes down (or cannot be made). Monitoring a
// port of another node sends mon1 to it (once, for its first monitor).
// The returned function cancels the monitor (and sends mon0 after the
// last one). Any goroutine may call either, handlers included.
//
// Where cb runs depends on how the port dies: on the event loop of the
// connection that reported it (kil0, the connection lost), on the
// goroutine that called Kill for a local port, on the node's housekeeping
// goroutine when a node could not be reached in time, or inside Monitor
// itself, before it returns, for a local port that does not exist. So cb
// must not block; a panic in it is contained and logged.
func (n *Node) Monitor(portID string, cb func(reason []any)) (cancel func()) {
	node, port := SplitPortID(portID)
	w := &watch{cb: cb}
	s := &n.nodePorts
	s.mu.Lock()
	first := len(s.watches[portID]) == 0
	s.watches[portID] = append(s.watches[portID], w)
	if first {
		s.addKey(portID)
	}
	s.mu.Unlock()
	remote := node != n.id && node != "" && port != ""
	if remote && first {
		n.sendTo(node, "", []any{"mon1", port})
	}
	if (node == n.id || node == "") && port != "" && n.ports.lookup([]byte(port)) == nil {
		s.fire(n, portID, []any{"no_such_port", "cannot monitor nonexistent port", n.id + "#" + port})
	}
	return func() {
		s.mu.Lock()
		l := s.watches[portID]
		for i, x := range l {
			if x == w {
				l = append(l[:i:i], l[i+1:]...)
				break
			}
		}
		if len(l) == 0 {
			if _, ok := s.watches[portID]; ok {
				s.dropKey(portID)
			}
			delete(s.watches, portID)
		} else {
			s.watches[portID] = l
		}
		last := len(l) == 0
		s.mu.Unlock()
		if remote && last {
			n.sendNodePort(node, "mon0", port)
		}
	}
}

// fire calls and removes every monitor of key. A callback that panics is
// contained: the others still run.
func (s *nodePortState) fire(n *Node, key string, reason []any) {
	s.mu.Lock()
	l, ok := s.watches[key]
	if ok {
		delete(s.watches, key)
		s.dropKey(key)
	}
	s.mu.Unlock()
	for _, w := range l {
		n.safely("monitor callback", func() { w.cb(reason) })
	}
}

// nodeDown fires the monitors of the node's ports and of the node itself
// with transport_error, and forgets the monitors it had set on our ports.
func (s *nodePortState) nodeDown(n *Node, node, reason string) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.byNode[node]))
	for k := range s.byNode[node] {
		keys = append(keys, k)
	}
	ports := s.monitoredBy[node]
	delete(s.monitoredBy, node)
	s.mu.Unlock()
	for _, k := range keys {
		s.fire(n, k, []any{"transport_error", node, reason})
	}
	if len(ports) == 0 {
		return
	}
	n.ports.mu.Lock()
	for name := range ports {
		if p := n.ports.lookupLocked(name); p != nil {
			delete(p.monitors, node)
		}
	}
	n.ports.mu.Unlock()
}

// nodePortMessage handles a message for port "" from a connection.
//
// The request's name is read first, without decoding the rest: requests
// this node does not serve are dropped undecoded, and those whose
// arguments are small by nature (mon1, time, g_find, ...) are dropped
// above maxSmallRequest bytes. Decoding is what a peer could otherwise
// make expensive: a megabyte of maps nested 500 deep decodes to dozens of
// megabytes of Go values, for a request the node then ignores.
func (n *Node) nodePortMessage(c *conn, m *framing.Message) {
	if name, ok := m.FirstArg(); ok {
		switch n.nodePortSize(string(name)) {
		case reqIgnored:
			return
		case reqSmall:
			if len(m.Raw()) > maxSmallRequest {
				n.logLimited("node-port request too large; ignored", "node", c.nodeID(), "request", string(name), "bytes", len(m.Raw()))
				return
			}
		}
	} else if len(m.Raw()) > maxSmallRequest {
		return // no plain request name: nothing this node serves
	}
	args, err := m.Args()
	if err != nil {
		return
	}
	n.nodePortRequest(c, c.nodeID(), args)
}

// maxSmallRequest bounds node-port requests whose arguments are a few
// names and reply ports.
const maxSmallRequest = 64 << 10

// Kinds of node-port requests, by the size their arguments may have.
const (
	reqIgnored = iota // not served: not decoded
	reqSmall          // names and reply ports
	reqLarge          // messages, reasons, database contents
)

// nodePortSize says whether this node serves the request name and how
// large its arguments may be.
func (n *Node) nodePortSize(name string) int {
	switch name {
	case "snd", "snd_multiple", "kil", "kil1", "kil0", "AnyEvent::MP::_spawn",
		"g_slave", "g_set", "g_upd", "g_chg1", "g_chg2", "g_reply", "g_found":
		return reqLarge
	case "", "devnull":
		return reqIgnored
	}
	if nodePortRequests[name] || name == "eval" || strings.HasPrefix(name, "g_") {
		return reqSmall
	}
	return reqIgnored
}

// nodePortRequest carries out one node-port request from node src.
func (n *Node) nodePortRequest(c *conn, src string, args []any) {
	if len(args) == 0 {
		return // keepalive
	}
	name, _ := args[0].(string)
	a := args[1:]
	str := func(i int) string {
		if i < len(a) {
			if s, ok := a[i].(string); ok {
				return s
			}
		}
		return ""
	}
	reply := func(extra ...any) {
		if r := str(0); r != "" {
			n.sendControl(r, append(append([]any{}, a[1:]...), extra...)...)
		}
	}
	switch name {
	case "mon1":
		port := str(0)
		p := n.ports.lookup([]byte(port))
		if p == nil || port == "" {
			n.sendTo(src, "", []any{"kil0", port, "no_such_port", "cannot monitor nonexistent port", n.id + "#" + port})
			return
		}
		n.ports.mu.Lock()
		if p.monitors == nil {
			p.monitors = map[string]struct{}{}
		}
		p.monitors[src] = struct{}{}
		n.ports.mu.Unlock()
		n.nodePorts.mu.Lock()
		addToSet(n.nodePorts.monitoredBy, src, port)
		n.nodePorts.mu.Unlock()
	case "mon0":
		if p := n.ports.lookup([]byte(str(0))); p != nil {
			n.ports.mu.Lock()
			delete(p.monitors, src)
			n.ports.mu.Unlock()
			n.nodePorts.mu.Lock()
			removeFromSet(n.nodePorts.monitoredBy, src, p.name)
			n.nodePorts.mu.Unlock()
		}
	case "kil0":
		n.nodePorts.fire(n, src+"#"+str(0), append([]any{}, a[min(1, len(a)):]...))
	case "kil", "kil1": // 1.x and 2.x names of the same request
		if port := str(0); port != "" {
			n.Kill(n.id+"#"+port, a[min(1, len(a)):]...)
		}
	case "snd":
		if dest := str(0); dest != "" {
			n.Send(dest, a[1:]...)
		}
	case "snd_multiple":
		for _, x := range a {
			if l, ok := x.([]any); ok && len(l) > 0 {
				if dest, ok := l[0].(string); ok {
					n.Send(dest, l[1:]...)
				}
			}
		}
	case "info":
		reply(n.id)
	case "known_nodes":
		reply(append([]any{n.id}, n.nodeIDs(false)...)...)
	case "up_nodes":
		reply(n.nodeIDs(true)...)
	case "time":
		reply(float64(time.Now().UnixNano()) / 1e9)
	case "can": // 2.x: NAME, REPLY, X... -> X..., "1" or ""
		if r := str(1); r != "" {
			yes := ""
			if nodePortRequests[str(0)] || n.mesh.serves(str(0)) {
				yes = "1"
			}
			n.sendControl(r, append(append([]any{}, a[2:]...), yes)...)
		}
	case "AnyEvent::MP::_spawn":
		n.spawnLocal(src, str(0), str(1), a[min(2, len(a)):])
	case "eval":
		if r := str(1); r != "" {
			n.sendControl(r, append(append([]any{}, a[2:]...), "eval not supported")...)
		}
	default:
		if strings.HasPrefix(name, "g_") {
			n.mesh.request(src, name, a)
			return
		}
		// Perl function names (DataConn, LogCatcher, ...), "", devnull
		// and anything unknown: ignored.
	}
}

// nodePortRequests are the node-port requests this node serves.
var nodePortRequests = map[string]bool{
	"mon1": true, "mon0": true, "kil0": true, "kil": true, "kil1": true, "snd": true,
	"snd_multiple": true, "info": true, "known_nodes": true, "up_nodes": true, "time": true,
	"can": true, "devnull": true,
}

// nodeIDs lists the IDs of known (or only connected) other nodes.
func (n *Node) nodeIDs(upOnly bool) []any {
	var ids []any
	for _, p := range n.peers.all() {
		if p.id != "" && (!upOnly || p.conn.Load() != nil) {
			ids = append(ids, p.id)
		}
	}
	return ids
}
