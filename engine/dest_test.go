package engine

import (
	"context"
	"testing"
	"time"
)

// TestDest: a Dest made before its node is connected queues like Send,
// delivers once connected, keeps delivering after the node went down and
// came back, and follows a peer entry that was forgotten and made anew.
func TestDest(t *testing.T) {
	addr := freeAddr(t)
	b := startNode(t, "dest-b", Config{Binds: []string{addr}})
	inbox, _ := newCollector(t, b.Node, "inbox")
	a := startNode(t, "dest-a", Config{MonitorTimeout: time.Second})
	d := a.Dest("dest-b#inbox")
	if d.ID() != "dest-b#inbox" {
		t.Fatalf("ID %q", d.ID())
	}
	mustf(t, d.Send("queued"), "send before connecting")
	a.Connect(addr)
	if got := inbox.next(t, 5*time.Second); len(got) != 1 || got[0] != "queued" {
		t.Fatalf("got %v", got)
	}
	mustf(t, d.Send("direct", int64(2)), "send")
	if got := inbox.next(t, 5*time.Second); len(got) != 2 || got[0] != "direct" {
		t.Fatalf("got %v", got)
	}

	// The node goes away and comes back at the same address.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Close(ctx)
	a.waitEvent(t, "dest-b", false, 5*time.Second)
	b2 := startNode(t, "dest-b", Config{Binds: []string{addr}})
	inbox2, _ := newCollector(t, b2.Node, "inbox")
	mustf(t, d.Send("again"), "send while down")
	a.Connect(addr)
	if got := inbox2.next(t, 5*time.Second); len(got) != 1 || got[0] != "again" {
		t.Fatalf("got %v", got)
	}

	// A node that never comes: its queue is dropped and its peer entry
	// forgotten after monitor-timeout; the Dest then uses the new entry.
	ghost := a.Dest("dest-ghost#x")
	first := ghost.peer.Load()
	mustf(t, ghost.Send("lost"), "send to ghost")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, ok := a.peers.load("dest-ghost"); !ok || p != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ghost peer never forgotten")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustf(t, ghost.Send("later"), "send to ghost again")
	p, ok := a.peers.load("dest-ghost")
	if !ok || p == first || ghost.peer.Load() != p {
		t.Fatalf("Dest did not follow the new peer entry (table %p ok %v, first %p, dest %p)", p, ok, first, ghost.peer.Load())
	}

	// Local ports are delivered at once.
	local, _ := newCollector(t, a.Node, "self")
	mustf(t, a.Dest("dest-a#self").Send("me"), "local send")
	if got := local.next(t, 5*time.Second); len(got) != 1 || got[0] != "me" {
		t.Fatalf("got %v", got)
	}
}
