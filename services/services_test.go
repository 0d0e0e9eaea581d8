package services

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
)

func startNode(t *testing.T, id string, framings ...string) (*engine.Node, *Sink) {
	t.Helper()
	n, err := engine.New(engine.Config{NodeID: id, Binds: []string{"127.0.0.1:0"}, Secret: "s",
		Framings: framings, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := Serve(n)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, sink
}

// Every framing: echo and calecho answer, and the sink counts what Perl's
// length() would (its fast path for scalars and the decoding path for
// containers agree).
func TestServices(t *testing.T) {
	for _, fr := range []string{"json", "storable", "cbor"} {
		t.Run(fr, func(t *testing.T) {
			a, _ := startNode(t, "svcA-"+fr, fr)
			b, sink := startNode(t, "svcB-"+fr, fr)
			a.Connect(b.Addrs()[0])
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.WaitNode(ctx, b.ID()); err != nil {
				t.Fatal(err)
			}
			got, err := a.Call(ctx, b.ID()+"#calecho", "x", int64(1))
			if err != nil || fmt.Sprint(got) != "[x 1]" {
				t.Fatalf("calecho: %v %v", got, err)
			}
			reply := make(chan []any, 4)
			r := a.NewPort(func(m *engine.Message) {
				args, _ := m.Args()
				reply <- args
			})
			a.Send(b.ID()+"#echo", r, "y", []any{"z"})
			if got := <-reply; fmt.Sprint(got) != "[y [z]]" {
				t.Fatalf("echo: %v", got)
			}
			// "héllo" counts 5 characters, 12345 five digits, the
			// container 0: 10 + 10 + 10.
			a.Send(b.ID()+"#sink", "héllo", int64(12345))
			a.Send(b.ID()+"#sink", "héllo", int64(12345), []any{"ignored"})
			a.Send(b.ID()+"#sink", "héllo", int64(12345), nil)
			deadline := time.Now().Add(5 * time.Second)
			for {
				if m, by := sink.Counts(); m == 3 {
					if by != 30 {
						t.Fatalf("sink bytes %d, want 30", by)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("sink did not count 3 messages")
				}
				time.Sleep(5 * time.Millisecond)
			}
			a.Send(b.ID()+"#sink", "report", r)
			if got := <-reply; len(got) != 4 || got[0] != "count" || fmt.Sprint(got[1:3]) != "[3 30]" {
				t.Fatalf("report: %v", got)
			}
			a.Send(b.ID()+"#sink", "reset")
			a.Send(b.ID()+"#sink", "report", r)
			if got := <-reply; fmt.Sprint(got[1:3]) != "[0 0]" {
				t.Fatalf("after reset: %v", got)
			}
		})
	}
}

// Other nodes spawn aemp::echo ports that answer like echo.
func TestSpawnEcho(t *testing.T) {
	a, _ := startNode(t, "spA")
	b, _ := startNode(t, "spB")
	a.Connect(b.Addrs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.WaitNode(ctx, "spB"); err != nil {
		t.Fatal(err)
	}
	id, err := a.Spawn("spB", SpawnEchoInit)
	if err != nil {
		t.Fatal(err)
	}
	reply := make(chan []any, 1)
	r := a.NewPort(func(m *engine.Message) {
		args, _ := m.Args()
		reply <- args
	})
	a.Send(id, r, "spawned", int64(1))
	select {
	case got := <-reply:
		if fmt.Sprint(got) != "[spawned 1]" {
			t.Fatalf("spawned echo: %v", got)
		}
	case <-ctx.Done():
		t.Fatal("no answer from the spawned port")
	}
}
