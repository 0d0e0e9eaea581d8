package engine

import (
	"errors"
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
