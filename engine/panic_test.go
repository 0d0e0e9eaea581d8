package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// registerBoom registers a port that panics with "boom: ARG" for every
// message.
func registerBoom(t *testing.T, n *Node, name string) string {
	t.Helper()
	id, err := n.Register(name, func(m *Message) {
		args, _ := m.Args()
		panic(fmt.Sprintf("boom: %v\n", args))
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// monitorChan monitors portID and hands the reason to a channel.
func monitorChan(n *Node, portID string) chan []any {
	ch := make(chan []any, 1)
	n.Monitor(portID, func(reason []any) { ch <- reason })
	return ch
}

func waitReason(t *testing.T, ch chan []any, d time.Duration) []any {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("monitor did not fire within %v", d)
	}
	return nil
}

// A handler that panics for a message from another node kills only its
// port, with reason ("die", TEXT): the monitors on both nodes see it, the
// connection and the other ports keep working, and later messages on the
// same read are still delivered.
func TestHandlerPanicRemote(t *testing.T) {
	a := startNode(t, "pa", Config{})
	b := startNode(t, "pb", Config{})
	boomID := registerBoom(t, b.Node, "boom")
	back, backID := newCollector(t, a.Node, "back")
	remoteMon := monitorChan(a.Node, boomID)
	localMon := monitorChan(b.Node, boomID)

	a.Connect(b.Addrs()[0])
	a.waitEvent(t, "pb", true, 5*time.Second)
	// The panic and the echo request travel in one write, so they are
	// usually routed in one read: the echo must still be answered.
	mustf(t, a.Send(boomID, "x"), "send to boom")
	mustf(t, a.Send("pb#echo", backID, "after"), "send to echo")

	want := "[die boom: [x]]"
	if r := waitReason(t, localMon, 5*time.Second); fmt.Sprint(r) != want {
		t.Fatalf("local monitor: %v, want %s", r, want)
	}
	if r := waitReason(t, remoteMon, 5*time.Second); fmt.Sprint(r) != want {
		t.Fatalf("remote monitor: %v, want %s", r, want)
	}
	if got := back.next(t, 5*time.Second); fmt.Sprint(got) != "[after]" {
		t.Fatalf("echo after the panic: %v", got)
	}
	if b.ports.lookup([]byte("boom")) != nil {
		t.Fatal("the panicking port still exists")
	}
	b.log.waitLog(t, "port handler panicked", time.Second)
	if !strings.Contains(b.log.String(), "panic_test.go") {
		t.Fatalf("the panic log line has no stack:\n%s", b.log.String())
	}
	if st := a.Stats(); st.Conns != 1 {
		t.Fatalf("connections on a: %d", st.Conns)
	}
}

// A local Send to a panicking handler returns normally; the port dies.
func TestHandlerPanicLocal(t *testing.T) {
	a := startNode(t, "pl", Config{})
	boomID := registerBoom(t, a.Node, "boom")
	mon := monitorChan(a.Node, boomID)
	mustf(t, a.Send(boomID, 1), "local send")
	if r := waitReason(t, mon, time.Second); fmt.Sprint(r) != "[die boom: [1]]" {
		t.Fatalf("monitor: %v", r)
	}
	back, backID := newCollector(t, a.Node, "back")
	mustf(t, a.Send("pl#echo", backID, "alive"), "echo")
	if got := back.next(t, time.Second); fmt.Sprint(got) != "[alive]" {
		t.Fatalf("echo: %v", got)
	}
}

// A monitor callback that panics is contained, and the other monitors of
// the same port still run; so is a node-event hook that panics.
func TestCallbackPanics(t *testing.T) {
	hookCalls := make(chan NodeEvent, 16)
	a := startNode(t, "pc", Config{})
	b, err := New(Config{NodeID: "pd", Binds: []string{"127.0.0.1:0"}, Secret: "test-secret", Logger: a.log.logger(),
		OnNodeEvent: func(ev NodeEvent) {
			hookCalls <- ev
			panic("hook panics")
		}})
	if err != nil {
		t.Fatal(err)
	}
	mustf(t, serveTestEcho(b), "echo")
	mustf(t, b.Start(), "start")
	defer closeNode(b)

	portID := b.NewPort(func(*Message) {})
	b.Monitor(portID, func([]any) { panic("monitor panics") })
	second := monitorChan(b, portID)
	b.Kill(portID, "bye")
	if r := waitReason(t, second, time.Second); fmt.Sprint(r) != "[bye]" {
		t.Fatalf("second monitor: %v", r)
	}

	back, backID := newCollector(t, a.Node, "back")
	a.Connect(b.Addrs()[0])
	select {
	case ev := <-hookCalls:
		if !ev.Up || ev.Node != "pc" {
			t.Fatalf("hook event: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no node event")
	}
	mustf(t, a.Send("pd#echo", backID, "ok"), "send")
	if got := back.next(t, 5*time.Second); fmt.Sprint(got) != "[ok]" {
		t.Fatalf("echo after the hook panicked: %v", got)
	}
	for _, s := range []string{"monitor callback panicked", "OnNodeEvent hook panicked"} {
		a.log.waitLog(t, s, time.Second)
	}
}

// A Perl peer that monitors a port whose handler panics receives
// ["","kil0",PORT,"die",TEXT], as from a Perl node.
func TestHandlerPanicPerlMonitor(t *testing.T) {
	g := startNode(t, "gopanic", Config{Secret: "perl-secret"})
	registerBoom(t, g.Node, "boom")
	p := startPerlPeer(t, "--connect", g.Addrs()[0], "--nodeid", "perlpeer", "--secret", "perl-secret",
		"--send", `["","mon1","boom"]`,
		"--send", `["boom","x"]`,
		"--send", `["echo","perlpeer#r","still here"]`, "--quit-after", "20")
	p.expect(t, "UP ", 10*time.Second)
	if l := p.expect(t, `RECV ["","kil0"`, 5*time.Second); l != `RECV ["","kil0","boom","die","boom: [x]"]` {
		t.Fatalf("kil0: %q", l)
	}
	if l := p.expect(t, `RECV ["r"`, 5*time.Second); l != `RECV ["r","still here"]` {
		t.Fatalf("echo: %q", l)
	}
}

// Frames before and after a panicking one in the same read are each
// delivered once.
func TestHandlerPanicSameRead(t *testing.T) {
	srv := startNode(t, "psr", Config{})
	registerBoom(t, srv.Node, "boom")
	got := make(chan string, 16)
	srv.Register("count", func(m *Message) {
		args, _ := m.Args()
		got <- fmt.Sprint(args)
	})
	p, err := dialRaw(t, srv.Addrs()[0], "oneread", "test-secret", "json")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	p.conn.Write([]byte(`["count","before"]["boom","x"]["count","after"]`))
	for _, want := range []string{"[before]", "[after]"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %s, want %s", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", want)
		}
	}
	select {
	case g := <-got:
		t.Fatalf("delivered again: %s", g)
	case <-time.After(200 * time.Millisecond):
	}
}
