package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// A value that cannot be sent is refused by Send, whether or not the node
// is connected: it is never accepted and lost later.
func TestSendRefusesBadValueUnconnected(t *testing.T) {
	a := startNode(t, "lossA", Config{})
	for _, v := range []any{make(chan int), math.NaN(), string([]byte{0xff})} {
		err := a.Send("nowhere#p", "x", v)
		if !errors.Is(err, framing.ErrInvalidValue) {
			t.Errorf("Send(%T) to an unconnected node: %v, want ErrInvalidValue", v, err)
		}
	}
	if st := a.Stats(); st.QueuedBytes != 0 {
		t.Fatalf("refused messages were queued: %d bytes", st.QueuedBytes)
	}
}

// Messages queued for a node that never comes up are counted as dropped
// (Stats.DroppedExpired, LostBytes) and its monitors fire.
func TestQueueExpiryCounted(t *testing.T) {
	a := startNode(t, "lossB", Config{MonitorTimeout: 500 * time.Millisecond})
	mon := monitorChan(a.Node, "ghost")
	for i := range 3 {
		mustf(t, a.Send("ghost#p", i), "send %d", i)
	}
	if st := a.Stats(); st.QueuedBytes == 0 {
		t.Fatal("nothing queued")
	}
	r := waitReason(t, mon, 3*time.Second)
	if fmt.Sprint(r) != "[transport_error ghost unable to connect]" {
		t.Fatalf("monitor: %v", r)
	}
	st := a.Stats()
	if st.DroppedExpired != 3 || st.Dropped != 3 || st.LostBytes == 0 || st.QueuedBytes != 0 {
		t.Fatalf("stats after expiry: %+v", st)
	}
	a.log.waitLog(t, "queued messages dropped", time.Second)
}

// Messages queued before a node comes up are sent first, in order, even
// when the link chooses another framing than the queue was encoded in
// (here json: the queue guesses cbor); messages sent once it is up come
// after them.
func TestQueuedFirstAndTranscoded(t *testing.T) {
	b := startNode(t, "lossD", Config{Framings: []string{"json"}})
	back, _ := newCollector(t, b.Node, "in")
	a := startNode(t, "lossC", Config{})
	values := []any{"text", int64(-7), 1.5, []byte{0xfc, 'x'}, []any{"n", map[string]any{"k": true}}, nil}
	for i, v := range values {
		mustf(t, a.Send("lossD#in", i, v), "queue %d", i)
	}
	a.Connect(b.Addrs()[0])
	a.waitEvent(t, "lossD", true, 5*time.Second)
	mustf(t, a.Send("lossD#in", len(values), "after up"), "send after up")
	for i := range len(values) + 1 {
		got := back.next(t, 5*time.Second)
		if n, _ := framing.Int64(got[0]); n != int64(i) {
			t.Fatalf("message %d arrived as number %v: %v; log:\n%s", i, got[0], got, a.log.String())
		}
	}
	if st := a.Stats(); st.Dropped != 0 || st.Sent < int64(len(values))+1 {
		t.Fatalf("stats: %+v", st)
	}
}

// Bytes still unsent when a link is lost are counted (LostBytes), and the
// monitors of the node fire: no accepted message disappears without a
// count or a monitor.
func TestLinkLostCounted(t *testing.T) {
	srv := startNode(t, "lossE", Config{HighWaterMark: 1 << 20})
	p, err := dialRaw(t, srv.Addrs()[0], "stalled", "test-secret", "json")
	mustf(t, err, "handshake")
	srv.waitEvent(t, "stalled", true, 2*time.Second)
	mon := monitorChan(srv.Node, "stalled")
	payload := strings.Repeat("p", 1000)
	// Fill the link until Wait blocks: the kernel's socket buffers (which
	// may grow meanwhile) are full and the node holds the rest.
	d := srv.Dest("stalled#in")
	for round := 0; ; round++ {
		for d.Send(payload) == nil {
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := d.Wait(ctx)
		cancel()
		if err != nil {
			break
		}
		if round == 100 {
			t.Fatal("the link never filled up")
		}
	}
	p.conn.Close()
	if r := waitReason(t, mon, 5*time.Second); r[0] != "transport_error" {
		t.Fatalf("monitor: %v", r)
	}
	st := srv.Stats()
	if st.LostBytes == 0 || st.Backpressure == 0 {
		t.Fatalf("stats after losing a full link: %+v", st)
	}
}

// The counters follow connections, handshakes and messages.
func TestStatsCounters(t *testing.T) {
	a := startNode(t, "statA", Config{})
	b := startNode(t, "statB", Config{})
	bad := startNode(t, "statC", Config{Secret: "other"})
	back, backID := newCollector(t, a.Node, "back")
	a.Connect(b.Addrs()[0])
	a.waitEvent(t, "statB", true, 5*time.Second)
	a.Connect(bad.Addrs()[0])
	for range 10 {
		mustf(t, a.Send("statB#echo", backID, "x"), "send")
	}
	for range 10 {
		back.next(t, 5*time.Second)
	}
	mustf(t, a.Send("statB#nosuchport", 1), "send")
	deadline := time.Now().Add(5 * time.Second)
	for {
		sa, sb := a.Stats(), b.Stats()
		ok := sa.NodesUp == 1 && sa.Handshakes == 1 && sa.HandshakeFailures["auth_failed"] == 1 &&
			sa.Sent >= 11 && sa.Received >= 10 && sa.SentBytes > 0 && sa.ReceivedBytes > 0 &&
			sb.UnknownPort == 1 && sb.Received >= 11
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats:\na %+v\nb %+v", sa, sb)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Protocol messages (monitoring, kills) are sent even on a link above the
// high-water mark: dropping them would leave monitors that never fire.
func TestControlAboveHighWaterMark(t *testing.T) {
	srv := startNode(t, "lossF", Config{HighWaterMark: 1 << 16})
	p, err := dialRaw(t, srv.Addrs()[0], "full", "test-secret", "json")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	srv.waitEvent(t, "full", true, 2*time.Second)
	payload := strings.Repeat("f", 1000)
	for srv.Send("full#in", payload) == nil {
	}
	srv.Monitor("full#watched", func([]any) {})
	srv.Kill("full#victim", "bye")
	seen := map[string]bool{}
	for len(seen) < 2 {
		m := p.readJSON(t, 10*time.Second)
		if strings.HasPrefix(m, `["","mon1","watched"]`) || strings.HasPrefix(m, `["","kil1","victim","bye"]`) {
			seen[m] = true
		}
	}
}
