package framing

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// decodeAll splits a stream, in pieces of at most chunk bytes, and
// returns what each message shows: port, arguments, ScalarArgs and bytes
// taken; or the error.
func decodeAll(c Codec, stream []byte, chunk int) (out []string, err error) {
	d := NewDecoder(c, Limits{})
	var pending []byte
	for off := 0; off < len(stream) || len(pending) > 0; {
		if off < len(stream) {
			e := min(off+chunk, len(stream))
			pending = append(pending, stream[off:e]...)
			off = e
		}
		used := 0
		for {
			m, n, err := d.Next(pending[used:])
			if err != nil {
				return out, err
			}
			if n == 0 {
				break
			}
			used += n
			args, aerr := m.Args()
			k, l, f, ok := m.ScalarArgs()
			out = append(out, fmt.Sprintf("%q %#v %v | %d %d %q %v | %d %v", m.Port(), args, aerr, k, l, f, ok, n, m.Routable()))
		}
		pending = append(pending[:0], pending[used:]...)
		if off >= len(stream) && used == 0 {
			break
		}
	}
	return out, nil
}

// checkFastSame: the fast path and the general scanner see the same
// messages in the same bytes, whole and split at every size.
func checkFastSame(t testing.TB, c Codec, stream []byte) {
	for _, chunk := range []int{len(stream) + 1, 1, 7} {
		fastPaths = false
		want, werr := decodeAll(c, stream, chunk)
		fastPaths = true
		got, gerr := decodeAll(c, stream, chunk)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || !reflect.DeepEqual(want, got) {
			t.Fatalf("%s stream %x, chunk %d:\nfast    %q %v\ngeneral %q %v", c.Name(), stream, chunk, got, gerr, want, werr)
		}
	}
}

func TestJSONFastSameAsScanner(t *testing.T) {
	for _, s := range []string{
		`["sink","xxxxxxxxxxxxxxxxxxxx"]`,
		`["sink","a",1,-2,0,"b"]["p"]  ["q",12345678901234567890]`,
		`["sink",-0]["sink",01]["sink",1.5]["sink","a\"b"]["sink","\u00e9"]["sink","é"]`,
		`[ "sink","a"]["sink" ,"a"]["sink","a" ]["",null]["x",true,false]["x",[1]]["x",{"a":1}]`,
		`["x","` + "\x01" + `"]`, `["x",-]`, `["x",1`, `["x","abc`, `["x",]`, `[1,"a"]`, `[]`, `["x",1]]`,
		`["sink","0123456789abcdef0123456789"]["k","é"]`,
		// split inside plain strings, the scanner resuming where the fast
		// path stopped: then an escape, a non-ASCII byte, a control
		// character, a nested value, a number, a second plain frame
		`["sink","` + strings.Repeat("p", 300) + `\"q"]`, `["` + strings.Repeat("p", 70) + `é",1]`,
		`["sink","` + strings.Repeat("p", 90) + "\x02" + `"]`, `["sink","` + strings.Repeat("p", 50) + `",[1,{"a":"b"}]]`,
		`["sink","` + strings.Repeat("p", 50) + `",-12,1.5e3]["s","` + strings.Repeat("r", 40) + `"]`,
	} {
		checkFastSame(t, JSON, []byte(s))
	}
}

func FuzzJSONFastSameAsScanner(f *testing.F) {
	f.Add([]byte(`["sink","xxxxxxxxxxxxxxxxxxxx"]["sink",1,-2,"a"]`))
	f.Add([]byte(`["sink",-0]["sink","a\"b"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		checkFastSame(t, JSON, b)
	})
}

// fastCorpus encodes messages of the shapes the fast paths take and of
// shapes next to them.
func fastCorpus() [][]any {
	long := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return [][]any{
		{"sink", "xxxxxxxxxxxxxxxxxxxx"}, {"sink"}, {"p", int64(0), int64(23), int64(24), int64(255), int64(256),
			int64(65535), int64(65536), int64(-1), int64(-24), int64(-25), int64(-129), int64(1 << 31), int64(-1 << 31)},
		{"p", nil, "a", ""}, {"p", long + long + long + long + long}, {"p", []byte{0xfc}}, {"p", "é"}, {"p", 1.5},
		{"p", true}, {"p", []any{"x"}}, {"p", map[string]any{"k": "v"}}, {"p", "tab\there"},
		{"", "x"}, {"p", int64(1) << 40},
	}
}

func TestCBORStorableFastSameAsScanner(t *testing.T) {
	for _, c := range []Codec{CBOR, Storable} {
		var all []byte
		for _, msg := range fastCorpus() {
			f, err := c.AppendMessage(nil, msg[0].(string), msg[1:])
			if err != nil {
				t.Fatal(err)
			}
			checkFastSame(t, c, f)
			all = append(all, f...)
		}
		checkFastSame(t, c, all)
	}
}

func FuzzCBORStorableFastSameAsScanner(f *testing.F) {
	for _, msg := range fastCorpus() {
		for _, k := range []byte{0, 1} {
			fr, _ := []Codec{CBOR, Storable}[k].AppendMessage(nil, msg[0].(string), msg[1:])
			f.Add(k, fr)
		}
	}
	f.Fuzz(func(t *testing.T, k byte, b []byte) {
		if len(b) > 4096 {
			return
		}
		checkFastSame(t, []Codec{CBOR, Storable}[k&1], b)
	})
}

// TestJSONFastResumeLimit: a plain string running past MaxFrameSize is
// refused alike whether the fast path handed it over or not, whole and
// in pieces.
func TestJSONFastResumeLimit(t *testing.T) {
	stream := []byte(`["sink","` + strings.Repeat("p", 300) + `"]`)
	for _, chunk := range []int{len(stream), 64, 7} {
		var errs [2]string
		for k, fast := range []bool{false, true} {
			fastPaths = fast
			d := NewDecoder(JSON, Limits{MaxFrameSize: 100})
			var err error
			for end := chunk; err == nil; end += chunk {
				_, _, err = d.Next(stream[:min(end, len(stream))])
				if end >= len(stream) {
					break
				}
			}
			errs[k] = fmt.Sprint(err)
		}
		fastPaths = true
		if errs[0] != errs[1] || !strings.Contains(errs[1], "longer than 100") {
			t.Fatalf("chunk %d: general %q, fast %q", chunk, errs[0], errs[1])
		}
	}
}
