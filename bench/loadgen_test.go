package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
)

// startTarget runs an in-process node with echo and sink.
func startTarget(t testing.TB, framings ...string) *engine.Node {
	n, err := engine.New(engine.Config{NodeID: "target", Binds: []string{"127.0.0.1:0"}, Secret: "bench-secret",
		Framings: framings, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	engine.ServeEcho(n)
	engine.ServeSink(n)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

func TestRunModes(t *testing.T) {
	n := startTarget(t)
	for _, mode := range []string{"sink", "ping", "connect"} {
		t.Run(mode, func(t *testing.T) {
			count := 20000
			if mode == "connect" {
				count = 1000 // each is a full handshake, both sides in this process
			}
			res, err := Run(Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Mode: mode,
				Count: count, Size: 20, Framings: []string{"json"}, Batch: 1000, Outstanding: 4, Inflight: 1, Conns: 4,
				Timeout: 20 * time.Second})
			if err != nil {
				t.Fatalf("%v (%v)", err, res)
			}
			t.Log(res.Fields)
		})
	}
}
