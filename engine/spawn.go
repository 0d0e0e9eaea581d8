package engine

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// SpawnRequest describes a port another node asked this node to create
// (AnyEvent::MP's spawn, docs/protocol.md section 8).
type SpawnRequest struct {
	// Port is the full ID of the port to create, as the other node named
	// it ("THISNODE#NAME").
	Port string
	// From is the ID of the node that asked.
	From string
	// Args are the arguments after the init function's name.
	Args []any
}

// SpawnFunc makes the handler of a port spawned by another node. It runs
// on the event loop of the connection the request came on: it must not
// block. An error (or a panic) means the port is not created; as with
// Perl, a monitor the requester sets next then fires with "no_such_port".
type SpawnFunc func(n *Node, req SpawnRequest) (Handler, error)

// spawnRegistry maps init-function names to Go functions.
type spawnRegistry struct {
	mu sync.RWMutex
	m  map[string]SpawnFunc
}

// RegisterSpawn makes initFunc, the name a Perl peer sends in
// ["","AnyEvent::MP::_spawn",PORT,INITFUNC,ARGS...] (for example
// "My::Service::init" or "aemp::echo"), create a port with the handler f
// returns. Names that are not registered create nothing: nothing a peer
// sends runs code this program did not register. Any goroutine may call
// it, before or after Start.
func (n *Node) RegisterSpawn(initFunc string, f SpawnFunc) error {
	if initFunc == "" || f == nil {
		return errors.New("aemp: RegisterSpawn: empty name or nil function")
	}
	r := &n.spawns
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]SpawnFunc{}
	}
	if _, ok := r.m[initFunc]; ok {
		return fmt.Errorf("aemp: RegisterSpawn: %q already registered", initFunc)
	}
	r.m[initFunc] = f
	return nil
}

// Spawn asks node nodeID to create a port running its init function
// initFunc with args (AnyEvent::MP's spawn) and returns the new port's ID
// at once, before the other node has created it; messages sent to it
// afterwards arrive after the request. Monitor the port to learn whether
// it exists ("no_such_port" when initFunc is unknown there). Spawning on
// this node itself runs the local registry directly. Any goroutine may
// call it.
func (n *Node) Spawn(nodeID, initFunc string, args ...any) (string, error) {
	name := n.ports.prefix + "s" + strconv.FormatUint(n.ports.counter.Add(1), 36)
	if nodeID == n.id || nodeID == "" {
		n.spawnLocal(n.id, name, initFunc, args)
		return n.id + "#" + name, nil
	}
	req := append([]any{"AnyEvent::MP::_spawn", name, initFunc}, args...)
	if err := n.sendTo(nodeID, "", req); err != nil {
		return "", err
	}
	return nodeID + "#" + name, nil
}

// spawnLocal carries out a spawn request from node src: port name with
// the registered function init.
func (n *Node) spawnLocal(src, name, init string, args []any) {
	n.spawns.mu.RLock()
	f := n.spawns.m[init]
	n.spawns.mu.RUnlock()
	if f == nil {
		n.logLimited("spawn of an unregistered init function ignored", "node", src, "init", init)
		return
	}
	if name == "" || n.ports.lookup([]byte(name)) != nil {
		n.logLimited("spawn refused: port name empty or taken", "node", src, "port", name)
		return
	}
	var h Handler
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				n.logPanic("spawn init function panicked", v, "init", init)
				err = errors.New(panicText(v))
			}
		}()
		h, err = f(n, SpawnRequest{Port: n.id + "#" + name, From: src, Args: args})
	}()
	if err != nil || h == nil {
		n.logLimited("spawned port not created", "node", src, "init", init, "err", err)
		return
	}
	if !n.ports.add(&port{name: name, handler: h}) {
		n.logLimited("spawn refused: port name taken", "node", src, "port", name)
	}
}
