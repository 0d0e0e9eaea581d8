// Package services provides the well-known ports an aemp node serves for
// tools and benchmarks, on top of package engine: echo, calecho and sink.
// aemp node, aemp bench and the Perl peer in bench/perl serve them with
// the same semantics, so that Go and Perl are measured alike.
//
//	echo:    [REPLY, ARGS...]        -> ARGS... sent to REPLY (also as a port other
//	                                    nodes spawn with init function aemp::echo)
//	calecho: [ARGS..., REPLY]        -> ARGS... sent to REPLY (the form of Perl's cal and Node.Call)
//	sink:    ["report", REPLY]       -> "count", N, BYTES, CPUSEC sent to REPLY
//	         ["reset"]               -> N = BYTES = 0
//	         anything else           -> N += 1, BYTES += length of its scalar arguments
//
// Handlers run on the node's event loops (see engine.Handler).
package services

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"github.com/aemp-go/aemp/engine"
)

// Echo registers the echo port on n. Call it before or after n.Start,
// from any goroutine.
func Echo(n *engine.Node) error {
	_, err := n.Register("echo", echoHandler(n))
	return err
}

// CalEcho registers the calecho port on n: the last argument is the reply
// port, the others are sent back to it. Call it before or after n.Start,
// from any goroutine.
func CalEcho(n *engine.Node) error {
	_, err := n.Register("calecho", func(m *engine.Message) {
		args, err := m.Args()
		if err != nil || len(args) == 0 {
			return
		}
		if reply, ok := args[len(args)-1].(string); ok {
			n.Send(reply, args[:len(args)-1]...)
		}
	})
	return err
}

// Sink counts the messages sent to the sink port.
type Sink struct {
	n            *engine.Node
	count, bytes atomic.Int64
}

// ServeSink registers the sink port on n and returns its counts. Call it
// before or after n.Start, from any goroutine.
func ServeSink(n *engine.Node) (*Sink, error) {
	s := &Sink{n: n}
	_, err := n.Register("sink", s.handle)
	return s, err
}

// Counts returns the messages and scalar bytes counted since the start or
// the last reset. Any goroutine may call it.
func (s *Sink) Counts() (msgs, bytes int64) { return s.count.Load(), s.bytes.Load() }

func (s *Sink) handle(m *engine.Message) {
	// The common case, a message of plain scalars, is counted without
	// decoding anything.
	if n, length, first, ok := m.ScalarArgs(); ok && (n == 0 || first != nil) &&
		string(first) != "report" && string(first) != "reset" {
		s.count.Add(1)
		s.bytes.Add(int64(length))
		return
	}
	args, err := m.Args()
	if err != nil {
		return
	}
	if len(args) > 0 {
		switch args[0] {
		case "report":
			if len(args) > 1 {
				if reply, ok := args[1].(string); ok {
					s.n.Send(reply, "count", s.count.Load(), s.bytes.Load(), cpuSeconds())
				}
			}
			return
		case "reset":
			s.count.Store(0)
			s.bytes.Store(0)
			return
		}
	}
	var size int64
	for _, a := range args {
		switch a := a.(type) {
		case string:
			size += int64(utf8.RuneCountInString(a))
		case []byte:
			size += int64(len(a))
		case nil, []any, map[string]any:
		default:
			size += int64(len(scalarText(a)))
		}
	}
	s.count.Add(1)
	s.bytes.Add(size)
}

// cpuSeconds returns this process's user + system CPU time in seconds.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// scalarText is the text Perl's length() would measure for a scalar.
func scalarText(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "1"
		}
		return ""
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// SpawnEchoInit is the init function name under which SpawnEcho lets
// other nodes spawn an echo port (Perl: spawn $node, "aemp::echo").
const SpawnEchoInit = "aemp::echo"

// SpawnEcho lets other nodes spawn ports that answer like echo:
// [REPLY, ARGS...] -> ARGS... sent to REPLY. Call it before or after
// n.Start, from any goroutine.
func SpawnEcho(n *engine.Node) error {
	return n.RegisterSpawn(SpawnEchoInit, func(n *engine.Node, _ engine.SpawnRequest) (engine.Handler, error) {
		return echoHandler(n), nil
	})
}

// echoHandler answers [REPLY, ARGS...] with ARGS... sent to REPLY.
func echoHandler(n *engine.Node) engine.Handler {
	return func(m *engine.Message) {
		args, err := m.Args()
		if err != nil || len(args) == 0 {
			return
		}
		if reply, ok := args[0].(string); ok {
			n.Send(reply, args[1:]...)
		}
	}
}

// Serve registers echo, calecho and sink on n, and the aemp::echo spawn
// function.
func Serve(n *engine.Node) (*Sink, error) {
	if err := Echo(n); err != nil {
		return nil, err
	}
	if err := SpawnEcho(n); err != nil {
		return nil, err
	}
	if err := CalEcho(n); err != nil {
		return nil, err
	}
	return ServeSink(n)
}
