package framing

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// jsonCase is one case of testdata/json_vectors.txt.
type jsonCase struct {
	name     string
	stream   []byte
	messages [][]byte
	errKind  string // "", "json", "aemp" or "eof"
	lenient  bool
}

func loadJSONCases(t testing.TB) []jsonCase {
	t.Helper()
	f, err := os.Open("testdata/json_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []jsonCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("bad line %.60q", line)
		}
		var exp struct {
			Error    *string  `json:"error"`
			Messages []string `json:"messages"`
			Lenient  bool     `json:"lenient"`
		}
		if err := json.Unmarshal([]byte(parts[2]), &exp); err != nil {
			t.Fatalf("%s: %v", parts[0], err)
		}
		c := jsonCase{name: parts[0], stream: mustHex(t, parts[1]), lenient: exp.Lenient}
		for _, m := range exp.Messages {
			c.messages = append(c.messages, mustHex(t, m))
		}
		if exp.Error != nil {
			c.errKind, _, _ = strings.Cut(*exp.Error, ":")
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d json cases", len(cases))
	}
	return cases
}

// storableVector is one vector of testdata/storable_vectors.txt.
type storableVector struct {
	name  string
	kind  string // "json" or "perl"
	text  string // JSON text or Perl expression
	frame []byte
}

func loadStorableVectors(t testing.TB) []storableVector {
	t.Helper()
	var out []storableVector
	name := ""
	for _, line := range readLines(t, "testdata/storable_vectors.txt") {
		if strings.HasPrefix(line, "# ") {
			if n, _, ok := strings.Cut(line[2:], ":"); ok && !strings.Contains(n, " ") {
				name = n
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		msg, hx, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %.60q", line)
		}
		kind, text, _ := strings.Cut(msg, ":")
		out = append(out, storableVector{name: name, kind: kind, text: text, frame: mustHex(t, hx)})
	}
	if len(out) < 35 {
		t.Fatalf("only %d storable vectors", len(out))
	}
	return out
}

// storableBad is one entry of testdata/storable_bad.txt.
type storableBad struct {
	name    string
	stream  []byte
	perl    string
	lenient bool
}

func loadStorableBad(t testing.TB) []storableBad {
	t.Helper()
	var out []storableBad
	lenient := map[string]bool{}
	for _, line := range readLines(t, "testdata/storable_bad.txt") {
		if strings.HasPrefix(line, "# LENIENT ") {
			n, _, _ := strings.Cut(line[len("# LENIENT "):], ":")
			lenient[n] = true
		}
		if line == "" || line[0] == '#' {
			continue
		}
		p := strings.Split(line, "\t")
		if len(p) != 3 {
			t.Fatalf("bad line %.60q", line)
		}
		out = append(out, storableBad{name: p[0], stream: mustHex(t, p[1]), perl: p[2], lenient: lenient[p[0]]})
	}
	if len(out) < 25 {
		t.Fatalf("only %d bad entries", len(out))
	}
	return out
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %.40q: %v", s, err)
	}
	return b
}

// feedResult is what a decoder yielded for a stream.
type feedResult struct {
	raws    [][]byte
	ports   []string
	args    [][]any
	err     error
	pending int // unconsumed bytes at the end (a partial frame)
}

// feed runs the engine's read loop over the stream cut into chunks. The
// bytes of every consumed message are overwritten once it has been
// decoded, so that decoded values aliasing the buffer show up.
func feed(t testing.TB, codec Codec, lim Limits, chunks [][]byte) feedResult {
	t.Helper()
	d := NewDecoder(codec, lim)
	var r feedResult
	var buf []byte
	for _, ch := range chunks {
		buf = append(buf, ch...)
		for len(buf) > 0 {
			m, n, err := d.Next(buf)
			if err != nil {
				r.err = err
				r.pending = len(buf)
				return r
			}
			if n == 0 {
				break
			}
			if !m.Valid() {
				t.Fatalf("n = %d but no message", n)
			}
			args, err := m.Args()
			if err != nil {
				t.Fatalf("Args of a validated message %x: %v", m.Raw(), err)
			}
			r.raws = append(r.raws, bytes.Clone(m.Raw()))
			r.ports = append(r.ports, m.PortString())
			r.args = append(r.args, args)
			for i := range buf[:n] {
				buf[i] = 0xAA
			}
			buf = buf[n:]
		}
	}
	r.pending = len(buf)
	return r
}

func whole(b []byte) [][]byte { return [][]byte{b} }

func split2(b []byte, k int) [][]byte { return [][]byte{b[:k], b[k:]} }

func bytewise(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// sameResult compares two feeds (messages, ports, args, error-or-not).
func sameResult(a, b feedResult) error {
	if len(a.raws) != len(b.raws) {
		return fmt.Errorf("%d vs %d messages", len(a.raws), len(b.raws))
	}
	for i := range a.raws {
		if !bytes.Equal(a.raws[i], b.raws[i]) || a.ports[i] != b.ports[i] || !reflect.DeepEqual(a.args[i], b.args[i]) {
			return fmt.Errorf("message %d differs: %x vs %x", i, a.raws[i], b.raws[i])
		}
	}
	if (a.err == nil) != (b.err == nil) {
		return fmt.Errorf("error %v vs %v", a.err, b.err)
	}
	if a.err != nil {
		var ea, eb *Error
		if !errors.As(a.err, &ea) || !errors.As(b.err, &eb) || ea.Err != eb.Err || ea.Offset != eb.Offset {
			return fmt.Errorf("errors differ: %v vs %v", a.err, b.err)
		}
	}
	return nil
}
