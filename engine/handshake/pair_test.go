package handshake

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func TestStartGreeting(t *testing.T) {
	c := mustConfig(t, Options{NodeID: "goA", Secret: []byte("s"), TLS: true, Provider: "aemp-go-0.1",
		Extra: []KV{{Key: "mproto", Value: "1"}, {Key: "flag", NoValue: true}}, Rand: seeded(1)})
	h := mustNew(t, c, ConnInfo{PeerAddr: "[::1]:4040", Extra: []KV{{Key: "dataconn_id", Value: "b@node"}}})
	out := string(h.Start())
	l1, rest, _ := strings.Cut(out, "\n")
	l2, rest, _ := strings.Cut(rest, "\n")
	want := "aemp;1;goA;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;json,storable;provider=aemp-go-0.1;peeraddr=[::1]:4040;tls=1.0;mproto=1;flag;dataconn_id=b@node"
	if l1 != want || rest != "" {
		t.Fatalf("greeting 1\n got %q\nwant %q (rest %q)", l1, want, rest)
	}
	if len(l2) != 88 || strings.ContainsAny(l2, "=\r\n") {
		t.Fatalf("nonce %q", l2)
	}
	if raw, err := base64.StdEncoding.DecodeString(l2); err != nil || len(raw) != NonceBytes {
		t.Fatalf("nonce decode: %v %d", err, len(raw))
	}
	if h.Start() != nil {
		t.Fatal("second Start returned bytes")
	}
	// Round trip through our parser.
	g := ParseGreeting(l1)
	if g.NodeID != "goA" || g.Version != "1" || len(g.Auths) != 4 || g.Framings[1] != "storable" {
		t.Fatalf("parsed %+v", g)
	}
	if v, ok := g.Value("flag"); !ok || v != "" || !g.Pairs[4].NoValue {
		t.Fatalf("flag: %q %v", v, ok)
	}
	// Two handshakes from one Config get different nonces.
	h2 := mustNew(t, c, ConnInfo{})
	if h2.lg2 == h.lg2 {
		t.Fatal("same nonce twice")
	}
	if strings.Contains(h2.lg1, "peeraddr") {
		t.Fatal("peeraddr sent without PeerAddr")
	}
}

type pairCase struct {
	name           string
	oa, ob         Options
	wantA, wantB   string // auth method each side receives
	sendA, sendB   string // framing each side sends
	tls            bool
	untrustA, untB bool // side A / B sees an untrusted peer
}

func pairCases() []pairCase {
	sec := []byte("geheim")
	return []pairCase{
		{name: "hmac/json", oa: Options{NodeID: "a", Secret: sec}, ob: Options{NodeID: "b", Secret: sec},
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "json", sendB: "json"},
		{name: "hmac/storable", oa: Options{NodeID: "a", Secret: sec, Framings: []string{"storable"}},
			ob: Options{NodeID: "b", Secret: sec}, wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "storable", sendB: "storable"},
		{name: "hmac/mixed", oa: Options{NodeID: "a", Secret: sec, Framings: []string{"json", "storable"}},
			ob:    Options{NodeID: "b", Secret: sec, Framings: []string{"storable", "json"}},
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "storable", sendB: "json"},
		{name: "hmac/one-side-tls", oa: Options{NodeID: "a", Secret: sec, TLS: true}, ob: Options{NodeID: "b", Secret: sec},
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "json", sendB: "json"},
		{name: "tls_md6/json", oa: Options{NodeID: "a", TLS: true}, ob: Options{NodeID: "b", TLS: true},
			wantA: AuthTLSMD6, wantB: AuthTLSMD6, sendA: "json", sendB: "json", tls: true},
		{name: "tls_md6/mixed+secret", oa: Options{NodeID: "a", TLS: true, Secret: sec, Framings: []string{"storable", "json"}},
			ob:    Options{NodeID: "b", TLS: true, Secret: sec},
			wantA: AuthTLSMD6, wantB: AuthTLSMD6, sendA: "json", sendB: "storable", tls: true},
		{name: "tls_anon/storable", oa: Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}, Framings: []string{"storable"}},
			ob:    Options{NodeID: "b", TLS: true, Framings: []string{"storable", "json"}},
			wantA: AuthTLSMD6, wantB: AuthTLSAnon, sendA: "storable", sendB: "storable", tls: true, untB: true},
		{name: "tls_anon/both", oa: Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}},
			ob:    Options{NodeID: "b", TLS: true, AuthOffer: []string{AuthTLSAnon}, Framings: []string{"storable", "json"}},
			wantA: AuthTLSAnon, wantB: AuthTLSAnon, sendA: "storable", sendB: "json", tls: true, untrustA: true, untB: true},
	}
}

// TestPair wires two of our machines for every auth method x framing case,
// fed whole, byte by byte and in random chunks, with and without CR LF line
// ends, with data pipelined behind each auth line.
func TestPair(t *testing.T) {
	chunkers := []struct {
		name string
		c    func() chunker
	}{
		{"whole", func() chunker { return whole }},
		{"bytes", func() chunker { return oneByte }},
		{"random1", func() chunker { return randomChunks(1) }},
		{"random2", func() chunker { return randomChunks(2) }},
	}
	crlf := func(p []byte) []byte { return bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n")) }
	for i, pc := range pairCases() {
		for _, ch := range chunkers {
			for _, xf := range []struct {
				name string
				f    func([]byte) []byte
			}{{"lf", nil}, {"crlf", crlf}} {
				t.Run(fmt.Sprintf("%s/%s/%s", pc.name, ch.name, xf.name), func(t *testing.T) {
					oa, ob := pc.oa, pc.ob
					oa.Rand, ob.Rand = seeded(byte(2*i)), seeded(byte(2*i+1))
					a := mustNew(t, mustConfig(t, oa), ConnInfo{PeerAddr: "127.0.0.1:1"})
					b := mustNew(t, mustConfig(t, ob), ConnInfo{PeerAddr: "127.0.0.1:2"})
					data := [2][]byte{[]byte("[\"\",\"from-a\"]\nhmac_md6_64_256;x;json\n"), []byte("\x00\x01binary from b\n")}
					s := wire(t, a, b, ch.c(), data, xf.f)
					for j, sd := range s {
						if sd.err != nil || !sd.done {
							t.Fatalf("side %d: done %v err %v", j, sd.done, sd.err)
						}
						want := data[1-j]
						if xf.f != nil {
							want = xf.f(want)
						}
						if !bytes.Equal(sd.pending, want) {
							t.Fatalf("side %d leftover %q, want %q", j, sd.pending, want)
						}
					}
					ra, rb := a.Result(), b.Result()
					if ra.PeerNodeID != "b" || rb.PeerNodeID != "a" {
						t.Fatalf("node ids %q %q", ra.PeerNodeID, rb.PeerNodeID)
					}
					if ra.PeerAuth != pc.wantA || rb.PeerAuth != pc.wantB {
						t.Fatalf("auth %s %s", ra.PeerAuth, rb.PeerAuth)
					}
					if ra.SendFraming != pc.sendA || rb.SendFraming != pc.sendB ||
						ra.RecvFraming != pc.sendB || rb.RecvFraming != pc.sendA {
						t.Fatalf("framings A %s/%s B %s/%s", ra.SendFraming, ra.RecvFraming, rb.SendFraming, rb.RecvFraming)
					}
					if ra.Trusted == pc.untrustA || rb.Trusted == pc.untB {
						t.Fatalf("trusted %v %v", ra.Trusted, rb.Trusted)
					}
					if pc.tls {
						if ra.TLS == TLSNone || rb.TLS == TLSNone || ra.TLS == rb.TLS {
							t.Fatalf("tls roles %v %v", ra.TLS, rb.TLS)
						}
						wantA := TLSServer
						if a.lg2 < b.lg2 {
							wantA = TLSClient
						}
						if ra.TLS != wantA {
							t.Fatalf("A role %v, want %v", ra.TLS, wantA)
						}
					} else if ra.TLS != TLSNone || rb.TLS != TLSNone {
						t.Fatalf("tls roles %v %v", ra.TLS, rb.TLS)
					}
					if ra.PeerKV["peeraddr"] != "127.0.0.1:2" || ra.PeerKV["provider"] != DefaultProvider {
						t.Fatalf("peer kv %v", ra.PeerKV)
					}
				})
			}
		}
	}
}

// TestTLSSwitchStopsConsuming: bytes after the nonce line belong to TLS.
func TestTLSSwitchStopsConsuming(t *testing.T) {
	a := mustNew(t, mustConfig(t, Options{NodeID: "a", TLS: true, Rand: seeded(1)}), ConnInfo{})
	b := mustNew(t, mustConfig(t, Options{NodeID: "b", TLS: true, Rand: seeded(2)}), ConnInfo{})
	a.Start()
	gb := b.Start()
	tlsRecord := []byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 client hello\n")
	in := append(append([]byte{}, gb...), tlsRecord...)
	st, err := a.Feed(in)
	if err != nil {
		t.Fatal(err)
	}
	if st.StartTLS == TLSNone || st.Out != nil || st.Done || st.Consumed != len(gb) {
		t.Fatalf("step %+v (greeting %d bytes)", st, len(gb))
	}
	// While TLS is pending, Feed consumes nothing.
	st2, err := a.Feed(tlsRecord)
	if err != nil || st2.Consumed != 0 || st2.StartTLS != st.StartTLS {
		t.Fatalf("pending feed %+v %v", st2, err)
	}
	out, err := a.TLSUp()
	if err != nil || !bytes.HasPrefix(out, []byte("tls_md6_64_256;")) || !bytes.HasSuffix(out, []byte(";json\n")) {
		t.Fatalf("TLSUp %q %v", out, err)
	}
	if _, err := a.TLSUp(); err == nil {
		t.Fatal("second TLSUp accepted")
	}
}

// TestSimplePeer: the "simple handshake for non-Perl nodes" (cleartext,
// possibly empty nonce, CR LF) is accepted.
func TestSimplePeer(t *testing.T) {
	for _, nonce := range []string{"", "whatever"} {
		c := mustConfig(t, Options{NodeID: "goA", Secret: []byte("geheim"), Rand: seeded(3)})
		h := mustNew(t, c, ConnInfo{})
		h.Start()
		in := "aemp;1;simple;hmac_md6_64_256;json\r\n" + nonce + "\r\ncleartext;67656865696d;json\r\n[\"x\"]"
		st, err := h.Feed([]byte(in))
		if err != nil || !st.Done {
			t.Fatalf("nonce %q: %+v %v", nonce, st, err)
		}
		if in[st.Consumed:] != "[\"x\"]" {
			t.Fatalf("leftover %q", in[st.Consumed:])
		}
		if !bytes.HasPrefix(st.Out, []byte("hmac_md6_64_256;")) || !bytes.HasSuffix(st.Out, []byte(";json\n")) {
			t.Fatalf("out %q", st.Out)
		}
		r := h.Result()
		if r.PeerAuth != AuthClear || !r.Trusted || r.PeerNodeID != "simple" || r.RecvFraming != "json" {
			t.Fatalf("result %+v", r)
		}
	}
}

// TestUpgradeProtocol: aemp-WORD upgrades both ways.
func TestUpgradeProtocol(t *testing.T) {
	sec := []byte("s")
	ca := mustConfig(t, Options{NodeID: "a", Secret: sec, Protocols: []string{"aemp-dataconn"}, Rand: seeded(4)})
	cb := mustConfig(t, Options{NodeID: "b", Secret: sec, Protocols: []string{"aemp-dataconn"}, Rand: seeded(5)})
	a := mustNew(t, ca, ConnInfo{Protocol: "aemp-dataconn", Extra: []KV{{Key: "dataconn_id", Value: "x@a"}}})
	b := mustNew(t, cb, ConnInfo{})
	s := wire(t, a, b, whole, [2][]byte{}, nil)
	if !s[0].done || !s[1].done {
		t.Fatalf("errors %v %v", s[0].err, s[1].err)
	}
	if a.Result().Protocol != "aemp-dataconn" || b.Result().Protocol != "aemp-dataconn" {
		t.Fatalf("protocols %s %s", a.Result().Protocol, b.Result().Protocol)
	}
	if b.Result().PeerKV["dataconn_id"] != "x@a" {
		t.Fatalf("kv %v", b.Result().PeerKV)
	}
	// Node checks are skipped for sub-protocols (as in Perl): same node ID.
	cself := mustConfig(t, Options{NodeID: "a", Secret: sec, Protocols: []string{"aemp-dataconn"}, Rand: seeded(6)})
	a2 := mustNew(t, ca, ConnInfo{Protocol: "aemp-dataconn"})
	b2 := mustNew(t, cself, ConnInfo{})
	if s := wire(t, a2, b2, whole, [2][]byte{}, nil); !s[0].done || !s[1].done {
		t.Fatalf("self dataconn: %v %v", s[0].err, s[1].err)
	}
}

// TestSharedConfigConcurrent: one Config (with a custom, unsynchronised
// Rand) serves handshakes on many goroutines (run with -race).
func TestSharedConfigConcurrent(t *testing.T) {
	ca := mustConfig(t, Options{NodeID: "a", Secret: []byte("s"), Rand: seeded(7)})
	cb := mustConfig(t, Options{NodeID: "b", Secret: []byte("s"), Rand: seeded(8)})
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 10; i++ {
				a, err := New(ca, ConnInfo{})
				if err != nil {
					errs <- err
					return
				}
				b, _ := New(cb, ConnInfo{})
				ga, gb := a.Start(), b.Start()
				sa, _ := a.Feed(gb)
				sb, _ := b.Feed(ga)
				if st, err := a.Feed(sb.Out); err != nil || !st.Done {
					errs <- fmt.Errorf("a: %v", err)
					return
				}
				if st, err := b.Feed(sa.Out); err != nil || !st.Done {
					errs <- fmt.Errorf("b: %v", err)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
