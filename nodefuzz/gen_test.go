package nodefuzz

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
)

func testGenerator(seed uint64) *generator {
	return &generator{seed: seed, secret: []byte("s"), t: target{id: "tgt", framings: []string{fJSON, fStorable, fCBOR},
		method: handshake.AuthHMACSHA3, addr: "127.0.0.1:4040"}}
}

// caseCount is long normally, short with -short, and a third of short
// under the race detector.
func caseCount(short, long int) int {
	switch {
	case raceDetector:
		return short / 3
	case testing.Short():
		return short
	}
	return long
}

// TestEncodersMatchFraming: plain messages encode byte for byte as
// package framing encodes them.
func TestEncodersMatchFraming(t *testing.T) {
	msgs := []struct {
		m    *vArr
		port string
		args []any
	}{
		{arr(str(""), str("time"), str("fz-link1#fzt1"), str("x")), "", []any{"time", "fz-link1#fzt1", "x"}},
		{arr(str("fz-none"), num(-129), num(70000), num(1<<40), null(), str("\u00e9")), "fz-none", []any{-129, 70000, int64(1 << 40), nil, "\u00e9"}},
		{arr(str("p"), arr(num(1), arr()), mapOf(str("a"), num(1), str("b"), str("c"))), "p", []any{[]any{1, []any{}}, map[string]any{"a": 1, "b": "c"}}},
	}
	for _, f := range []string{fJSON, fCBOR, fStorable} {
		codec, _ := framing.ByName(f)
		for _, tc := range msgs {
			got, _ := encode(f, tc.m, -1)
			want, err := codec.AppendMessage(nil, tc.port, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %x, framing writes %x", f, got, want)
			}
		}
	}
}

// dataBytes returns the data-phase bytes case c sends (frames and, with
// the link check, its time request).
func dataBytes(c *Case) []byte {
	var b []byte
	for _, s := range c.steps {
		if s.phase == PhaseData {
			b = append(b, s.bytes...)
		}
		b = append(b, s.tail...)
	}
	return b
}

// TestCompleteFramesDecide: the generator's claim that a case's frames
// are complete, checked with our own decoder: fed the frames and the
// link check's time request, it either fails or ends on a message
// boundary with the time request as its last message. A node that
// neither answers nor closes after such bytes has a dead link.
func TestCompleteFramesDecide(t *testing.T) {
	g := testGenerator(11)
	n := caseCount(1000, 5000)
	checked := 0
	for i := range n {
		c := g.generate(i)
		if c.Phase != PhaseData || !c.Link {
			continue
		}
		checked++
		codec, _ := framing.ByName(c.Framing)
		dec := framing.NewDecoder(codec, framing.Limits{})
		buf := dataBytes(c)
		var last framing.Message
		var err error
		for len(buf) > 0 {
			var m framing.Message
			var k int
			m, k, err = dec.Next(buf)
			if err != nil || k == 0 {
				break
			}
			last = m.Clone()
			buf = buf[k:]
		}
		if err != nil {
			continue // the node closes
		}
		if len(buf) > 0 {
			t.Errorf("case %d (%s): our decoder waits for more after %d bytes left: %s", i, c.Framing, len(buf), c.What)
			continue
		}
		args, _ := last.Args()
		if last.PortString() != "" || len(args) < 3 || args[2] != c.marker {
			t.Errorf("case %d (%s): the last message is not the time request: %q %v: %s", i, c.Framing, last.PortString(), args, c.What)
		}
	}
	if checked < n/4 {
		t.Errorf("only %d of %d cases have a link check", checked, n)
	}
}

// TestGenerateDeterministic: a seed gives the same cases; another seed
// others.
func TestGenerateDeterministic(t *testing.T) {
	a, b, other := testGenerator(5), testGenerator(5), testGenerator(6)
	same := 0
	n := caseCount(300, 1000)
	for i := range n {
		ca, cb, co := a.generate(i), b.generate(i), other.generate(i)
		if !reflect.DeepEqual(ca, cb) {
			t.Fatalf("case %d differs between two generators with the same seed", i)
		}
		if ca.What == co.What && bytes.Equal(dataBytes(ca), dataBytes(co)) {
			same++
		}
	}
	if same > n/10 {
		t.Errorf("%d of %d cases are the same with another seed", same, n)
	}
}

// TestGenerateCoversPhases: each phase and framing, and the kinds of
// frames, show up.
func TestGenerateCoversPhases(t *testing.T) {
	g := testGenerator(1)
	phases := map[Phase]int{}
	framings := map[string]int{}
	var all strings.Builder
	n := caseCount(1500, 3000)
	for i := range n {
		c := g.generate(i)
		phases[c.Phase]++
		framings[c.Framing]++
		all.WriteString(c.What + "\n")
	}
	for _, p := range Phases {
		if phases[p] < n/10 {
			t.Errorf("phase %s: %d cases of %d", p, phases[p], n)
		}
	}
	for _, f := range []string{fJSON, fCBOR, fStorable} {
		if framings[f] < n/10 {
			t.Errorf("framing %s: %d cases of %d", f, framings[f], n)
		}
	}
	for _, want := range []string{"protocol ", "version ", "node ID ", "line 1 of ", "echo of the target's lines", "nonce of ",
		"auth: ", "token ", "method ", "framing \"", "line end", "request \"mon1\"", "request \"kil", "request \"snd",
		"request \"info\"", "request \"g_", "request \"time\"", "nested 513 deep", "invalid UTF-8", "claims", "frame cut",
		"trickled", "split", "BER length", "json junk", "cbor junk", "storable junk", "where json was announced",
		"frames in the write of the auth line", "a map of", "string", "an array of"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no case %q in %d", want, n)
		}
	}
}

// TestSafetyRejects: the checker catches what must never be sent.
func TestSafetyRejects(t *testing.T) {
	s := safety{ourID: "fz-link1", target: "tgt"}
	filler := func(n int, lie int64) *vStr { f := bstr(strings.Repeat("A", n)); f.lie = lie; return f }
	bad := map[string]*vArr{
		"eval":                        arr(str(""), str("eval"), str("print 1")),
		"spawn":                       arr(str(""), str("AnyEvent::MP::_spawn"), str("x"), str("init")),
		"a function name":             arr(str(""), str("Some::func")),
		"a name that is not a string": arr(str(""), num(5)),
		"kil of the node port":        arr(str(""), str("kil"), str("")),
		"kil of null":                 arr(str(""), str("kil1"), null()),
		"kil of an existing port":     arr(str(""), str("kil"), str("echo")),
		"time replying to the node port of the target": arr(str(""), str("time"), str("tgt#"), str("eval")),
		"time replying to the local node":              arr(str(""), str("time"), null()),
		"time replying to another port":                arr(str(""), str("time"), str("tgt#echo")),
		"can replying to the node port":                arr(str(""), str("can"), str("x"), str("#")),
		"snd to the node port":                         arr(str(""), str("snd"), str("tgt#"), str("eval"), str("x")),
		"snd to the local node":                        arr(str(""), str("snd"), str(""), str("eval")),
		"snd_multiple to an existing port":             arr(str(""), str("snd_multiple"), arr(str("tgt#echo"), str("x"))),
		"g_found with a host name":                     arr(str(""), str("g_found"), str("n"), arr(str("example.com:1"))),
		"g_slave with a host name":                     arr(str(""), str("g_slave"), mapOf(str("'l"), mapOf(str("n"), arr(str("example.com:1"))))),
		"a message to an existing port":                arr(str("echo"), str("fz-link1#"), str("x")),
		"null destination with arguments":              arr(null(), str("eval")),
		"a nested node-port request":                   arr(str("fz-none"), arr(str(""), str("eval"), str("x"))),
		"a nested message to an existing port":         arr(str("fz-none"), num(1), arr(str("echo"), str("x"))),
		"a lying string that is not last":              arr(str("fz-none"), filler(4, 2), num(1)),
		"a lying string that is not filler":            arr(str("fz-none"), func() *vStr { v := str("eval"); v.lie = 2; return v }()),
	}
	for what, m := range bad {
		if err := s.check(m); err == nil {
			t.Errorf("%s: passed the safety check", what)
		}
	}
	good := []*vArr{
		arr(), arr(str("")), arr(null()), arr(str(""), str("time"), str("fz-link1#fzt1"), str("x")),
		arr(str(""), str("kil"), str("fzx"), str("reason")), arr(str(""), str("snd"), str("tgt#fz-none"), str("eval")),
		arr(str("fz-none"), arr(num(1), str("eval")), filler(4, 2)),
	}
	for _, m := range good {
		if err := s.check(m); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
}

// TestGeneratedFramesNeverNameOtherRequests decodes every complete frame
// the generator writes (with our decoder) and checks each node-port
// message's request name against the list.
func TestGeneratedFramesNeverNameOtherRequests(t *testing.T) {
	g := testGenerator(99)
	for i := range caseCount(1000, 5000) {
		c := g.generate(i)
		if c.Phase != PhaseData {
			continue
		}
		codec, _ := framing.ByName(c.Framing)
		dec := framing.NewDecoder(codec, framing.Limits{MaxDepth: 100000})
		buf := dataBytes(c)
		for len(buf) > 0 {
			m, k, err := dec.Next(buf)
			if err != nil || k == 0 {
				break
			}
			buf = buf[k:]
			args, err := m.Args()
			if err != nil || m.PortString() != "" || len(args) == 0 {
				continue
			}
			name, ok := framing.Text(args[0])
			if !ok && args[0] != nil {
				t.Errorf("case %d: request name %v", i, args[0])
			}
			found := false
			for _, r := range Requests {
				found = found || r == name
			}
			if !found {
				t.Errorf("case %d: request name %q is not in the list: %s", i, name, c.What)
			}
		}
	}
}

// TestTokens: our auth lines, for greeting lines we build, are what the
// handshake package (the acceptor side) verifies.
func TestTokens(t *testing.T) {
	for _, method := range []string{handshake.AuthHMACSHA3, handshake.AuthHMACMD6, handshake.AuthClear} {
		for _, crlf := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-crlf=%v", method, crlf), func(t *testing.T) {
				cfg, err := handshake.NewConfig(handshake.Options{NodeID: "acceptor", Secret: []byte("geheim")})
				if err != nil {
					t.Fatal(err)
				}
				hs, err := handshake.New(cfg, handshake.ConnInfo{})
				if err != nil {
					t.Fatal(err)
				}
				theirs := hs.Start()
				tl := linesOf(theirs)
				g := testGenerator(1)
				g.t.method = method
				gp := g.baseGreeting(g.rng(0), "fz-link0", fJSON)
				if crlf {
					gp.end1, gp.end2 = "\r\n", "\r\n"
				}
				ours := gp.bytes()
				a := &authLine{template: method + ";{token};json\n", method: method, ours: linesOf(ours)}
				st, err := hs.Feed(append(ours, a.line([]byte("geheim"), tl[0], tl[1])...))
				if err != nil {
					t.Fatal(err)
				}
				if !st.Done {
					t.Fatal("handshake not done")
				}
				// and a wrong token is refused
				hs2, _ := handshake.New(cfg, handshake.ConnInfo{})
				tl2 := linesOf(hs2.Start())
				a.op = "flip"
				if _, err := hs2.Feed(append(ours, a.line([]byte("geheim"), tl2[0], tl2[1])...)); !errors.Is(err, handshake.ErrAuthFailed) {
					t.Errorf("flipped token: %v, want ErrAuthFailed", err)
				}
			})
		}
	}
}

// TestStorableClaimsBounded: no Storable length or count the generator
// writes claims more than maxClaim (Perl allocates it before reading).
func TestStorableClaimsBounded(t *testing.T) {
	for _, j := range storableJunk {
		switch j[0] {
		case 0x01, 0x02, 0x03, 0x18:
			if len(j) >= 5 {
				if n := uint32(j[1])<<24 | uint32(j[2])<<16 | uint32(j[3])<<8 | uint32(j[4]); n > maxClaim {
					t.Errorf("junk % x claims %d", j, n)
				}
			}
		}
	}
	g := testGenerator(3)
	for i := range caseCount(1500, 5000) {
		c := g.generate(i)
		if c.Framing != fStorable || !strings.Contains(c.What, "claims") {
			continue
		}
		for _, f := range strings.Fields(c.What) {
			if n, err := strconv.ParseUint(strings.Trim(f, ";,"), 10, 64); err == nil && n > maxClaim {
				t.Errorf("case %d claims %d: %s", i, n, c.What)
			}
		}
	}
}
