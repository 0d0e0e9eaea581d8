package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSendRemote measures Send of a 20-byte message to a connected
// node (encoding, queueing and the writer's share), with the receiving
// node counting in the same process.
func BenchmarkSendRemote(b *testing.B) {
	for _, f := range []string{"json", "storable"} {
		b.Run("framing="+f, func(b *testing.B) {
			dst := startNode(b, "dst", Config{Framings: []string{f}})
			src := startNode(b, "src", Config{Framings: []string{f}, Seeds: dst.Addrs()})
			deadline := time.Now().Add(5 * time.Second)
			for !src.isConnected("dst") && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			args := []any{"xxxxxxxxxxxxxxxxxxxx"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				err := src.Send("dst#sink", args...)
				if errors.Is(err, ErrBackpressure) {
					time.Sleep(10 * time.Microsecond)
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDestSend compares a Dest.Send per message with Dest.SendMany
// of batches of 1,000 (the sink benchmark's batch): the same messages,
// one lock and one wake per batch instead of per message.
func BenchmarkDestSend(b *testing.B) {
	for _, many := range []bool{false, true} {
		b.Run(fmt.Sprintf("many=%v", many), func(b *testing.B) {
			dst := startNode(b, "dst", Config{Framings: []string{"json"}})
			src := startNode(b, "src", Config{Framings: []string{"json"}, Seeds: dst.Addrs()})
			deadline := time.Now().Add(5 * time.Second)
			for !src.isConnected("dst") && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			d := src.Dest("dst#sink")
			args := []any{"xxxxxxxxxxxxxxxxxxxx"}
			batch := make([][]any, 1000)
			for i := range batch {
				batch[i] = args
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				var k int
				var err error
				if many {
					k, err = d.SendMany(batch[:min(len(batch), b.N-i)])
				} else {
					err = d.Send(args...)
					if err == nil {
						k = 1
					}
				}
				i += k
				if errors.Is(err, ErrBackpressure) {
					time.Sleep(10 * time.Microsecond)
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
