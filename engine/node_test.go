package engine

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// TestGoToGoFramings connects two nodes with every framing combination,
// including different framings per direction, and sends both ways
// through echo.
func TestGoToGoFramings(t *testing.T) {
	cases := []struct {
		name     string
		fa, fb   []string
		wantAtoB string // what A sends (first of B's list that A has)
		wantBtoA string
	}{
		{"json", []string{"json"}, []string{"json"}, "json", "json"},
		{"storable", []string{"storable"}, []string{"storable"}, "storable", "storable"},
		{"mixed", []string{"json", "storable"}, []string{"storable", "json"}, "storable", "json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := startNode(t, "nodeB", Config{Framings: tc.fb})
			a := startNode(t, "nodeA", Config{Framings: tc.fa, Seeds: b.Addrs()})
			a.waitEvent(t, "nodeB", true, 5*time.Second)
			b.waitEvent(t, "nodeA", true, 5*time.Second)
			ra, replyA := newCollector(t, a.Node, "reply")
			rb, replyB := newCollector(t, b.Node, "reply")
			mustf(t, a.Send("nodeB#echo", replyA, "hello", int64(1), []any{"x", nil}), "send a->b")
			got := ra.next(t, 5*time.Second)
			if fmt.Sprint(got) != fmt.Sprint([]any{"hello", 1, []any{"x", nil}}) {
				t.Errorf("A got %#v", got)
			}
			mustf(t, b.Send("nodeA#echo", replyB, "back", "ü"), "send b->a")
			got = rb.next(t, 5*time.Second)
			if fmt.Sprint(got) != fmt.Sprint([]any{"back", "ü"}) {
				t.Errorf("B got %#v", got)
			}
			if !strings.Contains(a.log.String(), "send="+tc.wantAtoB) || !strings.Contains(a.log.String(), "recv="+tc.wantBtoA) {
				t.Errorf("framings: want send=%s recv=%s; log:\n%s", tc.wantAtoB, tc.wantBtoA, a.log.String())
			}
		})
	}
}

// TestManyMessagesInOrder sends many messages over one connection and
// checks they all arrive, in order.
func TestManyMessagesInOrder(t *testing.T) {
	total := 1_000_000
	if testing.Short() || raceEnabled {
		total = 100_000
	}
	b := startNode(t, "recv", Config{})
	a := startNode(t, "send", Config{Seeds: b.Addrs()})
	a.waitEvent(t, "recv", true, 5*time.Second)
	var next atomic.Int64
	var bad atomic.Int64
	done := make(chan struct{})
	b.Register("seq", func(m *Message) {
		args, err := m.Args()
		if err != nil || len(args) != 2 {
			bad.Add(1)
			return
		}
		if fmt.Sprint(args[0]) != fmt.Sprint(next.Load()) {
			bad.Add(1)
		}
		if next.Add(1) == int64(total) {
			close(done)
		}
	})
	for i := 0; i < total; {
		err := a.Send("recv#seq", int64(i), "payload-20-bytes-xxx")
		if errors.Is(err, ErrBackpressure) {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		mustf(t, err, "send %d", i)
		i++
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("received %d of %d", next.Load(), total)
	}
	if bad.Load() != 0 {
		t.Fatalf("%d messages out of order or malformed", bad.Load())
	}
}

// TestRejections checks handshake failures over real sockets.
func TestRejections(t *testing.T) {
	srv := startNode(t, "server", Config{MonitorTimeout: 1500 * time.Millisecond})
	addr := srv.Addrs()[0]
	t.Run("bad secret", func(t *testing.T) {
		if _, err := dialRaw(t, addr, "intruder", "wrong"); err == nil {
			t.Fatal("handshake with a wrong secret succeeded")
		}
		srv.log.waitLog(t, "authentication failure/shared secret mismatch", 2*time.Second)
	})
	t.Run("self", func(t *testing.T) {
		if _, err := dialRaw(t, addr, "server", "test-secret"); err == nil {
			t.Fatal("handshake with our own node ID succeeded")
		}
		srv.log.waitLog(t, "I refuse to talk to myself", 2*time.Second)
	})
	t.Run("no common framing", func(t *testing.T) {
		if _, err := dialRaw(t, addr, "weird", "test-secret", "yaml"); err == nil {
			t.Fatal("handshake without a common framing succeeded")
		}
		srv.log.waitLog(t, "yaml: no common framing method supported", 2*time.Second)
	})
	for _, tc := range []struct{ name, greeting, want string }{
		{"version", "aemp;2;v2node;hmac_md6_64_256;json\nnonce\n", "version mismatch (we: 1, they: 2)"},
		{"protocol", "http;1;x;hmac_md6_64_256;json\nnonce\n", "unparsable greeting, expected 'aemp', got 'http'"},
		{"no common auth", "aemp;1;x;md5;json\nnonce\n", "md5: no common auth type supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			mustf(t, err, "dial")
			defer c.Close()
			c.Write([]byte(tc.greeting))
			expectClosed(t, c, 3*time.Second)
			srv.log.waitLog(t, tc.want, 2*time.Second)
		})
	}
	t.Run("over-long greeting", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		mustf(t, err, "dial")
		defer c.Close()
		c.Write([]byte("aemp;1;x;hmac_md6_64_256;json;pad=" + strings.Repeat("a", 5000)))
		expectClosed(t, c, 3*time.Second)
	})
	t.Run("silent peer", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		mustf(t, err, "dial")
		defer c.Close()
		start := time.Now()
		expectClosed(t, c, 4*time.Second)
		if el := time.Since(start); el < time.Second {
			t.Fatalf("closed after %v, before the monitor timeout", el)
		}
	})
	t.Run("duplicate node", func(t *testing.T) {
		p, err := dialRaw(t, addr, "twin", "test-secret")
		mustf(t, err, "first connection")
		defer p.conn.Close()
		srv.waitEvent(t, "twin", true, 2*time.Second)
		if _, err := dialRaw(t, addr, "twin", "test-secret"); err == nil {
			t.Fatal("second connection of the same node accepted")
		}
		srv.log.waitLog(t, "twin already connected, not connecting again.", 2*time.Second)
	})
}

// TestPeerKilled checks that a connection lost mid-stream is reported as
// a node-down event with a transport reason, and that no goroutine leaks.
func TestPeerKilled(t *testing.T) {
	base := runtime.NumGoroutine()
	srv := startNode(t, "survivor", Config{})
	p, err := dialRaw(t, srv.Addrs()[0], "victim", "test-secret")
	mustf(t, err, "handshake")
	srv.waitEvent(t, "victim", true, 2*time.Second)
	p.conn.Write([]byte(`["sink","x"]["sink","y"]["sink`))
	p.conn.Close()
	ev := srv.waitEvent(t, "victim", false, 3*time.Second)
	if ev.Reason == "" {
		t.Fatal("node-down event without a reason")
	}
	// A dropped node's messages are still refused gracefully.
	if err := srv.Send("victim#p", "x"); err != nil {
		t.Fatalf("send to a down node: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base+40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base+40 {
		t.Fatalf("goroutines: %d before, %d after", base, g)
	}
}

// TestCloseFlushes checks that Close sends everything queued before it.
func TestCloseFlushes(t *testing.T) {
	b := startNode(t, "b", Config{})
	a := startNode(t, "a", Config{Seeds: b.Addrs()})
	a.waitEvent(t, "b", true, 5*time.Second)
	var got atomic.Int64
	b.Register("count", func(m *Message) { got.Add(1) })
	const total = 20000
	for i := 0; i < total; i++ {
		mustf(t, a.Send("b#count", int64(i)), "send")
	}
	a.Close(t.Context())
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got.Load() != total {
		t.Fatalf("received %d of %d after Close", got.Load(), total)
	}
}

// TestNodePort checks the node port requests a Perl node sends.
func TestNodePort(t *testing.T) {
	srv := startNode(t, "np", Config{})
	p, err := dialRaw(t, srv.Addrs()[0], "perlish", "test-secret")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	// What a Perl node sends first, then requests that reply.
	p.conn.Write([]byte(`["","AnyEvent::MP::_spawn","R.b","AnyEvent::MP::Global::connect",0,"perlish"]` +
		`["","mon1","R.b"]["R.b","addr",["127.0.0.1:1"]][]["",null][""]` +
		`["","mon1","nosuch"]["","info","perlish#r1","x"]["","snd","perlish#r2","relayed"]` +
		`["echo","perlish#r3","e",1]`))
	want := []string{
		`["","kil0","R.b","no_such_port","cannot monitor nonexistent port","np#R.b"]`,
		`["","kil0","nosuch","no_such_port","cannot monitor nonexistent port","np#nosuch"]`,
		`["r1","x","np"]`,
		`["r2","relayed"]`,
		`["r3","e",1]`,
	}
	for _, w := range want {
		if got := p.readJSON(t, 3*time.Second); got != w {
			t.Fatalf("got %s, want %s", got, w)
		}
	}
}

// TestConcurrentConnections opens many authenticated connections at once;
// each exchanges a message through echo.
func TestConcurrentConnections(t *testing.T) {
	conns := 1000
	if testing.Short() {
		conns = 200
	}
	srv := startNode(t, "hub", Config{})
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		go func(i int) {
			id := fmt.Sprintf("c%d", i)
			p, err := dialRaw(t, srv.Addrs()[0], id, "test-secret")
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			defer p.conn.Close()
			fmt.Fprintf(p.conn, `["echo","%s#r",%d]`, id, i)
			p.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			buf := make([]byte, 256)
			var got []byte
			want := fmt.Sprintf(`["r",%d]`, i)
			for !strings.Contains(string(got), want) {
				n, err := p.conn.Read(buf)
				if err != nil {
					errs <- fmt.Errorf("%s: %w (got %q)", id, err, got)
					return
				}
				got = append(got, buf[:n]...)
			}
			errs <- nil
		}(i)
	}
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Stats(); st.Received < int64(conns) || st.Sent < int64(conns) {
		t.Fatalf("stats: %+v", st)
	}
}

// TestLocalDelivery checks local sends and SplitPortID.
func TestLocalDelivery(t *testing.T) {
	n := startNode(t, "solo", Config{Binds: []string{}})
	c, id := newCollector(t, n.Node, "inbox")
	mustf(t, n.Send(id, "a", int64(2)), "send")
	if got := c.next(t, time.Second); !reflect.DeepEqual(got, []any{"a", int64(2)}) {
		t.Fatalf("got %#v", got)
	}
	for in, want := range map[string][2]string{"n#p": {"n", "p"}, "n": {"n", ""}, "n#": {"n", ""}, "#p": {"", "p"}, "n#p#q": {"n", "p#q"}} {
		if a, b := SplitPortID(in); a != want[0] || b != want[1] {
			t.Errorf("SplitPortID(%q) = %q, %q", in, a, b)
		}
	}
	if _, err := n.Register("inbox", func(*Message) {}); !errors.Is(err, ErrPortExists) {
		t.Fatalf("duplicate Register: %v", err)
	}
}

// TestBackpressure: a peer that stops reading fills our buffers up to the
// high-water mark, then Send reports ErrBackpressure; once the peer reads
// again every accepted message arrives.
func TestBackpressure(t *testing.T) {
	srv := startNode(t, "pusher", Config{HighWaterMark: 1 << 20})
	p, err := dialRaw(t, srv.Addrs()[0], "slowpoke", "test-secret", "json")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	srv.waitEvent(t, "slowpoke", true, 2*time.Second)
	payload := strings.Repeat("p", 1000)
	accepted := 0
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := srv.Send("slowpoke#in", payload)
		if errors.Is(err, ErrBackpressure) {
			break
		}
		mustf(t, err, "send")
		accepted++
		if time.Now().After(deadline) {
			t.Fatalf("no backpressure after %d messages", accepted)
		}
	}
	// The node holds at most the high-water mark plus what the kernel's
	// socket buffers took.
	if accepted > 20000 {
		t.Fatalf("%d messages of 1 KB accepted before backpressure", accepted)
	}
	// Read everything: every accepted message arrives, then sending works again.
	got := 0
	for got < accepted {
		if m := p.readJSON(t, 5*time.Second); strings.HasPrefix(m, `["in","p`) {
			got++
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if err := srv.Send("slowpoke#in", "again"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Send still refused after the peer caught up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := p.readJSON(t, 5*time.Second); m != `["in","again"]` {
		t.Fatalf("after resuming: %s", m)
	}
}

// TestListenerlessKeepalive: a node without listeners sends [] after
// monitor-timeout without writing.
func TestListenerlessKeepalive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustf(t, err, "listen")
	defer ln.Close()
	startNode(t, "nolisten", Config{Binds: []string{}, Seeds: []string{ln.Addr().String()}, MonitorTimeout: 600 * time.Millisecond})
	c, err := ln.Accept()
	mustf(t, err, "accept")
	defer c.Close()
	// Act as the peer: answer the handshake with the handshake package.
	p := acceptRaw(t, c, "listener", "test-secret")
	start := time.Now()
	if m := p.readJSONNoMesh(t, 3*time.Second); m != "[]" {
		t.Fatalf("got %s, want []", m)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("keepalive after %v, before the monitor timeout", el)
	}
}

// TestSimultaneousConnect: two nodes that are each other's seed end up
// with one connection that both keep.
func TestSimultaneousConnect(t *testing.T) {
	la, _ := net.Listen("tcp", "127.0.0.1:0")
	lb, _ := net.Listen("tcp", "127.0.0.1:0")
	aAddr, bAddr := la.Addr().String(), lb.Addr().String()
	la.Close()
	lb.Close()
	a := startNode(t, "alpha", Config{Binds: []string{aAddr}, Seeds: []string{bAddr}})
	b := startNode(t, "beta", Config{Binds: []string{bAddr}, Seeds: []string{aAddr}})
	a.waitEvent(t, "beta", true, 5*time.Second)
	b.waitEvent(t, "alpha", true, 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	rc, rid := newCollector(t, a.Node, "r")
	for i := 0; i < 10; i++ {
		mustf(t, a.Send("beta#echo", rid, int64(i)), "send")
	}
	for i := 0; i < 10; i++ {
		if got := rc.next(t, 3*time.Second); fmt.Sprint(got[0]) != fmt.Sprint(i) {
			t.Fatalf("reply %d: %v", i, got)
		}
	}
	if !a.isConnected("beta") || !b.isConnected("alpha") {
		t.Fatal("the nodes lost their connection")
	}
}

// TestNodePortKillAndCan checks the 2.x kill request (kil1, and 1.x's
// kil), "can", and that killing a remote port sends the request the
// peer's generation understands.
func TestNodePortKillAndCan(t *testing.T) {
	srv := startNode(t, "k", Config{})
	srv.Register("victim", func(*Message) {})
	srv.Register("victim2", func(*Message) {})
	p, err := dialRaw(t, srv.Addrs()[0], "perl2", "test-secret") // default lists: SHA3, a 2.x peer
	mustf(t, err, "handshake")
	defer p.conn.Close()
	srv.waitEvent(t, "perl2", true, 2*time.Second)
	p.conn.Write([]byte(`["","mon1","victim"]["","mon1","victim2"]["","kil1","victim","bye","now"]["","kil","victim2"]` +
		`["","can","kil1","perl2#r9","x"]["","can","g_find","perl2#r9"]["","g_slave",{"'l":{}}]`))
	for _, w := range []string{
		`["","kil0","victim","bye","now"]`,
		`["","kil0","victim2"]`,
		`["r9","x","1"]`,
		`["r9",""]`,
	} {
		if got := p.readJSONNoMesh(t, 3*time.Second); got != w {
			t.Fatalf("got %s, want %s", got, w)
		}
	}
	srv.Kill("perl2#their", "reason")
	if got := p.readJSONNoMesh(t, 3*time.Second); got != `["","kil1","their","reason"]` {
		t.Fatalf("remote kill to a 2.x peer: %s", got)
	}
	p1, err := dialRawWith(t, srv.Addrs()[0], handshake.Options{NodeID: "perl1", Secret: []byte("test-secret"),
		AuthOffer: handshake.AuthOffer1x, AuthAccept: handshake.AuthAccept1x, Framings: handshake.Framings1x}) // MD6 only: a 1.x peer
	mustf(t, err, "handshake")
	defer p1.conn.Close()
	srv.waitEvent(t, "perl1", true, 2*time.Second)
	srv.Kill("perl1#their")
	if got := p1.readJSONNoMesh(t, 3*time.Second); got != `["","kil","their"]` {
		t.Fatalf("remote kill to a 1.x peer: %s", got)
	}
}

// TestSeedAlreadyConnected: A has B's address as a seed, but B connects to
// A first. A's next dial of the seed is refused ("already connected"); A
// must then know the address is B's and stop dialling it while B is up
// (AnyEvent::MP 2.02 does the same), and dial it again once B goes down.
func TestSeedAlreadyConnected(t *testing.T) {
	bAddr := freeAddr(t) // B is not up yet: A's first dials fail
	a := startNode(t, "seedA", Config{Seeds: []string{bAddr}, ConnectInterval: 100 * time.Millisecond})
	time.Sleep(250 * time.Millisecond)
	b := startNode(t, "seedB", Config{Binds: []string{bAddr}, Seeds: a.Addrs(), ConnectInterval: 100 * time.Millisecond})
	a.waitEvent(t, "seedB", true, 5*time.Second)
	time.Sleep(1200 * time.Millisecond) // about 12 connect intervals
	refused := strings.Count(a.log.String(), "seedB already connected")
	if refused > 2 {
		t.Fatalf("A dialled its seed %d times while its node was connected:\n%s", refused, a.log.String())
	}
	if n := a.peers.size(); n != 1 {
		t.Errorf("A has %d peer entries, want 1 (the seed merged into seedB)", n)
	}
	// B goes down: A's seed is B's address again and is redialled; a new
	// B on the same address comes up through it.
	b.Close(t.Context())
	a.waitEvent(t, "seedB", false, 5*time.Second)
	b2 := startNode(t, "seedB", Config{Binds: []string{bAddr}})
	a.waitEvent(t, "seedB", true, 5*time.Second)
	_ = b2
}

// TestReleaseAfterBurst: after a burst of connections and 2 s without a
// new one, the node returns freed memory to the OS once, and not again
// while nothing new arrives.
func TestReleaseAfterBurst(t *testing.T) {
	n := startNode(t, "burst", Config{ReleaseAfterBurst: 5})
	for i := range 6 {
		p, err := dialRaw(t, n.Addrs()[0], fmt.Sprintf("burst-peer-%d", i), "test-secret")
		if err != nil {
			t.Fatal(err)
		}
		p.conn.Close()
	}
	n.log.waitLog(t, "memory returned to the OS", 5*time.Second)
	time.Sleep(2500 * time.Millisecond)
	if k := strings.Count(n.log.String(), "memory returned to the OS"); k != 1 {
		t.Fatalf("released %d times, want once", k)
	}
}

// TestSeedIsSelf: a node whose seed list holds its own address (one list
// shared by all nodes) drops that seed after the first "I refuse to talk
// to myself" instead of dialling itself every connect interval, and still
// connects to its other seeds.
func TestSeedIsSelf(t *testing.T) {
	own := freeAddr(t)
	b := startNode(t, "selfB", Config{})
	a := startNode(t, "selfA", Config{Binds: []string{own}, Seeds: []string{own, b.Addrs()[0]}, ConnectInterval: 100 * time.Millisecond})
	a.waitEvent(t, "selfB", true, 5*time.Second)
	a.log.waitLog(t, "seed is this node itself", 5*time.Second)
	time.Sleep(1 * time.Second) // about 10 connect intervals
	// Each attempt fails on both ends of the one connection: 2 lines.
	k := 0
	for _, l := range strings.Split(a.log.String(), "\n") {
		if strings.Contains(l, `msg="handshake failed"`) && strings.Contains(l, "I refuse to talk to myself") {
			k++
		}
	}
	if k > 2 {
		t.Fatalf("dialled itself %d times:\n%s", k/2, a.log.String())
	}
}

// Requests the node port does not serve are not decoded, and small-by-
// nature requests above 64 KiB are dropped: a peer cannot make the node
// decode a megabyte of deeply nested maps (tens of megabytes of Go
// values) for nothing. The link stays up.
func TestNodePortDecodesOnlyWhatItServes(t *testing.T) {
	srv := startNode(t, "npd", Config{})
	p, err := dialRaw(t, srv.Addrs()[0], "bomber", "test-secret", "json")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	nested := strings.Repeat(`{"a":`, 500) + "1" + strings.Repeat("}", 500)
	var b strings.Builder
	for _, name := range []string{"g_db_family", "Some::function", "up_nodes"} {
		b.Reset()
		b.WriteString(`["","` + name + `"`)
		for b.Len() < 1<<20 {
			b.WriteString("," + nested)
		}
		b.WriteString("]")
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p.conn.Write([]byte(b.String()))
		p.conn.Write([]byte(`["","time","bomber#t"]`))
		if got := p.readJSONNoMesh(t, 10*time.Second); !strings.HasPrefix(got, `["t",`) {
			t.Fatalf("%s: time answered %s", name, got)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		// This process's own allocations for the request (building it, the
		// read buffers) are ~16 MiB; decoding it would add ~60 MiB more.
		if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 32<<20 {
			t.Errorf("%s: %d MiB allocated for a 1 MiB request", name, grew>>20)
		}
	}
}
