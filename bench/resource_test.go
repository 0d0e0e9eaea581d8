package bench

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
)

// idleConnCount is how many connections BenchmarkIdleConnMemory opens
// (AEMP_IDLE_CONNS overrides the default of 10,000). Each is one file in
// this process and one in the node's: the default stays below a limit of
// 20,000 open files per process.
func idleConnCount() int {
	if v, err := strconv.Atoi(os.Getenv("AEMP_IDLE_CONNS")); err == nil && v > 0 {
		return v
	}
	return 10000
}

// BenchmarkIdleConnMemory: memory per idle authenticated connection. An
// `aemp node` runs in a child process; this process opens N connections
// to it (AEMP handshake over net.Conn, distinct node IDs, one echo each)
// and reads the node's RSS from /proc/PID/status before, 3 s after and
// then for 5 s more. The metric is the RSS growth per connection, at the
// highest RSS of those 5 s (the goal is <= 1 KiB at 10,000). The work is
// done once per call, whatever b.N: run with -benchtime=1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	if testing.Short() {
		b.Skip("opens 10,000 connections; not in -short")
	}
	n := idleConnCount()
	addr, cmd := startNodeCmd(b)
	time.Sleep(300 * time.Millisecond) // let the fresh node settle
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b.ResetTimer()
	m, ic, err := MeasureIdleMemory(ctx, cmd.Process.Pid, addr, "bench-secret", n, 3*time.Second, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer ic.Close()
	b.StopTimer()
	b.ReportMetric(m.BytesPerConn, "rss-bytes/conn")
	b.ReportMetric(float64(m.RSSOpen-m.RSSBefore)/float64(n), "rss-bytes/conn-at-open")
	b.ReportMetric(float64(n)/m.OpenElapsed.Seconds(), "conns/s")
	b.Logf("%d conns: RSS %d -> %d (open) -> %d (settled) -> at most %d over %v, bytes; opened in %v",
		n, m.RSSBefore, m.RSSOpen, m.RSSSettled, m.RSSMax, m.Hold, m.OpenElapsed)
}

// BenchmarkHandshakes: full handshakes per second against an `aemp node`
// in a child process (as `aemp bench --mode connect`: connect,
// authenticate, one echo, close; 16 concurrent connectors in this
// process). ns/op is per handshake.
func BenchmarkHandshakes(b *testing.B) {
	if testing.Short() {
		b.Skip("child process; not in -short")
	}
	addr := startNodeProcess(b)
	b.ResetTimer()
	res, err := Run(Options{Connect: addr, Target: "target", Secret: "bench-secret", Mode: "connect",
		Count: b.N, Conns: 16, Timeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	for _, f := range res.Fields {
		if f.Key == "handshakes_per_s" {
			b.ReportMetric(f.Value.(float64), "handshakes/s")
		}
	}
}

// BenchmarkEngineSinkInProcess: the hot path of one message, both ends in
// this process: Node.Send (encode into the connection's buffer) on one
// node, the write, the read, the split and the routing to a port handler
// on the other, over loopback TCP. allocs/op and B/op are per message,
// sender and receiver together. handler=count only counts (routing
// without decoding); handler=args also decodes the arguments (Message.Args,
// what the sink port does).
func BenchmarkEngineSinkInProcess(b *testing.B) {
	for _, f := range []string{"json", "storable"} {
		for _, h := range []string{"count", "args"} {
			b.Run("framing="+f+"/handler="+h, func(b *testing.B) { benchEngineSink(b, f, h == "args") })
		}
	}
}

func benchEngineSink(b *testing.B, framing string, decode bool) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rx, err := engine.New(engine.Config{NodeID: "rx", Binds: []string{"127.0.0.1:0"}, Secret: "s",
		Framings: []string{framing}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	if _, err := rx.Register("count", func(m *engine.Message) {
		if decode {
			if _, err := m.Args(); err != nil {
				return
			}
		}
		got.Add(1)
	}); err != nil {
		b.Fatal(err)
	}
	if err := rx.Start(); err != nil {
		b.Fatal(err)
	}
	defer rx.Close(context.Background())
	up := make(chan struct{}, 1)
	tx, err := engine.New(engine.Config{NodeID: "tx", Seeds: rx.Addrs(), Secret: "s", Framings: []string{framing},
		Logger: quiet, OnNodeEvent: func(ev engine.NodeEvent) {
			if ev.Up {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.Start(); err != nil {
		b.Fatal(err)
	}
	defer tx.Close(context.Background())
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		b.Fatal("no connection")
	}
	dest := "rx#count"
	args := []any{stringOf('x', 20)}
	send := func() {
		for {
			err := tx.Send(dest, args...)
			if !errors.Is(err, engine.ErrBackpressure) {
				if err != nil {
					b.Fatal(err)
				}
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	send() // warm up the path
	for got.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	got.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		send()
	}
	deadline := time.Now().Add(time.Minute)
	for got.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", got.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
