package handshake

import (
	"testing"
)

// BenchmarkHandshakeHMAC: one complete handshake, both sides
// (hmac_md6_64_256, json), in memory, each side fed the other's bytes in one
// piece. Includes New (nonce generation) for both sides.
func BenchmarkHandshakeHMAC(b *testing.B) {
	benchHandshake(b, AuthOffer1x, AuthAccept1x)
}

// BenchmarkHandshakeHMACSHA3: the same with the defaults (hmac_sha3_512).
func BenchmarkHandshakeHMACSHA3(b *testing.B) {
	benchHandshake(b, nil, nil)
}

func benchHandshake(b *testing.B, offer, accept []string) {
	sec := []byte("8ugxrtw6H5tKnfPWfaSr4HGhE8MoJXmzTT1BWq7sLutNcD0IbXprQlZjIbl7MBKoeklG3IEfY9GlJthC0pENzk")
	ca := mustConfig(b, Options{NodeID: "nodeA", Secret: sec, AuthOffer: offer, AuthAccept: accept, Rand: seeded(1)})
	cb := mustConfig(b, Options{NodeID: "nodeB", Secret: sec, AuthOffer: offer, AuthAccept: accept, Rand: seeded(2)})
	ia := ConnInfo{PeerAddr: "127.0.0.1:4040"}
	ib := ConnInfo{PeerAddr: "127.0.0.1:51234"}
	b.ReportAllocs()
	for b.Loop() {
		x, err := New(ca, ia)
		if err != nil {
			b.Fatal(err)
		}
		y, err := New(cb, ib)
		if err != nil {
			b.Fatal(err)
		}
		gx, gy := x.Start(), y.Start()
		sx, err := x.Feed(gy)
		if err != nil {
			b.Fatal(err)
		}
		sy, err := y.Feed(gx)
		if err != nil {
			b.Fatal(err)
		}
		if s, err := x.Feed(sy.Out); err != nil || !s.Done {
			b.Fatal(err)
		}
		if s, err := y.Feed(sx.Out); err != nil || !s.Done {
			b.Fatal(err)
		}
	}
}
