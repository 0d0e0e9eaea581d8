package fuzz

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/aemp-go/aemp/md6"
)

// FuzzMD6Kernels is differential: every kernel this CPU runs (assembly
// single-compression and multi-buffer paths, parallel tree hashing) must
// give the generic kernel's digest for any message, digest size, key, L,
// number of rounds and way of cutting the message into writes, including
// writes that end in the middle of a byte. It also compares each kernel's
// CompressN with the generic kernel lane by lane.
//
// grow stretches the message (it is repeated with a counter mixed in) so
// that short inputs still make trees wide enough for whole batches;
// long messages use at most 7 rounds to keep executions fast.
func FuzzMD6Kernels(f *testing.F) {
	f.Add([]byte("abc"), uint16(256), []byte(nil), uint8(64), uint8(255), uint16(0), uint64(0))
	f.Add([]byte(""), uint16(512), []byte(nil), uint8(0), uint8(255), uint16(0), uint64(1))
	f.Add([]byte("0123456789abcdef"), uint16(256), []byte("key"), uint8(64), uint8(3), uint16(300), uint64(7))
	f.Add(bytes.Repeat([]byte{0xa5}, 512), uint16(224), []byte(nil), uint8(1), uint8(255), uint16(9), uint64(3))
	f.Add(bytes.Repeat([]byte("md6"), 700), uint16(160), bytes.Repeat([]byte{1}, 64), uint8(2), uint8(5), uint16(40), uint64(99))
	f.Add(bytes.Repeat([]byte{0, 1, 2, 3}, 1024), uint16(256), []byte(nil), uint8(64), uint8(2), uint16(400), uint64(12345))
	f.Add([]byte{0xff}, uint16(1), []byte{0}, uint8(5), uint8(0), uint16(4095), uint64(0xfeed))
	f.Add(bytes.Repeat([]byte("x"), 4096), uint16(384), []byte("k"), uint8(3), uint8(7), uint16(33), uint64(5))
	f.Fuzz(func(t *testing.T, msg []byte, d uint16, key []byte, l uint8, r uint8, grow uint16, cut uint64) {
		data := stretch(msg, int(grow)%2048)
		size := 1 + int(d)%md6.MaxSize
		if len(key) > md6.MaxKeySize {
			key = key[:md6.MaxKeySize]
		}
		opts := []md6.Option{md6.WithL(int(l) % (md6.MaxL + 1)), md6.WithKey(key)}
		switch {
		case len(data) > 64<<10:
			opts = append(opts, md6.WithRounds(int(r)%8))
		case r != 255:
			opts = append(opts, md6.WithRounds(int(r)))
		} // r == 255 on short messages: the default rounds
		bits := uint64(len(data)) * 8
		if len(data) > 0 {
			bits -= cut >> 61 // end mid-byte now and then
		}
		want, err := md6.SumBits(size, data, bits, append(opts, md6.WithKernel(generic(t)))...)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range md6.Kernels() {
			if !k.Supported() || k.Name == "generic" {
				continue
			}
			// One write, in parallel when it is long enough.
			got, err := md6.SumBits(size, data, bits, append(opts, md6.WithKernel(k), md6.WithParallel(2))...)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s one-shot: %x, generic %x (%v)", k.Name, got, want, err)
			}
			dg, err := md6.New(size, append(opts, md6.WithKernel(k))...)
			if err != nil {
				t.Fatal(err)
			}
			writePieces(t, dg, data, bits, cut)
			if got := dg.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("%s in pieces (cut %#x): %x, generic %x", k.Name, cut, got, want)
			}
		}
		compareCompressN(t, msg, int(r))
	})
}

func generic(t *testing.T) *md6.Kernel {
	for _, k := range md6.Kernels() {
		if k.Name == "generic" {
			return k
		}
	}
	t.Fatal("no generic kernel")
	return nil
}

// stretch returns msg followed by grow more copies of it, copy i with
// byte i+1 added to every byte (so that the leaves differ).
func stretch(msg []byte, grow int) []byte {
	if len(msg) == 0 || grow == 0 {
		return msg
	}
	out := make([]byte, 0, len(msg)*(grow+1))
	for i := 0; i <= grow && len(out) < 3<<20; i++ {
		for _, b := range msg {
			out = append(out, b+byte(i))
		}
	}
	return out
}

// writePieces writes the first bits bits of data to dg in pieces chosen
// by a generator seeded with cut: whole bytes mostly, sometimes pieces
// that end mid-byte (the rest then continues bit by bit).
func writePieces(t *testing.T, dg *md6.Digest, data []byte, bits, cut uint64) {
	rng := rand.New(rand.NewPCG(cut, cut>>32))
	pos := uint64(0)
	for pos < bits {
		n := min(bits-pos, 8*uint64(rng.IntN(3*md6.BlockSize*8+1)))
		if bits < 1<<19 && rng.IntN(16) == 0 {
			n = min(bits-pos, uint64(rng.IntN(64)))
		}
		if pos%8 == 0 {
			if err := dg.WriteBits(data[pos/8:], n); err != nil {
				t.Fatal(err)
			}
		} else {
			// Continue mid-byte: shift the bits to start at bit 0.
			buf := make([]byte, (n+7)/8+1)
			for i := uint64(0); i < n; i++ {
				bit := data[(pos+i)/8] >> (7 - (pos+i)%8) & 1
				buf[i/8] |= bit << (7 - i%8)
			}
			if err := dg.WriteBits(buf, n); err != nil {
				t.Fatal(err)
			}
		}
		pos += n
	}
}

// compareCompressN runs every kernel's multi-buffer entry point on inputs
// made from msg and compares each lane with the generic kernel.
func compareCompressN(t *testing.T, msg []byte, r int) {
	g := generic(t)
	for _, k := range md6.Kernels() {
		if !k.Supported() {
			continue
		}
		lanes := k.Lanes()
		n := make([]uint64, md6.InputWords*lanes)
		var buf [8]byte
		for i := range n {
			for j := range buf {
				if len(msg) > 0 {
					buf[j] = msg[(8*i+j)%len(msg)] ^ byte(i>>3)
				}
			}
			n[i] = binary.LittleEndian.Uint64(buf[:])
		}
		c := make([]uint64, md6.ChunkWords*lanes)
		k.CompressN(c, n, r)
		for lane := range lanes {
			var in [md6.InputWords]uint64
			var want [md6.ChunkWords]uint64
			for w := range in {
				in[w] = n[w*lanes+lane]
			}
			g.Compress(&want, &in, r)
			for w := range want {
				if c[w*lanes+lane] != want[w] {
					t.Fatalf("%s CompressN r=%d lane %d word %d: %x, generic %x", k.Name, r, lane, w, c[w*lanes+lane], want[w])
				}
			}
		}
	}
}
