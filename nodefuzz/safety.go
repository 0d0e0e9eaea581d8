package nodefuzz

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Requests are the node-port request names the fuzzer sends, the fixed
// list of protocol requests of AnyEvent::MP 1.30 and 2.x
// (docs/protocol.md, the node port). A Perl node calls any other name as a
// Perl function and evaluates eval requests, so nothing else is ever sent
// as a request name: mutations change arguments, never the name. eval,
// spawn (AnyEvent::MP::_spawn), DataConn's and LogCatcher's functions and
// every other Pkg::func name are absent on purpose.
var Requests = []string{
	"", "devnull",
	"mon1", "mon0", "kil0", "kil", "kil1",
	"snd", "snd_multiple",
	"info", "known_nodes", "up_nodes", "time", "can",
	"g_slave", "g_global", "g_set", "g_upd", "g_find", "g_found",
	"g_db_family", "g_db_keys", "g_db_values", "g_reply",
	"g_mon1", "g_mon0", "g_chg1", "g_chg2",
}

// safeAddrs are the only addresses the fuzzer puts where a node would
// connect to them (g_found, the 'l family of the global database):
// loopback ports nothing listens on, or not addresses at all, never a
// host name (which a node would look up in DNS).
var safeAddrs = []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1", "127.0.0.1:99999"}

// The port names the fuzzer addresses on the target and relays to are
// made up, prefixed "fz", so that no existing port gets them. Ports of
// the fuzzer's own node ID ("ID#fz...") are where replies go.
const portPrefix = "fz"

// safety checks the rules that make a message harmless for a Perl node
// (see the package documentation). ourID is the fuzzer's node ID on the
// connection, target the target's. Every generated message passes it
// before it is encoded; a failure is a bug in the generator.
type safety struct{ ourID, target string }

func (s safety) check(m *vArr) error {
	if len(m.elems) == 0 {
		return nil // [] is the keepalive
	}
	dest, ok := m.elems[0].(*vStr)
	if !ok {
		if _, isNull := m.elems[0].(*vNull); isNull && len(m.elems) == 1 {
			return nil // [null]
		}
		return fmt.Errorf("destination is %T, not a string", m.elems[0])
	}
	if dest.lie >= 0 || dest.indef {
		return fmt.Errorf("destination string is mangled")
	}
	args := m.elems[1:]
	if len(dest.b) > 0 {
		if !bytes.HasPrefix(dest.b, []byte(portPrefix)) || bytes.IndexByte(dest.b, '#') >= 0 {
			return fmt.Errorf("destination port %.40q is not one of ours", dest.b)
		}
		return s.free(args, 1)
	}
	if len(args) == 0 {
		return nil // [""]
	}
	name, ok := args[0].(*vStr)
	if !ok || name.lie >= 0 || !slices.Contains(Requests, string(name.b)) {
		return fmt.Errorf("node-port request name %.40v is not in the list", args[0])
	}
	rest := args[1:]
	slot := func(i int) value {
		if i < len(rest) {
			return rest[i]
		}
		return nil
	}
	switch string(name.b) {
	case "kil", "kil1":
		p, ok := slot(0).(*vStr)
		if !ok || !bytes.HasPrefix(p.b, []byte(portPrefix)) || bytes.IndexByte(p.b, '#') >= 0 || p.lie >= 0 {
			return fmt.Errorf("%s of %.40v, not one of our port names", name.b, slot(0))
		}
	case "snd":
		if err := s.dest(slot(0)); err != nil {
			return err
		}
	case "snd_multiple":
		for _, r := range rest {
			a, ok := r.(*vArr)
			if !ok {
				continue // not a relay: ignored
			}
			if len(a.elems) > 0 {
				if err := s.dest(a.elems[0]); err != nil {
					return err
				}
			}
		}
	case "info", "known_nodes", "up_nodes", "time":
		if err := s.reply(slot(0)); err != nil {
			return err
		}
	case "can":
		if err := s.reply(slot(1)); err != nil {
			return err
		}
	case "g_found":
		if err := s.addrList(slot(1)); err != nil {
			return err
		}
	case "g_slave", "g_set":
		if err := s.db(slot(0)); err != nil {
			return err
		}
	case "g_upd":
		if f, ok := slot(0).(*vStr); ok && string(f.b) == "'l" {
			if m, ok := slot(1).(*vMap); ok {
				for _, v := range m.vals {
					if err := s.addrList(v); err != nil {
						return err
					}
				}
			} else if slot(1) != nil {
				if _, ok := slot(1).(*vNull); !ok {
					return fmt.Errorf("g_upd 'l with %T", slot(1))
				}
			}
		}
	}
	return s.free(rest, 2)
}

// dest checks a relay destination: a port of our node, or of a made-up
// node (our prefix; nothing is ever delivered there), the node port of
// such a node, a made-up port of the target, or a number or container,
// which Perl turns into a node ID no node has.
func (s safety) dest(v value) error {
	switch x := v.(type) {
	case *vArr, *vMap:
		return nil
	case *vInt, *vUint, *vFloat, *vNum:
		var e encoder
		e.json(v, 1)
		if string(e.b) != s.target {
			return nil
		}
	case *vStr:
		node, port, ok := strings.Cut(string(x.b), "#")
		switch {
		case x.lie >= 0 || node == "":
		case !ok && strings.HasPrefix(node, portPrefix) && node != s.target:
			return nil
		case ok && node != s.target && strings.HasPrefix(node, portPrefix):
			return nil // a port of ours, or of a node no one is
		case ok && node == s.target && strings.HasPrefix(port, portPrefix) && strings.IndexByte(port, '#') < 0:
			return nil // a port of the target that does not exist
		}
	}
	return fmt.Errorf("relay destination %.60s is not safe", describe(v))
}

// reply checks a reply port: one of ours on our node, or a positive
// number or a container (which name no node's port).
func (s safety) reply(v value) error {
	switch x := v.(type) {
	case *vArr, *vMap:
		return nil
	case *vInt:
		if x.v > 0 {
			return nil
		}
	case *vStr:
		node, port, ok := strings.Cut(string(x.b), "#")
		if ok && x.lie < 0 && node == s.ourID && strings.HasPrefix(port, portPrefix) {
			return nil
		}
	}
	return fmt.Errorf("reply port %.60s is not ours", describe(v))
}

func (s safety) addrList(v value) error {
	switch x := v.(type) {
	case nil, *vNull:
		return nil
	case *vArr:
		for _, e := range x.elems {
			a, ok := e.(*vStr)
			if !ok {
				if _, isNum := e.(*vInt); isNum {
					continue
				}
				return fmt.Errorf("address %.40v", e)
			}
			if !slices.Contains(safeAddrs, string(a.b)) {
				return fmt.Errorf("address %.40q is not in the safe list", a.b)
			}
		}
		return nil
	}
	return fmt.Errorf("address list %T", v)
}

// db checks a database argument (g_slave, g_set): the 'l family's
// values are address lists.
func (s safety) db(v value) error {
	m, ok := v.(*vMap)
	if !ok {
		return nil
	}
	for i, k := range m.keys {
		if ks, ok := k.(*vStr); ok && string(ks.b) == "'l" {
			fam, ok := m.vals[i].(*vMap)
			if !ok {
				continue
			}
			for _, a := range fam.vals {
				if err := s.addrList(a); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// free checks free arguments at any depth: no nested array starts with a
// string that is not one of our port names (or addresses), or with null
// or a boolean,
// so that no piece of a message read out of place (after a count that
// lies, or by a parser that resynchronizes) can be a node-port request or
// a message to an existing port; and only the last element of the
// message may be a string whose length lies.
func (s safety) free(vals []value, top int) error {
	for i, v := range vals {
		last := top > 0 && i == len(vals)-1
		if err := s.walk(v, last); err != nil {
			return err
		}
	}
	return nil
}

func (s safety) walk(v value, lastTop bool) error {
	switch x := v.(type) {
	case *vStr:
		if x.lie >= 0 && (!lastTop || !isFiller(x.b)) {
			return fmt.Errorf("a string whose length lies is not the last filler")
		}
	case *vArr:
		if len(x.elems) > 0 {
			switch e := x.elems[0].(type) {
			case *vStr:
				if !bytes.HasPrefix(e.b, []byte(portPrefix)) && !slices.Contains(safeAddrs, string(e.b)) {
					return fmt.Errorf("nested array starts with %.40q", e.b)
				}
			case *vNull, *vBool, *vRaw:
				return fmt.Errorf("nested array starts with %T", e)
			}
		}
		for _, e := range x.elems {
			if err := s.walk(e, false); err != nil {
				return err
			}
		}
	case *vMap:
		for i := range x.keys {
			if err := s.walk(x.keys[i], false); err != nil {
				return err
			}
			if err := s.walk(x.vals[i], false); err != nil {
				return err
			}
		}
	}
	return nil
}

// isFiller: only the letters 'A'..'W'. Read out of place, each is a cbor
// byte string head of 1-23 bytes and an unknown storable opcode: never an
// array, a tag or anything a decoder acts on.
func isFiller(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'W' {
			return false
		}
	}
	return true
}

// describe renders a value for an error message (its JSON form).
func describe(v value) string {
	var e encoder
	e.json(v, 1)
	return string(e.b)
}
