package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testdata/perl holds what Perl's aemp 1.30 (AnyEvent::MP 1.30 with JSON::XS
// 4.04) wrote and printed, step by step (STEPS.txt says which command made
// which file); cmd/aemp replays the steps with our aemp.

// plain converts a decoded document to what encoding/json gives for the
// same text (numbers as json.Number), to compare with it.
func plain(v any) any {
	switch v := v.(type) {
	case Number:
		return json.Number(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = plain(e)
		}
		return out
	}
	return v
}

// layoutLines returns the lines of a pretty-printed text without their
// trailing commas, sorted: two texts that differ only in the order of
// object keys give the same lines.
func layoutLines(text []byte) []string {
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, ",")
	}
	slices.Sort(lines)
	return lines
}

// TestPerlWrittenFiles reads every configuration file Perl's aemp wrote:
// Load must see what encoding/json sees, and writing the document back
// must reproduce Perl's bytes but for the order of keys (Perl's is its
// random hash order, ours sorted); where every object has at most one key
// the bytes are equal.
func TestPerlWrittenFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/perl/*.json")
	chain, _ := filepath.Glob("testdata/perl/chain/*.json")
	files = append(files, chain...)
	if len(files) < 50 {
		t.Fatalf("only %d files in testdata/perl", len(files))
	}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Load(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s: encoding/json: %v", file, err)
		}
		if got := plain(f.Root); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read\n%v\nwant\n%v", file, got, want)
		}
		ours := f.Bytes()
		if !slices.Equal(layoutLines(ours), layoutLines(text)) {
			t.Errorf("%s: layout differs; Perl wrote\n%s\nwe write\n%s", file, text, ours)
		}
		if bytes.Equal(ours, text) != sortedKeys(text) {
			t.Errorf("%s: byte-equal %v, but Perl's keys are sorted: %v", file, bytes.Equal(ours, text), sortedKeys(text))
		}
	}
}

// sortedKeys reports whether every object in the pretty-printed text has
// its keys in sorted order (then our output must equal Perl's).
func sortedKeys(text []byte) bool {
	last := map[int]string{} // indentation -> previous key at that depth
	for _, l := range strings.Split(string(text), "\n") {
		trim := strings.TrimLeft(l, " ")
		depth := len(l) - len(trim)
		for d := range last {
			if d > depth {
				delete(last, d)
			}
		}
		if strings.HasPrefix(trim, `"`) && strings.Contains(trim, `" : `) {
			key := trim[:strings.Index(trim, `" : `)]
			if prev, ok := last[depth]; ok && key < prev {
				return false
			}
			last[depth] = key
		}
		if strings.HasPrefix(trim, "}") || strings.HasPrefix(trim, "]") {
			delete(last, depth+3)
		}
	}
	return true
}

// TestPerlSettings types a few of Perl's files as an aemp-go node would.
func TestPerlSettings(t *testing.T) {
	f, err := Load("testdata/perl/31-profile-alias-nodeid.json")
	if err != nil {
		t.Fatal(err)
	}
	eff, err := f.Resolve("worker")
	if err != nil {
		t.Fatal(err)
	}
	s, err := SettingsOf(eff)
	if err != nil {
		t.Fatal(err)
	}
	if *s.NodeID != "seednode2" || *s.Secret != "aemp-test-secret-2" ||
		!reflect.DeepEqual(s.Binds, []string{"127.0.0.1:4470"}) || !reflect.DeepEqual(s.Seeds, []string{"127.0.0.1:4470"}) ||
		s.MonitorTimeout.Seconds() != 10 || s.ConnectInterval.Seconds() != 0.5 || *s.NoDelay || !*s.AutoCork ||
		!reflect.DeepEqual(s.AuthOffer, []string{"hmac_md6_64_256"}) || len(s.Services) != 3 {
		t.Errorf("worker: %+v", s)
	}
	f, _ = Load("testdata/perl/53-gencert.json")
	eff, _ = f.Resolve("any")
	if s, err := SettingsOf(eff); err != nil || CheckCert([]byte(*s.Cert)) != nil {
		t.Errorf("Perl's gencert certificate: %v", err)
	}
}
