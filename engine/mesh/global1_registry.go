package mesh

import "slices"

// global1Entry is one group member.
type global1Entry struct{ group, port string }

// global1AddResult says what global1Registry.add did.
type global1AddResult int

const (
	global1Exists    global1AddResult = iota // already a member (perhaps taken over by the port's node)
	global1Added                             // new member
	global1OverNode                          // refused: the owner holds MaxEntriesPerNode
	global1OverTotal                         // refused: peers hold MaxEntries
)

// global1Registry holds the group members known network-wide (Perl's
// %greg), each with its owner: the node that announced it, or this node
// for local registrations. Indexes by the port's node and by owner make
// dropping a node's entries cost what it holds, not what all hold.
type global1Registry struct {
	self    string
	groups  map[string]map[string]string         // group -> port ID -> owner
	byNode  map[string]map[global1Entry]struct{} // port's node -> entries
	foreign map[string]map[global1Entry]struct{} // owner -> entries for other nodes' ports
	count   map[string]int                       // peer owner -> entries it holds
	total   int                                  // entries held for peers
	perNode int
	max     int
}

// init makes an empty registry for node self with lim's entry limits.
func (r *global1Registry) init(self string, lim Limits) {
	r.self = self
	r.groups = map[string]map[string]string{}
	r.byNode = map[string]map[global1Entry]struct{}{}
	r.foreign = map[string]map[global1Entry]struct{}{}
	r.count = map[string]int{}
	r.perNode = lim.MaxEntriesPerNode
	r.max = lim.MaxEntries
}

// add makes port a member of group on behalf of owner. Entries owned by
// this node are not limited. When the port's own node announces an entry
// another node announced first, it becomes the owner.
func (r *global1Registry) add(group, port, owner string) global1AddResult {
	pn := nodeOf(port)
	e := global1Entry{group, port}
	ports := r.groups[group]
	if cur, ok := ports[port]; ok {
		if cur != owner && owner == pn && owner != r.self && cur != r.self && r.count[owner] < r.perNode {
			r.unindexForeign(cur, e)
			r.uncount(cur)
			r.count[owner]++
			r.total++
			ports[port] = owner
		}
		return global1Exists
	}
	if owner != r.self {
		if r.count[owner] >= r.perNode {
			return global1OverNode
		}
		if r.total >= r.max {
			return global1OverTotal
		}
		r.count[owner]++
		r.total++
	}
	if ports == nil {
		ports = map[string]string{}
		r.groups[group] = ports
	}
	ports[port] = owner
	indexAdd(r.byNode, pn, e)
	if owner != pn {
		indexAdd(r.foreign, owner, e)
	}
	return global1Added
}

// owner returns who holds the entry.
func (r *global1Registry) owner(group, port string) (string, bool) {
	o, ok := r.groups[group][port]
	return o, ok
}

// remove drops the entry; it reports whether it existed.
func (r *global1Registry) remove(group, port string) bool {
	ports := r.groups[group]
	owner, ok := ports[port]
	if !ok {
		return false
	}
	delete(ports, port)
	if len(ports) == 0 {
		delete(r.groups, group)
	}
	e := global1Entry{group, port}
	pn := nodeOf(port)
	indexDel(r.byNode, pn, e)
	if owner != pn {
		r.unindexForeign(owner, e)
	}
	if owner != r.self {
		r.uncount(owner)
	}
	return true
}

// dropNode removes every entry for a port of node and every entry node
// holds for other nodes' ports, and returns the changes, by group.
func (r *global1Registry) dropNode(node string) []Change {
	removed := map[string][]string{}
	for _, idx := range []map[global1Entry]struct{}{r.byNode[node], r.foreign[node]} {
		for e := range idx {
			removed[e.group] = append(removed[e.group], e.port)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	changes := make([]Change, 0, len(removed))
	for _, group := range sortedKeys(removed) {
		ports := removed[group]
		for _, p := range ports {
			r.remove(group, p)
		}
		slices.Sort(ports)
		changes = append(changes, Change{Name: group, Removed: ports})
	}
	return changes
}

// members returns group's port IDs sorted, nil for none.
func (r *global1Registry) members(group string) []string {
	if len(r.groups[group]) == 0 {
		return nil
	}
	return sortedKeys(r.groups[group])
}

// unindexForeign forgets that owner holds e for another node's port.
func (r *global1Registry) unindexForeign(owner string, e global1Entry) {
	indexDel(r.foreign, owner, e)
}

// uncount takes one entry off a peer owner's count and the total.
func (r *global1Registry) uncount(owner string) {
	r.total--
	if r.count[owner]--; r.count[owner] <= 0 {
		delete(r.count, owner)
	}
}

// indexAdd adds e to the set m[k].
func indexAdd(m map[string]map[global1Entry]struct{}, k string, e global1Entry) {
	s := m[k]
	if s == nil {
		s = map[global1Entry]struct{}{}
		m[k] = s
	}
	s[e] = struct{}{}
}

// indexDel removes e from the set m[k], dropping an emptied set.
func indexDel(m map[string]map[global1Entry]struct{}, k string, e global1Entry) {
	if s := m[k]; s != nil {
		delete(s, e)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}
