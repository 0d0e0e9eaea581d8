package handshake

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	peerG1    = "aemp;1;perlX;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;json,storable;provider=AE-1.30;peeraddr=127.0.0.1:1"
	peerG2    = "ajC0rkomFUGbIhoIybmIxsqa99foQckJKshcXl9D5BycBmT+E2FgqaEC5/C9Firh3nmGAqY/Vh2mGYLagmxq5pqt"
	tlsPeerG1 = peerG1 + ";tls=1.0"
	secret    = "geheim"
	// A 2.02 peer (capture2x-1's perlA greeting, with the keys in another
	// order).
	peer2G1    = "aemp;1;perlY;tls_sha3_512,hmac_sha3_512,tls_anon,cleartext;cbor,json,storable;gproto=1;peeraddr=127.0.0.1:37054;provider=AE-2.02;mproto=1"
	peer2G2    = "p7QkMFs+ZaeQGGGuaQWKSuJuBESdeyoIID81lo95oAB91wVwOgLQUftCVWZaJ0zMVSulwZVmIA2mZHv7PgQRp2ld"
	tlsPeer2G1 = peer2G1 + ";tls=1.0"
)

// feedAll feeds in as one chunk, then (on a fresh machine from mk) byte by
// byte, and checks both give the same error at the same place.
func feedAll(t *testing.T, mk func() *Handshake, in string) (Step, error) {
	t.Helper()
	h := mk()
	h.Start()
	st, err := h.Feed([]byte(in))
	h2 := mk()
	h2.Start()
	consumed := 0
	var err2 error
	for i := 0; i < len(in); i++ {
		st2, e := h2.Feed([]byte{in[i]})
		consumed += st2.Consumed
		if e != nil || st2.Done || st2.StartTLS != TLSNone {
			err2 = e
			break
		}
	}
	if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
		t.Fatalf("whole vs bytes: %v vs %v", err, err2)
	}
	if err != nil && !errors.Is(err, ErrLineTooLong) && consumed != st.Consumed {
		t.Fatalf("whole vs bytes consumed %d vs %d", st.Consumed, consumed)
	}
	return st, err
}

func defMachine(t *testing.T, o Options) func() *Handshake {
	if o.NodeID == "" {
		o.NodeID = "goA"
	}
	if o.Rand == nil {
		o.Rand = seeded(9)
	}
	return func() *Handshake {
		o := o
		o.Rand = seeded(9) // same nonce for both runs
		return mustNew(t, mustConfig(t, o), ConnInfo{})
	}
}

func TestRejectGreeting(t *testing.T) {
	sec := Options{Secret: []byte(secret)}
	sec1x := Options{Secret: []byte(secret), Framings: Framings1x}
	cases := []struct {
		name     string
		o        Options
		in       string
		sentinel error
		msg      string
	}{
		{"wrong word", sec, "ampe;1;x;hmac_md6_64_256;json\n", ErrProtocol, "unparsable greeting, expected 'aemp', got 'ampe'"},
		{"empty line", sec, "\n", ErrProtocol, "unparsable greeting, expected 'aemp', got ''"},
		{"auth line first", sec, "hmac_md6_64_256;5ad913855742ae5a03a5aeb7eafa4c78629de136bed6acd73eea36c9e98df44a;json\n" + peerG1 + "\n",
			ErrProtocol, "unparsable greeting, expected 'aemp', got 'hmac_md6_64_256'"},
		{"NUL bytes", sec, "\x00\x00\x00\n", ErrProtocol, "unparsable greeting, expected 'aemp', got '\x00\x00\x00'"},
		{"NUL in word", sec, "aemp\x00;1;x;hmac_md6_64_256;json\n", ErrProtocol, "unparsable greeting, expected 'aemp', got 'aemp\x00'"},
		{"lone CR is data", sec, "aemp\r;1;x;hmac_md6_64_256;json\n", ErrProtocol, "unparsable greeting, expected 'aemp', got 'aemp\r'"},
		{"unknown upgrade", sec, "aemp-foo;1;x;hmac_md6_64_256;json\n", ErrUnknownProtocol, "unsupported protocol 'aemp-foo'"},
		{"bad upgrade word", sec, "aemp-f-o;1;x;hmac_md6_64_256;json\n", ErrProtocol, "unparsable greeting, expected 'aemp', got 'aemp-f-o'"},
		{"version 2", sec, "aemp;2;x;hmac_md6_64_256;json\n", ErrVersion, "version mismatch (we: 1, they: 2)"},
		{"version 0", sec, "aemp;0;x;hmac_md6_64_256;json\n", ErrVersion, "version mismatch (we: 1, they: 0)"},
		{"version word", sec, "aemp;one;x;hmac_md6_64_256;json\n", ErrVersion, "version mismatch (we: 1, they: one)"},
		{"version hex", sec, "aemp;0x1;x;hmac_md6_64_256;json\n", ErrVersion, "version mismatch (we: 1, they: 0x1)"},
		{"version missing", sec, "aemp\n", ErrVersion, "version mismatch (we: 1, they: )"},
		{"version 1.5", sec, "aemp;1.5;x;hmac_md6_64_256;json\n", ErrVersion, "version mismatch (we: 1, they: 1.5)"},
		{"no node id", sec, "aemp;1;;hmac_md6_64_256;json\n", ErrProtocol, "unparsable greeting, empty node ID"},
		{"self", sec, "aemp;1;goA;hmac_md6_64_256;json\n", ErrSelf, "I refuse to talk to myself"},
		{"already connected", Options{Secret: []byte(secret), AlreadyConnected: func(id string) bool { return id == "perlX" }},
			peerG1 + "\n", ErrAlreadyConnected, "perlX already connected, not connecting again."},
		{"no common auth", sec, "aemp;1;x;foo,,bar,;json\nnonce\n", ErrNoCommonAuth, "foo,,bar,: no common auth type supported"},
		{"no auth list", sec, "aemp;1;x\nnonce\n", ErrNoCommonAuth, ": no common auth type supported"},
		{"tls auth without tls", sec, "aemp;1;x;tls_md6_64_256,tls_anon;json;tls=1.0\nnonce\n", ErrNoCommonAuth,
			"tls_md6_64_256,tls_anon: no common auth type supported"},
		{"tls auth, peer without tls", Options{TLS: true}, "aemp;1;x;tls_md6_64_256;json\nnonce\n", ErrNoCommonAuth,
			"tls_md6_64_256: no common auth type supported"},
		{"cleartext never chosen", sec, "aemp;1;x;cleartext;json\nnonce\n", ErrNoCommonAuth, "cleartext: no common auth type supported"},
		{"no common framing", sec1x, "aemp;1;x;hmac_md6_64_256;cbor,JSON\nnonce\n", ErrNoCommonFraming, "cbor,JSON: no common framing method supported"},
		{"no framing list", sec, "aemp;1;x;hmac_md6_64_256\nnonce\n", ErrNoCommonFraming, ": no common framing method supported"},
		{"no secret", Options{}, peerG1 + "\n" + peerG2 + "\n", ErrNoSecret, "unable to handshake TLS and no shared secret configured"},
		{"no secret, tls only on our side", Options{TLS: true}, peerG1 + "\n" + peerG2 + "\n", ErrNoSecret,
			"unable to handshake TLS and no shared secret configured"},
		{"hmac selected under tls", Options{TLS: true, Secret: []byte(secret)},
			"aemp;1;x;hmac_md6_64_256,tls_md6_64_256;json;tls=1.0\nnonce\n", ErrUnsupportedAuth,
			"hmac_md6_64_256: fatal, selected unsupported snd auth method"},
		{"tls=2 is no tls", Options{TLS: true}, "aemp;1;x;tls_md6_64_256;json;tls=2.0\nnonce\n", ErrNoCommonAuth,
			"tls_md6_64_256: no common auth type supported"},
		{"tls without value", Options{TLS: true}, "aemp;1;x;tls_md6_64_256;json;tls\nnonce\n", ErrNoCommonAuth,
			"tls_md6_64_256: no common auth type supported"},
		{"tls last value wins", Options{TLS: true}, "aemp;1;x;tls_md6_64_256;json;tls=1.0;tls=0\nnonce\n", ErrNoCommonAuth,
			"tls_md6_64_256: no common auth type supported"},
		// 2.x greetings.
		{"tls_sha3 without tls", sec, "aemp;1;x;tls_sha3_512,tls_anon;json;tls=1.0;mproto=1\nnonce\n", ErrNoCommonAuth,
			"tls_sha3_512,tls_anon: no common auth type supported"},
		{"tls_sha3, peer without tls", Options{TLS: true}, "aemp;1;x;tls_sha3_512;json\nnonce\n", ErrNoCommonAuth,
			"tls_sha3_512: no common auth type supported"},
		{"hmac_sha3 selected under tls", Options{TLS: true, Secret: []byte(secret)},
			"aemp;1;x;hmac_sha3_512,tls_sha3_512;json;tls=1.0\nnonce\n", ErrUnsupportedAuth,
			"hmac_sha3_512: fatal, selected unsupported snd auth method"},
		{"no secret, 2.x peer", Options{}, peer2G1 + "\n" + peer2G2 + "\n", ErrNoSecret,
			"unable to handshake TLS and no shared secret configured"},
		{"2.x lists meet 1.30", Options{Secret: []byte(secret), AuthOffer: AuthOffer2x, AuthAccept: AuthAccept2x},
			peerG1 + "\n" + peerG2 + "\n", ErrNoCommonAuth, "tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext: no common auth type supported"},
		{"1.x lists meet 2.02", Options{Secret: []byte(secret), AuthOffer: AuthOffer1x, AuthAccept: AuthAccept1x},
			peer2G1 + "\n" + peer2G2 + "\n", ErrNoCommonAuth, "tls_sha3_512,hmac_sha3_512,tls_anon,cleartext: no common auth type supported"},
		{"2.x version 2", sec, "aemp;2;x;hmac_sha3_512;cbor,json;provider=AE-2.02\n", ErrVersion, "version mismatch (we: 1, they: 2)"},
		{"2.x no common framing", sec1x, "aemp;1;x;hmac_sha3_512;cbor;mproto=1\nnonce\n", ErrNoCommonFraming, "cbor: no common framing method supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := feedAll(t, defMachine(t, c.o), c.in)
			expectErr(t, err, c.sentinel, c.msg)
		})
	}
}

// TestAcceptedGreetingVariants: what Perl lets through must pass too.
func TestAcceptedGreetingVariants(t *testing.T) {
	for _, g1 := range []string{
		"aemp;1.0;x;hmac_md6_64_256;json",
		"aemp; 1;x;hmac_md6_64_256;json",
		"aemp;1e0;x;hmac_md6_64_256;json",
		"aemp;+1;x;hmac_md6_64_256;json",
		"aemp;01abc;x;hmac_md6_64_256;json",
		"aemp;1;x;,foo,hmac_md6_64_256,;,cbor,json;;=ignored;novalue;a=b=c",
		"aemp;1;x\x00y;hmac_md6_64_256;json", // NUL is data
	} {
		h := mustNew(t, mustConfig(t, Options{NodeID: "goA", Secret: []byte(secret), Rand: seeded(1)}), ConnInfo{})
		h.Start()
		st, err := h.Feed([]byte(g1 + "\nnonce\n"))
		if err != nil || st.Out == nil {
			t.Fatalf("%q: %v", g1, err)
		}
	}
	// tls=1.9 / " 1" count as 1 (Perl: 1 == int VALUE).
	for _, v := range []string{"1.0", "1", "1.9", " 1", "1abc"} {
		h := mustNew(t, mustConfig(t, Options{NodeID: "goA", TLS: true, Rand: seeded(1)}), ConnInfo{})
		h.Start()
		st, err := h.Feed([]byte("aemp;1;x;tls_md6_64_256;json;tls=" + v + "\nnonce\n"))
		if err != nil || st.StartTLS == TLSNone {
			t.Fatalf("tls=%q: %+v %v", v, st, err)
		}
	}
}

func TestEcho(t *testing.T) {
	// Identical nonce, different greeting 1: refused (stricter than Perl).
	mk := defMachine(t, Options{Secret: []byte(secret)})
	h := mk()
	_, err := feedAll(t, mk, peerG1+"\n"+h.lg2+"\n")
	expectErr(t, err, ErrEcho, "authentication error, echo attack?")

	// A full echo of a plain connection hits the self check first.
	h = mk()
	_, err = feedAll(t, mk, string(h.Start()))
	expectErr(t, err, ErrSelf, "I refuse to talk to myself")

	// A full echo of a sub-protocol connection (no node checks): echo.
	mk2 := func() *Handshake {
		c := mustConfig(t, Options{NodeID: "goA", Secret: []byte(secret), Protocols: []string{"aemp-dataconn"}, Rand: seeded(9)})
		return mustNew(t, c, ConnInfo{Protocol: "aemp-dataconn"})
	}
	h = mk2()
	_, err = feedAll(t, mk2, string(h.Start()))
	expectErr(t, err, ErrEcho, "authentication error, echo attack?")
}

// peerAuth returns the genuine hmac auth line of the peer (peerG1, peerG2)
// talking to h.
func peerAuth(h *Handshake, method, framing string) string {
	keys := newSecretKeys([]byte(secret))
	tok := computeToken(lookupAuth(method), &keys, peerG1, peerG2, h.lg1, h.lg2)
	return method + ";" + string(tok) + ";" + framing
}

func TestRejectAuthLine(t *testing.T) {
	mk := defMachine(t, Options{Secret: []byte(secret)})
	genuine := peerAuth(mk(), AuthHMACMD6, "json")
	tokOf := func(l string) string { tok, _, _ := cut3(l); return tok }
	jsonOnly := Options{Secret: []byte(secret), Framings: []string{"json"}}
	flip := []byte(genuine)
	flip[20] ^= 1
	cases := []struct {
		name     string
		o        *Options
		line     string
		sentinel error
		msg      string
	}{
		{"unknown method", nil, "foo;abc;json", ErrUnsupportedAuth, "foo: fatal, selected unsupported rcv auth method"},
		{"empty line", nil, "", ErrUnsupportedAuth, ": fatal, selected unsupported rcv auth method"},
		{"2.x method, 1.x lists", &Options{Secret: []byte(secret), AuthOffer: AuthOffer1x, AuthAccept: AuthAccept1x},
			"hmac_sha3_512;00;json", ErrUnsupportedAuth, "hmac_sha3_512: fatal, selected unsupported rcv auth method"},
		{"2.x method, bad token", nil, "hmac_sha3_512;00;json", ErrAuthFailed, "authentication failure/shared secret mismatch"},
		{"not in AuthAccept", &Options{Secret: []byte(secret), AuthAccept: []string{AuthHMACMD6}},
			"cleartext;67656865696d;json", ErrUnsupportedAuth, "cleartext: fatal, selected unsupported rcv auth method"},
		{"wrong token", nil, string(flip), ErrAuthFailed, "authentication failure/shared secret mismatch"},
		{"uppercase token", nil, AuthHMACMD6 + ";" + strings.ToUpper(tokOf(genuine)) + ";json", ErrAuthFailed, ""},
		{"truncated token", nil, genuine[:len(genuine)-6] + ";json", ErrAuthFailed, ""},
		{"empty token", nil, "hmac_md6_64_256;;json", ErrAuthFailed, ""},
		{"token only", nil, "hmac_md6_64_256", ErrAuthFailed, ""},
		{"wrong cleartext", nil, "cleartext;67656865696e;json", ErrAuthFailed, ""},
		{"tls_anon without tls", nil, "tls_anon;;json", ErrAuthFailed, ""},
		{"tls_md6 without tls", nil, peerAuth(mk(), AuthTLSMD6, "json"), ErrAuthFailed, ""},
		{"unusable framing", nil, tokFraming(genuine, "msgpack"), ErrFraming, "msgpack: unusable remote framing"},
		{"missing framing", nil, tokFraming(genuine, ""), ErrFraming, ": unusable remote framing"},
		{"framing not ours", &jsonOnly, peerAuth(defMachine(t, jsonOnly)(), AuthHMACMD6, "storable"),
			ErrFraming, "storable: unusable remote framing"},
	}
	const data = "[\"\",\"AnyEvent::MP::_spawn\"]\nhmac_md6_64_256;x;json\n"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mk
			if c.o != nil {
				m = defMachine(t, *c.o)
			}
			in := peerG1 + "\n" + peerG2 + "\n" + c.line + "\n" + data
			st, err := feedAll(t, m, in)
			expectErr(t, err, c.sentinel, c.msg)
			if st.Consumed != len(in)-len(data) {
				t.Fatalf("consumed %d, want %d (pipelined data must stay)", st.Consumed, len(in)-len(data))
			}
			var he *Error
			errors.As(err, &he)
			if he.Phase != PhaseAuth {
				t.Fatalf("phase %v", he.Phase)
			}
		})
	}
	// The genuine line passes (sanity check of the helpers above), also with
	// extra fields after the third.
	for _, l := range []string{genuine, genuine + ";extra=1;x"} {
		st, err := feedAll(t, mk, peerG1+"\n"+peerG2+"\n"+l+"\n"+data)
		if err != nil || !st.Done {
			t.Fatalf("genuine %q: %v", l, err)
		}
	}
}

// authFrom returns the auth line a peer that sent g1, g2 sends to h with
// method, given its secret.
func authFrom(h *Handshake, g1, g2, sec, method, framing string) string {
	keys := newSecretKeys([]byte(sec))
	return method + ";" + string(computeToken(lookupAuth(method), &keys, g1, g2, h.lg1, h.lg2)) + ";" + framing
}

// TestRejectAuthLineSHA3: the 2.x methods' auth lines from a 2.02 peer.
func TestRejectAuthLineSHA3(t *testing.T) {
	mk := defMachine(t, Options{Secret: []byte(secret)})
	genuine := authFrom(mk(), peer2G1, peer2G2, secret, AuthHMACSHA3, "json")
	tok, _, _ := cut3(genuine)
	flip := []byte(genuine)
	flip[30] ^= 1
	md6Tok, _, _ := cut3(authFrom(mk(), peer2G1, peer2G2, secret, AuthHMACMD6, "json"))
	// Our own token reflected back (own lines first instead of the peer's).
	keys := newSecretKeys([]byte(secret))
	h := mk()
	reflected := AuthHMACSHA3 + ";" + string(computeToken(lookupAuth(AuthHMACSHA3), &keys, h.lg1, h.lg2, peer2G1, peer2G2)) + ";json"
	only2x := Options{Secret: []byte(secret), AuthOffer: AuthOffer2x, AuthAccept: AuthAccept2x}
	accept1x := Options{Secret: []byte(secret), AuthAccept: AuthAccept1x} // default offer: we send SHA3
	framings1x := Options{Secret: []byte(secret), Framings: Framings1x}
	long := strings.Repeat("L", 100)
	longCfg := Options{Secret: []byte(long)}
	cases := []struct {
		name     string
		o        *Options
		line     string
		sentinel error
		msg      string
	}{
		{"wrong secret", nil, authFrom(mk(), peer2G1, peer2G2, secret+"!", AuthHMACSHA3, "json"), ErrAuthFailed,
			"authentication failure/shared secret mismatch"},
		{"flipped bit", nil, string(flip), ErrAuthFailed, ""},
		{"uppercase token", nil, AuthHMACSHA3 + ";" + strings.ToUpper(tok) + ";json", ErrAuthFailed, ""},
		{"truncated token", nil, AuthHMACSHA3 + ";" + tok[:64] + ";json", ErrAuthFailed, ""},
		{"empty token", nil, "hmac_sha3_512;;json", ErrAuthFailed, ""},
		{"method only", nil, "hmac_sha3_512", ErrAuthFailed, ""},
		{"md6 token as sha3", nil, AuthHMACSHA3 + ";" + md6Tok + ";json", ErrAuthFailed, ""},
		{"sha3 token as md6", nil, AuthHMACMD6 + ";" + tok + ";json", ErrAuthFailed, ""},
		{"reflected own token", nil, reflected, ErrAuthFailed, ""},
		{"tls_sha3 without tls", nil, authFrom(mk(), peer2G1, peer2G2, secret, AuthTLSSHA3, "json"), ErrAuthFailed, ""},
		{"long secret, short key", &longCfg, authFrom(defMachine(t, longCfg)(), peer2G1, peer2G2, long[:72], AuthHMACSHA3, "json"), ErrAuthFailed, ""},
		{"md6 to 2.x lists", &only2x, authFrom(defMachine(t, only2x)(), peer2G1, peer2G2, secret, AuthHMACMD6, "json"),
			ErrUnsupportedAuth, "hmac_md6_64_256: fatal, selected unsupported rcv auth method"},
		{"sha3 to 1.x accept list", &accept1x, genuine, ErrUnsupportedAuth, "hmac_sha3_512: fatal, selected unsupported rcv auth method"},
		{"tls_sha3 to 1.x accept list", &accept1x, "tls_sha3_512;;json", ErrUnsupportedAuth, "tls_sha3_512: fatal, selected unsupported rcv auth method"},
		{"cbor not ours", &framings1x, tokFraming(authFrom(defMachine(t, framings1x)(), peer2G1, peer2G2, secret, AuthHMACSHA3, "json"), "cbor"),
			ErrFraming, "cbor: unusable remote framing"},
	}
	const data = "\x82\x40\x48g_global"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mk
			if c.o != nil {
				m = defMachine(t, *c.o)
			}
			in := peer2G1 + "\n" + peer2G2 + "\n" + c.line + "\n" + data
			st, err := feedAll(t, m, in)
			expectErr(t, err, c.sentinel, c.msg)
			if st.Consumed != len(in)-len(data) {
				t.Fatalf("consumed %d, want %d", st.Consumed, len(in)-len(data))
			}
		})
	}
	// The genuine lines pass: default and 2.x lists, extra fields, the long
	// secret (hashed to the key by the HMAC rule), cleartext.
	for _, c := range []struct {
		o    Options
		line func(h *Handshake) string
		gen  int
	}{
		{Options{Secret: []byte(secret)}, func(*Handshake) string { return genuine }, Gen2},
		{Options{Secret: []byte(secret)}, func(*Handshake) string { return genuine + ";x=y;z" }, Gen2},
		{only2x, func(h *Handshake) string { return authFrom(h, peer2G1, peer2G2, secret, AuthHMACSHA3, "json") }, Gen2},
		{longCfg, func(h *Handshake) string { return authFrom(h, peer2G1, peer2G2, long, AuthHMACSHA3, "storable") }, Gen2},
		{only2x, func(*Handshake) string { return "cleartext;67656865696d;json" }, Gen2},
	} {
		m := defMachine(t, c.o)
		st, err := feedAll(t, m, peer2G1+"\n"+peer2G2+"\n"+c.line(m())+"\n"+data)
		if err != nil || !st.Done {
			t.Fatalf("genuine %q: %v", c.line(m()), err)
		}
		h := m()
		h.Start()
		h.Feed([]byte(peer2G1 + "\n" + peer2G2 + "\n" + c.line(h) + "\n"))
		if r := h.Result(); r == nil || r.Generation != c.gen || r.PeerNodeID != "perlY" {
			t.Fatalf("result %+v", r)
		}
	}
}

// TestSHA3InsideTLS: tls_sha3_512 and hmac_sha3_512 inside TLS.
func TestSHA3InsideTLS(t *testing.T) {
	start := func(o Options) *Handshake {
		o.NodeID, o.TLS, o.Rand = "goA", true, seeded(1)
		h := mustNew(t, mustConfig(t, o), ConnInfo{})
		h.Start()
		st, err := h.Feed([]byte(tlsPeer2G1 + "\n" + peer2G2 + "\n"))
		if err != nil || st.StartTLS == TLSNone {
			t.Fatalf("%+v %v", st, err)
		}
		out, err := h.TLSUp()
		if err != nil || !bytes.HasPrefix(out, []byte("tls_sha3_512;")) {
			t.Fatalf("TLSUp %q %v", out, err)
		}
		keys := newSecretKeys(nil)
		want := "tls_sha3_512;" + string(computeToken(lookupAuth(AuthTLSSHA3), &keys, h.lg1, h.lg2, tlsPeer2G1, peer2G2)) + ";cbor\n"
		if string(out) != want {
			t.Fatalf("TLSUp %q, want %q", out, want)
		}
		return h
	}
	for _, c := range []struct {
		name string
		o    Options
		line func(h *Handshake) string
		err  error
	}{
		{"tls_sha3", Options{}, func(h *Handshake) string { return authFrom(h, tlsPeer2G1, peer2G2, "", AuthTLSSHA3, "json") }, nil},
		{"tls_sha3 reflected", Options{}, func(h *Handshake) string {
			keys := newSecretKeys(nil)
			return "tls_sha3_512;" + string(computeToken(lookupAuth(AuthTLSSHA3), &keys, h.lg1, h.lg2, tlsPeer2G1, peer2G2)) + ";json"
		}, ErrAuthFailed},
		{"tls_sha3 other greeting", Options{}, func(h *Handshake) string { return authFrom(h, peer2G1, peer2G2, "", AuthTLSSHA3, "json") }, ErrAuthFailed},
		{"hmac_sha3 with secret", Options{Secret: []byte(secret)}, func(h *Handshake) string {
			return authFrom(h, tlsPeer2G1, peer2G2, secret, AuthHMACSHA3, "json")
		}, nil},
		{"hmac_sha3 without secret", Options{}, func(h *Handshake) string {
			return authFrom(h, tlsPeer2G1, peer2G2, secret, AuthHMACSHA3, "json")
		}, ErrAuthFailed},
		{"hmac_sha3 empty token without secret", Options{}, func(*Handshake) string { return "hmac_sha3_512;;json" }, ErrAuthFailed},
		{"hmac_sha3 wrong secret", Options{Secret: []byte(secret)}, func(h *Handshake) string {
			return authFrom(h, tlsPeer2G1, peer2G2, "other", AuthHMACSHA3, "json")
		}, ErrAuthFailed},
	} {
		h := start(c.o)
		st, err := h.Feed([]byte(c.line(h) + "\n"))
		if c.err != nil {
			expectErr(t, err, c.err, "authentication failure/shared secret mismatch")
			continue
		}
		if err != nil || !st.Done || h.Result().TLS == TLSNone || h.Result().Generation != Gen2 {
			t.Fatalf("%s: %+v %v %+v", c.name, st, err, h.Result())
		}
	}
}

func tokFraming(line, framing string) string {
	tok, _, m := cut3(line)
	return m + ";" + tok + ";" + framing
}

// TestNoSecretPeerAuth: with TLS but no secret, tokens that need the secret
// are refused (Perl would accept "cleartext;;" here).
func TestNoSecretPeerAuth(t *testing.T) {
	for _, line := range []string{"cleartext;;json", "cleartext", "hmac_md6_64_256;;json"} {
		h := mustNew(t, mustConfig(t, Options{NodeID: "goA", TLS: true, Rand: seeded(1)}), ConnInfo{})
		h.Start()
		st, err := h.Feed([]byte(tlsPeerG1 + "\n" + peerG2 + "\n"))
		if err != nil || st.StartTLS == TLSNone {
			t.Fatalf("%+v %v", st, err)
		}
		if _, err := h.TLSUp(); err != nil {
			t.Fatal(err)
		}
		_, err = h.Feed([]byte(line + "\n"))
		expectErr(t, err, ErrAuthFailed, "authentication failure/shared secret mismatch")
	}
	// tls_anon inside TLS: accepted, untrusted; token must be empty.
	for _, c := range []struct {
		line string
		ok   bool
	}{{"tls_anon;;json", true}, {"tls_anon", false}, {"tls_anon;x;json", false}} {
		h := mustNew(t, mustConfig(t, Options{NodeID: "goA", TLS: true, Rand: seeded(1)}), ConnInfo{})
		h.Start()
		h.Feed([]byte(tlsPeerG1 + "\n" + peerG2 + "\n"))
		h.TLSUp()
		st, err := h.Feed([]byte(c.line + "\n"))
		if c.ok != (err == nil) {
			t.Fatalf("%q: %v", c.line, err)
		}
		if c.ok && (!st.Done || h.Result().Trusted) {
			t.Fatalf("%q: %+v %+v", c.line, st, h.Result())
		}
	}
	// "tls_anon" without token or framing: the framing check catches it.
	h := mustNew(t, mustConfig(t, Options{NodeID: "goA", TLS: true, Rand: seeded(1)}), ConnInfo{})
	h.Start()
	h.Feed([]byte(tlsPeerG1 + "\n" + peerG2 + "\n"))
	h.TLSUp()
	_, err := h.Feed([]byte("tls_anon\n"))
	expectErr(t, err, ErrFraming, ": unusable remote framing")
}

// TestHMACInsideTLS: with TLS and a secret, a genuine hmac token is checked
// with the secret.
func TestHMACInsideTLS(t *testing.T) {
	h := mustNew(t, mustConfig(t, Options{NodeID: "goA", TLS: true, Secret: []byte(secret), Rand: seeded(1)}), ConnInfo{})
	h.Start()
	h.Feed([]byte(tlsPeerG1 + "\n" + peerG2 + "\n"))
	h.TLSUp()
	keys := newSecretKeys([]byte(secret))
	tok := computeToken(lookupAuth(AuthHMACMD6), &keys, tlsPeerG1, peerG2, h.lg1, h.lg2)
	st, err := h.Feed([]byte("hmac_md6_64_256;" + string(tok) + ";json\n"))
	if err != nil || !st.Done || h.Result().TLS == TLSNone {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestLineTooLong(t *testing.T) {
	mk := defMachine(t, Options{Secret: []byte(secret)})
	pad := func(l string, total int, end string) string {
		// l + ";p=xxx" padded so that the line with its end is total bytes.
		n := total - len(l) - len(";p=") - len(end)
		return l + ";p=" + strings.Repeat("x", n) + end
	}
	// Exactly 4096 bytes with LF, and with CR LF: accepted.
	for _, end := range []string{"\n", "\r\n"} {
		g := pad(peerG1, MaxLine, end)
		if len(g) != MaxLine {
			t.Fatal(len(g))
		}
		st, err := feedAll(t, mk, g+peerG2+"\n")
		if err != nil || st.Out == nil {
			t.Fatalf("4096 bytes (%q): %v", end, err)
		}
	}
	// 4097 bytes: refused, whole and split (feedAll checks both).
	for _, end := range []string{"\n", "\r\n"} {
		_, err := feedAll(t, mk, pad(peerG1, MaxLine+1, end)+peerG2+"\n")
		expectErr(t, err, ErrLineTooLong, "greeting line too long (over 4096 bytes)")
	}
	// No LF at all: refused as soon as 4096 bytes are there.
	h := mk()
	h.Start()
	st, err := h.Feed(bytes.Repeat([]byte("a"), MaxLine-1))
	if err != nil || st.Consumed != MaxLine-1 {
		t.Fatalf("%+v %v", st, err)
	}
	_, err = h.Feed([]byte("a"))
	expectErr(t, err, ErrLineTooLong, "greeting line too long (over 4096 bytes)")
	if _, err2 := h.Feed([]byte("\n")); err2 != err {
		t.Fatal("error not sticky")
	}
	// Nonce line and auth line.
	_, err = feedAll(t, mk, peerG1+"\n"+strings.Repeat("n", MaxLine)+"\n")
	expectErr(t, err, ErrLineTooLong, "nonce line too long (over 4096 bytes)")
	h = mk()
	long := pad(peerAuth(h, AuthHMACMD6, "json"), MaxLine+1, "\n")
	_, err = feedAll(t, mk, peerG1+"\n"+peerG2+"\n"+long)
	expectErr(t, err, ErrLineTooLong, "auth line too long (over 4096 bytes)")
	// The auth line at exactly 4096 bytes (extra fields are ignored): fine.
	ok := pad(peerAuth(h, AuthHMACMD6, "json"), MaxLine, "\n")
	if st, err := feedAll(t, mk, peerG1+"\n"+peerG2+"\n"+ok); err != nil || !st.Done {
		t.Fatalf("4096-byte auth line: %v", err)
	}
}

func TestStateErrors(t *testing.T) {
	h := mustNew(t, mustConfig(t, Options{NodeID: "a", Secret: []byte("s")}), ConnInfo{})
	if _, err := h.Feed([]byte("x")); !errors.Is(err, ErrState) {
		t.Fatalf("Feed before Start: %v", err)
	}
	if _, err := h.TLSUp(); !errors.Is(err, ErrState) {
		t.Fatalf("TLSUp: %v", err)
	}
	h.Start()
	if st, err := h.Feed(nil); err != nil || st.Consumed != 0 {
		t.Fatalf("empty feed: %+v %v", st, err)
	}
	if h.Result() != nil || h.Err() != nil {
		t.Fatal("result/err before end")
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestConfigErrors(t *testing.T) {
	bad := []Options{
		{},
		{NodeID: "a;b"},
		{NodeID: "a#b"},
		{NodeID: "a\nb"},
		{NodeID: "a\rb"},
		{NodeID: "a", AuthOffer: []string{}},
		{NodeID: "a", AuthOffer: []string{AuthClear}},
		{NodeID: "a", AuthOffer: []string{"hmac_sha3_256"}},
		{NodeID: "a", AuthAccept: []string{AuthHMACSHA3, "hmac_sha3_384"}},
		{NodeID: "a", Extra: []KV{{Key: "mproto", Value: "1;x"}}},
		{NodeID: "a", AuthAccept: []string{"nope"}},
		{NodeID: "a", AuthAccept: []string{}},
		{NodeID: "a", Framings: []string{}},
		{NodeID: "a", Framings: []string{""}},
		{NodeID: "a", Framings: []string{"js,on"}},
		{NodeID: "a", Framings: []string{"js;on"}},
		{NodeID: "a", Provider: "x;y"},
		{NodeID: "a", Extra: []KV{{Key: "tls", Value: "1.0"}}},
		{NodeID: "a", Extra: []KV{{Key: "k=", Value: "v"}}},
		{NodeID: "a", Extra: []KV{{Key: "", Value: "v"}}},
		{NodeID: "a", Extra: []KV{{Key: "k", Value: "v\n"}}},
		{NodeID: "a", Protocols: []string{"dataconn"}},
	}
	for _, o := range bad {
		if _, err := NewConfig(o); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	c := mustConfig(t, Options{NodeID: "a%b c", Secret: []byte("s")})
	if c.NodeID() != "a%b c" || !c.HasSecret() || c.TLS() || c.Timeout() != DefaultTimeout || !slices.Equal(c.Framings(), DefaultFramings) {
		t.Fatal("getters")
	}
	for _, ci := range []ConnInfo{{PeerAddr: "a;b"}, {Protocol: "aemp-dataconn"}, {Extra: []KV{{Key: "peeraddr"}}}} {
		if _, err := New(c, ci); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", ci, err)
		}
	}
	if _, err := New(mustConfig(t, Options{NodeID: "a", Rand: failReader{}}), ConnInfo{}); !errors.Is(err, ErrConfig) {
		t.Errorf("rand failure: %v", err)
	}
	if _, err := New(mustConfig(t, Options{NodeID: strings.Repeat("n", MaxLine)}), ConnInfo{}); !errors.Is(err, ErrConfig) {
		t.Errorf("long greeting: %v", err)
	}
}

func TestStrings(t *testing.T) {
	for p, want := range map[Phase]string{PhaseSetup: "setup", PhaseGreeting: "greeting", PhaseNonce: "nonce", PhaseAuth: "auth", 9: "unknown"} {
		if p.String() != want {
			t.Errorf("%d: %s", p, p)
		}
	}
	for r, want := range map[TLSRole]string{TLSNone: "none", TLSClient: "client", TLSServer: "server", 9: "invalid"} {
		if r.String() != want {
			t.Errorf("%d: %s", r, r)
		}
	}
	h := mustNew(t, mustConfig(t, Options{NodeID: "a", Secret: []byte("s")}), ConnInfo{})
	h.Start()
	_, err := h.Feed([]byte("x\n"))
	if err == nil || h.Err() != err {
		t.Fatalf("Err() %v vs %v", h.Err(), err)
	}
}
