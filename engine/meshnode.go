package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/engine/mesh"
)

// The node takes part in the mesh of each generation it speaks
// (docs/mesh.md section 4): with 1.x nodes through the Global service
// (mesh.Global1: a Global port spawned on each peer, groups, a master),
// with 2.x nodes through the global database (mesh.DB2: g_* requests, a
// master or the global role). Which state machine hears of a node follows
// from the generation its handshake showed.
//
// Both state machines run on one goroutine of the node's (meshLoop.run):
// events from the event loops and from the program are queued to it, and
// it carries out the actions they return in order. So a peer's mesh
// traffic never blocks an event loop, and no state machine is entered
// twice at once.

// initGlobalConnect is the init function a 1.x node spawns on every node
// it connects to.
const initGlobalConnect = "AnyEvent::MP::Global::connect"

// meshEvent is one input to the state machines; it runs on the mesh
// goroutine with the lock held and returns what to do.
type meshEvent func(now time.Time) mesh.Actions

// meshLoop owns the node's mesh state machines.
type meshLoop struct {
	n    *Node
	mu   sync.Mutex // guards everything below
	g1   *mesh.Global1
	d2   *mesh.DB2
	q    []meshEvent
	wake chan struct{}
	// dropped counts events refused because the queue was full.
	dropped int64

	watches map[string]*groupWatch // by group name
	queries map[uint64]chan any    // 2.x queries waiting for a Reply
	// dial budget (Config.MaxMeshDialsPerSecond) and dials waiting for it
	dialBudget  int
	dialSecond  int64
	dialPending map[string]pendingDial
	// localIPs are the IPs of this host's interfaces (pointsHere).
	localIPs []net.IP
}

// maxMeshQueue bounds the events waiting for the mesh goroutine: a peer
// flooding mesh messages cannot grow it without bound.
const maxMeshQueue = 1 << 16

// groupWatch is the set of WatchGroup callbacks of one name, and the
// members each generation reported.
type groupWatch struct {
	cbs      []*func(GroupChange)
	from1    map[string]bool
	from2    map[string]any
	watching bool // 2.x watch (g_mon1) sent
}

// GroupChange reports a change of a group's members (WatchGroup).
type GroupChange struct {
	// Name is the group (1.x) or family (2.x).
	Name string
	// Members are all members now (port IDs), sorted; Added and Removed
	// what changed.
	Members, Added, Removed []string
	// Values holds, for members from the 2.x database, their values (nil
	// for db_reg entries and 1.x groups).
	Values map[string]any
}

// startMesh creates the state machines once the listen addresses are known.
func (n *Node) startMesh() {
	m := &n.mesh
	m.n = n
	m.wake = make(chan struct{}, 1)
	m.watches = map[string]*groupWatch{}
	m.queries = map[uint64]chan any{}
	m.dialPending = map[string]pendingDial{}
	if ifs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range ifs {
			if ipn, ok := ia.(*net.IPNet); ok {
				m.localIPs = append(m.localIPs, ipn.IP)
			}
		}
	}
	addrs := n.announceAddrs()
	lim := n.cfg.MeshLimits
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(len(n.id))))
	if n.cfg.Generation != 2 {
		m.g1 = mesh.NewGlobal1(mesh.Global1Config{Self: n.id, Addrs: addrs, Limits: lim, Rand: rng,
			PortName: func() string { return n.ports.prefix + "g" + strconv.FormatUint(n.ports.counter.Add(1), 36) }})
		n.RegisterSpawn(initGlobalConnect, n.spawnGlobalConnect)
	}
	if n.cfg.Generation != 1 {
		m.d2 = mesh.NewDB2(mesh.DB2Config{Self: n.id, Addrs: addrs, Limits: lim, Rand: rng})
	}
	n.wg.Add(1)
	go m.run()
}

// announceAddrs returns the listen addresses to tell other nodes: an
// unspecified host (0.0.0.0, ::) becomes each address of this host's
// interfaces that is not loopback, as Perl's "*" bind, or 127.0.0.1 when
// there is none.
func (n *Node) announceAddrs() []string {
	out := []string{}
	for _, a := range n.addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsUnspecified() {
			out = append(out, a)
			continue
		}
		ifs, _ := net.InterfaceAddrs()
		found := false
		for _, ia := range ifs {
			if ipn, ok := ia.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() &&
				(ip.To4() == nil || ipn.IP.To4() != nil) {
				out = append(out, net.JoinHostPort(ipn.IP.String(), port))
				found = true
			}
		}
		if !found {
			out = append(out, net.JoinHostPort("127.0.0.1", port))
		}
	}
	return out
}

// post queues an event for the mesh goroutine. Any goroutine may call it;
// it never blocks.
func (m *meshLoop) post(ev meshEvent) {
	m.mu.Lock()
	if len(m.q) >= maxMeshQueue {
		m.dropped++
		d := m.dropped
		m.mu.Unlock()
		m.n.logLimitedAt(slog.LevelWarn, "mesh: event queue full, mesh message dropped", "dropped", d)
		return
	}
	m.q = append(m.q, ev)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run is the mesh goroutine.
func (m *meshLoop) run() {
	n := m.n
	defer n.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var batch []meshEvent
	for {
		select {
		case <-n.stop:
			return
		case <-m.wake:
		case now := <-tick.C:
			batch = append(batch[:0], func(time.Time) mesh.Actions {
				var a mesh.Actions
				if m.g1 != nil {
					a.Append(m.g1.Tick(now))
				}
				if m.d2 != nil {
					a.Append(m.d2.Tick(now))
				}
				return a
			})
			m.runEvents(batch)
			m.retryDials()
		}
		for {
			m.mu.Lock()
			batch = append(batch[:0], m.q...)
			clear(m.q)
			m.q = m.q[:0]
			m.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			m.runEvents(batch)
			clear(batch)
		}
	}
}

// runEvents feeds events to the state machines, one at a time, carrying
// out each one's actions before the next.
func (m *meshLoop) runEvents(evs []meshEvent) {
	for _, ev := range evs {
		m.mu.Lock()
		a := ev(time.Now())
		m.mu.Unlock()
		if !a.Empty() {
			m.do(a)
		}
	}
}

// do carries out a state machine's actions, on the mesh goroutine.
func (m *meshLoop) do(a mesh.Actions) {
	n := m.n
	for _, w := range a.Warn {
		n.logLimitedAt(slog.LevelWarn, "mesh: "+w.Msg, "node", w.Node)
	}
	// Addresses first, as Perl connects to a node before it starts Global
	// on it: a message queued for a node whose addresses are unknown
	// makes the node ask the mesh where it listens.
	for _, d := range a.Dial {
		m.dial(d.Node, d.Addrs)
	}
	for _, s := range a.Send {
		if err := n.sendControl(s.To, s.Args...); err != nil {
			n.logLimited("mesh: send failed", "to", s.To, "err", err)
		}
	}
	for _, k := range a.Kill {
		n.Kill(n.id+"#"+k.Port, k.Reason...)
	}
	for _, p := range a.Monitor {
		pid := p
		n.Monitor(pid, func(reason []any) {
			m.post(func(now time.Time) mesh.Actions {
				var a mesh.Actions
				if m.g1 != nil {
					a.Append(m.g1.PortDied(pid, reason, now))
				}
				if m.d2 != nil {
					a.Append(m.d2.PortDied(pid))
				}
				return a
			})
		})
	}
	for _, c := range a.Changes {
		m.changed(c, a.Changes)
	}
	for _, r := range a.Replies {
		m.mu.Lock()
		ch := m.queries[r.ID]
		delete(m.queries, r.ID)
		m.mu.Unlock()
		if ch != nil {
			ch <- r.Result
		}
	}
}

// dial makes node reachable at addrs, within the dial budget
// (Config.MaxMeshDialsPerSecond, one unit per address dialled). A dial
// over budget waits, its addresses not yet given to the node's peer (the
// engine would dial them by itself), for at most a monitor timeout.
// Addresses of this node's own listeners are not dialled.
func (m *meshLoop) dial(node string, addrs []string) {
	m.admit(node, addrs, time.Now())
}

// admit dials node at addrs if the budget allows, else queues the dial;
// since is when the mesh first asked for it.
func (m *meshLoop) admit(node string, addrs []string, since time.Time) {
	n := m.n
	if node == n.id {
		return
	}
	addrs = slices.DeleteFunc(slices.Clone(addrs), n.pointsHere)
	if len(addrs) == 0 {
		return
	}
	if p, ok := n.peers.load(node); ok && p.conn.Load() != nil {
		return
	}
	p := n.peerFor(node)
	// The addresses the engine will dial: those it knows and the new ones.
	p.mu.Lock()
	all := slices.Clone(p.rx().addrs)
	for _, a := range addrs {
		if !slices.Contains(all, a) && len(all) < n.meshLimits.MaxAddrs {
			all = append(all, a)
		}
	}
	p.mu.Unlock()
	now := time.Now()
	rate := n.cfg.MaxMeshDialsPerSecond
	m.mu.Lock()
	if sec := now.Unix(); sec != m.dialSecond {
		// Refill once a second; a node with more addresses than are left
		// may overdraw, and the debt is carried.
		m.dialBudget = int(min(int64(m.dialBudget)+int64(rate)*(sec-m.dialSecond), int64(rate)))
		m.dialSecond = sec
	}
	ok := m.dialBudget > 0
	if ok {
		m.dialBudget -= len(all)
		delete(m.dialPending, node)
	} else if old, queued := m.dialPending[node]; queued || len(m.dialPending) < n.meshLimits.MaxNodes {
		if queued && old.since.Before(since) {
			since = old.since // asked again: the first request counts
		}
		m.dialPending[node] = pendingDial{addrs: addrs, since: since}
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	p.mu.Lock()
	e := p.wx()
	for _, a := range all {
		if !slices.Contains(e.addrs, a) && len(e.addrs) < n.meshLimits.MaxAddrs {
			e.addrs = append(e.addrs, a)
		}
	}
	// Keep trying for a monitor timeout, as Perl connects to a node it
	// learnt of from the mesh.
	e.wantUntil = monoNow() + int64(n.cfg.MonitorTimeout)
	// An attempt made within the connect interval may still be in its
	// handshake: Perl does not connect to a node it is connecting to (a
	// seed names a node in several nodes messages in a row). The peer
	// check makes the next attempt.
	recent := e.lastAttempt != 0 && time.Duration(monoNow()-e.lastAttempt) < n.cfg.ConnectInterval
	p.mu.Unlock()
	if p.conn.Load() != nil || recent {
		return
	}
	n.connectPeer(p, true)
}

// pendingDial is a dial waiting for the dial budget.
type pendingDial struct {
	addrs []string
	since time.Time
}

// retryDials dials what waited for the dial budget, oldest first, and
// gives up on what waited longer than a monitor timeout (Perl stops
// connecting then).
func (m *meshLoop) retryDials() {
	m.mu.Lock()
	pend := m.dialPending
	if len(pend) == 0 {
		m.mu.Unlock()
		return
	}
	m.dialPending = map[string]pendingDial{}
	m.mu.Unlock()
	nodes := slices.Collect(mapKeys(pend))
	slices.SortFunc(nodes, func(a, b string) int {
		if c := pend[a].since.Compare(pend[b].since); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	expired := 0
	for _, node := range nodes {
		d := pend[node]
		if time.Since(d.since) > m.n.cfg.MonitorTimeout {
			expired++
			continue
		}
		m.admit(node, d.addrs, d.since)
	}
	if expired > 0 {
		m.n.logLimitedAt(slog.LevelWarn, "mesh: dials over the dial budget given up", "nodes", expired)
	}
}

// pointsHere reports whether addr is one of this node's listeners: the
// same IP and port, or the port of a listener on an unspecified address
// (0.0.0.0, ::) at a loopback, unspecified or local interface IP, or an
// unspecified IP (which connects to this host) at the port of a listener
// on loopback. Host names are not resolved.
func (n *Node) pointsHere(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	host, _, _ = strings.Cut(host, "%")
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, l := range n.addrs {
		lh, lp, err := net.SplitHostPort(l)
		lip := net.ParseIP(lh)
		if err != nil || lp != port || lip == nil {
			continue
		}
		switch {
		case lip.Equal(ip):
			return true
		case lip.IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified() || slices.ContainsFunc(n.mesh.localIPs, ip.Equal)):
			return true
		case ip.IsUnspecified() && lip.IsLoopback():
			return true
		}
	}
	return false
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// nodeUp tells the state machine of node's generation that it came up.
func (m *meshLoop) nodeUp(node string, gen int, seed bool) {
	m.post(func(now time.Time) mesh.Actions {
		if !m.n.isConnected(node) {
			// Gone again before the mesh heard of it (a short-lived
			// client, a load generator): its node-down follows; spawning
			// and announcing to it would only queue messages for nothing.
			return mesh.Actions{}
		}
		switch {
		case gen == handshake.Gen1 && m.g1 != nil:
			return m.g1.NodeUp(node, seed, now)
		case gen == handshake.Gen2 && m.d2 != nil:
			return m.d2.NodeUp(node, seed, now)
		}
		return mesh.Actions{}
	})
}

// nodeDown tells the state machine of node's generation that it went down.
func (m *meshLoop) nodeDown(node string, gen int) {
	m.post(func(now time.Time) mesh.Actions {
		switch {
		case gen == handshake.Gen1 && m.g1 != nil:
			return m.g1.NodeDown(node, now)
		case gen == handshake.Gen2 && m.d2 != nil:
			return m.d2.NodeDown(node, now)
		}
		return mesh.Actions{}
	})
}

// request hands a g_* node-port request from node src to the 2.x state
// machine.
func (m *meshLoop) request(src, name string, args []any) {
	if m.d2 == nil {
		return
	}
	m.post(func(now time.Time) mesh.Actions { return m.d2.Request(src, name, args, now) })
}

// serves tells the node port's "can" whether the mesh answers name.
func (m *meshLoop) serves(name string) bool {
	if m.d2 == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.d2.Serves(name)
}

// spawnGlobalConnect is the spawn function of a 1.x peer's Global port on
// this node: the port's messages go to the Global service.
func (n *Node) spawnGlobalConnect(_ *Node, req SpawnRequest) (Handler, error) {
	if n.generation(req.From) != handshake.Gen1 {
		// Only 1.x nodes run this service; a 2.x peer's mesh is the
		// database.
		return nil, fmt.Errorf("%s is not a 1.x node", req.From)
	}
	m := &n.mesh
	_, name := SplitPortID(req.Port)
	m.post(func(now time.Time) mesh.Actions {
		a, err := m.g1.Spawned(req.From, name, req.Args, now)
		if err != nil {
			a.Kill = append(a.Kill, mesh.Kill{Port: name, Reason: []any{"die", err.Error()}})
		}
		return a
	})
	return func(msg *Message) {
		args, err := msg.Args()
		if err != nil {
			return
		}
		src := msg.Source()
		m.post(func(now time.Time) mesh.Actions { return m.g1.Receive(name, src, args, now) })
	}, nil
}

// meshFind asks the mesh where node listens (both generations' masters).
func (n *Node) meshFind(node string) {
	m := &n.mesh
	if m.wake == nil || node == "" || node == n.id {
		return
	}
	m.post(func(now time.Time) mesh.Actions {
		var a mesh.Actions
		if m.g1 != nil {
			a.Append(m.g1.Find(node, now))
		}
		if m.d2 != nil {
			a.Append(m.d2.Find(node, now))
		}
		return a
	})
}

// RegisterGroup registers the local port portID under name in the mesh:
// as a 1.x group member (Perl's grp_reg) and as a 2.x database entry,
// family name, key portID, value null (Perl's db_reg NAME => PORT). Every
// node of the mesh then finds it with Group or WatchGroup. The entry goes
// away when the port dies, or when the returned function is called. A
// port may be registered under a name once. Any goroutine may call it
// after Start.
func (n *Node) RegisterGroup(name, portID string) (unregister func(), err error) {
	node, port := SplitPortID(portID)
	if node != n.id || port == "" {
		return nil, fmt.Errorf("%w: %q is not a port of this node", ErrBadPortID, portID)
	}
	if name == "" {
		return nil, fmt.Errorf("aemp: RegisterGroup: empty group name")
	}
	m := &n.mesh
	if m.wake == nil {
		return nil, fmt.Errorf("aemp: RegisterGroup before Start")
	}
	m.mu.Lock()
	var a mesh.Actions
	if m.g1 != nil {
		ga, err := m.g1.Register(name, portID)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		a.Append(ga)
	}
	if m.d2 != nil {
		a.Append(m.d2.Reg(name, portID, nil))
	}
	m.mu.Unlock()
	m.post(func(time.Time) mesh.Actions { return a })
	var once sync.Once
	unreg := func() {
		once.Do(func() {
			m.post(func(time.Time) mesh.Actions {
				var a mesh.Actions
				if m.g1 != nil {
					a.Append(m.g1.Unregister(name, portID))
				}
				if m.d2 != nil {
					a.Append(m.d2.Del(name, portID))
				}
				return a
			})
		})
	}
	n.Monitor(portID, func([]any) { unreg() })
	return unreg, nil
}

// Group returns the port IDs registered under name anywhere in the mesh,
// sorted: the members of the 1.x group name (as this node knows them: a
// 1.x mesh tells every node) and the keys of the 2.x family name (asked
// of the master, or of this node's own view when it is a global node).
// Without a 2.x master it returns what this node knows. It waits for the
// master's answer until ctx ends. Any goroutine may call it except a
// handler on an event loop.
func (n *Node) Group(ctx context.Context, name string) ([]string, error) {
	m := &n.mesh
	if m.wake == nil {
		return nil, fmt.Errorf("aemp: Group before Start")
	}
	set := map[string]bool{}
	var ch chan any
	m.mu.Lock()
	if m.g1 != nil {
		for _, p := range m.g1.Members(name) {
			set[p] = true
		}
	}
	if m.d2 != nil {
		if m.d2.IsGlobal() || m.d2.Master() != "" {
			id, a := m.d2.QueryKeys(name)
			ch = make(chan any, 1)
			m.queries[id] = ch
			m.mu.Unlock()
			m.post(func(time.Time) mesh.Actions { return a })
			m.mu.Lock()
		} else {
			for k := range m.d2.Lookup(name) {
				set[k] = true
			}
		}
	}
	m.mu.Unlock()
	if ch != nil {
		select {
		case r := <-ch:
			for _, k := range keysOf(r) {
				set[k] = true
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("aemp: Group %s: %w", name, ctx.Err())
		}
	}
	return slices.Sorted(mapKeys(set)), nil
}

// keysOf returns the keys a 2.x keys query answered.
func keysOf(r any) []string {
	var out []string
	switch r := r.(type) {
	case []string:
		out = r
	case []any:
		for _, k := range r {
			if s, ok := k.(string); ok {
				out = append(out, s)
			}
		}
	case map[string]any:
		for k := range r {
			out = append(out, k)
		}
	}
	return out
}

// WatchGroup calls cb whenever the members of name change anywhere in the
// mesh (1.x group and 2.x family, merged), first with the current members
// if there are any (Perl's grp_mon and db_mon). Callbacks run on the
// node's mesh goroutine, one at a time: they must not block, and may call
// the node's methods except Close, Call, Group and WaitNode. The returned
// function stops the watch. Any goroutine may call it after Start.
func (n *Node) WatchGroup(name string, cb func(GroupChange)) (cancel func()) {
	m := &n.mesh
	f := &cb
	m.post(func(time.Time) mesh.Actions {
		w := m.watches[name]
		if w == nil {
			w = &groupWatch{from1: map[string]bool{}, from2: map[string]any{}}
			m.watches[name] = w
			if m.g1 != nil {
				for _, p := range m.g1.Members(name) {
					w.from1[p] = true
				}
			}
		}
		w.cbs = append(w.cbs, f)
		var a mesh.Actions
		if m.d2 != nil && !w.watching {
			w.watching = true
			a = m.d2.Watch(name)
		}
		if members := w.members(); len(members) > 0 {
			vals := w.values()
			n.safely("WatchGroup callback", func() {
				cb(GroupChange{Name: name, Members: members, Added: members, Removed: []string{}, Values: vals})
			})
		}
		return a
	})
	return func() {
		m.post(func(time.Time) mesh.Actions {
			w := m.watches[name]
			if w == nil {
				return mesh.Actions{}
			}
			w.cbs = slices.DeleteFunc(w.cbs, func(x *func(GroupChange)) bool { return x == f })
			if len(w.cbs) > 0 {
				return mesh.Actions{}
			}
			delete(m.watches, name)
			if m.d2 != nil && w.watching {
				return m.d2.Unwatch(name)
			}
			return mesh.Actions{}
		})
	}
}

// members returns the union of both generations' members, sorted.
func (w *groupWatch) members() []string {
	set := map[string]bool{}
	for p := range w.from1 {
		set[p] = true
	}
	for p := range w.from2 {
		set[p] = true
	}
	return slices.Sorted(mapKeys(set))
}

// values returns the 2.x values of the members that have one.
func (w *groupWatch) values() map[string]any {
	var v map[string]any
	for k, x := range w.from2 {
		if x != nil {
			if v == nil {
				v = map[string]any{}
			}
			v[k] = x
		}
	}
	return v
}

// changed applies a state machine's change report to the watchers of its
// name, on the mesh goroutine. A 1.x change carries no Values; a 2.x one
// does (possibly empty).
func (m *meshLoop) changed(c mesh.Change, _ []mesh.Change) {
	w := m.watches[c.Name]
	if w == nil {
		return
	}
	before := w.members()
	if c.Values == nil && !w.isFrom2(c) {
		for _, p := range c.Removed {
			delete(w.from1, p)
		}
		for _, p := range c.Added {
			w.from1[p] = true
		}
	} else {
		for _, p := range c.Removed {
			delete(w.from2, p)
		}
		for _, p := range c.Added {
			w.from2[p] = c.Values[p]
		}
		for p, v := range c.Values { // changed values of keys already there
			w.from2[p] = v
		}
	}
	after := w.members()
	added, removed := diffSorted(before, after)
	if len(added) == 0 && len(removed) == 0 && len(c.Values) == 0 {
		return // nothing a watcher can see changed
	}
	gc := GroupChange{Name: c.Name, Members: after, Added: added, Removed: removed, Values: w.values()}
	for _, f := range slices.Clone(w.cbs) {
		m.n.safely("WatchGroup callback", func() { (*f)(gc) })
	}
}

// isFrom2 tells a 2.x change without values (a deletion) from a 1.x one:
// 2.x changes name keys the watch got from the database.
func (w *groupWatch) isFrom2(c mesh.Change) bool {
	if len(c.Added) > 0 {
		return false
	}
	for _, p := range c.Removed {
		if _, ok := w.from2[p]; ok {
			if !w.from1[p] {
				return true
			}
		}
	}
	return false
}

// diffSorted returns what is in b and not a, and in a and not b.
func diffSorted(a, b []string) (added, removed []string) {
	added, removed = []string{}, []string{}
	for _, x := range b {
		if _, ok := slices.BinarySearch(a, x); !ok {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			removed = append(removed, x)
		}
	}
	return added, removed
}

// DBSet sets key in family to value in the 2.x global database (Perl's
// db_set): this node's own entry, sent to its master (or merged at once
// when this node is global). Any goroutine may call it after Start.
func (n *Node) DBSet(family, key string, value any) {
	m := &n.mesh
	if m.d2 == nil {
		return
	}
	m.post(func(time.Time) mesh.Actions { return m.d2.Set(family, key, value) })
}

// DBDel deletes this node's entries keys of family (Perl's db_del).
func (n *Node) DBDel(family string, keys ...string) {
	m := &n.mesh
	if m.d2 == nil {
		return
	}
	m.post(func(time.Time) mesh.Actions { return m.d2.Del(family, keys...) })
}

// DBFamily returns the entries of family in the 2.x global database
// (Perl's db_family), asked of the master or of this node's own view when
// it is a global node; nil when the family is empty. It waits until ctx
// ends. Any goroutine may call it except a handler on an event loop.
func (n *Node) DBFamily(ctx context.Context, family string) (map[string]any, error) {
	m := &n.mesh
	if m.d2 == nil {
		return nil, fmt.Errorf("aemp: DBFamily: this node speaks no 2.x mesh")
	}
	ch := make(chan any, 1)
	m.post(func(time.Time) mesh.Actions {
		id, a := m.d2.QueryFamily(family)
		m.queries[id] = ch
		return a
	})
	select {
	case r := <-ch:
		fam, _ := r.(map[string]any)
		return fam, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("aemp: DBFamily %s: %w", family, ctx.Err())
	}
}

// MeshInfo is a snapshot of the node's place in the mesh.
type MeshInfo struct {
	// Master1 and Master2 are the 1.x and 2.x masters ("" for none).
	Master1, Master2 string
	// Global is true when this node is a 2.x global node.
	Global bool
	// Groups are the 1.x groups known.
	Groups []string
}

// Mesh returns the node's place in the mesh. Any goroutine may call it.
func (n *Node) Mesh() MeshInfo {
	m := &n.mesh
	m.mu.Lock()
	defer m.mu.Unlock()
	var mi MeshInfo
	if m.g1 != nil {
		mi.Master1, mi.Groups = m.g1.Master(), m.g1.Groups()
	}
	if m.d2 != nil {
		mi.Master2, mi.Global = m.d2.Master(), m.d2.IsGlobal()
	}
	return mi
}
