package engine

import (
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aemp-go/aemp/framing"
)

// BenchmarkConsume is the receiving hot path without the network: a
// connection in the data phase consumes a read of 1,000 messages
// ["sink", 20-byte string] and routes each to a handler that counts it
// the way the sink does (ScalarArgs, two atomic adds). ns/msg is per
// message.
func BenchmarkConsume(b *testing.B) {
	for _, f := range []string{"json", "cbor", "storable"} {
		b.Run("framing="+f, func(b *testing.B) { benchConsume(b, f) })
	}
}

func benchConsume(b *testing.B, name string) {
	n, err := New(Config{NodeID: "bc", Secret: "s", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	var count, bytes atomic.Int64
	n.Register("sink", func(m *Message) {
		if k, length, first, ok := m.ScalarArgs(); ok && (k == 0 || first != nil) {
			count.Add(1)
			bytes.Add(int64(length))
			return
		}
		b.Fatal("ScalarArgs failed")
	})
	codec, err := framing.ByName(name)
	if err != nil {
		b.Fatal(err)
	}
	const msgs = 1000
	var buf []byte
	for range msgs {
		buf, _ = codec.AppendMessage(buf, "sink", []any{strings.Repeat("x", 20)})
	}
	c := &conn{n: n, peer: &peer{id: "peerX"}, rxi: uint8(codec.Index())}
	c.state.Store(stData)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if used, err := c.consume(buf); err != nil || used != len(buf) {
			b.Fatal(used, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*msgs), "ns/msg")
	if count.Load() != int64(b.N*msgs) {
		b.Fatal("count", count.Load())
	}
}

// BenchmarkSend is the sending hot path without the network: Dest.Send of
// ["sink", 20-byte string] into a connection's buffer (emptied every
// 1,000 messages, as a flush would).
func BenchmarkSend(b *testing.B) {
	for _, f := range []string{"json", "cbor", "storable"} {
		b.Run("framing="+f, func(b *testing.B) {
			c, d := socketlessDest(b, Config{NodeID: "bs"}, f)
			var payload any = strings.Repeat("x", 20) // boxed once, as a sender would
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := d.Send(payload); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 999 {
					if out := c.takeOut(); out != nil {
						c.buffered.Store(0)
						c.recycle(out)
					}
				}
			}
		})
	}
}

// socketlessDest returns a node made with cfg (secret and a silent logger
// added), an authenticated connection of it without a socket that sends
// in framing f to a peer, and a Dest of the peer's sink port: sends go
// into the connection's output buffer, which the test empties itself
// (takeOut, recycle) as the event loop would.
func socketlessDest(tb testing.TB, cfg Config, f string) (*conn, *Dest) {
	tb.Helper()
	cfg.Secret = "s"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	codec, err := framing.ByName(f)
	if err != nil {
		tb.Fatal(err)
	}
	c := &conn{n: n, txi: uint8(codec.Index())}
	c.state.Store(stData)
	p := n.peerFor("peerY")
	c.peer = p
	p.conn.Store(c)
	return c, n.Dest("peerY#sink")
}
