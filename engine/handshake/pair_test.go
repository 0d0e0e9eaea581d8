package handshake

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestStartGreeting(t *testing.T) {
	c := mustConfig(t, Options{NodeID: "goA", Secret: []byte("s"), TLS: true, Provider: "aemp-go-0.1",
		Extra: []KV{{Key: "gproto", Value: "1.1"}, {Key: "flag", NoValue: true}}, Rand: seeded(1)})
	h := mustNew(t, c, ConnInfo{PeerAddr: "[::1]:4040", Extra: []KV{{Key: "dataconn_id", Value: "b@node"}}})
	out := string(h.Start())
	l1, rest, _ := strings.Cut(out, "\n")
	l2, rest, _ := strings.Cut(rest, "\n")
	// Both generations' methods, SHA3 first; mproto from the defaults,
	// gproto overridden by Extra.
	want := "aemp;1;goA;tls_sha3_512,hmac_sha3_512,tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;cbor,json,storable;" +
		"provider=aemp-go-0.1;peeraddr=[::1]:4040;tls=1.0;mproto=1;gproto=1.1;flag;dataconn_id=b@node"
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
	if g.NodeID != "goA" || g.Version != "1" || len(g.Auths) != 6 || !slices.Equal(g.Framings, DefaultFramings) {
		t.Fatalf("parsed %+v", g)
	}
	if v, ok := g.Value("flag"); !ok || v != "" || !g.Pairs[5].NoValue {
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
	// Plain defaults: what a 2.x node sends, plus the MD6 methods.
	h3 := mustNew(t, mustConfig(t, Options{NodeID: "goB", Secret: []byte("s")}), ConnInfo{PeerAddr: "127.0.0.1:4040"})
	if want := "aemp;1;goB;tls_sha3_512,hmac_sha3_512,tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;cbor,json,storable;" +
		"provider=aemp-go;peeraddr=127.0.0.1:4040;mproto=1;gproto=1"; h3.lg1 != want {
		t.Fatalf("default greeting\n got %q\nwant %q", h3.lg1, want)
	}
	// NoProtoKeys, and a per-connection override of a default key.
	c4 := mustConfig(t, Options{NodeID: "goC", Secret: []byte("s"), NoProtoKeys: true, AuthAccept: AuthAccept1x})
	if want := "aemp;1;goC;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;cbor,json,storable;provider=aemp-go"; mustNew(t, c4, ConnInfo{}).lg1 != want {
		t.Fatalf("NoProtoKeys greeting %q", mustNew(t, c4, ConnInfo{}).lg1)
	}
	h5 := mustNew(t, mustConfig(t, Options{NodeID: "goD", Secret: []byte("s")}), ConnInfo{Extra: []KV{{Key: "mproto", Value: "2"}}})
	if !strings.HasSuffix(h5.lg1, ";provider=aemp-go;gproto=1;mproto=2") {
		t.Fatalf("override greeting %q", h5.lg1)
	}
}

type pairCase struct {
	name           string
	oa, ob         Options
	wantA, wantB   string // auth method each side receives
	sendA, sendB   string // framing each side sends
	tls            bool
	untrustA, untB bool // side A / B sees an untrusted peer
	genA, genB     int  // Result.Generation on side A / B
}

// like1x and like2x configure o the way AnyEvent::MP 1.30 / 2.02 are by
// default (auth and framing lists unless set, provider, 2.x's extra
// greeting keys; 2.02's framing list is our default).
func like1x(o Options) Options {
	o.AuthOffer = orList(o.AuthOffer, AuthOffer1x)
	o.AuthAccept = orList(o.AuthAccept, AuthAccept1x)
	o.Framings = orList(o.Framings, Framings1x)
	o.NoProtoKeys, o.Provider = true, "AE-1.30"
	return o
}

func like2x(o Options) Options {
	o.AuthOffer = orList(o.AuthOffer, AuthOffer2x)
	o.AuthAccept = orList(o.AuthAccept, AuthAccept2x)
	o.Provider = "AE-2.02"
	return o
}

func orList(l, def []string) []string {
	if l == nil {
		return def
	}
	return l
}

func pairCases() []pairCase {
	sec := []byte("geheim")
	cbor3 := []string{"cbor", "json", "storable"}
	return []pairCase{
		// 1.x methods (both sides configured like 1.30).
		{name: "md6/hmac/json", oa: like1x(Options{NodeID: "a", Secret: sec}), ob: like1x(Options{NodeID: "b", Secret: sec}),
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "json", sendB: "json", genA: 1, genB: 1},
		{name: "md6/hmac/storable", oa: like1x(Options{NodeID: "a", Secret: sec, Framings: []string{"storable"}}),
			ob: like1x(Options{NodeID: "b", Secret: sec}), wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "storable", sendB: "storable", genA: 1, genB: 1},
		{name: "md6/hmac/mixed", oa: like1x(Options{NodeID: "a", Secret: sec, Framings: []string{"json", "storable"}}),
			ob:    like1x(Options{NodeID: "b", Secret: sec, Framings: []string{"storable", "json"}}),
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "storable", sendB: "json", genA: 1, genB: 1},
		{name: "md6/hmac/one-side-tls", oa: like1x(Options{NodeID: "a", Secret: sec, TLS: true}), ob: like1x(Options{NodeID: "b", Secret: sec}),
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "json", sendB: "json", genA: 1, genB: 1},
		{name: "md6/tls/json", oa: like1x(Options{NodeID: "a", TLS: true}), ob: like1x(Options{NodeID: "b", TLS: true}),
			wantA: AuthTLSMD6, wantB: AuthTLSMD6, sendA: "json", sendB: "json", tls: true, genA: 1, genB: 1},
		{name: "md6/tls/mixed+secret", oa: like1x(Options{NodeID: "a", TLS: true, Secret: sec, Framings: []string{"storable", "json"}}),
			ob:    like1x(Options{NodeID: "b", TLS: true, Secret: sec}),
			wantA: AuthTLSMD6, wantB: AuthTLSMD6, sendA: "json", sendB: "storable", tls: true, genA: 1, genB: 1},
		{name: "md6/tls_anon/storable", oa: like1x(Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}, Framings: []string{"storable"}}),
			ob:    like1x(Options{NodeID: "b", TLS: true, Framings: []string{"storable", "json"}}),
			wantA: AuthTLSMD6, wantB: AuthTLSAnon, sendA: "storable", sendB: "storable", tls: true, untB: true, genA: 1, genB: 1},
		{name: "md6/tls_anon/both", oa: like1x(Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}}),
			ob:    like1x(Options{NodeID: "b", TLS: true, AuthOffer: []string{AuthTLSAnon}, Framings: []string{"storable", "json"}}),
			wantA: AuthTLSAnon, wantB: AuthTLSAnon, sendA: "storable", sendB: "json", tls: true, untrustA: true, untB: true, genA: 1, genB: 1},

		// Defaults on both sides: SHA3.
		{name: "default/hmac/cbor", oa: Options{NodeID: "a", Secret: sec}, ob: Options{NodeID: "b", Secret: sec},
			wantA: AuthHMACSHA3, wantB: AuthHMACSHA3, sendA: "cbor", sendB: "cbor", genA: 2, genB: 2},
		{name: "default/hmac/one-side-tls", oa: Options{NodeID: "a", Secret: sec, TLS: true, Framings: cbor3},
			ob:    Options{NodeID: "b", Secret: sec, Framings: []string{"json", "cbor"}},
			wantA: AuthHMACSHA3, wantB: AuthHMACSHA3, sendA: "json", sendB: "cbor", genA: 2, genB: 2},
		{name: "default/tls/cbor", oa: Options{NodeID: "a", TLS: true, Framings: cbor3}, ob: Options{NodeID: "b", TLS: true, Framings: cbor3},
			wantA: AuthTLSSHA3, wantB: AuthTLSSHA3, sendA: "cbor", sendB: "cbor", tls: true, genA: 2, genB: 2},
		{name: "default/tls/mixed+secret", oa: Options{NodeID: "a", TLS: true, Secret: sec, Framings: []string{"storable", "json"}},
			ob:    Options{NodeID: "b", TLS: true, Secret: sec},
			wantA: AuthTLSSHA3, wantB: AuthTLSSHA3, sendA: "json", sendB: "storable", tls: true, genA: 2, genB: 2},
		{name: "default/tls_anon", oa: Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}},
			ob:    Options{NodeID: "b", TLS: true},
			wantA: AuthTLSSHA3, wantB: AuthTLSAnon, sendA: "cbor", sendB: "cbor", tls: true, untB: true, genA: 2, genB: 2},
		{name: "default/tls_anon/no-keys", oa: Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}, NoProtoKeys: true},
			ob:    Options{NodeID: "b", TLS: true},
			wantA: AuthTLSSHA3, wantB: AuthTLSAnon, sendA: "cbor", sendB: "cbor", tls: true, untB: true, genA: 2, genB: 1},

		// Both like 2.02.
		{name: "2x/hmac/cbor", oa: like2x(Options{NodeID: "a", Secret: sec, Framings: cbor3}), ob: like2x(Options{NodeID: "b", Secret: sec, Framings: cbor3}),
			wantA: AuthHMACSHA3, wantB: AuthHMACSHA3, sendA: "cbor", sendB: "cbor", genA: 2, genB: 2},
		{name: "2x/tls_anon/both", oa: like2x(Options{NodeID: "a", TLS: true, AuthOffer: []string{AuthTLSAnon}}),
			ob:    like2x(Options{NodeID: "b", TLS: true, AuthOffer: []string{AuthTLSAnon}, Framings: []string{"storable", "json"}}),
			wantA: AuthTLSAnon, wantB: AuthTLSAnon, sendA: "storable", sendB: "json", tls: true, untrustA: true, untB: true, genA: 2, genB: 2},

		// One generation-specific node and one default node: per-peer choice.
		{name: "1x-vs-default/hmac", oa: like1x(Options{NodeID: "a", Secret: sec}), ob: Options{NodeID: "b", Secret: sec, Framings: cbor3},
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "json", sendB: "json", genA: 1, genB: 1},
		{name: "default-vs-1x/hmac", oa: Options{NodeID: "a", Secret: sec}, ob: like1x(Options{NodeID: "b", Secret: sec, Framings: []string{"storable", "json"}}),
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "storable", sendB: "json", genA: 1, genB: 1},
		{name: "1x-vs-default/tls", oa: like1x(Options{NodeID: "a", TLS: true, Secret: sec}), ob: Options{NodeID: "b", TLS: true, Secret: sec},
			wantA: AuthTLSMD6, wantB: AuthTLSMD6, sendA: "json", sendB: "json", tls: true, genA: 1, genB: 1},
		{name: "1x-vs-default/one-side-tls", oa: like1x(Options{NodeID: "a", Secret: sec}), ob: Options{NodeID: "b", TLS: true, Secret: sec},
			wantA: AuthHMACMD6, wantB: AuthHMACMD6, sendA: "json", sendB: "json", genA: 1, genB: 1},
		{name: "2x-vs-default/hmac", oa: like2x(Options{NodeID: "a", Secret: sec, Framings: cbor3}), ob: Options{NodeID: "b", Secret: sec},
			wantA: AuthHMACSHA3, wantB: AuthHMACSHA3, sendA: "cbor", sendB: "cbor", genA: 2, genB: 2},
		{name: "default-vs-2x/hmac/cbor", oa: Options{NodeID: "a", Secret: sec, Framings: []string{"json", "cbor", "storable"}},
			ob:    like2x(Options{NodeID: "b", Secret: sec, Framings: cbor3}),
			wantA: AuthHMACSHA3, wantB: AuthHMACSHA3, sendA: "cbor", sendB: "json", genA: 2, genB: 2},
		{name: "2x-vs-default/tls", oa: like2x(Options{NodeID: "a", TLS: true, Secret: sec}), ob: Options{NodeID: "b", TLS: true, Secret: sec},
			wantA: AuthTLSSHA3, wantB: AuthTLSSHA3, sendA: "cbor", sendB: "cbor", tls: true, genA: 2, genB: 2},
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
					if ra.Generation != pc.genA || rb.Generation != pc.genB {
						t.Fatalf("generations %d %d, want %d %d", ra.Generation, rb.Generation, pc.genA, pc.genB)
					}
					wantProv := cmp.Or(pc.ob.Provider, DefaultProvider)
					if ra.PeerKV()["peeraddr"] != "127.0.0.1:2" || ra.PeerKV()["provider"] != wantProv {
						t.Fatalf("peer kv %v", ra.PeerKV())
					}
					if _, ok := ra.PeerKV()["mproto"]; ok == pc.ob.NoProtoKeys {
						t.Fatalf("peer kv %v (NoProtoKeys %v)", ra.PeerKV(), pc.ob.NoProtoKeys)
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
	if err != nil || !bytes.HasPrefix(out, []byte("tls_sha3_512;")) || !bytes.HasSuffix(out, []byte(";cbor\n")) || len(out) != len("tls_sha3_512;;cbor\n")+128 {
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
	if b.Result().PeerKV()["dataconn_id"] != "x@a" {
		t.Fatalf("kv %v", b.Result().PeerKV())
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

// TestPairSHA3Matrix: every 2.x auth method x framing lists (asymmetric
// included) between a node configured like 2.02 and a default one, both
// ways round. The framing each side sends is the first entry of the other
// side's list that it has; none -> "no common framing method supported".
func TestPairSHA3Matrix(t *testing.T) {
	sec := []byte("geheim")
	lists := [][]string{
		{"cbor"}, {"json"}, {"storable"}, {"cbor", "json", "storable"}, {"json", "cbor"}, {"storable", "cbor"}, {"json", "storable"},
	}
	first := func(peer, ours []string) string {
		for _, f := range peer {
			if slices.Contains(ours, f) {
				return f
			}
		}
		return ""
	}
	type authCase struct {
		name         string
		tls          bool
		offerA       []string
		wantA, wantB string // method received by A / B
	}
	auths := []authCase{
		{"hmac_sha3_512", false, nil, AuthHMACSHA3, AuthHMACSHA3},
		{"tls_sha3_512", true, nil, AuthTLSSHA3, AuthTLSSHA3},
		{"tls_anon", true, []string{AuthTLSAnon}, AuthTLSSHA3, AuthTLSAnon},
		{"tls_sha3_512+secret", true, []string{AuthTLSSHA3, AuthHMACSHA3}, AuthTLSSHA3, AuthTLSSHA3},
	}
	n := 0
	for _, ac := range auths {
		for _, fa := range lists {
			for _, fb := range lists {
				for swap := 0; swap < 2; swap++ {
					n++
					name := fmt.Sprintf("%s/%s-%s/swap%d", ac.name, strings.Join(fa, "+"), strings.Join(fb, "+"), swap)
					t.Run(name, func(t *testing.T) {
						oa := like2x(Options{NodeID: "a", Secret: sec, TLS: ac.tls, AuthOffer: ac.offerA, Framings: fa, Rand: seeded(byte(n))})
						ob := Options{NodeID: "b", Secret: sec, TLS: ac.tls, Framings: fb, Rand: seeded(byte(n + 100))}
						if swap == 1 { // the default node makes the choice on side A
							oa = Options{NodeID: "a", Secret: sec, TLS: ac.tls, AuthOffer: ac.offerA, Framings: fa, Rand: seeded(byte(n))}
							ob = like2x(Options{NodeID: "b", Secret: sec, TLS: ac.tls, Framings: fb, Rand: seeded(byte(n + 100))})
						}
						if ac.name == "tls_anon" {
							// A's offer is tls_anon only; B picks from A's accept list.
							oa.AuthAccept = AuthAccept2x
						}
						a := mustNew(t, mustConfig(t, oa), ConnInfo{})
						b := mustNew(t, mustConfig(t, ob), ConnInfo{})
						sendA, sendB := first(fb, fa), first(fa, fb)
						s := wire(t, a, b, randomChunks(uint64(n)), [2][]byte{[]byte("[\"x\"]"), []byte("\xa1")}, nil)
						if sendA == "" || sendB == "" {
							var err error
							for _, sd := range s {
								err = cmp.Or(err, sd.err)
							}
							expectErr(t, err, ErrNoCommonFraming, "")
							return
						}
						for j, sd := range s {
							if sd.err != nil || !sd.done {
								t.Fatalf("side %d: done %v err %v", j, sd.done, sd.err)
							}
						}
						ra, rb := a.Result(), b.Result()
						if ra.PeerAuth != ac.wantA || rb.PeerAuth != ac.wantB {
							t.Fatalf("auth %s %s", ra.PeerAuth, rb.PeerAuth)
						}
						if ra.SendFraming != sendA || rb.SendFraming != sendB || ra.RecvFraming != sendB || rb.RecvFraming != sendA {
							t.Fatalf("framings A %s/%s B %s/%s", ra.SendFraming, ra.RecvFraming, rb.SendFraming, rb.RecvFraming)
						}
						if ra.Generation != Gen2 || rb.Generation != Gen2 || (ra.TLS != TLSNone) != ac.tls {
							t.Fatalf("results %+v %+v", ra, rb)
						}
						if string(s[0].pending) != "\xa1" || string(s[1].pending) != "[\"x\"]" {
							t.Fatalf("leftovers %q %q", s[0].pending, s[1].pending)
						}
					})
				}
			}
		}
	}
}

// TestGenerationsIncompatible: a node configured like 1.30 and one
// configured like 2.02 cannot authenticate (docs/protocol.md section 4):
// each side fails after the peer's nonce line, without sending an auth
// line, with Perl's message. With TLS on both sides too (tls_anon is in
// neither offer).
func TestGenerationsIncompatible(t *testing.T) {
	sec := []byte("geheim")
	for _, tls := range []bool{false, true} {
		h1 := mustNew(t, mustConfig(t, like1x(Options{NodeID: "perl1", Secret: sec, TLS: tls, Rand: seeded(1)})), ConnInfo{})
		h2 := mustNew(t, mustConfig(t, like2x(Options{NodeID: "perl2", Secret: sec, TLS: tls, Framings: []string{"cbor", "json", "storable"}, Rand: seeded(2)})), ConnInfo{})
		g1, g2 := h1.Start(), h2.Start()
		st1, err1 := h1.Feed(g2)
		expectErr(t, err1, ErrNoCommonAuth, "tls_sha3_512,hmac_sha3_512,tls_anon,cleartext: no common auth type supported")
		st2, err2 := h2.Feed(g1)
		expectErr(t, err2, ErrNoCommonAuth, "tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext: no common auth type supported")
		if st1.Out != nil || st2.Out != nil || st1.StartTLS != TLSNone || st2.StartTLS != TLSNone {
			t.Fatalf("tls %v: steps %+v %+v", tls, st1, st2)
		}
		if st1.Consumed != len(g2) || st2.Consumed != len(g1) {
			t.Fatalf("tls %v: consumed %d/%d %d/%d", tls, st1.Consumed, len(g2), st2.Consumed, len(g1))
		}
		// And both complete with a default node (the per-peer choice).
		for _, o := range []Options{
			like1x(Options{NodeID: "perl1", Secret: sec, TLS: tls, Rand: seeded(1)}),
			like2x(Options{NodeID: "perl2", Secret: sec, TLS: tls, Rand: seeded(2)}),
		} {
			d := mustNew(t, mustConfig(t, Options{NodeID: "go", Secret: sec, TLS: tls, Rand: seeded(3)}), ConnInfo{})
			p := mustNew(t, mustConfig(t, o), ConnInfo{})
			s := wire(t, d, p, whole, [2][]byte{}, nil)
			if !s[0].done || !s[1].done {
				t.Fatalf("%s tls %v: %v %v", o.NodeID, tls, s[0].err, s[1].err)
			}
		}
	}
}

func TestWithNodeID(t *testing.T) {
	c := mustConfig(t, Options{NodeID: "goA", Secret: []byte("s"), Rand: seeded(3)})
	d, err := c.WithNodeID("goB")
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID() != "goA" || d.NodeID() != "goB" {
		t.Fatalf("ids %q %q", c.NodeID(), d.NodeID())
	}
	if l1 := mustNew(t, d, ConnInfo{}).lg1; !strings.HasPrefix(l1, "aemp;1;goB;") {
		t.Fatalf("greeting %q", l1)
	}
	if _, err := c.WithNodeID("a;b"); err == nil {
		t.Fatal("node ID with ';' accepted")
	}
	// The copy authenticates like the original: a full handshake against
	// a node with the same secret succeeds.
	peer := mustConfig(t, Options{NodeID: "goC", Secret: []byte("s"), Rand: seeded(4)})
	sides := wire(t, mustNew(t, d, ConnInfo{}), mustNew(t, peer, ConnInfo{}), whole, [2][]byte{}, nil)
	for i, s := range sides {
		if s.err != nil || !s.done {
			t.Fatalf("side %d: done %v err %v", i, s.done, s.err)
		}
	}
	if ra, rb := sides[0].h.Result(), sides[1].h.Result(); ra.PeerNodeID != "goC" || rb.PeerNodeID != "goB" {
		t.Fatalf("results %+v %+v", ra, rb)
	}
}
