package handshake

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const (
	peerG1    = "aemp;1;perlX;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;json,storable;provider=AE-1.30;peeraddr=127.0.0.1:1"
	peerG2    = "ajC0rkomFUGbIhoIybmIxsqa99foQckJKshcXl9D5BycBmT+E2FgqaEC5/C9Firh3nmGAqY/Vh2mGYLagmxq5pqt"
	tlsPeerG1 = peerG1 + ";tls=1.0"
	secret    = "geheim"
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
		{"no common framing", sec, "aemp;1;x;hmac_md6_64_256;cbor,JSON\nnonce\n", ErrNoCommonFraming, "cbor,JSON: no common framing method supported"},
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
		{"2.x method", nil, "hmac_sha3_512;00;json", ErrUnsupportedAuth, "hmac_sha3_512: fatal, selected unsupported rcv auth method"},
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
		{"unusable framing", nil, tokFraming(genuine, "cbor"), ErrFraming, "cbor: unusable remote framing"},
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
		{NodeID: "a", AuthOffer: []string{"hmac_sha3_512"}},
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
	if c.NodeID() != "a%b c" || !c.HasSecret() || c.TLS() || c.Timeout() != DefaultTimeout || len(c.Framings()) != 2 {
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
