package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("rc", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResolve(t *testing.T) {
	f := mustParse(t, `{
		"version": 1, "secret": "top", "seeds": ["s:1"], "nodeid": "topid",
		"profile": {
			"grand":  {"secret": "grand", "binds": ["g:1"], "monitor_timeout": 5},
			"parent": {"parent": "grand", "binds": ["p:1"]},
			"child":  {"parent": "parent", "nodeid": "c"},
			"orphan": {"parent": "nosuch", "nodeid": "o"},
		},
	}`)
	got, err := f.Resolve("child")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"secret": "grand", "binds": []any{"p:1"}, "nodeid": "c", "seeds": []any{"s:1"},
		"monitor_timeout": Number("5"), "parent": "parent", "version": Number("1"),
	} {
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("child %s = %#v; want %#v", k, got[k], want)
		}
	}
	got, _ = f.Resolve("orphan")
	if got["secret"] != "top" || got["nodeid"] != "o" {
		t.Errorf("orphan: %v", got)
	}
	got, _ = f.Resolve("unknown")
	if got["secret"] != "top" || got["nodeid"] != "topid" {
		t.Errorf("unknown profile: %v", got)
	}
	if f.Root["profile"].(map[string]any)["child"].(map[string]any)["secret"] != nil {
		t.Errorf("Resolve changed a profile")
	}
}

func TestResolveLoop(t *testing.T) {
	f := mustParse(t, `{"profile": {"a": {"parent": "b"}, "b": {"parent": "c"}, "c": {"parent": "a"}, "self": {"parent": "self"}}}`)
	_, err := f.Resolve("a")
	if !errors.Is(err, ErrProfileLoop) || !strings.Contains(err.Error(), "a -> b -> c -> a") {
		t.Errorf("a: %v", err)
	}
	if _, err := f.Resolve("self"); !errors.Is(err, ErrProfileLoop) {
		t.Errorf("self: %v", err)
	}
}

func TestResolveBadShapes(t *testing.T) {
	for _, text := range []string{
		`{"profile": ["a"]}`,
		`{"profile": {"a": "x"}}`,
		`{"profile": {"a": {"parent": ["b"]}}}`,
	} {
		if _, err := mustParse(t, text).Resolve("a"); err == nil {
			t.Errorf("%s: no error", text)
		}
	}
}

func TestEffective(t *testing.T) {
	f := mustParse(t, `{"nodeid": "fromfile", "profile": {"aemp": {"binds": ["*:*"]}}}`)
	got, err := f.Effective("aemp", map[string]any{"nodeid": "anon/", "seeds": []any{"x:1"}})
	if err != nil {
		t.Fatal(err)
	}
	// 1.30: the file wins over configure's arguments.
	if got["nodeid"] != "fromfile" || !reflect.DeepEqual(got["seeds"], []any{"x:1"}) ||
		got["monitor_timeout"] != Number("30") || !reflect.DeepEqual(got["binds"], []any{"*:*"}) {
		t.Errorf("Effective = %v", got)
	}
}

func TestSettingsOf(t *testing.T) {
	f := mustParse(t, `{"nodeid": "n", "secret": "s", "binds": [], "seeds": ["a:1", 4040],
		"monitor_timeout": "10", "connect_interval": 0.5, "framing_format": ["json"],
		"nodelay": "0", "autocork": 1, "services": ["X::", ["Y::f", 1]], "unknown": {"kept": true}}`)
	r, _ := f.Resolve("x")
	s, err := SettingsOf(r)
	if err != nil {
		t.Fatal(err)
	}
	if *s.NodeID != "n" || *s.Secret != "s" || s.Cert != nil || s.Binds == nil || len(s.Binds) != 0 ||
		!reflect.DeepEqual(s.Seeds, []string{"a:1", "4040"}) || *s.MonitorTimeout != 10*time.Second ||
		*s.ConnectInterval != 500*time.Millisecond || !reflect.DeepEqual(s.FramingFormat, []string{"json"}) ||
		s.AuthOffer != nil || *s.NoDelay || !*s.AutoCork || len(s.Services) != 2 {
		t.Errorf("SettingsOf = %+v", s)
	}
	for _, bad := range []string{
		`{"binds": "*:4040"}`,
		`{"seeds": [["a"]]}`,
		`{"monitor_timeout": "soon"}`,
		`{"monitor_timeout": -1}`,
		`{"secret": {"a": 1}}`,
		`{"services": "X::"}`,
	} {
		r, _ := mustParse(t, bad).Resolve("x")
		if _, err := SettingsOf(r); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
