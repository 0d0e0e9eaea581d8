package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// registerCalEcho registers calecho: [ARGS..., REPLY] -> ARGS... to REPLY,
// the form Call sends.
func registerCalEcho(t *testing.T, n *Node) {
	t.Helper()
	_, err := n.Register("calecho", func(m *Message) {
		args, _ := m.Args()
		if len(args) > 0 {
			if r, ok := args[len(args)-1].(string); ok {
				n.Send(r, args[:len(args)-1]...)
			}
		}
	})
	mustf(t, err, "register calecho")
}

func TestCallReply(t *testing.T) {
	a := startNode(t, "callA", Config{})
	b := startNode(t, "callB", Config{})
	registerCalEcho(t, b.Node)
	registerCalEcho(t, a.Node)
	a.Connect(b.Addrs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := a.Call(ctx, "callB#calecho", "c", int64(2), []any{"x"})
	mustf(t, err, "remote call")
	if fmt.Sprint(got) != "[c 2 [x]]" {
		t.Fatalf("remote reply: %v", got)
	}
	local := []any{"l", 1}
	got, err = a.Call(ctx, "callA#calecho", local...)
	mustf(t, err, "local call")
	got[0] = "changed" // the reply is a copy
	if fmt.Sprint(local) != "[l 1]" {
		t.Fatalf("the reply aliases the caller's arguments: %v", local)
	}
	// The temporary ports and monitors are gone.
	if n := len(a.ports.all()); n != 3 { // echo, sink, calecho and nothing else
		t.Fatalf("%d ports left on the caller", n)
	}
	time.Sleep(50 * time.Millisecond) // mon0 reaches b
	b.ports.mu.Lock()
	defer b.ports.mu.Unlock()
	for _, p := range b.ports.all() {
		if len(p.monitors) != 0 {
			t.Fatalf("monitor left on %s", p.name)
		}
	}
}

func TestCallDeadline(t *testing.T) {
	a := startNode(t, "callC", Config{})
	silent, _ := a.Register("silent", func(*Message) {})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Call(ctx, silent, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

// A Call ends early, with the reason, when the port dies, when it does
// not exist, and when its node goes down.
func TestCallTargetDies(t *testing.T) {
	a := startNode(t, "callD", Config{})
	b := startNode(t, "callE", Config{})
	victim, _ := b.Register("victim", func(m *Message) {
		b.Kill("callE#victim", "shot", "down")
	})
	a.Connect(b.Addrs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := a.Call(ctx, victim, "x")
	var died *PortDiedError
	if !errors.As(err, &died) || fmt.Sprint(died.Reason) != "[shot down]" {
		t.Fatalf("killed target: %v", err)
	}
	_, err = a.Call(ctx, "callE#nothere", "x")
	if !errors.As(err, &died) || died.Reason[0] != "no_such_port" {
		t.Fatalf("missing port: %v", err)
	}
	hang, _ := b.Register("hang", func(*Message) {
		go closeNode(b.Node)
	})
	_, err = a.Call(ctx, hang, "x")
	if !errors.As(err, &died) || died.Reason[0] != "transport_error" || died.Reason[1] != "callE" {
		t.Fatalf("node down: %v", err)
	}
	if !strings.Contains(err.Error(), "transport_error callE") {
		t.Fatalf("error text: %v", err)
	}
}

func TestWaitNode(t *testing.T) {
	a := startNode(t, "waitA", Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := a.WaitNode(ctx, "waitB"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unknown node: %v", err)
	}
	mustf(t, a.WaitNode(context.Background(), "waitA"), "self")
	// The node connects to us later.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- a.WaitNode(ctx, "waitB")
	}()
	time.Sleep(50 * time.Millisecond)
	startNode(t, "waitB", Config{Seeds: []string{a.Addrs()[0]}})
	mustf(t, <-done, "node that connects")
	// A node whose address is known is dialled.
	c := startNode(t, "waitC", Config{})
	d := startNode(t, "waitD", Config{Seeds: []string{c.Addrs()[0]}})
	d.waitEvent(t, "waitC", true, 5*time.Second)
	mustf(t, c.Close(context.Background()), "close c")
	d.waitEvent(t, "waitC", false, 5*time.Second)
	c2 := startNode(t, "waitC", Config{Binds: []string{c.Addrs()[0]}})
	_ = c2
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	mustf(t, d.WaitNode(ctx2, "waitC"), "known address")
}

// Dest.Wait returns only once the link has room again, and honours ctx.
func TestDestWait(t *testing.T) {
	srv := startNode(t, "waitE", Config{HighWaterMark: 1 << 20})
	p, err := dialRaw(t, srv.Addrs()[0], "reader", "test-secret", "json")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	srv.waitEvent(t, "reader", true, 2*time.Second)
	d := srv.Dest("reader#in")
	payload := strings.Repeat("w", 1000)
	// Fill the link until Wait blocks: the kernel's socket buffers take
	// some of it while the peer does not read.
	sent := 0
	for round := 0; ; round++ {
		for {
			err := d.Send(payload)
			if errors.Is(err, ErrBackpressure) {
				break
			}
			mustf(t, err, "send")
			sent++
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := d.Wait(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		mustf(t, err, "Wait")
		if round == 100 {
			t.Fatalf("Wait never blocked (%d messages sent)", sent)
		}
	}
	read := make(chan int)
	go func() {
		k := 0
		for k < sent {
			if m := p.readJSON(t, 5*time.Second); strings.HasPrefix(m, `["in"`) {
				k++
			}
		}
		read <- k
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	mustf(t, d.Wait(ctx2), "Wait while the peer reads")
	mustf(t, d.Send("more"), "send after Wait")
	<-read
}
