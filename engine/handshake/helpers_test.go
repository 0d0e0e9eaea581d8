package handshake

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// transcript is one block of testdata/transcripts.txt (AnyEvent::MP 1.30)
// or testdata/transcripts-2x.txt (2.02).
type transcript struct {
	name   string
	secret string
	// [0] connector, [1] acceptor
	g1, g2, auth [2]string
}

// loadTranscripts returns the 1.30 transcripts (4 blocks).
func loadTranscripts(t testing.TB) []transcript {
	t.Helper()
	return loadTranscriptFile(t, "testdata/transcripts.txt", 4)
}

// loadTranscripts2x returns the 2.02 transcripts (3 blocks).
func loadTranscripts2x(t testing.TB) []transcript {
	t.Helper()
	return loadTranscriptFile(t, "testdata/transcripts-2x.txt", 3)
}

func loadTranscriptFile(t testing.TB, path string, want int) []transcript {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []transcript
	var cur *transcript
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			out = append(out, transcript{name: strings.Trim(line, "[]")})
			cur = &out[len(out)-1]
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok || cur == nil {
			t.Fatalf("bad transcript line %q", line)
		}
		side := 0
		if strings.HasPrefix(k, "acceptor.") {
			side = 1
		}
		switch {
		case k == "secret":
			cur.secret = v
		case strings.HasSuffix(k, ".greeting1"):
			cur.g1[side] = v
		case strings.HasSuffix(k, ".greeting2"):
			cur.g2[side] = v
		case strings.HasSuffix(k, ".auth"):
			cur.auth[side] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != want {
		t.Fatalf("%s: expected %d transcripts, got %d", path, want, len(out))
	}
	for _, tr := range out {
		for side := 0; side < 2; side++ {
			if tr.secret == "" || tr.g1[side] == "" || tr.g2[side] == "" || tr.auth[side] == "" {
				t.Fatalf("%s: incomplete block %s", path, tr.name)
			}
		}
	}
	return out
}

// seeded returns a deterministic random source.
func seeded(n byte) *rand.ChaCha8 {
	var seed [32]byte
	seed[0] = n
	return rand.NewChaCha8(seed)
}

func mustConfig(t testing.TB, o Options) *Config {
	t.Helper()
	c, err := NewConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustNew(t testing.TB, c *Config, ci ConnInfo) *Handshake {
	t.Helper()
	h, err := New(c, ci)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// chunker returns the size of the next chunk to deliver, given what is
// pending (> 0).
type chunker func(pending int) int

func whole(p int) int   { return p }
func oneByte(p int) int { return 1 }
func randomChunks(seed uint64) chunker {
	r := rand.New(rand.NewPCG(seed, 99))
	return func(p int) int { return 1 + r.IntN(p) }
}

// peerSide is one side of an in-memory connection.
type peerSide struct {
	h       *Handshake
	pending []byte // sent by the other side, not yet consumed
	tlsWait bool
	done    bool
	err     error
	data    []byte // sent after Done (pipelined data phase bytes)
}

// wire runs two handshakes against each other until both are done, one
// fails, or nothing moves. data[i] is what side i sends right after it is
// done (it arrives behind its auth line). xform, if set, rewrites every
// write (e.g. LF -> CR LF).
func wire(t testing.TB, a, b *Handshake, ch chunker, data [2][]byte, xform func([]byte) []byte) (sides [2]*peerSide) {
	t.Helper()
	sides = [2]*peerSide{{h: a, data: data[0]}, {h: b, data: data[1]}}
	send := func(from int, p []byte) {
		if len(p) == 0 {
			return
		}
		if xform != nil {
			p = xform(p)
		}
		to := sides[1-from]
		to.pending = append(to.pending, p...)
	}
	send(0, a.Start())
	send(1, b.Start())
	for iter := 0; iter < 1_000_000; iter++ {
		moved := false
		for i, s := range sides {
			if s.err != nil || s.done || s.tlsWait || len(s.pending) == 0 {
				continue
			}
			k := ch(len(s.pending))
			st, err := s.h.Feed(s.pending[:k])
			if st.Consumed > k || st.Consumed < 0 {
				t.Fatalf("side %d: consumed %d of %d", i, st.Consumed, k)
			}
			if err == nil && !st.Done && st.StartTLS == TLSNone && st.Consumed != k {
				t.Fatalf("side %d: consumed %d of %d without a reason", i, st.Consumed, k)
			}
			s.pending = s.pending[st.Consumed:]
			send(i, st.Out)
			moved = true
			if err != nil {
				s.err = err
				return sides
			}
			if st.StartTLS != TLSNone {
				s.tlsWait = true
			}
			if st.Done {
				s.done = true
				send(i, s.data)
			}
		}
		// "TLS" comes up once both sides asked for it.
		if sides[0].tlsWait && sides[1].tlsWait {
			for i, s := range sides {
				out, err := s.h.TLSUp()
				if err != nil {
					t.Fatalf("side %d: TLSUp: %v", i, err)
				}
				s.tlsWait = false
				send(i, out)
			}
			moved = true
		}
		if sides[0].done && sides[1].done || !moved {
			return sides
		}
	}
	t.Fatal("wire: no end")
	return sides
}

func expectErr(t testing.TB, err, sentinel error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected error %q, got none", msg)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q (%T) is not %v", err, err, sentinel)
	}
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("error %q is not *Error", err)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("error text\n got %q\nwant %q", err.Error(), msg)
	}
}

func lines(ls ...string) []byte {
	var b bytes.Buffer
	for _, l := range ls {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
