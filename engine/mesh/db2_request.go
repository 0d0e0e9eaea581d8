package mesh

import (
	"slices"
	"time"
)

// db2Stats counts the entries of one peer message that were not taken.
type db2Stats struct {
	bad  int // malformed, or not this node's to set
	over int // beyond Limits
}

// report adds one Warning for a message with entries that were not taken.
func (d *DB2) report(a *Actions, src, name string, st *db2Stats) {
	switch {
	case st.bad > 0 && st.over > 0:
		d.warn(a, src, "%s: %d bad entries ignored, %d entries over the limits dropped", name, st.bad, st.over)
	case st.bad > 0:
		d.warn(a, src, "%s: %d bad entries ignored", name, st.bad)
	case st.over > 0:
		d.warn(a, src, "%s: %d entries over the limits dropped", name, st.over)
	}
}

// db2Quote shortens a peer-supplied name for a log line.
func db2Quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// Request handles a node-port request whose name starts with "g_" from
// node src (args are the message's elements after the name). A request
// that is malformed, unknown, or only served by global nodes while this
// node is an ordinary one, is ignored with one Warning (Perl logs an error
// and keeps the connection). g_slave turns an ordinary node into a global
// node first, as in Perl.
func (d *DB2) Request(src, name string, args []any, now time.Time) Actions {
	var a Actions
	d.now = now
	if !d.okNode(src) {
		d.warn(&a, db2Quote(src), "%s: bad source node ID", db2Quote(name))
		return a
	}
	d.request(&a, src, name, args)
	return a
}

// request dispatches a request; messages we send ourselves arrive here
// too, with src == d.self.
func (d *DB2) request(a *Actions, src, name string, args []any) {
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	switch name {
	case "g_slave":
		if len(args) > 0 {
			if _, ok := args[0].(map[string]any); !ok && args[0] != nil {
				d.warn(a, src, "g_slave: database is not a map")
				return
			}
		}
		if !d.global {
			d.becomeGlobal(a)
		}
		if len(args) > 0 {
			db, _ := args[0].(map[string]any)
			d.onSlave(a, src, db)
		}
	case "g_global":
		d.onGlobal(a, src)
	case "g_reply":
		d.onReply(a, src, arg(0), arg(1))
	case "g_found":
		d.onFound(a, src, arg(0), arg(1))
	case "g_chg1":
		d.onChg(a, src, name, arg(0), arg(1), nil, true)
	case "g_chg2":
		d.onChg(a, src, name, arg(0), arg(1), arg(2), false)
	case "g_set", "g_upd", "g_find", "g_db_family", "g_db_keys", "g_db_values", "g_mon0", "g_mon1":
		if !d.global {
			d.warn(a, src, "%s: only served by global nodes", name)
			return
		}
		d.globalRequest(a, src, name, arg(0), arg(1), arg(2))
	default:
		d.warn(a, src, "%s: unknown request", db2Quote(name))
	}
}

// onReply delivers the answer to one of our queries. Answers to unknown
// IDs are dropped silently, as in Perl.
func (d *DB2) onReply(a *Actions, src string, idv, result any) {
	id, ok := db2Text(idv)
	if !ok {
		d.warn(a, src, "g_reply: bad query ID")
		return
	}
	c, ok := d.calls[id]
	if !ok {
		return
	}
	delete(d.calls, id)
	delete(d.reqs, id)
	r := Reply{ID: c.id}
	switch c.kind {
	case "g_db_family":
		switch m := result.(type) {
		case map[string]any:
			cp := make(map[string]any, len(m))
			for k, v := range m {
				cp[k] = v
			}
			r.Result = cp
		case nil:
			r.Result = map[string]any{}
		default:
			d.warn(a, src, "g_reply: family is not a map")
		}
	case "g_db_keys":
		l, ok := result.([]any)
		if !ok && result != nil {
			d.warn(a, src, "g_reply: keys are not a list")
			break
		}
		keys := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := db2Text(e)
			if !ok {
				d.warn(a, src, "g_reply: a key is not a string")
				keys = nil
				break
			}
			keys = append(keys, s)
		}
		if keys != nil {
			r.Result = keys
		}
	case "g_db_values":
		l, ok := result.([]any)
		if !ok && result != nil {
			d.warn(a, src, "g_reply: values are not a list")
			break
		}
		r.Result = append([]any{}, l...)
	}
	a.Replies = append(a.Replies, r)
}

// onFound turns the answer to one of our g_find requests into a Dial.
// Answers nobody asked for are dropped (Perl ignores them for nodes it has
// never tried to reach).
func (d *DB2) onFound(a *Actions, src string, nodev, addrs any) {
	node, ok := db2Text(nodev)
	if !ok {
		d.warn(a, src, "g_found: bad node ID")
		return
	}
	if _, ok := addrs.([]any); !ok && addrs != nil {
		d.warn(a, src, "g_found: addresses are not a list")
		return
	}
	if _, ok := d.finds[node]; !ok {
		return
	}
	delete(d.finds, node)
	delete(d.reqs, "g_find "+node)
	list := d.dialAddrs(addrs)
	if len(list) > 0 {
		if _, ok := d.found[node]; !ok && len(d.found) >= d.lim.MaxNodes {
			for n := range d.found { // forget one at random
				delete(d.found, n)
				break
			}
		}
		d.found[node] = list
	} else {
		delete(d.found, node)
	}
	a.Dial = append(a.Dial, Dial{Node: node, Addrs: list})
}

// onGlobal records that src is a global node; a global node also drops
// whatever src held as a slave (it may just have turned global) and sends
// it its slaves' entries.
func (d *DB2) onGlobal(a *Actions, src string) {
	if src == d.self {
		return
	}
	if !d.global {
		if d.globals[src] || len(d.globals) < d.lim.MaxNodes {
			d.globals[src] = true
		}
		return
	}
	d.disconnect(a, src, false)
	d.globals[src] = true
	d.globalConnect(a, src)
}

// onChg applies the master's report on a watched family: g_chg1 (full
// contents: keys missing from it are deleted) or g_chg2 (keys set, keys
// deleted). Reports from other nodes are ignored, as in Perl.
func (d *DB2) onChg(a *Actions, src, name string, fv, setv, delv any, full bool) {
	family, ok := db2Text(fv)
	if !ok {
		d.warn(a, src, "%s: bad family name", name)
		return
	}
	set, ok := setv.(map[string]any)
	if !ok && setv != nil {
		d.warn(a, src, "%s: entries are not a map", name)
		return
	}
	var del []string
	if !full {
		if del, ok = d.keyList(delv); !ok {
			d.warn(a, src, "%s: deleted keys are not a list of strings", name)
			return
		}
	}
	if src != d.master {
		return
	}
	w := d.watches[family]
	if w == nil {
		return
	}
	remote := src != d.self
	var st db2Stats
	var added, removed []string
	vals := map[string]any{}
	for k, v := range set {
		var size int
		if remote {
			var ok bool
			if size, ok = db2ValueSize(v, d.valueMax); !ok || !d.okName(k) {
				st.bad++
				continue
			}
		} else {
			size = db2LocalSize(v)
		}
		old, had := w.bytes[k]
		if remote && (!had && d.watchN >= d.lim.MaxEntries || d.watchB+size-old > d.maxBytes) {
			st.over++
			continue
		}
		if !had {
			added = append(added, k)
			d.watchN++
		}
		d.watchB += size - old
		w.db[k] = v
		w.bytes[k] = size
		vals[k] = v
	}
	drop := func(k string) {
		if _, ok := w.db[k]; !ok {
			return
		}
		delete(w.db, k)
		d.watchB -= w.bytes[k]
		delete(w.bytes, k)
		d.watchN--
		removed = append(removed, k)
	}
	if full {
		for _, k := range db2Sorted(w.db) {
			if _, ok := set[k]; !ok {
				drop(k)
			}
		}
	} else {
		for _, k := range del {
			drop(k)
		}
	}
	d.report(a, src, name, &st)
	if len(added) > 1 {
		slices.Sort(added)
	}
	if len(removed) > 1 {
		slices.Sort(removed)
	}
	if w.refs > 0 {
		a.Changes = append(a.Changes, Change{Name: family, Added: added, Removed: removed, Values: vals})
	}
	if w.internal && family == db2Globals && d.global {
		// the senders of the entries are the ones to blame
		d.keepAddAll(a, d.self, added)
		for _, k := range removed {
			d.keepDel(k)
		}
	}
}

// keyList converts a peer's list of keys (nil: none).
func (d *DB2) keyList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	keys := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := db2Text(e)
		if !ok {
			return nil, false
		}
		keys = append(keys, s)
	}
	return keys, true
}
