package md6

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestStreamingChunks writes each vector's message in random pieces,
// including pieces that end in the middle of a byte, and compares with the
// expected digest.
func TestStreamingChunks(t *testing.T) {
	vs, _ := loadVectors(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range vs {
		if v.bits > 1<<21 {
			continue
		}
		msg := stream(t, v.msg, int((v.bits+7)/8))
		for try := 0; try < 3; try++ {
			d, err := New(v.d, v.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			pos := uint64(0)
			for pos < v.bits {
				n := min(v.bits-pos, uint64(rng.IntN(1500)))
				if try == 0 {
					n = min(v.bits-pos, 8*uint64(rng.IntN(700))) // whole bytes
				}
				writeBitRange(t, d, msg, pos, n)
				pos += n
			}
			if got := hex.EncodeToString(d.Sum(nil)); got != v.want {
				t.Fatalf("%s try %d: got %s want %s", v.name(), try, got, v.want)
			}
		}
	}
}

// writeBitRange writes bits [pos, pos+n) of msg to d.
func writeBitRange(t *testing.T, d *Digest, msg []byte, pos, n uint64) {
	t.Helper()
	if n == 0 {
		return
	}
	// Shift the range so that it starts at bit 0 of a fresh buffer.
	buf := make([]byte, (n+7)/8+1)
	for i := uint64(0); i < n; i++ {
		bit := msg[(pos+i)/8] >> (7 - (pos+i)%8) & 1
		buf[i/8] |= bit << (7 - i%8)
	}
	// Set the ignored low bits of the last byte: they must not matter.
	if r := n % 8; r != 0 {
		buf[n/8] |= byte(0xff) >> r
	}
	if err := d.WriteBits(buf, n); err != nil {
		t.Fatal(err)
	}
}

// TestSumKeepsState checks that Sum can be called at any point and
// writing goes on as if it had not been.
func TestSumKeepsState(t *testing.T) {
	msg := stream(t, "pattern:7", 5000)
	for _, l := range []int{0, 1, 2, 64} {
		want, _ := SumBits(256, msg, uint64(len(msg))*8, WithL(l))
		d, _ := New(256, WithL(l))
		for i := 0; i < len(msg); i += 311 {
			d.Write(msg[i:min(i+311, len(msg))])
			part, _ := SumBits(256, msg[:min(i+311, len(msg))], uint64(min(i+311, len(msg)))*8, WithL(l))
			if got := d.Sum(nil); !bytes.Equal(got, part) {
				t.Fatalf("L=%d after %d bytes: Sum %x, want %x", l, min(i+311, len(msg)), got, part)
			}
		}
		if got := d.Sum([]byte("prefix")); !bytes.Equal(got[6:], want) || string(got[:6]) != "prefix" {
			t.Fatalf("L=%d: Sum does not append", l)
		}
	}
}

func TestReset(t *testing.T) {
	d, _ := New(256, WithKey([]byte("k")))
	d.Write(bytes.Repeat([]byte("x"), 10000))
	d.Reset()
	d.Write([]byte("abc"))
	want, _ := SumBits(256, []byte("abc"), 24, WithKey([]byte("k")))
	if got := d.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("after Reset: %x, want %x", got, want)
	}
	if d.Size() != 32 || d.BlockSize() != 512 || d.Bits() != 256 {
		t.Fatalf("Size/BlockSize/Bits = %d/%d/%d", d.Size(), d.BlockSize(), d.Bits())
	}
}

func TestInvalidParams(t *testing.T) {
	cases := []struct {
		d    int
		opts []Option
		want error
	}{
		{0, nil, ErrSize},
		{513, nil, ErrSize},
		{-1, nil, ErrSize},
		{256, []Option{WithKey(make([]byte, 65))}, ErrKey},
		{256, []Option{WithL(65)}, ErrL},
		{256, []Option{WithL(-1)}, ErrL},
		{256, []Option{WithRounds(256)}, ErrRounds},
		{256, []Option{WithRounds(-2)}, ErrRounds},
	}
	for _, c := range cases {
		_, err := New(c.d, c.opts...)
		if !errors.Is(err, c.want) {
			t.Errorf("New(%d): err %v, want %v", c.d, err, c.want)
		}
		var pe *ParamError
		if !errors.As(err, &pe) {
			t.Errorf("New(%d): %T is not a *ParamError", c.d, err)
		}
	}
	d, _ := New(256)
	if err := d.WriteBits([]byte{1}, 9); !errors.Is(err, ErrShortBits) {
		t.Errorf("WriteBits past the data: %v", err)
	}
	// Limits themselves are valid.
	for _, o := range [][]Option{{WithKey(make([]byte, 64))}, {WithL(0)}, {WithL(64)}, {WithRounds(0)}, {WithRounds(255)}} {
		if _, err := New(512, o...); err != nil {
			t.Errorf("valid parameters refused: %v", err)
		}
	}
	if _, err := New(1); err != nil {
		t.Error(err)
	}
}

// TestZeroRounds checks the degenerate r = 0: the output is N[73..88].
func TestZeroRounds(t *testing.T) {
	msg := stream(t, "pattern:3", 512)
	got, err := SumBits(512, msg, 4096, WithRounds(0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg[512-64:]) {
		t.Fatalf("r=0: got %x", got)
	}
}

// TestDefaultRounds checks the rule of docs/md6.md section 1.
func TestDefaultRounds(t *testing.T) {
	for _, c := range []struct{ d, keylen, r int }{
		{256, 0, 104}, {512, 0, 168}, {224, 0, 96}, {160, 0, 80},
		{128, 0, 72}, {128, 3, 80}, {1, 0, 40}, {1, 1, 80}, {512, 64, 168},
	} {
		if r := DefaultRounds(c.d, c.keylen); r != c.r {
			t.Errorf("DefaultRounds(%d, %d) = %d, want %d", c.d, c.keylen, r, c.r)
		}
	}
}

// TestHugeWrite hashes more than 512 MiB in one Write (the reference's
// 32-bit bit counter makes that hang) and compares with chunked writes.
func TestHugeWrite(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("hashes 520 MiB twice; runs in make test-long and without -race")
	}
	big := make([]byte, 520<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	one := Sum256(big)
	d, _ := New(256)
	for i := 0; i < len(big); i += 1 << 20 {
		d.Write(big[i : i+1<<20])
	}
	if got := d.Sum(nil); !bytes.Equal(got, one[:]) {
		t.Fatalf("one write %x, chunked %x", one, got)
	}
}
