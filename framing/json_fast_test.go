package framing

import (
	"fmt"
	"reflect"
	"testing"
)

// decodeAll splits a stream, in pieces of at most chunk bytes, and
// returns what each message shows: port, arguments, ScalarArgs and bytes
// taken; or the error.
func decodeAll(stream []byte, chunk int) (out []string, err error) {
	d := NewDecoder(JSON, Limits{})
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
			out = append(out, fmt.Sprintf("%q %#v %v | %d %d %q %v | %d", m.Port(), args, aerr, k, l, f, ok, n))
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
func checkFastSame(t testing.TB, stream []byte) {
	for _, chunk := range []int{len(stream) + 1, 1, 7} {
		jsonFastPath = false
		want, werr := decodeAll(stream, chunk)
		jsonFastPath = true
		got, gerr := decodeAll(stream, chunk)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || !reflect.DeepEqual(want, got) {
			t.Fatalf("stream %q, chunk %d:\nfast    %q %v\ngeneral %q %v", stream, chunk, got, gerr, want, werr)
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
	} {
		checkFastSame(t, []byte(s))
	}
}

func FuzzJSONFastSameAsScanner(f *testing.F) {
	f.Add([]byte(`["sink","xxxxxxxxxxxxxxxxxxxx"]["sink",1,-2,"a"]`))
	f.Add([]byte(`["sink",-0]["sink","a\"b"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		checkFastSame(t, b)
	})
}
