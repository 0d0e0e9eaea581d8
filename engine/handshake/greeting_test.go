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
