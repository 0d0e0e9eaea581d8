package bench

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	for _, mode := range []string{"sink", "sink-many", "sink-goroutine", "ping", "connect"} {
		t.Run(mode, func(t *testing.T) {
			count, conns := 20000, 4
			switch mode {
			case "connect":
				count = 1000 // each is a full handshake, both sides in this process
			case "sink-many", "sink-goroutine":
				count, conns = 20500, 1 // the last batch half full; the engine driver
			}
			res, err := Run(Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Mode: strings.Split(mode, "-")[0],
				SendMany: mode == "sink-many", Sender: map[bool]string{true: "goroutine"}[mode == "sink-goroutine"],
				Count: count, Size: 20, Framings: []string{"json"}, Batch: 1000, Outstanding: 4, Inflight: 1, Conns: conns,
				Timeout: 20 * time.Second})
			if err != nil {
				t.Fatalf("%v (%v)", err, res)
			}
			if mode == "sink-many" && !slices.Contains(res.Fields, Field{"send_many", true}) {
				t.Fatalf("not run with SendMany: %v", res.Fields)
			}
			if mode == "sink-goroutine" && !slices.Contains(res.Fields, Field{"sender", "goroutine"}) {
				t.Fatalf("not sent from a goroutine: %v", res.Fields)
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

// TestRunLinks runs sink and ping over several links (the links driver)
// against a node in this process, and checks that the target saw a node
// ID per link and that the figures add up.
func TestRunLinks(t *testing.T) {
	for _, f := range []string{"json", "cbor", "storable"} {
		var mu sync.Mutex
		seen := map[string]bool{} // node IDs that connected
		n, err := engine.New(engine.Config{NodeID: "target", Binds: []string{"127.0.0.1:0"}, Secret: "bench-secret",
			Framings: []string{f}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnNodeEvent: func(ev engine.NodeEvent) {
				if ev.Up {
					mu.Lock()
					seen[ev.Node] = true
					mu.Unlock()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		services.Echo(n)
		sink, _ := services.ServeSink(n)
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		for _, mode := range []string{"sink", "ping"} {
			t.Run(f+"/"+mode, func(t *testing.T) {
				mu.Lock()
				clear(seen)
				mu.Unlock()
				before, _ := sink.Counts()
				count := 20003 // not a multiple of the links
				if mode == "ping" {
					count = 2003
				}
				res, err := Run(Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Mode: mode,
					Count: count, Size: 20, Framings: []string{f}, Batch: 500, Outstanding: 3, Inflight: 2, Conns: 7, Loops: 2,
					Timeout: 20 * time.Second})
				if err != nil {
					t.Fatalf("%v (%v)", err, res)
				}
				t.Log(res.Fields)
				if field(res, "conns") != "7" || field(res, "loops") != "2" || field(res, "framing") != f {
					t.Fatalf("conns/loops/framing: %v", res.Fields)
				}
				mu.Lock()
				ids := len(seen)
				mu.Unlock()
				if ids != 7 {
					t.Fatalf("the target saw %d node IDs, want one per link (7)", ids)
				}
				after, _ := sink.Counts()
				switch mode {
				case "sink":
					if after-before != int64(count) || field(res, "received") != strconv.Itoa(count) {
						t.Fatalf("target counted %d, result says %v; want %d", after-before, field(res, "received"), count)
					}
				case "ping":
					if field(res, "received") != strconv.Itoa(count) {
						t.Fatalf("received %v round trips, want %d", field(res, "received"), count)
					}
					if p99, _ := strconv.ParseFloat(field(res, "p99_us"), 64); p99 <= 0 {
						t.Fatalf("p99 %v", field(res, "p99_us"))
					}
				}
			})
		}
	}
}

// TestRunLinksMany runs ping over a few hundred links, one request in
// flight each, and the engine driver with conns=1 for the RESULT key.
func TestRunLinksMany(t *testing.T) {
	n := startTarget(t)
	res, err := Run(Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Mode: "ping",
		Count: 900, Size: 20, Framings: []string{"json"}, Inflight: 1, Conns: 300, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("%v (%v)", err, res)
	}
	if field(res, "conns") != "300" || field(res, "received") != "900" {
		t.Fatalf("%v", res.Fields)
	}
	t.Log(res.Fields)
	res, err = Run(Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Mode: "sink",
		Count: 5000, Size: 20, Framings: []string{"json"}, Batch: 1000, Outstanding: 4, Timeout: 30 * time.Second})
	if err != nil || field(res, "conns") != "1" {
		t.Fatalf("engine driver: %v (%v)", err, res)
	}
	if _, err := Run(Options{Connect: n.Addrs()[0], Secret: "bench-secret", Mode: "sink", Count: 5, Conns: 10, Batch: 1, Outstanding: 1,
		Timeout: 5 * time.Second}); err == nil {
		t.Fatal("count below conns: no error")
	}
	if _, err := Run(Options{Connect: n.Addrs()[0], Secret: "another-secret", Mode: "sink", Count: 50, Conns: 5, Batch: 10, Outstanding: 1,
		Timeout: 5 * time.Second}); !errors.Is(err, ErrConnect) {
		t.Fatalf("wrong secret: %v, want ErrConnect", err)
	}
	if _, err := Run(Options{Connect: n.Addrs()[0], Target: "other", Secret: "bench-secret", Mode: "ping", Count: 50, Conns: 5, Inflight: 1,
		Timeout: 5 * time.Second}); !errors.Is(err, ErrConnect) {
		t.Fatalf("wrong target: %v, want ErrConnect", err)
	}
}

// TestRunFanout sends from one node to three receiving nodes.
func TestRunFanout(t *testing.T) {
	var addrs []string
	var sinks []*services.Sink
	for i := range 3 {
		n, err := engine.New(engine.Config{NodeID: "recv-" + strconv.Itoa(i), Binds: []string{"127.0.0.1:0"}, Secret: "bench-secret",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := services.ServeSink(n)
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		addrs = append(addrs, n.Addrs()[0])
		sinks = append(sinks, s)
	}
	res, err := Run(Options{Targets: addrs, Secret: "bench-secret", Mode: "fanout", Count: 30001, Size: 20,
		Framings: []string{"cbor"}, Batch: 1000, Outstanding: 4, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("%v (%v)", err, res)
	}
	t.Log(res.Fields)
	var total int64
	for i, s := range sinks {
		c, _ := s.Counts()
		if c < 10000 || c > 10001 {
			t.Errorf("receiver %d counted %d, want its share of 30001", i, c)
		}
		total += c
	}
	if total != 30001 || field(res, "received") != "30001" || field(res, "receivers") != "3" || field(res, "framing") != "cbor" {
		t.Fatalf("receivers counted %d; result %v", total, res.Fields)
	}
	// Two receivers with the same node ID cannot both be reached.
	if _, err := Run(Options{Targets: []string{addrs[0], addrs[0]}, Secret: "bench-secret", Mode: "fanout", Count: 10,
		Batch: 5, Outstanding: 1, Timeout: 3 * time.Second}); !errors.Is(err, ErrConnect) {
		t.Fatalf("same receiver twice: %v, want ErrConnect", err)
	}
}

// TestRunLarge sends 64 KiB messages over one engine link and over the
// links driver, in each framing.
func TestRunLarge(t *testing.T) {
	n := startTarget(t, "json", "storable", "cbor")
	for _, f := range []string{"json", "storable", "cbor"} {
		for _, driver := range []string{"engine", "links"} {
			res, err := Run(Options{Connect: n.Addrs()[0], Target: "target", Secret: "bench-secret", Mode: "sink", Driver: driver,
				Count: 300, Size: 64 << 10, Framings: []string{f}, Batch: 64, Outstanding: 4, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatalf("%s %s: %v (%v)", f, driver, err, res)
			}
			mb, _ := strconv.ParseFloat(field(res, "payload_MB_per_s"), 64)
			if field(res, "received") != "300" || field(res, "framing") != f || mb <= 0 {
				t.Fatalf("%s %s: %v", f, driver, res.Fields)
			}
		}
	}
}
