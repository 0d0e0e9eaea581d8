package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestStructSizes guards what an idle connection costs: a node keeps a
// conn and a peer for every connected node (10,000 idle connections must
// fit in 1 KiB each, gnet's share included), so growing either past its
// allocation size class is a decision, not an accident.
func TestStructSizes(t *testing.T) {
	for _, s := range []struct {
		name      string
		size, max uintptr
	}{
		// 112, not 128: the net package's netFD of every accepted socket
		// (garbage once gnet has the socket) is 128 bytes.
		{"conn", unsafe.Sizeof(conn{}), 112},
		{"peer", unsafe.Sizeof(peer{}), 48},
	} {
		if s.size > s.max {
			t.Errorf("%s is %d bytes, more than %d", s.name, s.size, s.max)
		}
	}
}

// TestSinceMillis: 32-bit millisecond stamps keep conn and peer small;
// their differences must survive the wrap and a stamp taken just after
// "now" (the housekeeping tick's time) must not look 49 days old.
func TestSinceMillis(t *testing.T) {
	for _, c := range []struct {
		now, then uint32
		want      time.Duration
	}{
		{1500, 1000, 500 * time.Millisecond},
		{1000, 1500, -500 * time.Millisecond},
		{5, 0xffff_fff0, 21 * time.Millisecond},
		{0xffff_fff0, 5, -21 * time.Millisecond},
	} {
		if got := sinceMillis(c.now, c.then); got != c.want {
			t.Errorf("sinceMillis(%d, %d) = %v, want %v", c.now, c.then, got, c.want)
		}
	}
}

// TestOutBufsSize: outBufs is allocated in the 512-byte size class (see
// its comment).
func TestOutBufsSize(t *testing.T) {
	if s := unsafe.Sizeof(outBufs{}); s != 512 {
		t.Errorf("outBufs is %d bytes, want 512", s)
	}
}

// TestHighWaterMarkBound: the backlog is counted in 32 bits, so New
// refuses a high-water mark above maxBacklog.
func TestHighWaterMarkBound(t *testing.T) {
	_, err := New(Config{NodeID: "hwm", Secret: "s", HighWaterMark: maxBacklog + 1})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("HighWaterMark %d: %v, want ErrConfig", maxBacklog+1, err)
	}
	if _, err := New(Config{NodeID: "hwm", Secret: "s", HighWaterMark: maxBacklog}); err != nil {
		t.Fatalf("HighWaterMark %d: %v", maxBacklog, err)
	}
}

// TestConnHotFields: the fields of conn written per message or per flush
// lie between wakeQueued and buffered; at least 64 bytes of other fields
// separate them from those of the next conn in memory (see conn).
func TestConnHotFields(t *testing.T) {
	var c conn
	first, last := unsafe.Offsetof(c.wakeQueued), unsafe.Offsetof(c.buffered)+unsafe.Sizeof(c.buffered)
	if gap := unsafe.Sizeof(c) - last + first; gap < 64 {
		t.Errorf("hot fields at [%d, %d) of %d bytes: %d bytes apart from the next conn's, want >= 64",
			first, last, unsafe.Sizeof(c), gap)
	}
}

// TestSendTooLarge: Send refuses a message that encodes to more than the
// limit (512 MiB; lowered here) with ErrMessageTooLarge, sends none of its
// bytes and does not count it, and the link goes on carrying messages.
func TestSendTooLarge(t *testing.T) {
	a := startNode(t, "big-a", Config{})
	b := startNode(t, "big-b", Config{})
	a.maxMessage = 4096
	got, port := newCollector(t, b.Node, "c")
	a.Connect(b.Addrs()[0])
	a.waitEvent(t, "big-b", true, 5*time.Second)
	if err := a.Send(port, strings.Repeat("x", 4200)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("Send of 4,200 bytes with a 4,096-byte limit: %v, want ErrMessageTooLarge", err)
	}
	if err := a.Send(port, strings.Repeat("y", 4000)); err != nil {
		t.Fatalf("Send of 4,000 bytes: %v", err)
	}
	if m := got.next(t, 5*time.Second); len(m) != 1 || m[0] != strings.Repeat("y", 4000) {
		t.Fatalf("received %.40q..., want the 4,000 y", m)
	}
	select {
	case m := <-got:
		t.Fatalf("the refused message arrived: %.40q...", m)
	case <-time.After(200 * time.Millisecond):
	}
	if s := a.Stats(); s.Sent != 1 {
		t.Fatalf("Stats().Sent = %d, want 1 (the refused message is not counted)", s.Sent)
	}
}

// TestBulkBacklogGrowth: a backlog of large messages makes its output
// buffer grow fourfold once it holds bulkOut bytes, reaching the
// high-water mark in three steps (not by a quarter at a time, each step a
// fresh allocation and a copy of everything queued), and a written buffer
// of that size is kept for reuse, so that a connection in steady bulk
// traffic allocates none.
func TestBulkBacklogGrowth(t *testing.T) {
	const hwm = 16 << 20
	c, d := socketlessDest(t, Config{NodeID: "bulk", HighWaterMark: hwm}, "cbor")
	var payload any = strings.Repeat("x", 64<<10)
	// fill sends until backpressure and counts the capacity changes of
	// the output buffer after it held bulkOut bytes.
	fill := func() (changes int) {
		for i := 0; ; i++ {
			var before int
			if c.ob != nil {
				before = cap(c.ob.out)
			}
			err := d.Send(payload)
			if err == ErrBackpressure {
				return changes
			}
			if err != nil || i > 1000 {
				t.Fatalf("send %d: %v", i, err)
			}
			if len(c.ob.out) > bulkOut && cap(c.ob.out) != before {
				changes++
			}
		}
	}
	// flush stands in for the event loop writing everything.
	flush := func() {
		b := c.takeOut()
		c.buffered.Store(0)
		c.recycle(b)
	}
	if got := fill(); got < 1 || got > 3 {
		t.Errorf("first fill: the buffer grew %d times beyond %d bytes, want 1 to 3 (fourfold steps up to the mark)", got, bulkOut)
	}
	if got, limit := cap(c.ob.out), hwm+2*bulkSlack; got > limit {
		t.Errorf("buffer capacity %d, above %d (recycle would drop it)", got, limit)
	}
	flush()
	fill() // into the other buffer, which grows as the first did
	flush()
	for round := range 3 {
		if got := fill(); got != 0 {
			t.Errorf("steady round %d: the buffer grew %d times, want 0", round, got)
		}
		flush()
	}
}
