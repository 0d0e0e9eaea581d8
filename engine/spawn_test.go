package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSpawn(t *testing.T) {
	a := startNode(t, "spawnA", Config{})
	b := startNode(t, "spawnB", Config{})
	mustf(t, b.RegisterSpawn("test::echo", func(n *Node, req SpawnRequest) (Handler, error) {
		prefix := fmt.Sprint(req.Args...)
		from := req.From
		return func(m *Message) {
			args, _ := m.Args()
			if len(args) > 0 {
				if r, ok := args[0].(string); ok {
					n.Send(r, append([]any{prefix, from}, args[1:]...)...)
				}
			}
		}, nil
	}), "register")
	mustf(t, b.RegisterSpawn("test::fails", func(*Node, SpawnRequest) (Handler, error) {
		return nil, errors.New("no")
	}), "register")
	mustf(t, b.RegisterSpawn("test::panics", func(*Node, SpawnRequest) (Handler, error) {
		panic("init panics")
	}), "register")
	if err := b.RegisterSpawn("test::echo", nil); err == nil {
		t.Fatal("registered twice")
	}
	a.Connect(b.Addrs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mustf(t, a.WaitNode(ctx, "spawnB"), "wait")

	id, err := a.Spawn("spawnB", "test::echo", "pre")
	mustf(t, err, "spawn")
	back, backID := newCollector(t, a.Node, "back")
	mustf(t, a.Send(id, backID, "x"), "send")
	if got := back.next(t, 5*time.Second); fmt.Sprint(got) != "[pre spawnA x]" {
		t.Fatalf("spawned port answered %v", got)
	}
	for _, init := range []string{"test::unknown", "test::fails", "test::panics", "Some::perl_function"} {
		id, err := a.Spawn("spawnB", init)
		mustf(t, err, "spawn %s", init)
		mon := monitorChan(a.Node, id)
		if r := waitReason(t, mon, 5*time.Second); r[0] != "no_such_port" {
			t.Fatalf("%s: monitor %v", init, r)
		}
	}
	// Spawning on this node uses the local registry.
	id, err = b.Spawn("spawnB", "test::echo", "local")
	mustf(t, err, "local spawn")
	if b.ports.lookup([]byte(id[len("spawnB#"):])) == nil {
		t.Fatal("local spawn created no port")
	}
	b.log.waitLog(t, "spawn init function panicked", time.Second)
}
