package handshake

import (
	"reflect"
	"testing"
)

func TestPerlSplit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{";;;", nil},
		{"a", []string{"a"}},
		{"a;b;;", []string{"a", "b"}},
		{"a;;b", []string{"a", "", "b"}},
		{";a", []string{"", "a"}},
		{";;a;", []string{"", "", "a"}},
	} {
		if got := perlSplit(c.in, ';'); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPerlNum(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"1", 1}, {"1.0", 1}, {" \t\n1", 1}, {"1 ", 1}, {"+1", 1}, {"01", 1}, {"1e0", 1}, {"10e-1", 1},
		{"1e", 1}, {"1e+", 1}, {"1.", 1}, {".5", 0.5}, {"1abc", 1}, {"1_000", 1}, {"-1", -1},
		{"", 0}, {"abc", 0}, {".", 0}, {"+", 0}, {"0x1", 0}, {"inf", 0}, {"e1", 0}, {"\x001", 0},
		{"1.0000000000000001", 1}, {"2", 2}, {"1.5", 1.5},
	} {
		if got := perlNum(c.in); got != c.want {
			t.Errorf("perlNum(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	if v := perlNum("1e999"); v <= 1e308 {
		t.Errorf("overflow: %v", v)
	}
}

func TestParseGreeting(t *testing.T) {
	g := ParseGreeting("aemp;1;n;a,,b,;j,s;k=v;;=x;flag;k=w;e=;x=a=b")
	want := Greeting{
		Protocol: "aemp", Version: "1", NodeID: "n",
		Auths: []string{"a", "", "b"}, Framings: []string{"j", "s"},
		Pairs: []KV{{Key: "k", Value: "v"}, {Key: "flag", NoValue: true}, {Key: "k", Value: "w"}, {Key: "e"}, {Key: "x", Value: "a=b"}},
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got  %#v\nwant %#v", g, want)
	}
	m := g.Map()
	if m["k"] != "w" || m["flag"] != "" || m["x"] != "a=b" || len(m) != 4 {
		t.Fatalf("map %v", m)
	}
	if v, ok := g.Value("k"); !ok || v != "w" {
		t.Fatal("Value")
	}
	if _, ok := g.Value("nope"); ok {
		t.Fatal("Value nope")
	}
	if s := g.String(); s != "aemp;1;n;a,,b;j,s;k=v;flag;k=w;e=;x=a=b" {
		t.Fatalf("String %q", s)
	}
	if g := ParseGreeting(""); !reflect.DeepEqual(g, Greeting{}) {
		t.Fatalf("empty: %#v", g)
	}
	// Perl's %3b / %25 are not unescaped.
	if g := ParseGreeting("aemp;1;a%3bb;x;y;k=%25"); g.NodeID != "a%3bb" || g.Pairs[0].Value != "%25" {
		t.Fatalf("escapes: %#v", g)
	}
}

func TestIsUpgradeWord(t *testing.T) {
	for s, want := range map[string]bool{
		"aemp-dataconn": true, "aemp-x_1": true, "aemp-": false, "aemp": false,
		"aemp-a-b": false, "aemp-\xe9": false, "xaemp-a": false, "aemp-a ": false,
	} {
		if isUpgradeWord(s) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
}

func TestGenerationOf(t *testing.T) {
	const (
		perl1 = "aemp;1;p;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;json,storable;peeraddr=127.0.0.1:1;provider=AE-1.30"
		perl2 = "aemp;1;p;tls_sha3_512,hmac_sha3_512,tls_anon,cleartext;cbor,json,storable;provider=AE-2.02;mproto=1;gproto=1"
		goNew = "aemp;1;g;tls_sha3_512,hmac_sha3_512,tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;json;provider=aemp-go;mproto=1;gproto=1"
		goOld = "aemp;1;g;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;json,storable;provider=aemp-go"
	)
	for _, c := range []struct {
		g1, auth string
		want     int
	}{
		// Rule 1: the method decides, whatever the greeting says.
		{perl1, AuthHMACMD6, Gen1}, {perl1, AuthTLSMD6, Gen1},
		{perl2, AuthHMACSHA3, Gen2}, {perl2, AuthTLSSHA3, Gen2},
		{goNew, AuthHMACMD6, Gen1}, {goNew, AuthHMACSHA3, Gen2},
		{goOld, AuthHMACSHA3, Gen2}, {perl2, AuthHMACMD6, Gen1},
		// Rule 2: Perl's provider.
		{perl1, AuthTLSAnon, Gen1}, {perl2, AuthTLSAnon, Gen2}, {perl1, AuthClear, Gen1}, {perl2, "", Gen2},
		{"aemp;1;p;x;json;provider=AE-2.01;mproto=1", "", Gen2},
		{"aemp;1;p;x;json;provider=AE-0.8;mproto=1", "", Gen1}, // provider beats mproto
		{"aemp;1;p;tls_sha3_512;json;provider=AE-1.2", AuthTLSAnon, Gen1},
		{"aemp;1;p;x;json;provider=AE-3", "", Gen2},
		// Rule 3: 2.x keys or a SHA3-only auth list.
		{goNew, AuthTLSAnon, Gen2}, {goNew, AuthClear, Gen2},
		{"aemp;1;p;x;json;gproto", "", Gen2},
		{"aemp;1;s;hmac_sha3_512;json", AuthClear, Gen2}, // docs/protocol.md 3.4's minimal client
		{"aemp;1;s;hmac_sha3_512,hmac_md6_64_256;json", AuthClear, Gen1},
		// Rule 4.
		{goOld, AuthTLSAnon, Gen1}, {"aemp;1;s;hmac_md6_64_256;json", AuthClear, Gen1}, {"", "", Gen1},
		{"aemp;1;p;x;json;provider=aemp-go", "unknown", Gen1},
	} {
		g := ParseGreeting(c.g1)
		if got := GenerationOf(&g, c.auth); got != c.want {
			t.Errorf("%q / %q: %d, want %d", c.g1, c.auth, got, c.want)
		}
	}
}
