package mesh

import (
	"slices"
	"time"
)

// becomeGlobal turns this node into a global node, in Perl's order: it
// becomes its own master (its own entries enter the view and its pending
// requests are answered by itself), lists itself in 'g, announces itself
// to every node that is up (sending its slaves' entries to those it knows
// to be global), and watches 'g to keep connections to all global nodes.
func (d *DB2) becomeGlobal(a *Actions) {
	d.global = true
	d.masterSet(a, d.self)
	d.dbSet(a, db2Globals, d.self, nil)
	for _, n := range db2Sorted(d.up) {
		d.send(a, n, "g_global")
		if d.globals[n] {
			d.globalConnect(a, n)
		}
	}
	d.watch(a, db2Globals, true)
}

// globalRequest handles the requests only global nodes serve.
func (d *DB2) globalRequest(a *Actions, src, name string, a0, a1, a2 any) {
	switch name {
	case "g_set":
		db, ok := a0.(map[string]any)
		if !ok && a0 != nil {
			d.warn(a, src, "g_set: database is not a map")
			return
		}
		if !d.globals[src] {
			// Perl global nodes announce themselves (g_global) before
			// they send g_set; from anyone else it would plant address
			// entries in our own database
			d.warn(a, src, "g_set: not from a global node")
			return
		}
		// a global node's listen addresses are mirrored into our own
		// entries, so that global nodes find each other
		var binds any
		if l, ok := db[db2Listen].(map[string]any); ok {
			if v := l[src]; d.okListen(v) {
				binds = v
			}
		}
		var st db2Stats
		d.gSet(a, src, db, &st)
		d.report(a, src, name, &st)
		d.dbSet(a, db2Listen, src, binds)
	case "g_upd":
		family, ok := db2Text(a0)
		if !ok || !d.okName(family) {
			d.warn(a, src, "g_upd: bad family name")
			return
		}
		set, ok := a1.(map[string]any)
		if !ok && a1 != nil {
			d.warn(a, src, "g_upd: entries are not a map")
			return
		}
		del, ok := d.keyList(a2)
		if !ok {
			d.warn(a, src, "g_upd: deleted keys are not a list of strings")
			return
		}
		var st db2Stats
		d.gUpd(a, src, family, set, del, &st)
		d.report(a, src, name, &st)
	case "g_find":
		node, ok := db2Text(a0)
		if !ok {
			d.warn(a, src, "g_find: bad node ID")
			return
		}
		var addrs any
		if f := d.fams[db2Listen]; f != nil {
			addrs = f.merged[node]
		}
		d.send(a, src, "g_found", node, addrs)
	case "g_db_family", "g_db_keys", "g_db_values":
		family, ok := db2Text(a0)
		if !ok || !db2Scalar(a1) {
			d.warn(a, src, "%s: bad family name or query ID", name)
			return
		}
		var m map[string]any
		if f := d.fams[family]; f != nil {
			m = f.merged
		}
		var res any
		switch name {
		case "g_db_family":
			c := make(map[string]any, len(m))
			for k, v := range m {
				c[k] = v
			}
			res = c
		case "g_db_keys":
			keys := db2Sorted(m)
			l := make([]any, len(keys))
			for i, k := range keys {
				l[i] = k
			}
			res = l
		default:
			keys := db2Sorted(m)
			l := make([]any, len(keys))
			for i, k := range keys {
				l[i] = m[k]
			}
			res = l
		}
		d.send(a, src, "g_reply", a1, res)
	case "g_mon1":
		family, ok := db2Text(a0)
		if !ok || !d.okName(family) {
			d.warn(a, src, "g_mon1: bad family name")
			return
		}
		// as in Perl, a node that watches counts as a slave from now on
		mon := d.slaves[src]
		if mon == nil {
			if src != d.self && len(d.slaves) >= d.lim.MaxNodes {
				d.warn(a, src, "g_mon1: too many slaves")
				return
			}
			mon = map[string]bool{}
			d.slaves[src] = mon
		}
		if !mon[family] && src != d.self && len(mon) >= d.lim.MaxEntriesPerNode {
			d.warn(a, src, "g_mon1: too many watched families")
			return
		}
		mon[family] = true
		w := d.gmon[family]
		if w == nil {
			w = map[string]bool{}
			d.gmon[family] = w
		}
		w[src] = true
		var contents any // null for a family that does not exist
		if f := d.fams[family]; f != nil {
			c := make(map[string]any, len(f.merged))
			for k, v := range f.merged {
				c[k] = v
			}
			contents = c
		}
		d.send(a, src, "g_chg1", family, contents)
	case "g_mon0":
		family, ok := db2Text(a0)
		if !ok {
			d.warn(a, src, "g_mon0: bad family name")
			return
		}
		if w := d.gmon[family]; w != nil {
			delete(w, src)
			if len(w) == 0 {
				delete(d.gmon, family)
			}
		}
		delete(d.exWatch[src], family)
		if mon := d.slaves[src]; mon != nil {
			delete(mon, family)
		} else if len(d.slaves) < d.lim.MaxNodes {
			d.slaves[src] = map[string]bool{}
		}
	}
}

// onSlave makes src our slave and takes its whole database.
func (d *DB2) onSlave(a *Actions, src string, db map[string]any) {
	if _, ok := d.slaves[src]; !ok {
		if src != d.self && len(d.slaves) >= d.lim.MaxNodes {
			d.warn(a, src, "g_slave: too many slaves")
			return
		}
		d.slaves[src] = map[string]bool{}
	}
	var st db2Stats
	d.gSet(a, src, db, &st)
	d.report(a, src, "g_slave", &st)
}

// gSet takes a whole database from node, family by family: 'l first (so
// that the addresses of global nodes listed in 'g are known when we
// connect to them), then in order, unless there are so many families that
// sorting them would cost more than taking them.
func (d *DB2) gSet(a *Actions, node string, db map[string]any, st *db2Stats) {
	fams := make([]string, 0, len(db))
	start := 0
	if _, ok := db[db2Listen]; ok {
		fams = append(fams, db2Listen)
		start = 1
	}
	for f := range db {
		if f != db2Listen {
			fams = append(fams, f)
		}
	}
	if len(fams) <= db2SortMax {
		slices.Sort(fams[start:])
	}
	for _, f := range fams {
		if !d.okName(f) {
			st.bad++
			continue
		}
		switch kv := db[f].(type) {
		case map[string]any:
			d.gUpd(a, node, f, kv, nil, st)
		case nil:
		default:
			st.bad++
		}
	}
}

// okListen reports whether v may be an 'l value: null or a list of at
// most MaxAddrs strings.
func (d *DB2) okListen(v any) bool {
	if v == nil {
		return true
	}
	l, ok := v.([]any)
	if !ok || len(l) > d.lim.MaxAddrs {
		return false
	}
	for _, e := range l {
		if s, ok := db2Text(e); !ok || len(s) > d.lim.MaxStringLen {
			return false
		}
	}
	return true
}

// isSlave reports whether node counts as our slave (Perl: exists
// $GLOBAL_SLAVE{node}); we are our own slave on a global node.
func (d *DB2) isSlave(node string) bool {
	_, ok := d.slaves[node]
	return ok
}

// gUpd applies one family update from node to the view (Perl's g_upd):
// set keys, delete keys, then tell the other global nodes (for an update
// from one of our slaves) and the watchers. A key deleted by one node but
// still held by another keeps the other's value, a slave's before a global
// node's. in is only read.
func (d *DB2) gUpd(a *Actions, node, family string, in map[string]any, del []string, st *db2Stats) {
	remote := node != d.self
	restricted := remote && !d.globals[node]
	sh := d.shards[node]
	if remote && len(in) > 0 && (sh == nil || sh.fams[family] == nil) &&
		(sh != nil && sh.n >= d.lim.MaxEntriesPerNode || d.entries >= d.lim.MaxEntries) {
		// nothing of this can be taken: the node or everyone is at the limit
		st.over += len(in)
		in = nil
	}
	var set map[string]any // allocated for the first entry taken
	for k, v := range in {
		var size int
		if remote {
			// a node that is not (yet) known as global may only give its own
			// addresses and announce itself as global (as one turning
			// global does just before its g_global)
			if !d.okName(k) || restricted && (family == db2Globals || family == db2Listen) && k != node {
				st.bad++
				continue
			}
			var ok bool
			if size, ok = db2ValueSize(v, d.valueMax); !ok || family == db2Listen && !d.okListen(v) {
				st.bad++
				continue
			}
		} else {
			size = db2LocalSize(v)
		}
		if sh == nil {
			if remote && len(d.shards) >= d.lim.MaxNodes {
				st.over++
				continue
			}
			sh = &db2Shard{fams: map[string]map[string]any{}}
			d.shards[node] = sh
		}
		kv := sh.fams[family]
		old, had := kv[k]
		delta := len(k) + size + db2EntryOverhead
		if had {
			delta -= len(k) + db2LocalSize(old) + db2EntryOverhead
		}
		if remote && (!had && (sh.n >= d.lim.MaxEntriesPerNode || d.entries >= d.lim.MaxEntries) ||
			sh.bytes+delta > d.nodeB || d.bytes+delta > d.maxBytes) {
			st.over++
			continue
		}
		if kv == nil {
			kv = map[string]any{}
			sh.fams[family] = kv
		}
		kv[k] = v
		sh.bytes += delta
		if !had {
			sh.n++
		}
		if remote {
			d.bytes += delta
			if !had {
				d.entries++
			}
		}
		f := d.fams[family]
		if f == nil {
			f = &db2Family{merged: map[string]any{}, holders: map[string]db2Holders{}}
			d.fams[family] = f
		}
		f.merged[k] = v
		h := f.holders[k]
		h.add(node)
		f.holders[k] = h
		if set == nil {
			set = map[string]any{}
		}
		set[k] = v
	}

	f := d.fams[family]
	var delLocal, delGlobal []any
	var localSet map[string]any
	for _, k := range del {
		if sh == nil || f == nil {
			break
		}
		kv := sh.fams[family]
		old, had := kv[k]
		if !had {
			// Perl would still announce the deletion; a key the node
			// does not hold is not its to delete
			continue
		}
		delete(kv, k)
		size := len(k) + db2LocalSize(old) + db2EntryOverhead
		sh.n--
		sh.bytes -= size
		if remote {
			d.entries--
			d.bytes -= size
		}
		h := f.holders[k]
		h.remove(node)
		if h.first == "" {
			delete(f.holders, k)
			delete(f.merged, k)
			delLocal = append(delLocal, k)
			if d.isSlave(node) {
				delGlobal = append(delGlobal, k)
			}
			continue
		}
		f.holders[k] = h
		other := ""
		for _, n := range h.list() {
			if d.isSlave(n) {
				other = n
				break
			}
		}
		if other != "" {
			if v := d.shards[other].fams[family][k]; !db2Equal(f.merged[k], v) {
				if set == nil {
					set = map[string]any{}
				}
				set[k] = v
				f.merged[k] = v
			}
			continue
		}
		delGlobal = append(delGlobal, k)
		if v := d.shards[h.first].fams[family][k]; !db2Equal(f.merged[k], v) {
			if localSet == nil {
				localSet = map[string]any{}
			}
			localSet[k] = v
			f.merged[k] = v
		}
	}

	if sh != nil {
		if kv, ok := sh.fams[family]; ok && len(kv) == 0 {
			delete(sh.fams, family)
		}
		if len(sh.fams) == 0 {
			delete(d.shards, node)
		}
	}
	if f != nil && len(f.merged) == 0 {
		delete(d.fams, family)
	}

	if set == nil {
		set = map[string]any{} // Perl sends {} where nothing was set
	}
	if d.isSlave(node) && (len(set) > 0 || len(delGlobal) > 0) {
		for _, g := range db2Sorted(d.globals) {
			d.send(a, g, "g_upd", family, set, db2List(delGlobal))
		}
	}
	if len(set) > 0 || len(localSet) > 0 || len(delLocal) > 0 {
		chg := set
		if len(localSet) > 0 {
			chg = make(map[string]any, len(set)+len(localSet))
			for k, v := range set {
				chg[k] = v
			}
			for k, v := range localSet {
				chg[k] = v
			}
		}
		for _, w := range db2Sorted(d.gmon[family]) {
			d.send(a, w, "g_chg2", family, chg, db2List(delLocal))
		}
	}
}

// db2List returns l, or an empty list for nil (Perl sends [] there).
func db2List(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// gClr deletes everything node contributed (Perl's g_clr).
func (d *DB2) gClr(a *Actions, node string) {
	sh := d.shards[node]
	if sh == nil {
		return
	}
	for _, f := range db2Sorted(sh.fams) {
		d.gUpd(a, node, f, nil, db2Sorted(sh.fams[f]), nil)
	}
	delete(d.shards, node)
}

// disconnect forgets a node that went down or turned global (Perl's
// g_disconnect): the global-node and address entries we mirrored for it,
// all its entries, and its role as a slave. Perl never drops the node's
// watches there (it deletes the wrong keys): a node that turned global
// keeps getting g_chg2, which we reproduce; a node that went down would be
// sent changes that cannot reach it, so its watches are dropped first.
func (d *DB2) disconnect(a *Actions, node string, down bool) {
	delete(d.globals, node)
	mon, slave := d.slaves[node]
	if down {
		d.unwatchAll(node)
	} else if len(mon) > 0 {
		ex := d.exWatch[node]
		if ex == nil {
			ex = map[string]bool{}
			d.exWatch[node] = ex
		}
		for f := range mon {
			ex[f] = true
		}
	}
	d.dbDel(a, db2Globals, node)
	d.dbDel(a, db2Listen, node)
	d.gClr(a, node) // still a slave here: its deletions go to the other global nodes
	if slave {
		delete(d.slaves, node)
	}
}

// unwatchAll drops every watch of node.
func (d *DB2) unwatchAll(node string) {
	drop := func(fs map[string]bool) {
		for f := range fs {
			if w := d.gmon[f]; w != nil {
				delete(w, node)
				if len(w) == 0 {
					delete(d.gmon, f)
				}
			}
		}
	}
	drop(d.slaves[node])
	drop(d.exWatch[node])
	delete(d.exWatch, node)
}

// globalConnect greets another global node (Perl's g_global_connect):
// list it in 'g and send it the merged entries of all our slaves
// (ourselves included).
func (d *DB2) globalConnect(a *Actions, node string) {
	d.dbSet(a, db2Globals, node, nil)
	db := map[string]any{}
	for _, s := range db2Sorted(d.slaves) {
		sh := d.shards[s]
		if sh == nil {
			continue
		}
		for f, kv := range sh.fams {
			m, _ := db[f].(map[string]any)
			if m == nil {
				m = make(map[string]any, len(kv))
				db[f] = m
			}
			for k, v := range kv {
				m[k] = v
			}
		}
	}
	d.send(a, node, "g_set", db)
}

// ---------------------------------------------------------------------------
// keepalive: a global node stays connected to every global node in 'g

// keepAdd starts keeping node connected; if it is down it is dialled now
// and retried from Tick. It reports false when db2MaxKeepalive nodes are
// kept already.
func (d *DB2) keepAdd(a *Actions, node string) bool {
	if node == d.self || !d.okNode(node) {
		return true
	}
	if _, ok := d.keep[node]; ok {
		return true
	}
	if len(d.keep) >= db2MaxKeepalive {
		return false
	}
	_, up := d.up[node]
	down := !up
	d.keep[node] = down
	if down {
		d.keepDial(a, node)
		d.keepReset()
		d.retry = min(2*d.retry, db2KeepMax)
		d.next = d.now.Add(d.retry)
	}
	return true
}

// keepAddAll keeps every node of l connected, with one Warning from src
// for those beyond db2MaxKeepalive.
func (d *DB2) keepAddAll(a *Actions, src string, l []string) {
	refused := 0
	for _, n := range l {
		if !d.keepAdd(a, n) {
			refused++
		}
	}
	if refused > 0 {
		d.warn(a, src, "'g: %d global nodes beyond %d not kept connected", refused, db2MaxKeepalive)
	}
}

// keepDel stops keeping node connected.
func (d *DB2) keepDel(node string) {
	delete(d.keep, node)
	d.keepStop()
}

// keepStop stops the retry timer when no kept node is down.
func (d *DB2) keepStop() {
	for _, down := range d.keep {
		if down {
			return
		}
	}
	d.next = time.Time{}
}

// keepReset restarts the retry timer at its shortest interval.
func (d *DB2) keepReset() {
	d.retry = time.Duration((1 + d.rnd.Float64()) * float64(db2KeepMin))
	d.next = d.now.Add(d.retry)
}

// keepAgain dials every kept node that is down (after one went down).
func (d *DB2) keepAgain(a *Actions) {
	d.keepReset()
	d.keepAll(a)
}

// keepAll dials every kept node that is down and doubles the retry
// interval (up to db2KeepMax).
func (d *DB2) keepAll(a *Actions) {
	down := false
	for _, n := range db2Sorted(d.keep) {
		if d.keep[n] {
			down = true
			d.keepDial(a, n)
		}
	}
	if !down {
		d.next = time.Time{}
		return
	}
	d.retry = min(2*d.retry, db2KeepMax)
	d.next = d.now.Add(d.retry)
}

// keepDial dials a kept node if its addresses are known (Perl gives up on
// a node without addresses until the next round).
func (d *DB2) keepDial(a *Actions, node string) {
	if addrs := d.NodeAddrs(node); len(addrs) > 0 {
		a.Dial = append(a.Dial, Dial{Node: node, Addrs: addrs})
	}
}
