package mesh

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// TestDB2Replay stands a DB2 in for a real AnyEvent::MP 2.02 node: it
// feeds it what the Perl node received (and the calls it made) from a
// capture in testdata/db2 and checks that it sends what the Perl node sent
// after each event (as a set where Perl's order comes from hash order),
// and reports the same watch changes, replies and dials. Where our answer
// differs for a documented reason, the file gives both.
func TestDB2Replay(t *testing.T) {
	files, _ := filepath.Glob("testdata/db2/*.txt")
	if len(files) == 0 {
		t.Fatal("no replay files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { replayDB2(t, f) })
	}
}

func replayDB2(t *testing.T, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var (
		d       *DB2
		self    string
		seeds   = map[string]bool{}
		now     = time.Unix(1_796_656_508, 0)
		want    []string // sends Perl made after the last event
		got     []string // sends we made
		event   string
		changes []Change
		replies []Reply
		dials   []Dial
		sends   int
		differs int
	)
	check := func() {
		t.Helper()
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("after %q:\n perl sent %v\n we sent   %v", event, want, got)
		}
		sends += len(want)
		want, got = nil, nil
	}
	take := func(a Actions) {
		t.Helper()
		for _, s := range a.Send {
			node, _, _ := strings.Cut(s.To, "#")
			buf, err := framing.CBOR.AppendMessage(nil, "", s.Args)
			if err != nil {
				t.Fatalf("encode %v: %v", s.Args, err)
			}
			got = append(got, node+" "+db2Canon(t, buf))
		}
		if len(a.Warn) > 0 {
			t.Errorf("after %q: warnings %v", event, a.Warn)
		}
		changes = append(changes, a.Changes...)
		replies = append(replies, a.Replies...)
		dials = append(dials, a.Dial...)
	}
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if f[0] != "snd" && f[0] != "expect" && f[0] != "differs" && f[0] != "ours" {
			check()
			event = line
			if len(event) > 60 {
				event = event[:60]
			}
		}
		now = now.Add(time.Millisecond)
		switch f[0] {
		case "node":
			self = f[1]
			var addrs []string
			global := false
			for _, kv := range f[2:] {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "addrs":
					addrs = strings.Split(v, ",")
				case "seeds":
					for _, s := range strings.Split(v, ",") {
						seeds[s] = true
					}
				case "global":
					global = true
				}
			}
			d = NewDB2(DB2Config{Self: self, Addrs: addrs, Global: global})
		case "up":
			take(d.NodeUp(f[1], len(f) > 2 && f[2] == "seed", now))
		case "down":
			take(d.NodeDown(f[1], now))
		case "find":
			take(d.Find(f[1], now))
		case "watch":
			take(d.Watch(f[1]))
		case "query-keys":
			_, a := d.QueryKeys(f[1])
			take(a)
		case "reg":
			take(d.Reg(f[1], f[2], nil))
		case "rcv":
			args := db2Hex(t, f[2])
			name, _ := framing.Text(args[0])
			take(d.Request(f[1], name, args[1:], now))
		case "snd":
			want = append(want, f[1]+" "+db2Canon(t, db2Bytes(t, f[2])))
		case "differs":
			t.Logf("Perl sent %s %s (a documented difference)", f[1], db2Canon(t, db2Bytes(t, f[2])))
			differs++
		case "ours":
			want = append(want, f[1]+" "+strings.Join(f[2:], " "))
		case "expect":
			switch f[1] {
			case "dial":
				if len(dials) == 0 || dials[0].Node != f[2] || !slices.Equal(dials[0].Addrs, f[3:]) {
					t.Errorf("%s: dials %v", line, dials)
				} else {
					dials = dials[1:]
				}
			case "reply":
				if len(replies) == 0 || !slices.Equal(replies[0].Result.([]string), f[3:]) {
					t.Errorf("%s: replies %v", line, replies)
				} else {
					replies = replies[1:]
				}
			case "change":
				var add, rem []string
				for _, k := range f[3:] {
					if k[0] == '+' {
						add = append(add, k[1:])
					} else {
						rem = append(rem, k[1:])
					}
				}
				if len(changes) == 0 || changes[0].Name != f[2] || !slices.Equal(changes[0].Added, add) || !slices.Equal(changes[0].Removed, rem) {
					t.Errorf("%s: changes %+v", line, changes)
				} else {
					changes = changes[1:]
				}
			default:
				t.Fatalf("bad line %q", line)
			}
		default:
			t.Fatalf("bad line %q", line)
		}
	}
	check()
	if len(changes)+len(replies)+len(dials) > 0 {
		t.Errorf("unexpected: changes %v, replies %v, dials %v", changes, replies, dials)
	}
	if sends == 0 {
		t.Error("no sends compared")
	}
	t.Logf("%d sends compared, %d documented differences", sends, differs)
}

func db2Bytes(t *testing.T, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// db2Hex decodes one captured cbor message to its arguments after the
// (node) port.
func db2Hex(t *testing.T, h string) []any {
	t.Helper()
	b := db2Bytes(t, h)
	m, n, err := framing.NewDecoder(framing.CBOR, framing.Limits{}).Next(b)
	if err != nil || n != len(b) || m.PortString() != "" {
		t.Fatalf("message %s: %v", h, err)
	}
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	return args
}

// db2Canon renders a cbor message as canonical JSON (sorted keys, byte
// strings as text) for comparison.
func db2Canon(t *testing.T, msg []byte) string {
	t.Helper()
	args := db2Hex(t, hex.EncodeToString(msg))
	b, err := json.Marshal(db2Plain(args))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func db2Plain(v any) any {
	switch x := v.(type) {
	case []byte:
		s, _ := framing.Text(x)
		return s
	case framing.Number:
		return json.Number(x)
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = db2Plain(e)
		}
		return l
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = db2Plain(e)
		}
		return m
	}
	return v
}
