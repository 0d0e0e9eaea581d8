package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/framing"
)

// Two nodes in one program: a server with a port, and a client that
// connects to it and sends a message whose answer comes back to a port of
// its own. This is the whole life of a node: New, Register, Start, Send,
// Close.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The server listens on a port the kernel picks and serves "greet":
	// [NAME, REPLYPORT] is answered with "hello, NAME" sent to REPLYPORT.
	server, err := engine.New(engine.Config{
		NodeID: "server",
		Binds:  []string{"127.0.0.1:0"},
		Secret: "example secret", // every node of a mesh shares it
		Logger: quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	// The handler runs on the event loop of the connection the message
	// came from: it must not block. Send never blocks.
	_, err = server.Register("greet", func(m *engine.Message) {
		args, err := m.Args()
		if err != nil || len(args) != 2 {
			return
		}
		name, _ := framing.Text(args[0])
		reply, _ := framing.Text(args[1])
		server.Send(reply, "hello, "+name)
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.Close(ctx)

	// The client has no listener of its own: it connects to the server
	// (its seed) and the server answers on that connection.
	client, err := engine.New(engine.Config{
		NodeID: "client",
		Seeds:  server.Addrs(),
		Secret: "example secret",
		Logger: quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(); err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	answers := make(chan string, 1)
	reply := client.NewPort(func(m *engine.Message) {
		args, _ := m.Args()
		text, _ := framing.Text(args[0])
		answers <- text
	})
	if err := client.WaitNode(ctx, "server"); err != nil {
		log.Fatal(err)
	}
	if err := client.Send("server#greet", "gopher", reply); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-answers)
	// Output: hello, gopher
}

// A service and a client on two nodes. Call sends the arguments with a
// reply port appended and waits for the first message sent to it; if the
// service port dies (or does not exist) first, Call returns a
// *PortDiedError with the reason.
func ExampleNode_Call() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	server, err := engine.New(engine.Config{NodeID: "calc", Binds: []string{"127.0.0.1:0"}, Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	// "sum": [NUMBERS..., REPLYPORT] -> SUM. The reply port is the last
	// argument, as with AnyEvent::MP's cal.
	server.Register("sum", func(m *engine.Message) {
		args, err := m.Args()
		if err != nil || len(args) == 0 {
			return
		}
		reply, _ := framing.Text(args[len(args)-1])
		var sum int64
		for _, a := range args[:len(args)-1] {
			n, ok := framing.Int64(a)
			if !ok {
				server.Send(reply, "error", fmt.Sprintf("not an integer: %v", a))
				return
			}
			sum += n
		}
		server.Send(reply, sum)
	})
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.Close(ctx)

	client, err := engine.New(engine.Config{NodeID: "user", Seeds: server.Addrs(), Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(); err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	// Call blocks: call it from a goroutine of your own, never from a
	// handler. Give ctx a deadline.
	got, err := client.Call(ctx, "calc#sum", 1, 2, 39)
	fmt.Println(got, err)

	got, err = client.Call(ctx, "calc#sum", 1, "two")
	fmt.Println(got, err)

	_, err = client.Call(ctx, "calc#product", 6, 7)
	var died *engine.PortDiedError
	if errors.As(err, &died) {
		fmt.Printf("%s died: %q\n", died.Port, died.Reason)
	}
	// Output:
	// [42] <nil>
	// [error not an integer: two] <nil>
	// calc#product died: ["no_such_port" "cannot monitor nonexistent port" "calc#product"]
}

// Monitor tells when a port dies and why: Kill with a reason, a handler
// that panics (reason "die" and the panic's text), a port that does not
// exist. Here the ports are on another node; monitoring a local port
// works the same way.
func ExampleNode_Monitor() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	server, err := engine.New(engine.Config{NodeID: "workers", Binds: []string{"127.0.0.1:0"}, Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	server.Register("steady", func(*engine.Message) {})
	server.Register("fragile", func(m *engine.Message) {
		// A panicking handler kills its port, not the node.
		panic("cannot handle this")
	})
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.Close(ctx)

	watcher, err := engine.New(engine.Config{NodeID: "watcher", Seeds: server.Addrs(), Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := watcher.Start(); err != nil {
		log.Fatal(err)
	}
	defer watcher.Close(ctx)

	// The callback runs once, on an event loop: it must not block (the
	// channel has room).
	died := make(chan string, 1)
	watch := func(port string) {
		watcher.Monitor(port, func(reason []any) {
			died <- fmt.Sprintf("%s: %q", port, reason)
		})
	}

	watch("workers#steady")
	watcher.Kill("workers#steady", "shutdown", "maintenance")
	fmt.Println(<-died)

	watch("workers#fragile")
	watcher.Send("workers#fragile", "some work")
	fmt.Println(<-died)

	watch("workers#missing")
	fmt.Println(<-died)
	// Output:
	// workers#steady: ["shutdown" "maintenance"]
	// workers#fragile: ["die" "cannot handle this"]
	// workers#missing: ["no_such_port" "cannot monitor nonexistent port" "workers#missing"]
}

// A fast sender. Send never blocks: when the connection holds more unsent
// bytes than Config.HighWaterMark it returns ErrBackpressure (ErrQueueFull
// while the node is not connected yet) and queues nothing. The sender
// then waits with Dest.Wait until the link has drained to half the mark,
// and sends the same message again.
func ExampleDest_Wait() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	receiver, err := engine.New(engine.Config{NodeID: "receiver", Binds: []string{"127.0.0.1:0"}, Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	// "count": counts messages; ["total?", REPLYPORT] is answered with
	// the count. Handlers of one port may run concurrently (messages
	// from different connections), hence the atomic counter.
	var received atomic.Int64
	receiver.Register("count", func(m *engine.Message) {
		args, _ := m.Args()
		if len(args) == 2 && args[0] == "total?" {
			reply, _ := framing.Text(args[1])
			receiver.Send(reply, received.Load())
			return
		}
		received.Add(1)
	})
	if err := receiver.Start(); err != nil {
		log.Fatal(err)
	}
	defer receiver.Close(ctx)

	sender, err := engine.New(engine.Config{
		NodeID:        "sender",
		Seeds:         receiver.Addrs(),
		Secret:        "s",
		Logger:        quiet,
		HighWaterMark: 64 << 10, // small, to meet backpressure soon
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := sender.Start(); err != nil {
		log.Fatal(err)
	}
	defer sender.Close(ctx)

	// Resolve the destination once; Dest.Send is Send without the
	// per-message lookup.
	dest := sender.Dest("receiver#count")
	payload := make([]byte, 16<<10)
	const total = 1000
	for sent := 0; sent < total; {
		err := dest.Send(sent, payload)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, engine.ErrBackpressure), errors.Is(err, engine.ErrQueueFull):
			// Wait blocks: a sender on a goroutine of its own may
			// use it, a handler must not.
			if err := dest.Wait(ctx); err != nil {
				log.Fatal(err)
			}
		default:
			log.Fatal(err) // a value that cannot be sent, or the node closed
		}
	}
	// Messages of one sender arrive in order: the question comes after
	// every message above. Call sends too, and fails with ErrBackpressure
	// on a full link like any Send: wait for room first.
	if err := dest.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	got, err := sender.Call(ctx, "receiver#count", "total?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("received", got[0], "of", total)
	// Output: received 1000 of 1000
}

// A sender with many messages ready hands them over as one batch:
// Dest.SendMany encodes them all under one lock and wakes the event loop
// once, where a Send per message may wake it for every message. Over the
// high-water mark it stops and says how many it took; wait and send the
// rest.
func ExampleDest_SendMany() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	receiver, err := engine.New(engine.Config{NodeID: "receiver", Binds: []string{"127.0.0.1:0"}, Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	var sum atomic.Int64
	receiver.Register("add", func(m *engine.Message) {
		args, _ := m.Args()
		if len(args) == 2 && args[0] == "sum?" {
			reply, _ := framing.Text(args[1])
			receiver.Send(reply, sum.Load())
			return
		}
		n, _ := framing.Int64(args[0])
		sum.Add(n)
	})
	if err := receiver.Start(); err != nil {
		log.Fatal(err)
	}
	defer receiver.Close(ctx)

	sender, err := engine.New(engine.Config{NodeID: "sender", Seeds: receiver.Addrs(), Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := sender.Start(); err != nil {
		log.Fatal(err)
	}
	defer sender.Close(ctx)

	dest := sender.Dest("receiver#add")
	batch := make([][]any, 100) // reused for every batch
	for round := 0; round < 10; round++ {
		for i := range batch {
			batch[i] = []any{int64(round*100 + i + 1)}
		}
		for rest := batch; len(rest) > 0; {
			n, err := dest.SendMany(rest)
			rest = rest[n:]
			switch {
			case err == nil:
			case errors.Is(err, engine.ErrBackpressure), errors.Is(err, engine.ErrQueueFull):
				if err := dest.Wait(ctx); err != nil {
					log.Fatal(err)
				}
			default:
				log.Fatal(err) // rest[0] cannot be sent, or the node closed
			}
		}
	}
	got, err := sender.Call(ctx, "receiver#add", "sum?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sum", got[0])
	// Output: sum 500500
}

// How arguments arrive. A Send to a port of this node hands the handler
// the Go values themselves. A Send to another node encodes them in the
// framing that node's connection uses (chosen in the handshake: cbor
// between aemp-go nodes and with AnyEvent::MP 2.x, json or storable with
// 1.x), and they arrive as that framing decodes them (see the value model
// in package framing): a number may be a framing.Number, an int64 or a
// string, a bool is Perl's "1" or "", a Perl byte string with high bytes
// a []byte or a string. The converters framing.Text, Int64, Float64, Bool
// and Bytes read any of them the way Perl would.
func ExampleMessage_Args() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A node that shows what its port "show" gets.
	show := func(node *engine.Node) chan string {
		lines := make(chan string, 1)
		node.Register("show", func(m *engine.Message) {
			args, err := m.Args()
			if err != nil {
				return
			}
			var b strings.Builder
			how := m.Framing()
			if how == "" {
				how = "local"
			}
			fmt.Fprintf(&b, "%-8s", how)
			for _, a := range args {
				fmt.Fprintf(&b, " %T", a)
			}
			if how != "local" {
				name, _ := framing.Text(args[0])
				n, _ := framing.Int64(args[1])
				f, _ := framing.Float64(args[2])
				yes := framing.Bool(args[3])
				raw, _ := framing.Bytes(args[4])
				fmt.Fprintf(&b, "\n         -> %q %d %g %t %x", name, n, f, yes, raw)
			}
			lines <- b.String()
		})
		return lines
	}
	send := func(n *engine.Node, port string) error {
		// A name, an int, a float, a bool and a Perl byte string with a
		// high byte (Latin-1 "ü").
		return n.Send(port, "gopher", 42, 2.5, true, []byte{0xfc})
	}

	sender, err := engine.New(engine.Config{NodeID: "sender", Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := sender.Start(); err != nil {
		log.Fatal(err)
	}
	defer sender.Close(ctx)
	local := show(sender)
	send(sender, "sender#show")
	fmt.Println(<-local)

	// One receiver per framing: a node receives what its own Framings
	// list allows.
	for _, f := range []string{"json", "storable", "cbor"} {
		receiver, err := engine.New(engine.Config{
			NodeID:   "receiver-" + f,
			Binds:    []string{"127.0.0.1:0"},
			Secret:   "s",
			Framings: []string{f},
			Logger:   quiet,
		})
		if err != nil {
			log.Fatal(err)
		}
		lines := show(receiver)
		if err := receiver.Start(); err != nil {
			log.Fatal(err)
		}
		sender.Connect(receiver.Addrs()[0])
		if err := sender.WaitNode(ctx, receiver.ID()); err != nil {
			log.Fatal(err)
		}
		if err := send(sender, receiver.ID()+"#show"); err != nil {
			log.Fatal(err)
		}
		fmt.Println(<-lines)
		receiver.Close(ctx)
	}
	// Output:
	// local    string int float64 bool []uint8
	// json     string framing.Number framing.Number string string
	//          -> "gopher" 42 2.5 true fc
	// storable string int64 string string []uint8
	//          -> "gopher" 42 2.5 true fc
	// cbor     string int64 framing.Number string []uint8
	//          -> "gopher" 42 2.5 true fc
}

// Spawn asks another node to create a port from a function it registered
// under a name (AnyEvent::MP's spawn; a Perl node names a Perl function,
// for example "My::Service::init"). The spawned port's ID comes back at
// once; a monitor tells whether the other node created it.
func ExampleNode_Spawn() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	server, err := engine.New(engine.Config{NodeID: "factory", Binds: []string{"127.0.0.1:0"}, Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	// "counter" makes a port that counts from its first argument:
	// [REPLYPORT] -> the next number.
	server.RegisterSpawn("counter", func(n *engine.Node, req engine.SpawnRequest) (engine.Handler, error) {
		if len(req.Args) != 1 {
			return nil, errors.New("counter: want a start value")
		}
		start, ok := framing.Int64(req.Args[0])
		if !ok {
			return nil, fmt.Errorf("counter: start %v is not an integer", req.Args[0])
		}
		var next atomic.Int64
		next.Store(start)
		return func(m *engine.Message) {
			args, _ := m.Args()
			if len(args) == 1 {
				reply, _ := framing.Text(args[0])
				n.Send(reply, next.Add(1)-1)
			}
		}, nil
	})
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.Close(ctx)

	client, err := engine.New(engine.Config{NodeID: "customer", Seeds: server.Addrs(), Secret: "s", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(); err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	counter, err := client.Spawn("factory", "counter", 10)
	if err != nil {
		log.Fatal(err)
	}
	var numbers []any
	for range 3 {
		got, err := client.Call(ctx, counter)
		if err != nil {
			log.Fatal(err)
		}
		numbers = append(numbers, got[0])
	}
	fmt.Println(numbers)

	// A name the other node did not register (or an init function that
	// fails) creates no port: the monitor says so.
	for _, init := range []string{"no such function", "counter"} {
		port, err := client.Spawn("factory", init) // counter without its argument
		if err != nil {
			log.Fatal(err)
		}
		reason := make(chan []any, 1)
		client.Monitor(port, func(r []any) { reason <- r })
		fmt.Printf("%s: %v\n", init, (<-reason)[0])
	}
	// Output:
	// [10 11 12]
	// no such function: no_such_port
	// counter: no_such_port
}
