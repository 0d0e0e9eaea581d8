package config

import (
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		relaxed bool
		want    any // nil with err set: must fail
		err     bool
	}{
		{`{"a":1}`, false, map[string]any{"a": Number("1")}, false},
		{`{"a":1,}`, true, map[string]any{"a": Number("1")}, false},
		{`{"a":1,}`, false, nil, true},
		{`[1,2,]`, true, []any{Number("1"), Number("2")}, false},
		{`[1,,]`, true, nil, true},
		{`[,]`, true, nil, true},
		{`{,}`, true, nil, true},
		{"# c\n{\"a\":\"#x\"} # y", true, map[string]any{"a": "#x"}, false},
		{"# c\n{\"a\":\"#x\"}", false, nil, true},
		{"{\"a\" # c\n : [1 # d\n , 2 # e\n ,]}", true, map[string]any{"a": []any{Number("1"), Number("2")}}, false},
		{"{\"a#b\\\"#\":\"x # y\"}", true, map[string]any{"a#b\"#": "x # y"}, false},
		{"[\"a\tb\"]", true, []any{"a\tb"}, false},
		{"[\"a\tb\"]", false, nil, true},
		{"[\"a\x01\"]", true, nil, true},
		{`{"a":1,"a":2}`, false, map[string]any{"a": Number("2")}, false},
		{`{}garbage`, true, nil, true},
		{` `, true, nil, true},
		{`[01]`, false, nil, true},
		{`[1.]`, false, nil, true},
		{`[-]`, false, nil, true},
		{`[1e5, 1E+2, 2.50, 1.0, -0, -0.0, 0.1e1]`, false,
			[]any{Number("100000"), Number("100"), Number("2.5"), Number("1"), Number("0"), Number("-0"), Number("1")}, false},
		{`[18446744073709551615, 18446744073709551616, -9223372036854775807, -9223372036854775808]`, false,
			[]any{Number("18446744073709551615"), "18446744073709551616", Number("-9223372036854775807"), "-9223372036854775808"}, false},
		{`[0.30000000000000004, 123456789012345678.0, 1e400]`, false, []any{Number("0.3"), Number("1.23456789012346e+17"), Number("1e400")}, false},
		{`["\ud83d\ude00", "\u00e9\/\n"]`, false, []any{"😀", "é/\n"}, false},
		{`["\ud800"]`, false, nil, true},
		{`["\ud800\u0041"]`, false, nil, true},
		{`["\x"]`, false, nil, true},
		{"[\"\xff\"]", false, nil, true},
		{"\xef\xbb\xbf[1]", false, nil, true},
		{`[true,false,null]`, false, []any{true, false, nil}, false},
		{`"x"`, false, "x", false},
		{`{"a":1 "b":2}`, true, nil, true},
		{strings.Repeat("[", 512) + strings.Repeat("]", 512), false, nil, false},
		{strings.Repeat("[", 513) + strings.Repeat("]", 513), false, nil, true},
	} {
		got, err := Decode([]byte(tc.in), tc.relaxed)
		if tc.err {
			if err == nil || !errors.Is(err, ErrSyntax) {
				t.Errorf("Decode(%q, %v) = %#v, %v; want a syntax error", tc.in, tc.relaxed, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Decode(%q, %v): %v", tc.in, tc.relaxed, err)
			continue
		}
		if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Decode(%q, %v) = %#v; want %#v", tc.in, tc.relaxed, got, tc.want)
		}
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	_, err := Decode([]byte("{\n  \"a\": 1,\n  \"b\" 2\n}"), true)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 {
		t.Fatalf("err = %v; want a SyntaxError on line 3", err)
	}
}

// TestEncodeLayout pins JSON::XS->new->pretty's layout (checked against
// JSON::XS 4.04 by TestPerlAgrees).
func TestEncodeLayout(t *testing.T) {
	v := map[string]any{
		"b": []any{Number("1"), "x"},
		"a": map[string]any{"x": map[string]any{"y": []any{}}},
		"c": map[string]any{},
		"e": "\x01\x7f\"\\/\té\u2028\n\r\b\f\x1f",
		"t": true, "f": false, "n": nil,
	}
	want := `{
   "a" : {
      "x" : {
         "y" : []
      }
   },
   "b" : [
      1,
      "x"
   ],
   "c" : {},
   "e" : "\u0001` + "\x7f" + `\"\\/\té` + "\u2028" + `\n\r\b\f\u001f",
   "f" : false,
   "n" : null,
   "t" : true
}
`
	if got := string(Encode(v)); got != want {
		t.Errorf("Encode:\n%s\nwant:\n%s", got, want)
	}
	if got := string(Encode([]any{})); got != "[]\n" {
		t.Errorf("Encode([]) = %q", got)
	}
}

// perlCorpus is read by both JSON::XS and Decode in TestPerlAgrees.
var perlCorpus = []string{
	`{"a":1}`,
	`{"a":1,}`,
	"# comment\n{\"a\":\"#x\", # more\n\"b\":[1,2,3,],\n}\n# end\n",
	"{\"a#b\\\"#\":\"x # y\",\"t\":\"a\tb\"}",
	`{"n":[1e5,1E+2,2.50,1.0,-0,-0.0,0.1e1,0.30000000000000004,123456789012345678.0,1.5e-400]}`,
	`{"n":[18446744073709551615,18446744073709551616,-9223372036854775807,-9223372036854775808,12345678901234567890123]}`,
	`{"s":["\ud83d\ude00","\u00e9\/\n\r\b\f\t\u0001\u001f\u007f","\\\"","é"]}`,
	`{"z":{"b":{},"a":[],"c":[{}],"d":[[]]},"y":[true,false,null]}`,
	`{"a":1,"a":2}`,
	"{\"version\":1,\"profile\":{\"x\":{\"parent\":\"y\",\"binds\":[\"*:4040\"],},},}",
	`{}`,
	`{,}`,
	`[,]`,
	`{"a":1 "b":2}`,
	`[01]`,
	`[1.]`,
	`{}x`,
	"[\"a\x01\"]",
	"[\"\xff\"]",
	`["\x"]`,
}

// TestPerlAgrees reads perlCorpus with Perl's JSON::XS in relaxed mode, as
// AnyEvent::MP::Config does, and checks that Decode accepts the same texts
// and that Encode writes what JSON::XS->pretty->canonical writes.
func TestPerlAgrees(t *testing.T) {
	perl := needJSONXS(t)
	const script = `
		use JSON::XS; binmode STDOUT;
		local $/ = "\0";
		while (defined (my $t = <STDIN>)) {
			chop $t;
			my $v = eval { JSON::XS->new->utf8->relaxed->decode ($t) };
			print defined $v ? JSON::XS->new->utf8->pretty->canonical->encode ($v) : "ERROR\n", "\0";
		}`
	cmd := exec.Command(perl, "-e", script)
	cmd.Stdin = strings.NewReader(strings.Join(perlCorpus, "\x00") + "\x00")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl: %v", err)
	}
	results := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(results) != len(perlCorpus) {
		t.Fatalf("perl gave %d results for %d texts", len(results), len(perlCorpus))
	}
	for i, text := range perlCorpus {
		v, err := Decode([]byte(text), true)
		switch {
		case results[i] == "ERROR\n" && err == nil:
			t.Errorf("%q: JSON::XS rejects it, Decode accepts it", text)
		case results[i] != "ERROR\n" && err != nil:
			t.Errorf("%q: JSON::XS accepts it, Decode says %v", text, err)
		case err == nil && string(Encode(v)) != results[i]:
			t.Errorf("%q: Encode gives\n%s\nJSON::XS gives\n%s", text, Encode(v), results[i])
		}
	}
}

// needJSONXS returns the perl binary, or skips the test when perl or
// JSON::XS (Debian's libjson-xs-perl) is missing.
func needJSONXS(t *testing.T) string {
	t.Helper()
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl not installed: cannot compare with JSON::XS (install perl and libjson-xs-perl)")
	}
	if err := exec.Command(perl, "-MJSON::XS", "-e", "1").Run(); err != nil {
		t.Skip("Perl's JSON::XS not installed (install libjson-xs-perl)")
	}
	return perl
}

func TestPerlTruth(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {"", false}, {"0", false}, {"0.0", true},
		{"00", true}, {"1", true}, {Number("0"), false}, {Number("-0"), false},
		{Number("0.5"), true}, {[]any{}, true}, {map[string]any{}, true},
	} {
		if got := PerlTrue(tc.v); got != tc.want {
			t.Errorf("PerlTrue(%#v) = %v", tc.v, got)
		}
	}
	for _, tc := range []struct {
		v    any
		want string
		ok   bool
	}{
		{nil, "", true}, {true, "1", true}, {false, "0", true}, {"x", "x", true},
		{Number("2.5"), "2.5", true}, {[]any{}, "", false}, {map[string]any{}, "", false},
	} {
		got, ok := PerlString(tc.v)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PerlString(%#v) = %q, %v", tc.v, got, ok)
		}
	}
}
