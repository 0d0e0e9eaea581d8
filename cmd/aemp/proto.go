package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aemp-go/aemp/engine"
)

// The protocol commands of Perl's aemp 1.30 (snd, cal, mon, trace), with
// its output byte for byte on stdout.

const protoUsage = `usage: aemp snd [FLAGS] PORT [ARG...]
       aemp cal [FLAGS] [--timeout SECONDS] PORT [ARG...]
       aemp mon [FLAGS] PORT
       aemp trace [FLAGS] NODE

The protocol commands of Perl's aemp 1.30, printing what it prints. Each
runs a short-lived node with a random ID (anon/...) configured as Perl's
aemp configures its own: the configuration file's profile "aemp"
(--profile) with node ID anon/ below it; flags override the file. Nodes
are reached through the seeds (a seed may be the target node itself).

  snd PORT ARG...  send [ARG...] to PORT, then ask PORT's node to relay
                   "message sent successfully" back to us, and print it;
                   print the kill reason instead if the connection to the
                   node is lost first. Exit status 1 after 5 s without
                   either.
  cal PORT ARG...  send [ARG..., REPLYPORT] to PORT (Perl's cal) and print
                   the reply as a JSON list without its brackets
                   ("c","b","a"), or an empty line if PORT dies first.
                   Waits as long as PORT lives, unless --timeout.
  mon PORT         wait until PORT dies (without #: until the connection
                   to node PORT is lost) and print the reason.
  trace NODE       walk the mesh with up_nodes: print "seed NODE", then a
                   line per node reached, the node and its neighbours.
                   Exit status 1 after 15 s. AnyEvent::MP 2.x nodes do not
                   answer up_nodes: that is said on stderr, and the walk
                   goes on without their neighbours.

PORT is NODE#NAME, or NODE for the node's own port (aemp cal NODE time).
An argument that starts with [, { or " is JSON, anything else a string;
a single argument that is a JSON array is the whole command line
(aemp '["cal","N#echo",1]').

Perl's aemp prints reason words and replies as follows, and so does this
one: words joined by spaces with a space before the newline (mon, snd),
JSON as JSON::XS writes it (cal; object keys sorted here), numbers as Perl
prints them. Like Perl's, it sends an argument that has bytes over 0x7f
as a byte string (each byte one character), and prints one byte per
character unless a character is over U+00FF (then all in UTF-8).

eval, shell and restart run Perl code on the target node: aemp-go does
not offer them.

Exit status: 0 done (cal and mon also when the port died), 1 no answer in
time, or the configuration file or the node cannot be used (one line on
stderr says why), 2 usage error.

flags:
`

// sndTimeout and traceTimeout are Perl's aemp's fixed timers.
const (
	sndTimeout   = 5 * time.Second
	traceTimeout = 15 * time.Second
)

func runSnd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runProto("snd", rawArgs(args), stdout, stderr)
}

func runCal(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runProto("cal", rawArgs(args), stdout, stderr)
}

func runMon(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runProto("mon", rawArgs(args), stdout, stderr)
}

func runTrace(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runProto("trace", rawArgs(args), stdout, stderr)
}

// protoArg is one argument of a protocol command: its text, and its
// value as the configuration reader decodes it, once known (from the
// one-JSON-array form of the command line).
type protoArg struct {
	raw     string
	val     any
	decoded bool
}

func rawArgs(args []string) []protoArg {
	out := make([]protoArg, len(args))
	for i, a := range args {
		out[i] = protoArg{raw: a}
	}
	return out
}

// notOffered are Perl aemp's commands that run Perl code on a node.
var notOffered = map[string]bool{"eval": true, "shell": true, "restart": true}

// runNotOffered answers eval, shell and restart.
func runNotOffered(name string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "aemp: %s runs Perl code on the target node; aemp-go does not offer it (aemp snd --help lists the protocol commands)\n", name)
	return 2
}

// runProto runs protocol command name.
func runProto(name string, args []protoArg, stdout, stderr io.Writer) int {
	f := newProtoFlags(name, stderr)
	raw := make([]string, len(args))
	for i, a := range args {
		raw[i] = a.raw
	}
	if done, code := parseFlags(f.fs, raw, stdout); done {
		return code
	}
	pos := args[len(args)-f.fs.NArg():]
	vals := make([]any, len(pos))
	for i, a := range pos {
		if a.decoded {
			vals[i] = wireValue(a.val)
			continue
		}
		v, err := perlArg(a.raw)
		if err != nil {
			fmt.Fprintf(stderr, "aemp %s: %v\n", name, err)
			return 2
		}
		vals[i] = v
	}
	if len(vals) == 0 {
		what := "PORT"
		if name == "trace" {
			what = "NODE"
		}
		fmt.Fprintf(stderr, "aemp %s: %s missing (aemp %s --help)\n", name, what, name)
		return 2
	}
	if b, isBytes := vals[0].([]byte); isBytes {
		vals[0] = string(b)
	}
	target, ok := vals[0].(string)
	node, _ := engine.SplitPortID(target)
	if !ok || node == "" {
		fmt.Fprintf(stderr, "aemp %s: %s: not a port ID (NODE#PORT, or NODE for its node port)\n", name, perlString(vals[0]))
		return 2
	}
	if strings.HasSuffix(target, "#") {
		target = node // the node port
	}
	if name == "mon" && len(vals) > 1 || name == "trace" && len(vals) > 1 {
		fmt.Fprintf(stderr, "aemp %s: unexpected argument %s\n", name, perlString(vals[1]))
		return 2
	}
	if f.timeout != nil && *f.timeout < 0 {
		fmt.Fprintf(stderr, "aemp %s: --timeout must be positive\n", name)
		return 2
	}
	cn, err := startCLINode(f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "aemp %s: %v\n", name, err)
		return 1
	}
	defer cn.close()
	switch name {
	case "snd":
		return snd(cn, target, vals[1:], stdout, stderr)
	case "cal":
		var timeout time.Duration
		if f.timeout != nil {
			timeout = seconds(*f.timeout)
		}
		return cal(cn, target, vals[1:], timeout, stdout, stderr)
	case "mon":
		return mon(cn, target, stdout, stderr)
	default:
		return trace(cn, node, stdout, stderr)
	}
}

// isTransportError reports whether a kill reason is the local one for a
// lost or never made connection.
func isTransportError(reason []any) bool {
	return len(reason) > 0 && reason[0] == "transport_error"
}

// snd sends the message, monitors the port and asks the port's node to
// relay "message sent successfully" back, as Perl's aemp does. The relay
// comes after the kil0 of a port that died (or never existed) on the same
// connection, and Perl, reading both at once, prints the relay: so does
// this, which prints a reason only when the connection is lost first.
func snd(cn *cliNode, port string, args []any, stdout, stderr io.Writer) int {
	type result struct {
		vals  []any
		relay bool
	}
	ch := make(chan result, 2)
	deliver := func(r result) {
		select {
		case ch <- r:
		default:
		}
	}
	node, _ := engine.SplitPortID(port)
	if err := cn.Send(port, args...); err != nil {
		fmt.Fprintf(stderr, "aemp snd: %v\n", err)
		return 1
	}
	cancel := cn.Monitor(port, func(reason []any) { deliver(result{vals: reason}) })
	defer cancel()
	reply := cn.NewPort(func(m *engine.Message) {
		a, err := m.Args()
		if err == nil {
			deliver(result{vals: slices.Clone(a), relay: true})
		}
	})
	if err := cn.Send(node, "snd", reply, "message sent successfully"); err != nil {
		fmt.Fprintf(stderr, "aemp snd: %v\n", err)
		return 1
	}
	timer := time.NewTimer(sndTimeout)
	defer timer.Stop()
	var killed *result
	for {
		select {
		case r := <-ch:
			if r.relay || isTransportError(r.vals) {
				io.WriteString(stdout, perlPrint(perlWords(r.vals)))
				return 0
			}
			// The node's answer to mon1: its relay follows at once.
			killed = &r
			timer.Reset(time.Second)
		case <-timer.C:
			if killed != nil {
				io.WriteString(stdout, perlPrint(perlWords(killed.vals)))
				return 0
			}
			fmt.Fprintf(stderr, "aemp snd: no confirmation from %s within %v: %s\n", node, sndTimeout, cn.explain(node))
			return 1
		}
	}
}

// explain says why node did not answer.
func (c *cliNode) explain(node string) string {
	if c.isUp(node) {
		return "the node is connected but did not answer"
	}
	return "node not reached (" + c.whyUnreachable(node) + ")"
}

// cal is Perl's cal: the reply port is appended to the arguments and the
// port is monitored; the reply is printed as a JSON list without its
// brackets, and a port that dies first gives an empty line.
func cal(cn *cliNode, port string, args []any, timeout time.Duration, stdout, stderr io.Writer) int {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	reply, err := cn.Call(ctx, port, args...)
	var died *engine.PortDiedError
	switch {
	case err == nil:
		io.WriteString(stdout, perlPrint(perlList(reply)))
		return 0
	case errors.As(err, &died):
		io.WriteString(stdout, "\n")
		if isTransportError(died.Reason) && len(died.Reason) > 2 {
			node, _ := engine.SplitPortID(port)
			fmt.Fprintf(stderr, "aemp cal: %s: %s (%s)\n", node, perlString(died.Reason[2]), cn.whyUnreachable(node))
		}
		return 0
	case errors.Is(err, context.DeadlineExceeded):
		node, _ := engine.SplitPortID(port)
		fmt.Fprintf(stderr, "aemp cal: no reply from %s within %v: %s\n", port, timeout, cn.explain(node))
		return 1
	}
	fmt.Fprintf(stderr, "aemp cal: %v\n", err)
	return 1
}

// mon waits until the port (or the connection to the node) dies and
// prints the reason.
func mon(cn *cliNode, port string, stdout, _ io.Writer) int {
	ch := make(chan []any, 1)
	cancel := cn.Monitor(port, func(reason []any) {
		select {
		case ch <- slices.Clone(reason):
		default:
		}
	})
	defer cancel()
	io.WriteString(stdout, perlPrint(perlWords(<-ch)))
	return 0
}

// trace walks the mesh as Perl's aemp trace does: it sends itself
// ("seed", NODE), and for every reply (NODE, NEIGHBOURS...) prints the
// line and asks each neighbour not seen before for its up_nodes. It ends
// when every node asked has answered.
//
// AnyEvent::MP 2.x nodes do not answer up_nodes, and their can request
// cannot tell: a 2.x node says it can do anything it was ever asked to.
// So a node that did not authenticate with a 1.x (MD6) method is first
// asked whether it serves info, which aemp-go nodes serve and 2.x nodes
// (removed there, and never sent to them) do not: only then it gets
// up_nodes, and a 2.x node is skipped with a word on stderr.
func trace(cn *cliNode, node string, stdout, stderr io.Writer) int {
	type answer struct {
		vals []any
		can  bool
	}
	var (
		mu     sync.Mutex
		queue  []answer
		notify = make(chan struct{}, 1)
	)
	push := func(a answer) {
		mu.Lock()
		queue = append(queue, a)
		mu.Unlock()
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	handler := func(can bool) engine.Handler {
		return func(m *engine.Message) {
			if a, err := m.Args(); err == nil && len(a) > 0 {
				push(answer{vals: slices.Clone(a), can: can})
			}
		}
	}
	reply := cn.NewPort(handler(false))
	canReply := cn.NewPort(handler(true))
	defer cn.Kill(reply)
	defer cn.Kill(canReply)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	waiting := map[string]bool{} // asked, no answer yet
	ask := func(id string) {
		waiting[id] = true
		go func() {
			if cn.WaitNode(ctx, id) != nil {
				return
			}
			if auth, _ := cn.authOf(id); strings.Contains(auth, "md6") {
				cn.Send(id, "up_nodes", reply, id)
			} else {
				cn.Send(id, "can", "info", canReply, id)
			}
		}()
	}
	seen := map[string]bool{}
	pending := 0
	// show prints an answer (NODE, NEIGHBOURS...) and asks the
	// neighbours not seen before.
	show := func(vals []any) {
		var neigh []any
		for _, x := range vals[1:] {
			if perlString(x) != cn.ID() {
				neigh = append(neigh, x)
			}
		}
		io.WriteString(stdout, perlPrint(perlJoin(append([]any{vals[0]}, neigh...)))+"\n")
		for _, x := range neigh {
			if s := perlString(x); !seen[s] {
				seen[s] = true
				pending++
				ask(s)
			}
		}
	}
	show([]any{"seed", node}) // Perl sends this to its reply port first
	timer := time.NewTimer(traceTimeout)
	defer timer.Stop()
	for pending > 0 {
		select {
		case <-notify:
		case <-timer.C:
			var ids []string
			for id := range waiting {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			var why []string
			for _, id := range ids {
				why = append(why, id+": "+cn.explain(id))
			}
			fmt.Fprintf(stderr, "aemp trace: no answer within %v from %s\n", traceTimeout, strings.Join(why, "; "))
			return 1
		}
		mu.Lock()
		batch := queue
		queue = nil
		mu.Unlock()
		for _, a := range batch {
			id := perlString(a.vals[0])
			switch {
			case !waiting[id]:
			case a.can && perlTrue(a.vals[len(a.vals)-1]):
				cn.Send(id, "up_nodes", reply, id)
			case a.can:
				delete(waiting, id)
				pending--
				fmt.Fprintf(stderr, "aemp trace: %s does not answer up_nodes (an AnyEvent::MP 2.x node): its neighbours are not shown\n", id)
			default:
				delete(waiting, id)
				pending--
				show(a.vals)
			}
		}
	}
	return 0
}
