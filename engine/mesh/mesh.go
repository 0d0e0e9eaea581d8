// Package mesh implements the mesh protocols of AnyEvent::MP as sans-I/O
// state machines: the 1.x Global service (Global1: address exchange, port
// groups, master selection; docs/mesh.md section 2) and the 2.x global
// database (DB2: g_* requests, families, global nodes; docs/mesh.md
// section 3).
//
// A state machine knows no sockets, ports or clocks. The engine feeds it
// events (a node came up or went down, a message arrived, the program
// registered a port, time passed) and carries out the Actions it returns
// (send these messages, dial this node, report these changes). Tests and
// fuzzers drive it the same way, without a network.
//
// State machines are not safe for concurrent use: the engine serialises
// every call on one state machine (and carries out the returned Actions
// after the call returns, so that a local delivery cannot re-enter it).
package mesh

// Send asks the engine to send one message.
type Send struct {
	// To is the destination's full port ID, "NODE#PORT"; "NODE#" (or
	// "NODE") is that node's node port.
	To string
	// Args are the message's arguments after the port name. The engine
	// may encode them after the call returns: the state machine must not
	// change them afterwards.
	Args []any
}

// Dial asks the engine to make a node reachable: remember the addresses
// (host:port) for the node and connect to it unless it is connected.
type Dial struct {
	Node  string
	Addrs []string
}

// Kill asks the engine to kill a local port with a reason (nil: a normal
// kill), as if by Node.Kill.
type Kill struct {
	Port   string // port name on this node (not the full ID)
	Reason []any
}

// Change reports that the members of a name changed: a 1.x group (members
// are port IDs) or a 2.x family (members are keys).
type Change struct {
	Name           string
	Added, Removed []string
	// Values holds the values of added or changed keys of a 2.x family
	// (nil for 1.x groups, whose members have no value).
	Values map[string]any
}

// Reply answers a local query of the 2.x database.
type Reply struct {
	// ID is the one the query method returned.
	ID uint64
	// Result is the answer as the database holds it: for a family query
	// map[string]any (key -> value), for a keys query []string, for a
	// values query []any; nil when the family does not exist.
	Result any
}

// Warning reports peer input that a state machine ignored or cut short
// (malformed, over a limit, inconsistent). The engine logs it, rate
// limited; the link stays up.
type Warning struct {
	Node string // the node the input came from
	Msg  string // what happened, e.g. "nodes: entry limit reached"
}

// Actions is what a state machine asks the engine to do after an event,
// in order within each list.
type Actions struct {
	Send []Send
	Dial []Dial
	// Monitor lists full port IDs of ports on other nodes to monitor; when
	// one dies the engine reports it with the state machine's PortDied.
	Monitor []string
	Kill    []Kill
	Changes []Change
	Replies []Reply
	Warn    []Warning
}

// Append adds b's actions after a's.
func (a *Actions) Append(b Actions) {
	a.Send = append(a.Send, b.Send...)
	a.Dial = append(a.Dial, b.Dial...)
	a.Monitor = append(a.Monitor, b.Monitor...)
	a.Kill = append(a.Kill, b.Kill...)
	a.Changes = append(a.Changes, b.Changes...)
	a.Replies = append(a.Replies, b.Replies...)
	a.Warn = append(a.Warn, b.Warn...)
}

// Empty reports whether there is nothing to do.
func (a *Actions) Empty() bool {
	return len(a.Send) == 0 && len(a.Dial) == 0 && len(a.Monitor) == 0 && len(a.Kill) == 0 &&
		len(a.Changes) == 0 && len(a.Replies) == 0 && len(a.Warn) == 0
}

// Limits bound what other nodes can make a state machine hold. The zero
// value of a field means its default.
type Limits struct {
	// MaxNodes bounds the nodes whose addresses are kept (default 10,000).
	MaxNodes int
	// MaxAddrs bounds the addresses kept per node (default 16).
	MaxAddrs int
	// MaxEntriesPerNode bounds the group registrations (1.x) or database
	// entries (2.x) accepted from, or on behalf of, one node (default
	// 100,000).
	MaxEntriesPerNode int
	// MaxEntries bounds all group registrations or database entries
	// together (default 1,000,000).
	MaxEntries int
	// MaxStringLen bounds node IDs, group and family names, keys and
	// addresses (default 1,024 bytes).
	MaxStringLen int
}

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxNodes <= 0 {
		l.MaxNodes = 10_000
	}
	if l.MaxAddrs <= 0 {
		l.MaxAddrs = 16
	}
	if l.MaxEntriesPerNode <= 0 {
		l.MaxEntriesPerNode = 100_000
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1_000_000
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = 1024
	}
	return l
}
