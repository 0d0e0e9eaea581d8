package fuzz

// Fuzz targets for engine/handshake. Their oracles recompute the expected
// authentication tokens with package md6 and crypto/hmac + crypto/sha3
// directly (not with the handshake package's own code), from the bytes each
// machine was actually given.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"hash"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/md6"
)

const hsSecret = "fuzz-secret"

// hsTranscriptFiles: the 1.30 captures (testdata/transcripts.txt, a copy of
// shared/testdata/handshake) and the 2.02 captures (kept with the handshake
// package).
var hsTranscriptFiles = []string{"testdata/transcripts.txt", "../engine/handshake/testdata/transcripts-2x.txt"}

// hsTranscriptLines returns every greeting and auth line of the transcript
// files.
func hsTranscriptLines(f *testing.F) (greetings, nonces, auths []string) {
	for _, name := range hsTranscriptFiles {
		file, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), " = ")
			if !ok {
				continue
			}
			switch {
			case strings.HasSuffix(k, ".greeting1"):
				greetings = append(greetings, v)
			case strings.HasSuffix(k, ".greeting2"):
				nonces = append(nonces, v)
			case strings.HasSuffix(k, ".auth"):
				auths = append(auths, v)
			}
		}
		err = sc.Err()
		file.Close()
		if err != nil {
			f.Fatal(err)
		}
	}
	if len(greetings) < 14 || len(auths) < 14 {
		f.Fatalf("transcript lines missing: %d greetings, %d auth lines", len(greetings), len(auths))
	}
	return greetings, nonces, auths
}

func hsRand(n uint64) *rand.ChaCha8 {
	var seed [32]byte
	seed[0], seed[1] = byte(n), byte(n>>8)
	return rand.NewChaCha8(seed)
}

// hsMachine returns a default-configured machine (it accepts every auth
// method of both generations).
func hsMachine(t testing.TB, id string, tls bool, seed uint64) *handshake.Handshake {
	return hsMachineWith(t, handshake.Options{}, id, tls, seed)
}

// hsProfile returns the Options of side 0 (A) or 1 (B) in FuzzHandshake's
// configuration profile p: 0 both default (SHA3), 1 A like 1.30 and B
// default (MD6), 2 A like 2.02 and B default, both listing cbor first
// (SHA3, cbor), 3 both like 1.30 (MD6).
func hsProfile(p, side int) handshake.Options {
	like1x := handshake.Options{AuthOffer: handshake.AuthOffer1x, AuthAccept: handshake.AuthAccept1x, NoProtoKeys: true, Provider: "AE-1.30",
		Framings: handshake.Framings1x}
	like2x := handshake.Options{AuthOffer: handshake.AuthOffer2x, AuthAccept: handshake.AuthAccept2x, Provider: "AE-2.02",
		Framings: []string{"cbor", "json", "storable"}}
	switch {
	case p == 1 && side == 0, p == 3:
		return like1x
	case p == 2 && side == 0:
		return like2x
	case p == 2:
		return handshake.Options{Framings: []string{"cbor", "json"}}
	}
	return handshake.Options{}
}

func hsMachineWith(t testing.TB, o handshake.Options, id string, tls bool, seed uint64) *handshake.Handshake {
	o.NodeID, o.Secret, o.TLS, o.Rand = id, []byte(hsSecret), tls, hsRand(seed)
	c, err := handshake.NewConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	h, err := handshake.New(c, handshake.ConnInfo{PeerAddr: "127.0.0.1:4040"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hsLines splits b into LF-terminated lines, removing one CR before each
// LF; rest is what follows the last LF.
func hsLines(b []byte) (lines []string, rest []byte) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return lines, b
		}
		l := b[:i]
		l = bytes.TrimSuffix(l, []byte("\r"))
		lines = append(lines, string(l))
		b = b[i+1:]
	}
}

// hsExpectedToken is the oracle: the token a genuine peer sends with
// method, given the lines the verifying side sent (l1, l2) and received
// (r1, r2). ok is false for methods that cannot authenticate here.
func hsExpectedToken(method string, tls bool, l1, l2, r1, r2 string) (string, bool) {
	peerFirst := []byte(r1 + "\n" + r2 + "\n" + l1 + "\n" + l2 + "\n")
	switch method {
	case "hmac_sha3_512":
		// Textbook HMAC-SHA3-512, key = the raw secret (docs/protocol.md 3.2).
		mac := hmac.New(func() hash.Hash { return sha3.New512() }, []byte(hsSecret))
		mac.Write(peerFirst)
		return hex.EncodeToString(mac.Sum(nil)), true
	case "tls_sha3_512":
		sum := sha3.Sum512(peerFirst)
		return hex.EncodeToString(sum[:]), tls
	case "hmac_md6_64_256":
		key := md6.Sum256([]byte(hsSecret))
		mac := md6.HMAC256(peerFirst, key[:])
		return hex.EncodeToString(mac[:]), true
	case "cleartext":
		return hex.EncodeToString([]byte(hsSecret)), true
	case "tls_md6_64_256":
		sum := md6.Sum256(peerFirst)
		return hex.EncodeToString(sum[:]), tls
	case "tls_anon":
		return "", tls
	}
	return "", false
}

// hsCheckDone verifies a Done handshake against what it was fed: its
// consumed input is exactly three lines, the third of which carries the
// genuine token for the lines it saw.
func hsCheckDone(t *testing.T, h *handshake.Handshake, own, fed []byte, consumed int) {
	t.Helper()
	ownLines, _ := hsLines(own)
	in, rest := hsLines(fed[:consumed])
	if len(in) != 3 || len(rest) != 0 {
		t.Fatalf("done after %d lines + %q", len(in), rest)
	}
	r := h.Result()
	if r == nil {
		t.Fatal("done without result")
	}
	f := strings.SplitN(in[2], ";", 4)
	for len(f) < 3 {
		f = append(f, "")
	}
	want, ok := hsExpectedToken(f[0], r.TLS != handshake.TLSNone, ownLines[0], ownLines[1], in[0], in[1])
	if !ok || f[1] != want {
		t.Fatalf("accepted auth line %q (method ok %v)", in[2], ok)
	}
	if r.PeerAuth != f[0] || r.RecvFraming != f[2] || (f[2] != "json" && f[2] != "storable" && f[2] != "cbor") {
		t.Fatalf("result %+v for line %q", r, in[2])
	}
	// A method only one generation knows decides the generation.
	wantGen := map[string]int{"hmac_md6_64_256": 1, "tls_md6_64_256": 1, "hmac_sha3_512": 2, "tls_sha3_512": 2}[f[0]]
	if wantGen != 0 && r.Generation != wantGen || r.Generation != 1 && r.Generation != 2 {
		t.Fatalf("generation %d for method %q", r.Generation, f[0])
	}
	if g := handshake.ParseGreeting(in[0]); g.NodeID != r.PeerNodeID {
		t.Fatalf("peer node %q vs greeting %q", r.PeerNodeID, in[0])
	}
}

func hsGreetingEqual(a, b handshake.Greeting) bool {
	norm := func(g *handshake.Greeting) {
		if len(g.Auths) == 0 {
			g.Auths = nil
		}
		if len(g.Framings) == 0 {
			g.Framings = nil
		}
		if len(g.Pairs) == 0 {
			g.Pairs = nil
		}
	}
	norm(&a)
	norm(&b)
	return reflect.DeepEqual(a, b)
}

var hsSentinels = []error{
	handshake.ErrProtocol, handshake.ErrUnknownProtocol, handshake.ErrVersion, handshake.ErrSelf,
	handshake.ErrAlreadyConnected, handshake.ErrEcho, handshake.ErrNoCommonAuth, handshake.ErrNoCommonFraming,
	handshake.ErrNoSecret, handshake.ErrUnsupportedAuth, handshake.ErrAuthFailed, handshake.ErrFraming,
	handshake.ErrLineTooLong,
}

func hsCheckErr(t *testing.T, err error) {
	t.Helper()
	var he *handshake.Error
	if !errors.As(err, &he) {
		t.Fatalf("error %v is not *handshake.Error", err)
	}
	for _, s := range hsSentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v matches no peer-input sentinel", err)
}

// FuzzGreeting parses arbitrary greeting lines: no panics; formatting the
// parsed greeting and parsing again gives the same fields; a line built
// from valid fields round-trips exactly; and a Handshake fed the line either
// waits for the nonce or fails with a typed error.
func FuzzGreeting(f *testing.F) {
	greetings, _, auths := hsTranscriptLines(f)
	for _, g := range greetings {
		f.Add(g)
	}
	for _, a := range auths {
		f.Add(a)
	}
	for _, s := range []string{"", ";", "aemp", "aemp;1", "aemp;1;x;;;;=;k;k=v=w;;", "aemp-dataconn;1;n;a,,b,;j,;x",
		"aemp;1.0;n;hmac_md6_64_256;json;tls=1.0", "aemp;0x1;n", "\x00;\xff;\r", "aemp;1;goF;a;b",
		"aemp;1;n;hmac_sha3_512;cbor;mproto=1;gproto=1", "aemp;1;n;tls_sha3_512;json;tls=1.0;provider=AE-2.02"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		g := handshake.ParseGreeting(line)
		s := g.String()
		g2 := handshake.ParseGreeting(s)
		if !hsGreetingEqual(g, g2) {
			t.Fatalf("not idempotent:\n%q\n%#v\n%q\n%#v", line, g, s, g2)
		}
		if s2 := g2.String(); s2 != s {
			t.Fatalf("format not stable: %q vs %q", s, s2)
		}
		m := g.Map()
		for _, kv := range g.Pairs {
			if kv.Key == "" || strings.Contains(kv.Key, "=") || strings.Contains(kv.Key, ";") {
				t.Fatalf("bad key %q", kv.Key)
			}
			if v, ok := g.Value(kv.Key); !ok || v != m[kv.Key] {
				t.Fatalf("Value(%q) = %q, map %q", kv.Key, v, m[kv.Key])
			}
		}
		// Build a valid greeting from the parsed fields: it must round-trip
		// exactly (String then ParseGreeting).
		valid := handshake.Greeting{Protocol: g.Protocol, Version: g.Version, NodeID: g.NodeID + "n"}
		for _, a := range g.Auths {
			if a != "" {
				valid.Auths = append(valid.Auths, a)
			}
		}
		valid.Framings = append(valid.Framings, g.Framings...)
		valid.Framings = append(valid.Framings, "json")
		valid.Pairs = g.Pairs
		if strings.ContainsAny(line, "\r\n") {
			return
		}
		if back := handshake.ParseGreeting(valid.String()); !hsGreetingEqual(back, valid) {
			t.Fatalf("round trip:\n%#v\n%#v", valid, back)
		}

		h := hsMachine(t, "goF", false, 1)
		h.Start()
		st, err := h.Feed([]byte(line + "\n"))
		if err != nil {
			hsCheckErr(t, err)
			return
		}
		if st.Consumed != len(line)+1 || st.Done || st.Out != nil || st.StartTLS != handshake.TLSNone {
			t.Fatalf("greeting step %+v", st)
		}
	})
}

// FuzzAuthLine feeds an arbitrary peer auth line after a valid greeting
// exchange (with or without TLS): no panics, and success only with the
// genuine token.
func FuzzAuthLine(f *testing.F) {
	_, _, auths := hsTranscriptLines(f)
	for _, a := range auths {
		f.Add([]byte(a+"\n"), false)
	}
	// The genuine lines for the fixed machines used below.
	for _, tls := range []bool{false, true} {
		a := hsMachine(f, "goA", tls, 1)
		b := hsMachine(f, "goB", tls, 2)
		ga, gb := a.Start(), b.Start()
		la, _ := hsLines(ga)
		lb, _ := hsLines(gb)
		for _, m := range []string{"hmac_md6_64_256", "cleartext", "tls_md6_64_256", "tls_anon", "hmac_sha3_512", "tls_sha3_512"} {
			tok, _ := hsExpectedToken(m, true, la[0], la[1], lb[0], lb[1])
			f.Add([]byte(m+";"+tok+";json\n[\"\",\"x\"]\n"), tls)
			f.Add([]byte(m+";"+tok+";storable;x=y\r\n"), tls)
			f.Add([]byte(m+";"+strings.ToUpper(tok)+";json\n"), tls)
			f.Add([]byte(m+";"+tok+";cbor\n"), tls)
		}
	}
	f.Add([]byte("\n"), false)
	f.Add([]byte("tls_anon\n"), true)
	f.Add([]byte("cleartext;;json\n"), true)
	f.Fuzz(func(t *testing.T, line []byte, tls bool) {
		a := hsMachine(t, "goA", tls, 1)
		b := hsMachine(t, "goB", tls, 2)
		ga, gb := a.Start(), b.Start()
		st, err := a.Feed(gb)
		if err != nil {
			t.Fatal(err)
		}
		if tls {
			if st.StartTLS == handshake.TLSNone {
				t.Fatalf("no TLS: %+v", st)
			}
			if _, err := a.TLSUp(); err != nil {
				t.Fatal(err)
			}
		}
		st, err = a.Feed(line)
		if st.Consumed < 0 || st.Consumed > len(line) {
			t.Fatalf("consumed %d of %d", st.Consumed, len(line))
		}
		if err != nil {
			hsCheckErr(t, err)
			if i := bytes.IndexByte(line, '\n'); i >= 0 && st.Consumed > i+1 {
				t.Fatalf("consumed %d past the line end %d", st.Consumed, i+1)
			}
			return
		}
		if !st.Done {
			if bytes.IndexByte(line, '\n') >= 0 || st.Consumed != len(line) {
				t.Fatalf("not done with a complete line: %+v", st)
			}
			return
		}
		hsCheckDone(t, a, ga, append(append([]byte{}, gb...), line...), len(gb)+st.Consumed)
	})
}

// hsSide is one machine in FuzzHandshake.
type hsSide struct {
	h        *handshake.Handshake
	own      []byte // what it sent in Start
	fed      []byte // every byte it was offered, in order
	consumed int
	tlsWait  bool
	done     bool
	failed   bool
}

// FuzzHandshake wires two machines together and lets the fuzzer change one
// direction of the byte stream once (insert, overwrite, delete or cut at an
// offset) and choose the read chunking. mode%4 is the kind of change,
// mode/4%4 the configuration profile (hsProfile): SHA3 (hmac_sha3_512,
// tls_sha3_512) or MD6 (hmac_md6_64_256, tls_md6_64_256) with or without
// TLS. Nothing may panic, and a side may report success only if the auth
// line it consumed carries the genuine token for the greeting lines it
// actually saw (hsCheckDone); with a shared-secret method that also means
// it saw the peer's real lines.
func FuzzHandshake(f *testing.F) {
	greetings, nonces, auths := hsTranscriptLines(f)
	f.Add(uint64(0), uint8(0), uint8(0), uint16(0), []byte{}, false)
	f.Add(uint64(1), uint8(0), uint8(1), uint16(5), []byte("X"), false)
	f.Add(uint64(2), uint8(1), uint8(0), uint16(60), []byte("\r"), false)
	f.Add(uint64(3), uint8(1), uint8(2), uint16(100), []byte("abc"), true)
	f.Add(uint64(4), uint8(0), uint8(3), uint16(150), []byte{}, true)
	f.Add(uint64(5), uint8(1), uint8(0), uint16(0), []byte(greetings[0]+"\n"+nonces[0]+"\n"), false)
	f.Add(uint64(6), uint8(0), uint8(1), uint16(200), []byte(auths[0]+"\n"), false)
	f.Add(uint64(7), uint8(1), uint8(0), uint16(230), []byte("\n[\"\",\"x\"]\n"), false)
	f.Add(uint64(8), uint8(0), uint8(1), uint16(140), []byte("tls=1.0\n"), true)
	// The other profiles (MD6 / 2.x-like / cbor), with and without TLS.
	for p := uint8(1); p < 4; p++ {
		f.Add(uint64(10+p), uint8(p&1), 4*p, uint16(0), []byte{}, false)
		f.Add(uint64(20+p), uint8(p&1), 4*p, uint16(0), []byte{}, true)
		f.Add(uint64(30+p), uint8(1), 4*p+1, uint16(300), []byte("0"), false)
		f.Add(uint64(40+p), uint8(0), 4*p+2, uint16(250), []byte("abc"), true)
	}
	f.Add(uint64(50), uint8(0), uint8(4), uint16(100), []byte(auths[len(auths)-1]+"\n"), false)
	f.Fuzz(func(t *testing.T, seed uint64, dir, mode uint8, pos uint16, data []byte, tls bool) {
		rng := rand.New(rand.NewPCG(seed, 7))
		profile := int(mode/4) % 4
		sides := [2]*hsSide{
			{h: hsMachineWith(t, hsProfile(profile, 0), "goA", tls, seed%512)},
			{h: hsMachineWith(t, hsProfile(profile, 1), "goB", tls, seed%512+512)},
		}
		// pending[i]: bytes sent to side i, not yet offered to it.
		var pending [2][]byte
		var sent [2]int
		mutated := false
		send := func(from int, p []byte) {
			if len(p) == 0 {
				return
			}
			p = append([]byte{}, p...)
			if !mutated && int(dir&1) == from && int(pos) <= sent[from]+len(p) {
				mutated = true
				at := int(pos) - sent[from]
				if at < 0 {
					at = 0
				}
				switch mode % 4 {
				case 0: // insert
					p = append(p[:at], append(append([]byte{}, data...), p[at:]...)...)
				case 1: // overwrite
					copy(p[at:], data)
				case 2: // delete
					n := len(data)%16 + 1
					p = append(p[:at], p[min(at+n, len(p)):]...)
				case 3: // cut the connection here
					p = p[:at]
					sent[from] = 1 << 30
				}
			}
			sent[from] += len(p)
			pending[1-from] = append(pending[1-from], p...)
		}
		for i, s := range sides {
			s.own = s.h.Start()
			send(i, s.own)
		}
		payload := [2][]byte{[]byte("[\"\",\"from-a\"]\n"), []byte("hmac_md6_64_256;00;json\n")}
		for iter := 0; iter < 100000; iter++ {
			moved := false
			for i, s := range sides {
				if s.failed || s.done || s.tlsWait || len(pending[i]) == 0 {
					continue
				}
				k := 1 + rng.IntN(len(pending[i]))
				chunk := pending[i][:k]
				base := len(s.fed)
				s.fed = append(s.fed, chunk...)
				st, err := s.h.Feed(chunk)
				if st.Consumed < 0 || st.Consumed > k {
					t.Fatalf("side %d consumed %d of %d", i, st.Consumed, k)
				}
				// What was not consumed is offered again later.
				s.fed = s.fed[:base+st.Consumed]
				s.consumed += st.Consumed
				pending[i] = pending[i][st.Consumed:]
				send(i, st.Out)
				moved = true
				switch {
				case err != nil:
					hsCheckErr(t, err)
					s.failed = true
				case st.Done:
					s.done = true
					hsCheckDone(t, s.h, s.own, s.fed, s.consumed)
					send(i, payload[i])
				case st.StartTLS != handshake.TLSNone:
					s.tlsWait = true
				case st.Consumed != k:
					t.Fatalf("side %d consumed %d of %d without reason", i, st.Consumed, k)
				}
			}
			if sides[0].tlsWait && sides[1].tlsWait {
				for i, s := range sides {
					out, err := s.h.TLSUp()
					if err != nil {
						t.Fatal(err)
					}
					s.tlsWait = false
					send(i, out)
				}
				moved = true
			}
			if !moved {
				break
			}
		}
		// Without interference both sides must succeed, with the profile's
		// generation.
		if !mutated {
			for i, s := range sides {
				if !s.done {
					t.Fatalf("side %d not done without interference (failed %v: %v)", i, s.failed, s.h.Err())
				}
				wantGen := 2
				if profile == 1 || profile == 3 {
					wantGen = 1
				}
				if r := s.h.Result(); r.Generation != wantGen || profile == 2 && r.RecvFraming != "cbor" {
					t.Fatalf("side %d profile %d: generation %d, framing %s", i, profile, r.Generation, r.RecvFraming)
				}
			}
		}
		// With the shared secret, success means the real lines were seen.
		for i, s := range sides {
			// (cleartext does not bind the greetings: exempt)
			if !s.done || s.h.Result().TLS != handshake.TLSNone || s.h.Result().PeerAuth == "cleartext" {
				continue
			}
			in, _ := hsLines(s.fed)
			peer, _ := hsLines(sides[1-i].own)
			if in[0] != peer[0] || in[1] != peer[1] {
				t.Fatalf("side %d accepted forged greeting lines %q", i, in[:2])
			}
		}
	})
}
