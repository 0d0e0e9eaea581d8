package md6

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vector is one line of testdata/vectors.txt.
type vector struct {
	line   int
	d, l   int
	rounds int // -1: default
	key    []byte
	bits   uint64
	msg    string // stream description
	want   string // hex, ceil(d/8) bytes
}

// hmacVector is one "hmac" line of testdata/vectors.txt.
type hmacVector struct {
	line      int
	key, data []byte
	want      string
}

func loadVectors(t testing.TB) ([]vector, []hmacVector) {
	t.Helper()
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	var hs []hmacVector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if f[0] == "hmac" {
			if len(f) != 6 {
				t.Fatalf("line %d: bad hmac vector", ln)
			}
			kl, _ := strconv.Atoi(f[1])
			dl, _ := strconv.Atoi(f[3])
			hs = append(hs, hmacVector{ln, stream(t, f[2], kl), stream(t, f[4], dl), f[5]})
			continue
		}
		if len(f) != 7 {
			t.Fatalf("line %d: %d fields", ln, len(f))
		}
		v := vector{line: ln, rounds: -1, msg: f[5], want: f[6]}
		v.d, _ = strconv.Atoi(f[0])
		v.l, _ = strconv.Atoi(f[1])
		if f[2] != "default" {
			v.rounds, _ = strconv.Atoi(f[2])
		}
		if f[3] != "-" {
			v.key, err = hex.DecodeString(f[3])
			if err != nil {
				t.Fatalf("line %d: %v", ln, err)
			}
		}
		v.bits, _ = strconv.ParseUint(f[4], 10, 64)
		vs = append(vs, v)
	}
	if len(vs) == 0 || len(hs) == 0 {
		t.Fatal("no vectors read")
	}
	return vs, hs
}

// stream returns the first n bytes of a stream description.
func stream(t testing.TB, desc string, n int) []byte {
	kind, arg, _ := strings.Cut(desc, ":")
	b := make([]byte, n)
	switch kind {
	case "hex":
		h, err := hex.DecodeString(arg)
		if err != nil || len(h) < n {
			t.Fatalf("bad hex stream %q", desc)
		}
		copy(b, h)
	case "pattern":
		s, _ := strconv.Atoi(arg)
		for i := range b {
			b[i] = byte((i + s) % 251)
		}
	case "repeat":
		v, _ := strconv.ParseUint(arg, 16, 8)
		for i := range b {
			b[i] = byte(v)
		}
	case "splitmix":
		state, _ := strconv.ParseUint(arg, 10, 64)
		var w [8]byte
		for i := 0; i < n; i += 8 {
			state += 0x9e3779b97f4a7c15
			z := state
			z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
			z = (z ^ z>>27) * 0x94d049bb133111eb
			binary.LittleEndian.PutUint64(w[:], z^z>>31)
			copy(b[i:], w[:])
		}
	default:
		t.Fatalf("unknown stream %q", desc)
	}
	return b
}

func (v vector) opts(extra ...Option) []Option {
	o := []Option{WithL(v.l), WithKey(v.key)}
	if v.rounds >= 0 {
		o = append(o, WithRounds(v.rounds))
	}
	return append(o, extra...)
}

func (v vector) name() string {
	return fmt.Sprintf("line%d/d=%d/L=%d/bits=%d", v.line, v.d, v.l, v.bits)
}

// TestVectors checks every hash vector one-shot with the active kernel.
func TestVectors(t *testing.T) {
	vs, _ := loadVectors(t)
	for _, v := range vs {
		if testing.Short() && v.bits > 1<<24 {
			continue
		}
		msg := stream(t, v.msg, int((v.bits+7)/8))
		got, err := SumBits(v.d, msg, v.bits, v.opts()...)
		if err != nil {
			t.Fatalf("%s: %v", v.name(), err)
		}
		if h := hex.EncodeToString(got); h != v.want {
			t.Errorf("%s: got %s want %s", v.name(), h, v.want)
		}
	}
}

func TestHMACVectors(t *testing.T) {
	_, hs := loadVectors(t)
	for _, h := range hs {
		mac := HMAC256(h.key, h.data)
		if got := hex.EncodeToString(mac[:]); got != h.want {
			t.Errorf("line %d: got %s want %s", h.line, got, h.want)
		}
		// The streaming form agrees.
		m := NewHMAC(h.key)
		for i := range h.data {
			m.Write(h.data[i : i+1])
		}
		if got := hex.EncodeToString(m.Sum(nil)); got != h.want {
			t.Errorf("line %d streaming: got %s want %s", h.line, got, h.want)
		}
	}
}

// TestHMAC256MatchesStreaming compares the direct HMAC256 with crypto/hmac
// over NewHMAC for keys around the 64-byte block (shorter, equal, longer:
// hashed first) and messages of several lengths.
func TestHMAC256MatchesStreaming(t *testing.T) {
	buf := make([]byte, 1200)
	for i := range buf {
		buf[i] = byte(i*7 + i>>3)
	}
	for _, kl := range []int{0, 1, 32, 63, 64, 65, 150, 511, 512, 513} {
		for _, dl := range []int{0, 1, 64, 447, 448, 449, 1200} {
			key, data := buf[len(buf)-kl:], buf[:dl]
			got := HMAC256(key, data)
			m := NewHMAC(key)
			m.Write(data)
			if want := m.Sum(nil); !bytes.Equal(got[:], want) {
				t.Errorf("key %d data %d: %x, want %x", kl, dl, got, want)
			}
		}
	}
}
