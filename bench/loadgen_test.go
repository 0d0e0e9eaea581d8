package bench

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/services"
)

// startTarget runs an in-process node with echo and sink.
func startTarget(t testing.TB, framings ...string) *engine.Node {
	n, err := engine.New(engine.Config{NodeID: "target", Binds: []string{"127.0.0.1:0"}, Secret: "bench-secret",
		Framings: framings, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	services.Echo(n)
	services.ServeSink(n)
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

// TestConnectDrivers runs connect units with each driver (net, and the
// platform's: epoll on Linux) against a node in this process, then against
// a node with another secret, and against a listener that never answers.
func TestConnectDrivers(t *testing.T) {
	n := startTarget(t)
	drivers := map[string]func(*connectRun, context.Context) error{
		"net":      (*connectRun).runNet,
		"platform": (*connectRun).run,
	}
	for name, drive := range drivers {
		t.Run(name, func(t *testing.T) {
			o := &Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Count: 300, Conns: 8,
				Timeout: 20 * time.Second}
			r := &connectRun{o: o}
			ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
			defer cancel()
			if err := drive(r, ctx); err != nil {
				t.Fatal(err)
			}
			if r.done.Load() != 300 || r.failed.Load() != 0 {
				t.Fatalf("done %d, failed %d (first error %v)", r.done.Load(), r.failed.Load(), r.firstErr.Load())
			}
			if l := r.link.Load(); l == nil || l.auth != "hmac_md6_64_256" && l.auth != "hmac_sha3_512" || l.send != "json" || l.recv != "json" {
				t.Fatalf("link %+v", l)
			}

			o.Secret, o.Count = "another-secret", 20
			r = &connectRun{o: o}
			if err := drive(r, ctx); err != nil {
				t.Fatal(err)
			}
			if r.done.Load() != 0 || r.failed.Load() != 20 {
				t.Fatalf("wrong secret: done %d, failed %d", r.done.Load(), r.failed.Load())
			}
			t.Logf("wrong secret: %v", r.firstErr.Load())
		})
	}
	t.Run("silent listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		t0 := time.Now()
		res, err := Run(Options{Connect: ln.Addr().String(), Target: "target", Secret: "s", Mode: "connect",
			Count: 4, Conns: 2, Timeout: 1500 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrConnect) {
			t.Fatalf("got %v (%v), want a timeout", err, res)
		}
		if el := time.Since(t0); el > 10*time.Second {
			t.Fatalf("took %v", el)
		}
	})
}
