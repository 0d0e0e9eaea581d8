package mesh

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// DB2Config configures a DB2.
type DB2Config struct {
	// Self is this node's ID.
	Self string
	// Addrs are our listen addresses (host:port); they are published in
	// family 'l under Self, and a DB2 never dials them.
	Addrs []string
	// Global starts the node as a global node. Otherwise it becomes one
	// when another node sends it g_slave, as a Perl node does.
	Global bool
	// Limits bound what other nodes can make the DB2 hold.
	Limits Limits
	// Rand picks among equivalent seeds and jitters retry timers; nil
	// means a generator seeded from the runtime.
	Rand *rand.Rand
}

// DB2 is AnyEvent::MP 2.x's global service and distributed database as a
// sans-I/O state machine (docs/mesh.md section 3), in both roles:
//
//   - An ordinary node keeps its own entries (Set, Del, Reg), picks the
//     first seed that comes up as its master, sends it g_slave with all its
//     entries and then every change as g_upd, and asks it everything else
//     (g_find, g_db_*, g_mon1/g_mon0). Requests made while there is no
//     master wait and are sent when one is found; when the master goes
//     down another seed that is up takes over and gets everything again.
//   - A global node is its own master. It holds every entry its slaves
//     (and it itself) sent, per source node, merged into one view; it
//     answers queries, tells watchers of changes (g_chg1, g_chg2), deletes
//     a node's entries when the node goes down, and exchanges its slaves'
//     entries with the other global nodes (g_global, g_set, g_upd), to
//     which it keeps connections.
//
// The engine calls Request for every node-port request whose name starts
// with "g_", NodeUp and NodeDown for 2.x nodes, Tick now and then, and
// carries out the returned Actions. Messages a DB2 sends to itself are
// handled at once, inside the call.
//
// Peer input is checked: a malformed request or one that is not served in
// the current role is ignored with one Warning and no other effect; entries
// beyond Limits (and beyond byte budgets of 256 bytes per allowed entry of
// a node, 128 per allowed entry in all) are dropped, with one Warning per
// message; values must be plain data (no NaN or infinities, nesting at
// most 32, at most 64*MaxStringLen bytes) and 'l values lists of at most
// MaxAddrs addresses; a node not known as global may set only its own key
// in 'l and 'g, and g_set is taken only from global nodes; deletions of
// keys the sender does not hold are ignored; at most 256 global nodes are
// kept connected. Dials never name this node or one of its addresses.
//
// A DB2 is not safe for concurrent use (see the package documentation):
// the engine calls it from one goroutine at a time.
type DB2 struct {
	self   string
	addrs  []string
	own    map[string]bool // our addresses, canonical
	lim    Limits
	rnd    *rand.Rand
	now    time.Time
	global bool
	master string

	local map[string]map[string]any  // our own entries (Perl: LOCAL_DB)
	regs  map[string]map[string]bool // port -> families it was Reg'd in

	reqs     map[string]*db2Req // requests for the master (GLOBAL_REQ)
	reqSeq   uint64
	calls    map[string]db2Call // pending queries by wire ID (GLOBAL_RES)
	lastWire string
	lastID   uint64
	finds    map[string]time.Time // pending g_find by node
	found    map[string][]string  // the last g_found answer per node

	watches  map[string]*db2Watch // watched families (LOCAL_MON, MON_DB)
	watchN   int                  // entries held in watches
	watchB   int                  // bytes held in watches
	seeds    map[string]bool      // nodes reached through a seed address
	up       map[string]struct{}  // 2.x nodes that are up (one entry per connected peer: kept small)
	globals  map[string]bool      // nodes that said g_global (GLOBAL_NODE)
	maxBytes int                  // byte budget for all peers' entries
	nodeB    int                  // byte budget per peer
	valueMax int                  // largest value accepted from a peer

	// global role
	fams    map[string]*db2Family      // merged view (GLOBAL_DB)
	shards  map[string]*db2Shard       // entries per source node (LOCAL_DBS)
	slaves  map[string]map[string]bool // slaves -> families they watch (GLOBAL_SLAVE)
	gmon    map[string]map[string]bool // family -> watching nodes (GLOBAL_MON)
	exWatch map[string]map[string]bool // former slaves (turned global) -> families they still watch
	entries int                        // entries in all peers' shards
	bytes   int                        // bytes in all peers' shards
	keep    map[string]bool            // global nodes we stay connected to -> down
	retry   time.Duration              // keepalive retry interval
	next    time.Time                  // next keepalive round (zero: none)
}

// db2Req is a request that is (re)sent to every new master until it is
// answered or withdrawn.
type db2Req struct {
	seq  uint64
	args []any
}

// db2Call is a pending query.
type db2Call struct {
	id   uint64
	kind string // g_db_family, g_db_keys, g_db_values
}

// db2Watch is a watched family as the master last reported it.
type db2Watch struct {
	refs     int  // Watch calls not yet undone
	internal bool // a global node watches 'g to keep connections
	db       map[string]any
	bytes    map[string]int
}

// db2Shard is what one node contributed to a global node's view.
type db2Shard struct {
	fams  map[string]map[string]any
	n     int
	bytes int
}

// db2Family is one family of the merged view, with the nodes whose shard
// holds each key (in the order they set it).
type db2Family struct {
	merged  map[string]any
	holders map[string]db2Holders
}

// db2Holders lists the nodes holding a key; nearly always one.
type db2Holders struct {
	first string
	more  []string
}

// add appends node unless it is listed.
func (h *db2Holders) add(node string) {
	if h.first == node || slices.Contains(h.more, node) {
		return
	}
	if h.first == "" {
		h.first = node
		return
	}
	h.more = append(h.more, node)
}

// remove takes node out of the list.
func (h *db2Holders) remove(node string) {
	if h.first == node {
		h.first = ""
		if len(h.more) > 0 {
			h.first, h.more = h.more[0], h.more[1:]
		}
		return
	}
	if i := slices.Index(h.more, node); i >= 0 {
		h.more = slices.Delete(h.more, i, i+1)
	}
}

// list returns the nodes in order.
func (h *db2Holders) list() []string {
	if h.first == "" {
		return nil
	}
	return append([]string{h.first}, h.more...)
}

// Families and requests with fixed meaning.
const (
	db2Listen  = "'l" // node ID -> listen addresses
	db2Globals = "'g" // global node ID -> undef
	// db2FindTTL is how long an unanswered g_find is kept (and re-sent to
	// a new master); the engine gives up on a connection much sooner.
	db2FindTTL = 30 * time.Second
	// db2KeepMin and db2KeepMax bound the keepalive retry interval
	// (Perl: (1 + rand) * 0.3 s, doubling up to monitor_timeout).
	db2KeepMin = 300 * time.Millisecond
	db2KeepMax = 30 * time.Second
)

// NewDB2 returns a DB2 for node cfg.Self. Its own address entry ('l) is
// set from cfg.Addrs; with cfg.Global it starts as a global node.
func NewDB2(cfg DB2Config) *DB2 {
	lim := cfg.Limits.WithDefaults()
	d := &DB2{
		self:     cfg.Self,
		lim:      lim,
		rnd:      cfg.Rand,
		local:    map[string]map[string]any{},
		regs:     map[string]map[string]bool{},
		reqs:     map[string]*db2Req{},
		calls:    map[string]db2Call{},
		lastWire: "a",
		finds:    map[string]time.Time{},
		found:    map[string][]string{},
		watches:  map[string]*db2Watch{},
		seeds:    map[string]bool{},
		up:       map[string]struct{}{},
		globals:  map[string]bool{},
		fams:     map[string]*db2Family{},
		shards:   map[string]*db2Shard{},
		slaves:   map[string]map[string]bool{},
		gmon:     map[string]map[string]bool{},
		exWatch:  map[string]map[string]bool{},
		keep:     map[string]bool{},
		maxBytes: lim.MaxEntries * 128,
		nodeB:    lim.MaxEntriesPerNode * 256,
		valueMax: lim.MaxStringLen * 64,
	}
	if d.rnd == nil {
		d.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	d.setOwn(cfg.Addrs)
	d.local[db2Listen] = map[string]any{d.self: db2AddrList(d.addrs)}
	if cfg.Global {
		var a Actions
		d.becomeGlobal(&a)
	}
	return d
}

// setOwn records our listen addresses.
func (d *DB2) setOwn(addrs []string) {
	d.addrs = slices.Clone(addrs)
	d.own = map[string]bool{}
	for _, s := range addrs {
		if c, ok := db2CanonAddr(s); ok {
			d.own[c] = true
		}
	}
}

// db2AddrList is an 'l value: the addresses as a list.
func db2AddrList(addrs []string) []any {
	l := make([]any, len(addrs))
	for i, s := range addrs {
		l[i] = s
	}
	return l
}

// SetAddrs replaces our listen addresses and publishes them in family 'l
// (a g_upd to the master, or straight into the view of a global node).
func (d *DB2) SetAddrs(addrs []string) Actions {
	d.setOwn(addrs)
	return d.Set(db2Listen, d.self, db2AddrList(d.addrs))
}

// IsGlobal reports whether this node is a global node.
func (d *DB2) IsGlobal() bool { return d.global }

// Master returns the node our requests go to: ourselves on a global node,
// "" while an ordinary node has none.
func (d *DB2) Master() string { return d.master }

// Serves reports whether a g_* request is answered in the current role:
// what Perl's node port answers to "can". Requests that only global nodes
// serve are false on an ordinary node.
func (d *DB2) Serves(name string) bool {
	switch name {
	case "g_slave", "g_global", "g_reply", "g_found", "g_chg1", "g_chg2":
		return true
	case "g_set", "g_upd", "g_find", "g_db_family", "g_db_keys", "g_db_values", "g_mon0", "g_mon1":
		return d.global
	}
	return false
}

// warn adds a Warning about input from node.
func (d *DB2) warn(a *Actions, node, format string, args ...any) {
	a.Warn = append(a.Warn, Warning{Node: node, Msg: fmt.Sprintf(format, args...)})
}

// send sends a node-port request; one to ourselves is handled at once.
func (d *DB2) send(a *Actions, to string, args ...any) {
	if to == d.self {
		name, _ := args[0].(string)
		d.request(a, d.self, name, args[1:])
		return
	}
	a.Send = append(a.Send, Send{To: to + "#", Args: args})
}

// okName reports whether s may be a family name or key.
func (d *DB2) okName(s string) bool { return len(s) <= d.lim.MaxStringLen }

// okNode reports whether s may be a node ID.
func (d *DB2) okNode(s string) bool {
	return s != "" && len(s) <= d.lim.MaxStringLen && !strings.ContainsRune(s, '#')
}

// ---------------------------------------------------------------------------
// node events

// NodeUp reports that a 2.x node came up. seed says it was reached
// through one of our configured seed addresses; such a node is asked to
// run the global service (g_slave; an ordinary node sends it twice, as
// Perl: once queued at greeting time, once on node-up), stays a seed for
// later connections, and becomes our master if we have none. A global
// node announces itself (g_global) to every node that comes up.
func (d *DB2) NodeUp(node string, seed bool, now time.Time) Actions {
	var a Actions
	d.now = now
	if node == d.self || !d.okNode(node) {
		return a
	}
	d.up[node] = struct{}{}
	if seed && !d.seeds[node] && len(d.seeds) < d.lim.MaxNodes {
		d.seeds[node] = true
	}
	if seed && !d.global {
		// sent at greeting time and queued; a global node drops that queue
		// at once (it has no address for a node it looks up)
		d.send(&a, node, "g_slave")
	}
	isSeed := d.seeds[node]
	if !d.global && d.master == "" && isSeed {
		d.masterSet(&a, node)
	}
	if isSeed {
		d.send(&a, node, "g_slave")
	}
	if d.global {
		d.send(&a, node, "g_global")
		if _, ok := d.keep[node]; ok {
			d.keep[node] = false
			d.keepStop()
		}
	}
	return a
}

// NodeDown reports that a node went down (or could not be reached). An
// ordinary node whose master it was looks for another seed that is up (or
// waits for one); a global node deletes every entry the node contributed,
// tells watchers, stops serving it, and tries to reconnect to it if it is
// a global node it keeps connections to.
func (d *DB2) NodeDown(node string, now time.Time) Actions {
	var a Actions
	d.now = now
	if node == d.self {
		return a
	}
	_, wasUp := d.up[node]
	delete(d.up, node)
	delete(d.globals, node)
	if d.global {
		d.disconnect(&a, node, true)
		// a failed attempt is retried on the backed-off schedule; a lost
		// connection at once, as Perl does
		if _, ok := d.keep[node]; ok && wasUp {
			d.keep[node] = true
			d.keepAgain(&a)
		}
	} else if node == d.master {
		d.master = ""
		d.masterSearch(&a)
	}
	return a
}

// Tick runs timers: keepalive reconnects of a global node and the expiry
// of unanswered g_find requests.
func (d *DB2) Tick(now time.Time) Actions {
	var a Actions
	d.now = now
	if !d.next.IsZero() && !now.Before(d.next) {
		d.keepAll(&a)
	}
	for node, t := range d.finds {
		if now.Sub(t) >= db2FindTTL {
			delete(d.finds, node)
			delete(d.reqs, "g_find "+node)
		}
	}
	return a
}

// ---------------------------------------------------------------------------
// master selection and requests to the master

// masterSet makes node our master: it gets our whole database and every
// pending request.
func (d *DB2) masterSet(a *Actions, node string) {
	d.master = node
	db := make(map[string]any, len(d.local))
	for f, kv := range d.local {
		c := make(map[string]any, len(kv))
		for k, v := range kv {
			c[k] = v
		}
		db[f] = c
	}
	d.send(a, node, "g_slave", db)
	reqs := make([]*db2Req, 0, len(d.reqs))
	for _, r := range d.reqs {
		reqs = append(reqs, r)
	}
	slices.SortFunc(reqs, func(x, y *db2Req) int { return cmp.Compare(x.seq, y.seq) })
	for _, r := range reqs {
		d.send(a, node, r.args...)
	}
}

// masterSearch picks a seed that is up as the new master; with none, the
// next seed that comes up becomes master (NodeUp).
func (d *DB2) masterSearch(a *Actions) {
	var cand []string
	for n := range d.seeds {
		if _, up := d.up[n]; up {
			cand = append(cand, n)
		}
	}
	if len(cand) == 0 {
		return
	}
	slices.Sort(cand)
	d.masterSet(a, cand[d.rnd.IntN(len(cand))])
}

// reqAdd remembers a request for the master under key and sends it if
// there is a master; a pending request with the same key is not repeated.
func (d *DB2) reqAdd(a *Actions, key string, args ...any) {
	if _, ok := d.reqs[key]; ok {
		return
	}
	d.reqSeq++
	d.reqs[key] = &db2Req{seq: d.reqSeq, args: args}
	if d.master != "" {
		d.send(a, d.master, args...)
	}
}

// ---------------------------------------------------------------------------
// the local database

// Set sets family/key to value in our own entries (Perl's db_set) and
// tells the master unless the entry already holds an equal value. The
// value must not be changed afterwards.
func (d *DB2) Set(family, key string, value any) Actions {
	var a Actions
	d.dbSet(&a, family, key, value)
	return a
}

func (d *DB2) dbSet(a *Actions, family, key string, value any) {
	kv := d.local[family]
	if kv == nil {
		kv = map[string]any{}
		d.local[family] = kv
	}
	if old, ok := kv[key]; ok && db2Equal(old, value) {
		return
	}
	kv[key] = value
	if d.master != "" {
		d.send(a, d.master, "g_upd", family, map[string]any{key: value})
	}
}

// Del deletes keys of family from our own entries (Perl's db_del) and
// tells the master about those that existed.
func (d *DB2) Del(family string, keys ...string) Actions {
	var a Actions
	d.dbDel(&a, family, keys...)
	return a
}

func (d *DB2) dbDel(a *Actions, family string, keys ...string) {
	if len(keys) == 0 {
		return
	}
	kv := d.local[family]
	if kv == nil {
		// Perl leaves the family behind, empty; it shows in g_slave
		kv = map[string]any{}
		d.local[family] = kv
	}
	var del []any
	for _, k := range keys {
		if _, ok := kv[k]; ok {
			delete(kv, k)
			del = append(del, k)
		}
	}
	if len(del) > 0 && d.master != "" {
		d.send(a, d.master, "g_upd", family, nil, del)
	}
}

// Reg registers port in family with value (Perl's db_reg): Set, plus the
// entry is deleted when the port dies. For a port on another node the
// returned Actions ask the engine to monitor it; for a local port the
// engine must call PortDied when it dies (at once if it does not exist).
func (d *DB2) Reg(family, port string, value any) Actions {
	var a Actions
	fs := d.regs[port]
	if fs == nil {
		fs = map[string]bool{}
		d.regs[port] = fs
	}
	fs[family] = true
	if node, _, _ := strings.Cut(port, "#"); node != d.self {
		a.Monitor = append(a.Monitor, port)
	}
	d.dbSet(&a, family, port, value)
	return a
}

// PortDied deletes the entries Reg made for port (a local port that was
// killed, or a monitored remote port that died or whose node went down).
func (d *DB2) PortDied(port string) Actions {
	var a Actions
	fs := d.regs[port]
	delete(d.regs, port)
	for _, f := range db2Sorted(fs) {
		d.dbDel(&a, f, port)
	}
	return a
}

// ---------------------------------------------------------------------------
// queries

// QueryFamily asks for a family's entries (Perl's db_family): the Reply's
// Result is a map[string]any, empty when the family does not exist. A
// global node answers at once from its view; an ordinary node asks its
// master (when it has one) and the Reply comes from a later g_reply.
func (d *DB2) QueryFamily(family string) (id uint64, a Actions) {
	return d.query("g_db_family", family)
}

// QueryKeys asks for a family's keys (Perl's db_keys); the Reply's Result
// is a []string. See QueryFamily.
func (d *DB2) QueryKeys(family string) (id uint64, a Actions) {
	return d.query("g_db_keys", family)
}

// QueryValues asks for a family's values (Perl's db_values); the Reply's
// Result is a []any. See QueryFamily.
func (d *DB2) QueryValues(family string) (id uint64, a Actions) {
	return d.query("g_db_values", family)
}

func (d *DB2) query(kind, family string) (uint64, Actions) {
	var a Actions
	d.lastID++
	id := d.lastID
	if len(d.calls) >= d.lim.MaxEntriesPerNode {
		d.warn(&a, d.self, "%s: too many pending queries", kind)
		a.Replies = append(a.Replies, Reply{ID: id})
		return id, a
	}
	d.lastWire = perlIncrement(d.lastWire)
	wire := d.lastWire
	d.calls[wire] = db2Call{id: id, kind: kind}
	d.reqAdd(&a, wire, kind, family, wire)
	return id, a
}

// ---------------------------------------------------------------------------
// watching

// Watch starts watching family (Perl's db_mon). The first Change for it
// holds the full contents as Added with Values (even when empty), later
// ones the changes. Watching an already watched family returns that full
// contents Change at once (for the new watcher only). Each Watch needs one
// Unwatch.
func (d *DB2) Watch(family string) Actions {
	var a Actions
	d.watch(&a, family, false)
	return a
}

func (d *DB2) watch(a *Actions, family string, internal bool) {
	if w := d.watches[family]; w != nil {
		if internal {
			w.internal = true
			d.keepAddAll(a, d.self, db2Sorted(w.db))
			return
		}
		w.refs++
		keys := db2Sorted(w.db)
		vals := make(map[string]any, len(keys))
		for _, k := range keys {
			vals[k] = w.db[k]
		}
		a.Changes = append(a.Changes, Change{Name: family, Added: keys, Values: vals})
		return
	}
	w := &db2Watch{db: map[string]any{}, bytes: map[string]int{}, internal: internal}
	if !internal {
		w.refs = 1
	}
	d.watches[family] = w
	d.reqAdd(a, "mon1 "+family, "g_mon1", family)
}

// Unwatch undoes one Watch; after the last one the master is told to stop
// (g_mon0) and the family's copy is dropped.
func (d *DB2) Unwatch(family string) Actions {
	var a Actions
	w := d.watches[family]
	if w == nil || w.refs == 0 {
		return a
	}
	w.refs--
	if w.refs > 0 || w.internal {
		return a
	}
	delete(d.reqs, "mon1 "+family)
	d.dropWatch(family)
	if d.master != "" {
		d.send(&a, d.master, "g_mon0", family)
	}
	return a
}

func (d *DB2) dropWatch(family string) {
	w := d.watches[family]
	if w == nil {
		return
	}
	d.watchN -= len(w.db)
	for _, b := range w.bytes {
		d.watchB -= b
	}
	delete(d.watches, family)
}

// Lookup returns a copy of what this node knows of family: a global
// node's merged view, an ordinary node's copy of a watched family; nil
// otherwise.
func (d *DB2) Lookup(family string) map[string]any {
	var src map[string]any
	if d.global {
		if f := d.fams[family]; f != nil {
			src = f.merged
		}
	} else if w := d.watches[family]; w != nil {
		src = w.db
	}
	if src == nil {
		return nil
	}
	c := make(map[string]any, len(src))
	for k, v := range src {
		c[k] = v
	}
	return c
}

// ---------------------------------------------------------------------------
// finding nodes

// Find looks up where node listens, for connecting to it. A global node
// answers at once from family 'l; an ordinary node asks its master
// (g_find, sent when there is one) and the g_found answer becomes the
// Dial. A Dial without addresses means the node has no known address: the
// engine fails the connection ("no known address"), as Perl does.
// Addresses that are ours or not host:port are left out; nothing is
// returned for our own ID.
func (d *DB2) Find(node string, now time.Time) Actions {
	var a Actions
	d.now = now
	if node == d.self || !d.okNode(node) {
		return a
	}
	if d.global {
		a.Dial = append(a.Dial, Dial{Node: node, Addrs: d.NodeAddrs(node)})
		return a
	}
	if _, ok := d.finds[node]; !ok && len(d.finds) >= d.lim.MaxNodes {
		d.warn(&a, d.self, "g_find: too many pending lookups")
		return a
	}
	d.finds[node] = now
	d.reqAdd(&a, "g_find "+node, "g_find", node)
	return a
}

// NodeAddrs returns the addresses we know for node (as Find would dial
// them): a global node's family 'l, or on an ordinary node a watched 'l or
// the last g_found answer.
func (d *DB2) NodeAddrs(node string) []string {
	if node == d.self {
		return nil
	}
	if d.global {
		if f := d.fams[db2Listen]; f != nil {
			return d.dialAddrs(f.merged[node])
		}
		return nil
	}
	if w := d.watches[db2Listen]; w != nil {
		if v, ok := w.db[node]; ok {
			return d.dialAddrs(v)
		}
	}
	return slices.Clone(d.found[node])
}

// dialAddrs returns the usable addresses of an 'l value: host:port
// strings that are not ours, without duplicates, at most MaxAddrs.
func (d *DB2) dialAddrs(v any) []string {
	l, _ := v.([]any)
	var out []string
	seen := map[string]bool{}
	for _, e := range l {
		s, ok := db2Text(e)
		if !ok || len(s) > d.lim.MaxStringLen {
			continue
		}
		c, ok := db2CanonAddr(s)
		if !ok || d.own[c] || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, s)
		if len(out) == d.lim.MaxAddrs {
			break
		}
	}
	return out
}

// db2Sorted returns the keys of m in order.
func db2Sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
