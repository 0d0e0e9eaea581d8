package mesh

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// The names AnyEvent::MP 1.30 uses to start a Global port on another node
// (docs/protocol.md, "Spawn" and "Global service").
const (
	global1SpawnRequest = "AnyEvent::MP::_spawn"
	global1InitFunc     = "AnyEvent::MP::Global::connect"
	// global1Version is 1.30's $GLOBAL_VERSION.
	global1Version = 0
)

// Errors returned by Global1. Spawned's errors carry the text a Perl node
// kills the port with; Register's carry grp_reg's croak text.
var (
	// ErrGlobal1Version: a peer asked for another Global protocol version.
	ErrGlobal1Version = errors.New("node version mismatch")
	// ErrGlobal1Spawn: a Global port spawn this node refuses (the node
	// argument is not the spawning node, or the spawn came from itself).
	ErrGlobal1Spawn = errors.New("Global spawn refused")
	// ErrGlobal1Registered: the port is already in the group.
	ErrGlobal1Registered = errors.New("group already registered")
	// ErrGlobal1NotLocal: only ports of this node can be registered.
	ErrGlobal1NotLocal = errors.New("can only register local ports")
)

// global1Error is an error with its own text that matches a sentinel.
type global1Error struct {
	kind error
	text string
}

// Error returns the text (Perl's, where it has one).
func (e *global1Error) Error() string { return e.text }

// Unwrap returns the sentinel the error matches.
func (e *global1Error) Unwrap() error { return e.kind }

// Global1Config configures a Global1.
type Global1Config struct {
	// Self is this node's ID.
	Self string
	// Addrs are this node's listen addresses (host:port); empty for none.
	Addrs []string
	// PortName returns a fresh port name, unique within this node's
	// lifetime, for a Global port this node spawns on another node (Perl
	// uses "RUNIQ.ID", e.g. "xYz.7"). It is called from within NodeUp and
	// Receive, on the caller's goroutine. Nil: names "g1-RANDOM.N" are made.
	PortName func() string
	// Limits bound what peers can make the state machine hold.
	Limits Limits
	// Rand drives master choice and the forwarding delays; nil: a randomly
	// seeded generator.
	Rand *rand.Rand
}

// Global1 is the Global service of AnyEvent::MP 1.30 (MP/Global.pm) as a
// sans-I/O state machine (docs/mesh.md section 2): it exchanges listen
// addresses with the 1.x nodes this node is connected to, connects to
// the nodes they announce, keeps the network-wide port groups, and picks a
// master node to ask for updates.
//
// Between each pair of connected nodes there are two Global ports: the one
// this node spawns on the peer (NodeUp starts it; Perl's %port) and the
// one the peer spawns here (Spawned; its messages go to Receive).
//
// Group members asserted by a peer are held on its behalf ("owner"): a
// peer's entries count against its MaxEntriesPerNode, and all of them go
// when it goes down or its Global port dies, as well as every entry for a
// port of a node that goes down (Perl's unreg_groups). A peer may announce
// ports of other nodes (Perl accepts them; 1.30 itself only announces its
// own): they are kept but owned by the sender, so they cannot outlive it;
// once the port's own node announces the entry it takes it over. Entries
// for this node's ports are refused (only Register makes them), and an
// entry can be withdrawn (reg0) only by its owner or the port's node.
//
// Not safe for concurrent use; see the package comment.
type Global1 struct {
	self     string
	listen   []string // never changed in place: sent in addr messages
	portName func() string
	lim      Limits
	rnd      *rand.Rand

	up     map[string]struct{} // 1.x nodes with a connection
	seeds  map[string]struct{} // nodes reached through a seed address (node_is_seed)
	master string

	port   map[string]string   // node -> ID of our Global port on it
	addr   map[string][]string // node -> the addresses it announced (addr)
	seedme map[string]struct{} // nodes that asked us to seed them

	spawned   map[string]string // local Global port name -> node that spawned it
	spawnedBy map[string]string // node -> local Global port name

	lreg map[string][]string // group -> our registered ports, in order
	reg  global1Registry

	forwards  []*global1Forward          // pending address forwards, by due time
	forwardOf map[string]*global1Forward // node -> its pending forward
}

// global1Forward is an addr announcement waiting to be passed on to the
// nodes we seed (Perl delays it by 2 + rand s).
type global1Forward struct {
	due   time.Time
	node  string
	addrs []string
}

// NewGlobal1 returns a Global1 that knows no nodes yet.
func NewGlobal1(cfg Global1Config) *Global1 {
	g := &Global1{
		self:      cfg.Self,
		listen:    nonNilStrings(slices.Clone(cfg.Addrs)),
		portName:  cfg.PortName,
		lim:       cfg.Limits.WithDefaults(),
		rnd:       cfg.Rand,
		up:        map[string]struct{}{},
		seeds:     map[string]struct{}{},
		port:      map[string]string{},
		addr:      map[string][]string{},
		seedme:    map[string]struct{}{},
		spawned:   map[string]string{},
		spawnedBy: map[string]string{},
		lreg:      map[string][]string{},
		forwardOf: map[string]*global1Forward{},
	}
	g.reg.init(cfg.Self, g.lim)
	if g.rnd == nil {
		g.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if g.portName == nil {
		prefix := "g1-" + strconv.FormatUint(g.rnd.Uint64(), 36) + "."
		n := 0
		g.portName = func() string {
			n++
			return prefix + strconv.Itoa(n)
		}
	}
	return g
}

// nonNilStrings returns s, or an empty slice for nil (addr carries [],
// never null).
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SetAddrs records this node's new listen addresses and announces them
// (addr) on every Global port this node has on other nodes.
func (g *Global1) SetAddrs(addrs []string) Actions {
	g.listen = nonNilStrings(slices.Clone(addrs))
	var a Actions
	for _, node := range sortedKeys(g.port) {
		a.Send = append(a.Send, Send{To: g.port[node], Args: []any{"addr", g.listen}})
	}
	return a
}

// NodeUp reports that the connection to the 1.x node came up; seed says
// that this node connected to it through a configured seed address. It
// starts Global on the node and selects a master as Perl's mon_node does.
func (g *Global1) NodeUp(node string, seed bool, now time.Time) Actions {
	var a Actions
	if !g.validNodeID(node) || node == g.self {
		a.Warn = append(a.Warn, Warning{Node: node, Msg: "Global: node up for an invalid node ID ignored"})
		return a
	}
	g.up[node] = struct{}{}
	if seed && len(g.seeds) < g.lim.MaxNodes {
		g.seeds[node] = struct{}{}
	}
	g.startNode(node, &a)
	if g.isSeed(node) {
		if g.isSeed(g.master) {
			// Switching with probability 1 - 1/#upseeds spreads the
			// nodes over the seeds.
			if n := len(g.upSeeds()); g.rnd.Float64()*float64(n) > 1 {
				g.setMaster(node, &a)
			}
		} else {
			g.setMaster(node, &a) // a seed beats a non-seed
		}
	}
	g.ensureMaster(&a)
	return a
}

// NodeDown reports that the connection to the node is gone. The Global
// port the node spawned here is killed silently (Kill with no reason), our
// port on it is forgotten, its groups and addresses are dropped, and the
// master is asked to find it again (find).
func (g *Global1) NodeDown(node string, now time.Time) Actions {
	var a Actions
	if node == g.self {
		return a
	}
	// What the node's monitors do first: the port it spawned here dies
	// silently, our port on it is gone with its groups.
	if name, ok := g.spawnedBy[node]; ok {
		delete(g.spawnedBy, node)
		delete(g.spawned, name)
		a.Kill = append(a.Kill, Kill{Port: name})
	}
	delete(g.seedme, node)
	delete(g.port, node)
	g.unregGroups(node, &a)
	delete(g.addr, node)
	if _, ok := g.up[node]; !ok {
		return a
	}
	// Then mon_node: a new master if it was the master, and a find for
	// the lost node to the master.
	delete(g.up, node)
	g.ensureMaster(&a)
	if p, ok := g.port[g.master]; ok {
		a.Send = append(a.Send, Send{To: p, Args: []any{"find", node}})
	}
	return a
}

// Spawned handles a peer's request to start a Global port here,
// ["", "AnyEvent::MP::_spawn", PORT, "AnyEvent::MP::Global::connect",
// VERSION, NODE], received on the connection from src. port is the local
// port name PORT (the engine created it; its messages go to Receive) and
// args are the spawn arguments after the function name, [VERSION, NODE].
//
// A non-nil error is the text to kill the port with, ("die", TEXT): for a
// version other than 0 Perl's "node version mismatch (requested V; we
// have 0)" (matching ErrGlobal1Version); for a NODE other than src
// ErrGlobal1Spawn. A second Global port from the same node replaces the
// first, which is killed silently.
func (g *Global1) Spawned(src, port string, args []any, now time.Time) (Actions, error) {
	var a Actions
	var version any
	if len(args) > 0 {
		version = args[0]
	}
	if !perlIntIsZero(version) {
		return a, &global1Error{ErrGlobal1Version,
			"node version mismatch (requested " + perlString(version) + "; we have " + strconv.Itoa(global1Version) + ")"}
	}
	var node string
	ok := len(args) > 1
	if ok {
		node, ok = perlText(args[1])
	}
	switch {
	case !ok || node != src:
		a.Warn = append(a.Warn, Warning{Node: src, Msg: "Global: spawn for another node ID refused"})
		return a, &global1Error{ErrGlobal1Spawn, "Global spawn refused: node argument is not the spawning node " + src}
	case src == g.self || !g.validNodeID(src):
		return a, &global1Error{ErrGlobal1Spawn, "Global spawn refused: invalid node " + src}
	}
	if _, ok := g.spawnedBy[src]; !ok && len(g.spawnedBy) >= g.lim.MaxNodes {
		a.Warn = append(a.Warn, Warning{Node: src, Msg: "Global: spawn over the node limit refused"})
		return a, &global1Error{ErrGlobal1Spawn, "Global spawn refused: too many nodes"}
	}
	if old, ok := g.spawnedBy[src]; ok {
		delete(g.spawned, old)
		a.Kill = append(a.Kill, Kill{Port: old})
		a.Warn = append(a.Warn, Warning{Node: src, Msg: "Global: second Global port from one node, the first one killed"})
	}
	g.spawned[port] = src
	g.spawnedBy[src] = port
	return a, nil
}

// Receive handles a message to a Global port created by Spawned; src is
// the node it came from. Messages from other nodes than the one that
// spawned the port, and malformed or unknown messages, are ignored with a
// Warning; input over a limit is cut short with one Warning per message.
func (g *Global1) Receive(port, src string, args []any, now time.Time) Actions {
	var a Actions
	node, ok := g.spawned[port]
	if !ok {
		a.Warn = append(a.Warn, Warning{Node: src, Msg: "Global: message to an unknown Global port ignored"})
		return a
	}
	if node != src {
		a.Warn = append(a.Warn, Warning{Node: src, Msg: "Global: message to the Global port of node " + node + " ignored"})
		return a
	}
	if len(args) == 0 {
		a.Warn = append(a.Warn, Warning{Node: src, Msg: "Global: empty message ignored"})
		return a
	}
	tag, _ := args[0].(string)
	r := global1Report{node: src, what: tag}
	switch tag {
	case "setup":
		// Perl runs local hooks (DataConn waits for it); nothing to do.
	case "addr":
		g.recvAddr(node, args[1:], now, &r)
	case "nodes":
		g.recvNodes(node, args[1:], &a, &r)
	case "set":
		g.recvSet(node, args[1:], &a, &r)
	case "find":
		g.recvFind(node, args[1:], &a, &r)
	case "reg0", "reg1":
		g.recvReg(node, tag == "reg1", args[1:], &a, &r)
	case "seedme0":
		delete(g.seedme, node)
	case "seedme1":
		g.seedme[node] = struct{}{}
		if p, ok := g.port[node]; ok && len(g.addr) > 0 {
			a.Send = append(a.Send, Send{To: p, Args: []any{"nodes", g.allAddrs()}})
		}
	default:
		r.what = "message"
		r.add(global1Unknown, 1)
	}
	r.flush(&a)
	return a
}

// PortDied reports that a port this node asked to Monitor died: our
// Global port on another node. Its node's groups are dropped and the port
// forgotten (a later NodeUp or nodes message starts a new one).
func (g *Global1) PortDied(portID string, reason []any, now time.Time) Actions {
	var a Actions
	node := nodeOf(portID)
	if p, ok := g.port[node]; ok && p == portID {
		delete(g.port, node)
		g.unregGroups(node, &a)
	}
	return a
}

// Register adds the local port portID ("SELF#NAME") to group and announces
// it (reg1) to every node this node has a Global port on. It fails with
// ErrGlobal1NotLocal for another node's port and ErrGlobal1Registered when
// the port is already in the group (grp_reg's croak texts).
func (g *Global1) Register(group, portID string) (Actions, error) {
	var a Actions
	if nodeOf(portID) != g.self {
		return a, &global1Error{ErrGlobal1NotLocal, "AnyEvent::MP::Global::grp_reg can only be called for local ports"}
	}
	if slices.Contains(g.lreg[group], portID) {
		return a, &global1Error{ErrGlobal1Registered, "'" + group + "': group already registered, cannot register a second time"}
	}
	g.lreg[group] = append(g.lreg[group], portID)
	for _, node := range sortedKeys(g.port) {
		a.Send = append(a.Send, Send{To: g.port[node], Args: []any{"reg1", group, portID}})
	}
	if g.reg.add(group, portID, g.self) == global1Added {
		a.Changes = append(a.Changes, Change{Name: group, Added: []string{portID}})
	}
	return a, nil
}

// Unregister removes the local port portID from group and announces it
// (reg0); the engine also calls it for each group of a registered local
// port that dies. A port not in the group is ignored.
func (g *Global1) Unregister(group, portID string) Actions {
	var a Actions
	ports := g.lreg[group]
	i := slices.Index(ports, portID)
	if i < 0 {
		return a
	}
	ports = slices.Delete(slices.Clone(ports), i, i+1)
	if len(ports) == 0 {
		delete(g.lreg, group)
	} else {
		g.lreg[group] = ports
	}
	if g.reg.remove(group, portID) {
		a.Changes = append(a.Changes, Change{Name: group, Removed: []string{portID}})
	}
	for _, node := range sortedKeys(g.port) {
		a.Send = append(a.Send, Send{To: g.port[node], Args: []any{"reg0", group, portID}})
	}
	return a
}

// Members returns the port IDs in group, sorted; nil when it has none
// (grp_get).
func (g *Global1) Members(group string) []string {
	return g.reg.members(group)
}

// Groups returns the names of the groups that have members, sorted.
func (g *Global1) Groups() []string {
	return sortedKeys(g.reg.groups)
}

// NodeAddrs returns the listen addresses node announced to this node
// (addr; Perl's %addr, what nodes and find answers pass on), nil when it
// announced none or is not connected.
func (g *Global1) NodeAddrs(node string) []string {
	return slices.Clone(g.addr[node])
}

// Master returns the node this node asks for network updates ("" for
// none).
func (g *Global1) Master() string { return g.master }

// Find asks the master for the addresses of node (find), e.g. when the
// program wants to reach a node this node knows no addresses of. Nothing
// is sent without a master.
func (g *Global1) Find(node string, now time.Time) Actions {
	var a Actions
	if p, ok := g.port[g.master]; ok && g.validNodeID(node) {
		a.Send = append(a.Send, Send{To: p, Args: []any{"find", node}})
	}
	return a
}

// Tick carries out the address forwards that are due at now: each node's
// announced addresses go, 2 to 3 s after its addr message, to every node
// this node seeds (nodes).
func (g *Global1) Tick(now time.Time) Actions {
	var a Actions
	n := 0
	for n < len(g.forwards) && !g.forwards[n].due.After(now) {
		f := g.forwards[n]
		delete(g.forwardOf, f.node)
		for _, slave := range sortedKeys(g.seedme) {
			if p, ok := g.port[slave]; ok {
				a.Send = append(a.Send, Send{To: p, Args: []any{"nodes", map[string]any{f.node: f.addrs}}})
			}
		}
		n++
	}
	g.forwards = slices.Delete(g.forwards, 0, n)
	return a
}

// NextTick returns when Tick has something to do next; ok is false when
// nothing is pending.
func (g *Global1) NextTick() (t time.Time, ok bool) {
	if len(g.forwards) == 0 {
		return time.Time{}, false
	}
	return g.forwards[0].due, true
}

// startNode spawns our Global port on node and announces ourselves on it,
// unless there is one already (Perl's start_node). Sends to a node that is
// not up yet are queued by the engine, as Perl queues them.
func (g *Global1) startNode(node string, a *Actions) {
	if _, ok := g.port[node]; ok || node == g.self {
		return
	}
	name := g.portName()
	id := node + "#" + name
	g.port[node] = id
	a.Send = append(a.Send, Send{To: node + "#", Args: []any{global1SpawnRequest, name, global1InitFunc, global1Version, g.self}})
	a.Monitor = append(a.Monitor, id)
	a.Send = append(a.Send, Send{To: id, Args: []any{"addr", g.listen}})
	if len(g.addr) > 0 {
		a.Send = append(a.Send, Send{To: id, Args: []any{"nodes", g.allAddrs()}})
	}
	if len(g.lreg) > 0 {
		set := make(map[string]any, len(g.lreg))
		for group, ports := range g.lreg {
			set[group] = ports
		}
		a.Send = append(a.Send, Send{To: id, Args: []any{"set", set}})
	}
	a.Send = append(a.Send, Send{To: id, Args: []any{"setup"}})
}

// allAddrs returns every node's announced addresses, for a nodes message.
func (g *Global1) allAddrs() map[string]any {
	m := make(map[string]any, len(g.addr))
	for node, addrs := range g.addr {
		m[node] = addrs
	}
	return m
}

// isSeed reports whether node was reached through a seed address.
func (g *Global1) isSeed(node string) bool {
	_, ok := g.seeds[node]
	return ok && node != ""
}

// upSeeds returns the seed nodes that are up, sorted.
func (g *Global1) upSeeds() []string {
	var s []string
	for node := range g.seeds {
		if _, ok := g.up[node]; ok {
			s = append(s, node)
		}
	}
	slices.Sort(s)
	return s
}

// ensureMaster selects a new master when there is none or it is down: a
// random seed node that is up, else the up node with the greatest ID.
func (g *Global1) ensureMaster(a *Actions) {
	if _, ok := g.up[g.master]; ok && g.master != "" {
		return
	}
	if s := g.upSeeds(); len(s) > 0 {
		g.setMaster(s[g.rnd.IntN(len(s))], a)
		return
	}
	last := ""
	for node := range g.up {
		if node > last {
			last = node
		}
	}
	g.setMaster(last, a)
}

// setMaster switches the master: seedme0 to the old one if it is still
// up, seedme1 to the new one.
func (g *Global1) setMaster(node string, a *Actions) {
	if node == g.master {
		return
	}
	if _, up := g.up[g.master]; up {
		if p, ok := g.port[g.master]; ok {
			a.Send = append(a.Send, Send{To: p, Args: []any{"seedme0"}})
		}
	}
	g.master = node
	if p, ok := g.port[node]; ok {
		a.Send = append(a.Send, Send{To: p, Args: []any{"seedme1"}})
	}
}

// unregGroups drops every entry for a port of node and every entry node
// holds for others, reporting the changes.
func (g *Global1) unregGroups(node string, a *Actions) {
	a.Changes = append(a.Changes, g.reg.dropNode(node)...)
}

// nodeOf returns the node part of a port ID (all of it without '#').
func nodeOf(portID string) string {
	for i := 0; i < len(portID); i++ {
		if portID[i] == '#' {
			return portID[:i]
		}
	}
	return portID
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
