package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aemp-go/aemp/config"
	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
	"github.com/aemp-go/aemp/services"
)

// startTestNode starts an aemp-go node on 127.0.0.1 with the secret of
// the Perl recordings; it is closed when the test ends.
func startTestNode(t *testing.T, id string, seeds ...string) *engine.Node {
	t.Helper()
	n, err := engine.New(engine.Config{NodeID: id, Binds: []string{"127.0.0.1:0"}, Seeds: seeds,
		Secret: "aemp-test-secret", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n
}

// aempOut runs "aemp args..." in this process.
func aempOut(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// perlStdout is what Perl's aemp printed in recorded step name.
func perlStdout(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "perl-aemp", name+".stdout"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// protoMesh is the recordings' setup with aemp-go nodes: T serves aemp
// node's ports (calecho is Perl's T#echo), dier (its handler panics, as
// T#dier's dies), victim and quiet (never answer); U is seeded with T.
// aemp's configuration file is written by aemp's own setsecret and
// setseeds; both nodes are seeds, since the mesh that would lead aemp
// from T to U is not wired in.
type protoMesh struct {
	t, u *engine.Node
	sink *services.Sink
	rc   string
}

func startProtoMesh(t *testing.T) *protoMesh {
	t.Helper()
	m := &protoMesh{}
	m.t = startTestNode(t, "T")
	var err error
	if m.sink, err = services.Serve(m.t); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]engine.Handler{
		"dier":   func(*engine.Message) { panic("handler of dier died on purpose\n") },
		"victim": func(*engine.Message) {},
		"quiet":  func(*engine.Message) {},
	} {
		if _, err := m.t.Register(name, h); err != nil {
			t.Fatal(err)
		}
	}
	m.u = startTestNode(t, "U", m.t.Addrs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.u.WaitNode(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	m.rc = filepath.Join(t.TempDir(), "aemp-rc.json")
	t.Setenv(config.EnvFile, m.rc)
	if code, out, errs := aempOut("setsecret", "aemp-test-secret", "setseeds", m.t.Addrs()[0]+","+m.u.Addrs()[0]); code != 0 || out != "" || errs != "" {
		t.Fatalf("aemp setsecret ... setseeds ...: exit %d, %q, %q", code, out, errs)
	}
	return m
}

// TestProtoAsPerl runs the recorded steps of Perl's aemp 1.30 against
// aemp-go nodes and compares stdout byte for byte, and the exit status.
func TestProtoAsPerl(t *testing.T) {
	m := startProtoMesh(t)
	steps := []struct {
		name string
		args []string
		code int
		want string // "" : the recording's stdout
	}{
		{"03-snd-ok", []string{"snd", "T#sink", "hello", "1"}, 0, ""},
		{"04-snd-nosuchport", []string{"snd", "T#nosuchport", "hello"}, 0, ""},
		{"05-snd-nosuchnode", []string{"snd", "Z#someport", "hello"}, 1, ""},
		{"06-cal-echo", []string{"cal", "T#calecho", "a", "b"}, 0, ""},
		{"07-cal-echo-json", []string{"cal", "T#calecho", `{"k":[1,2.5,null]}`, `"quoted"`}, 0, ""},
		// Perl's cal waits for ever (the recording was killed after 8 s
		// with nothing printed); --timeout ends ours.
		{"09-cal-noreply", []string{"cal", "--timeout", "1", "T#quiet", "x"}, 1, ""},
		{"10-cal-nosuchport", []string{"cal", "T#nosuchport", "x"}, 0, ""},
		{"11-mon-nosuchport", []string{"mon", "T#nosuchport"}, 0, ""},
		// Bytes over 0x7f in an argument (a Perl byte string) and a JSON
		// string with a character below U+0100: printed as Perl prints
		// them (recorded with Perl's aemp against a 1.30 node's echo).
		{"x-cal-bytes", []string{"cal", "T#calecho", "\u00e9\u20ac", `"\u00e9"`}, 0, ""},
		// The whole command line as one JSON array.
		{"json-command-line", []string{`["cal","T#calecho",1,2.50,"x",null,{"b":1,"a":[]},"1e400",12345678901234567890123]`}, 0,
			`1,2.5,"x",null,{"a":[],"b":1},"1e400","12345678901234567890123"` + "\n"},
	}
	t.Run("steps", func(t *testing.T) {
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				t.Parallel()
				want := st.want
				if want == "" {
					want = perlStdout(t, st.name)
				}
				code, out, errs := aempOut(st.args...)
				if code != st.code || out != want {
					t.Errorf("aemp %s: exit %d, stdout %q; want exit %d, stdout %q (stderr %q)", strings.Join(st.args, " "), code, out, st.code, want, errs)
				}
				if st.code == 0 && errs != "" {
					t.Errorf("stderr %q", errs)
				}
				if st.code != 0 && strings.Count(errs, "\n") != 1 {
					t.Errorf("stderr is not one line: %q", errs)
				}
			})
		}
		t.Run("08-cal-time", func(t *testing.T) {
			t.Parallel()
			code, out, errs := aempOut("cal", "T", "time")
			perl := perlStdout(t, "08-cal-time")
			shape := regexp.MustCompile(`^[0-9]{10}\.[0-9]{1,5}\n$`) // %.15g of a Unix time
			if code != 0 || !shape.MatchString(out) || !shape.MatchString(perl) {
				t.Fatalf("exit %d, stdout %q (Perl's %q), stderr %q", code, out, perl, errs)
			}
			f, _ := strconv.ParseFloat(strings.TrimSpace(out), 64)
			if d := time.Since(time.Unix(int64(f), 0)); d < -time.Minute || d > time.Minute {
				t.Errorf("T's time %s is %v away", out, d)
			}
		})
	})
	// trace alone: T's up_nodes lists every node connected to it, the
	// short-lived nodes of other aemp runs too.
	t.Run("14-trace", func(t *testing.T) {
		waitUntil(t, "other aemp nodes gone", func() bool { return m.t.Stats().NodesUp == 1 })
		code, out, errs := aempOut("trace", "T")
		if want := perlStdout(t, "14-trace"); code != 0 || out != want || errs != "" {
			t.Errorf("aemp trace T: exit %d, stdout %q, stderr %q; want %q", code, out, errs, want)
		}
	})
	if n, b := m.sink.Counts(); n != 1 || b != int64(len("hello")+len("1")) {
		t.Errorf("T#sink counted %d messages of %d bytes; want the one of snd", n, b)
	}

	// mon on a port killed with a reason: killed once T has the mon1 (the
	// only message aemp sends).
	monThen := func(name, port string, then func()) {
		t.Run(name, func(t *testing.T) {
			waitUntil(t, "other aemp nodes gone", func() bool { return m.t.Stats().NodesUp == 1 })
			before := m.t.Stats()
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errs := aempOut("mon", port)
				done <- result{code, out, errs}
			}()
			if strings.Contains(port, "#") {
				// aemp's node may send mesh messages (g_slave) before and
				// around its mon1: wait until T has received something and
				// then nothing more for 100 ms, so that the kill below
				// comes after the monitor, not before it.
				waitUntil(t, "mon1 at T", func() bool { return m.t.Stats().Received > before.Received })
				end := time.Now().Add(2 * time.Second)
				for last, quiet := m.t.Stats().Received, time.Now(); time.Since(quiet) < 100*time.Millisecond && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
					if r := m.t.Stats().Received; r != last {
						last, quiet = r, time.Now()
					}
				}
			} else {
				waitUntil(t, "aemp's node at T", func() bool { return m.t.Stats().NodesUp > before.NodesUp })
			}
			then()
			select {
			case r := <-done:
				if want := perlStdout(t, name); r.code != 0 || r.out != want || r.err != "" {
					t.Errorf("aemp mon %s: exit %d, stdout %q, stderr %q; want %q", port, r.code, r.out, r.err, want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("aemp mon did not end")
			}
		})
	}
	monThen("15-mon-killed-with-reason", "T#victim", func() {
		m.t.Kill("T#victim", "killed_for_test", "port victim was killed on purpose")
	})
	monThen("16-mon-handler-died", "T#dier", func() { m.t.Send("T#dier", "boom") })
	monThen("17-mon-node-down", "T", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.t.Close(ctx)
	})
}

// fake2x is a node that behaves as an AnyEvent::MP 2.x node towards
// aemp trace: it authenticates with hmac_sha3_512 and ignores up_nodes (a
// 2.x node calls its API function of that name and answers nothing). It
// answers can NAME as 2.02 does: "1" for its built-in requests and for
// every name it was ever sent (2.02 caches whatever it looked up), else
// "".
func fake2x(t *testing.T, id string) string {
	t.Helper()
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: id, Secret: []byte("aemp-test-secret"),
		AuthOffer: handshake.AuthOffer2x, AuthAccept: handshake.AuthAccept2x, Framings: []string{"json"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				serveFake2x(cfg, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func serveFake2x(cfg *handshake.Config, c net.Conn) {
	h, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	if err != nil {
		return
	}
	c.Write(h.Start())
	var buf []byte
	tmp := make([]byte, 4096)
	for done := false; !done; {
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
		st, err := h.Feed(buf)
		c.Write(st.Out)
		if err != nil {
			return
		}
		buf = buf[st.Consumed:]
		done = st.Done
	}
	dec := framing.NewDecoder(framing.JSON, framing.Limits{})
	known := map[string]bool{"mon0": true, "mon1": true, "kil0": true, "kil1": true, "snd": true, "can": true,
		"eval": true, "time": true, "devnull": true, "": true}
	for {
		for {
			msg, n, err := dec.Next(buf)
			if err != nil || n == 0 {
				break
			}
			buf = buf[n:]
			args, err := msg.Args()
			if err != nil || len(msg.Port()) != 0 || len(args) == 0 {
				continue
			}
			name, _ := args[0].(string)
			if name != "can" || len(args) < 3 {
				known[name] = true
				continue
			}
			// ["", "can", NAME, REPLY, X...] -> REPLY: X..., "1" or ""
			what, _ := args[1].(string)
			yes := ""
			if known[what] {
				yes = "1"
			}
			reply, _ := args[2].(string)
			_, port := engine.SplitPortID(reply)
			out, err := framing.JSON.AppendMessage(nil, port, append(append([]any{}, args[3:]...), yes))
			if err == nil {
				c.Write(out)
			}
		}
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
	}
}

// TestTrace2x: a 2.x node does not answer up_nodes; trace says so on
// stderr at once instead of waiting 15 s for it, also the second time
// (trace must not leave the node claiming it can).
func TestTrace2x(t *testing.T) {
	addr := fake2x(t, "P2")
	rc := filepath.Join(t.TempDir(), "rc")
	t.Setenv(config.EnvFile, rc)
	if code, _, errs := aempOut("setsecret", "aemp-test-secret", "setseeds", addr); code != 0 {
		t.Fatal(errs)
	}
	for range 2 {
		start := time.Now()
		code, out, errs := aempOut("trace", "P2")
		if code != 0 || out != "seed P2\n" || errs != "aemp trace: P2 does not answer up_nodes (an AnyEvent::MP 2.x node): its neighbours are not shown\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}
	}
}

// TestProtoBadInput: one line on stderr and the documented exit status
// for each kind of bad input; the configuration file is left as it was.
func TestProtoBadInput(t *testing.T) {
	dir := t.TempDir()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()
	files := map[string]string{
		"notjson":  "{\"secret\": \"s\",\n  seeds: [1]\n}\n",
		"loop":     `{"secret":"s","profile":{"aemp":{"parent":"b"},"b":{"parent":"aemp"}}}`,
		"nosecret": `{"seeds":["127.0.0.1:1"]}`,
		"dead":     `{"secret":"s","seeds":["` + deadAddr + `"]}`,
		"good":     `{"secret":"s"}`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		file string
		args []string
		code int
		want string // in the stderr line
	}{
		{"notjson", []string{"snd", "T#p", "x"}, 1, "notjson: not a valid configuration file"},
		{"loop", []string{"cal", "T#p"}, 1, "profile loop: aemp -> b -> aemp"},
		{"nosecret", []string{"mon", "T#p"}, 1, "no secret configured"},
		{"dead", []string{"cal", "--timeout", "1", "T#p", "x"}, 1, "seed " + deadAddr + ": Connection refused"},
		{"good", []string{"snd", "#p", "x"}, 2, "#p: not a port ID"},
		{"good", []string{"cal"}, 2, "PORT missing"},
		{"good", []string{"mon", "T#p", "extra"}, 2, "unexpected argument extra"},
		{"good", []string{"cal", "T#p", "[1,"}, 2, "[1,:"},
		{"good", []string{"eval", "T", "1+2"}, 2, "eval runs Perl code on the target node; aemp-go does not offer it"},
		{"good", []string{"shell"}, 2, "shell runs Perl code"},
		{"good", []string{`["restart","T"]`}, 2, "restart runs Perl code"},
		{"good", []string{"cal", "--timeout", "-1", "T#p"}, 2, "--timeout must be positive"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.file)
		before, _ := os.ReadFile(path)
		t.Setenv(config.EnvFile, path)
		code, out, errs := aempOut(c.args...)
		if code != c.code || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: aemp %s: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", c.file,
				strings.Join(c.args, " "), code, out, errs, c.code, c.want)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("%s changed", c.file)
		}
	}
}

// TestProtoHelp: --help describes the commands, says that eval, shell
// and restart are not offered, and lists the flags.
func TestProtoHelp(t *testing.T) {
	for _, cmd := range []string{"snd", "cal", "mon", "trace"} {
		code, out, _ := aempOut(cmd, "--help")
		for _, want := range []string{"usage: aemp snd", "eval, shell and restart", "-config", "-seed", "Exit status"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("aemp %s --help: exit %d, no %q", cmd, code, want)
			}
		}
		if strings.Contains(out, "\n  -timeout") != (cmd == "cal") {
			t.Errorf("aemp %s --help: --timeout listed: %v", cmd, !(cmd == "cal"))
		}
	}
	if _, out, _ := aempOut("--help"); !strings.Contains(out, "eval, shell and") || !strings.Contains(out, "trace") {
		t.Errorf("aemp --help:\n%s", out)
	}
}

// TestProtoFlagsOverrideFile: the flags replace the file's seeds and
// secret; the file's aemp profile is used, else the --profile given.
func TestProtoFlagsOverrideFile(t *testing.T) {
	n := startTestNode(t, "T")
	if _, err := services.Serve(n); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(t.TempDir(), "rc")
	os.WriteFile(rc, []byte(`{"secret":"wrong","seeds":["127.0.0.1:1"],
		"profile":{"other":{"secret":"aemp-test-secret","seeds":["`+n.Addrs()[0]+`"]}}}`), 0o600)
	t.Setenv(config.EnvFile, rc)
	if code, out, errs := aempOut("cal", "--seed", n.Addrs()[0], "--secret", "aemp-test-secret", "T#calecho", "x"); code != 0 || out != "\"x\"\n" {
		t.Errorf("flags: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := aempOut("cal", "--profile", "other", "T#calecho", "y"); code != 0 || out != "\"y\"\n" {
		t.Errorf("--profile: exit %d, %q, %q", code, out, errs)
	}
	t.Setenv("AEMP_SECRET", "aemp-test-secret")
	if code, out, errs := aempOut("cal", "--seed", n.Addrs()[0], "T#calecho", "z"); code != 0 || out != "\"z\"\n" {
		t.Errorf("$AEMP_SECRET: exit %d, %q, %q", code, out, errs)
	}
}

// TestPerlValues: arguments and output as Perl's aemp takes and prints
// them.
func TestPerlValues(t *testing.T) {
	for in, want := range map[string]string{
		"plain": `"plain"`, "-x": `"-x"`, "": `""`, "1": `"1"`, `"q\"uote"`: `"q\"uote"`,
		`[1,"a",{"k":null}]`: `[1,"a",{"k":null}]`, `{"b":[true,false]}`: `{"b":[true,false]}`,
		"2.50": `"2.50"`, `[2.50,1e3,-0,1.5e-7]`: `[2.5,1000,0,1.5e-07]`,
	} {
		v, err := perlArg(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := string(appendPerlJSON(nil, v)); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"[1,", "{x}", `"open`, "[1] x"} {
		if _, err := perlArg(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	vals := []any{"a b", int64(-3), framing.Number("3.0"), framing.Number("0.1"), 1796656762.149112,
		framing.Number("18446744073709551615"), framing.Number("18446744073709551616"),
		framing.Number("123456789012345678901234567890"), true, false, nil, []byte{0xe9},
		"tab\tnl\nctl\x01del\x7f\u00e9\u20ac\\\"", []any{}, map[string]any{"z": 1.0, "a": "x"}}
	if got, want := perlWords(vals), "a b -3 3 0.1 1796656762.14911 18446744073709551615 1.84467440737096e+19 123456789012345678901234567890 1 0  \u00e9 tab\tnl\nctl\x01del\x7f\u00e9\u20ac\\\" [] {\"a\":\"x\",\"z\":1} \n"; got != want {
		t.Errorf("perlWords:\n%q\nwant\n%q", got, want)
	}
	if got, want := perlList(vals), `"a b",-3,3,0.1,1796656762.14911,18446744073709551615,1.84467440737096e+19,"123456789012345678901234567890",true,false,null,"`+"\u00e9"+`","tab\tnl\nctl\u0001del`+"\x7f\u00e9\u20ac"+`\\\"",[],{"a":"x","z":1}`+"\n"; got != want {
		t.Errorf("perlList:\n%q\nwant\n%q", got, want)
	}
	// Perl prints characters below U+0100 as one byte each, unless a
	// character of the same print is wider: then everything in UTF-8.
	for in, want := range map[string]string{"a\u00e9\u00ff\n": "a\xe9\xff\n", "\u00e9\u20ac": "\u00e9\u20ac", "": ""} {
		if got := perlPrint(in); got != want {
			t.Errorf("perlPrint(%q) = %q, want %q", in, got, want)
		}
	}
	// An argument with bytes over 0x7f is a Perl byte string; JSON text
	// is characters.
	if v, _ := perlArg("\xc3\xa9"); !bytes.Equal(v.([]byte), []byte("\u00e9")) {
		t.Errorf("perlArg(é) = %#v", v)
	}
	if v, _ := perlArg(`"\u00e9"`); v != "\u00e9" {
		t.Errorf("perlArg(\"\\u00e9\") = %#v", v)
	}
	if _, err := perlArg("[\"\xff\"]"); err == nil {
		t.Error("malformed UTF-8 in JSON accepted")
	}
	if perlWords(nil) != "\n" || perlList(nil) != "\n" || perlJoin([]any{"a", int64(1)}) != "a 1" {
		t.Error("empty lists")
	}
}

// TestRunArgs: aemp run's key/value pairs as AnyEvent::MP's configure
// takes them, below the file's settings.
func TestRunArgs(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	os.WriteFile(rc, []byte(`{"secret":"file","profile":{"p":{"seeds":["10.0.0.1:4040"]}}}`), 0o600)
	t.Setenv(config.EnvFile, rc)
	toks := func(args ...string) []protoArg {
		var out []protoArg
		for _, a := range args {
			v := any(a)
			if strings.HasPrefix(a, "[") {
				v, _ = config.Decode([]byte(a), false)
			}
			out = append(out, protoArg{raw: a, val: v, decoded: true})
		}
		return out
	}
	f, err := runFlags(toks("p", "nodeid", "R", "binds", `["127.0.0.1:0"]`, "seeds", `["10.9.9.9:1"]`, "secret", "arg"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// The file's profile p sets seeds and its top level the secret: they
	// win over configure's arguments, as in Perl 1.30.
	if cfg.NodeID != "R" || strings.Join(cfg.Binds, ",") != "127.0.0.1:0" || strings.Join(cfg.Seeds, ",") != "10.0.0.1:4040" || cfg.Secret != "file" {
		t.Errorf("config %+v", cfg)
	}
	if _, err := runFlags(toks("profile", "p", `[1]`, "x"), io.Discard); err == nil {
		t.Error("a JSON array as key accepted")
	}
}

// TestNodeReadsDefaultFile: aemp node reads $PERL_ANYEVENT_MP_RC (profile
// --profile, default the host name), flags over it; /dev/null is none.
func TestNodeReadsDefaultFile(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	os.WriteFile(rc, []byte(`{"secret":"s","binds":["127.0.0.1:4999"],"profile":{"p1":{"nodeid":"X","seeds":["10.0.0.1:1"]}}}`), 0o600)
	t.Setenv(config.EnvFile, rc)
	t.Setenv("AEMP_SECRET", "")
	f := newNodeFlags(io.Discard)
	if done, _ := parseFlags(f.fs, []string{"--profile", "p1", "--bind", "127.0.0.1:0"}, io.Discard); done {
		t.Fatal("flags")
	}
	cfg, err := f.config(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "X" || cfg.Secret != "s" || strings.Join(cfg.Seeds, ",") != "10.0.0.1:1" || strings.Join(cfg.Binds, ",") != "127.0.0.1:0" {
		t.Errorf("config %+v", cfg)
	}
	t.Setenv(config.EnvFile, "/dev/null")
	f = newNodeFlags(io.Discard)
	parseFlags(f.fs, nil, io.Discard)
	if _, err := f.config(slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Errorf("with /dev/null: %v", err)
	}
	os.WriteFile(rc, []byte(`{"secret":"s","profile":{"a":{"parent":"b"},"b":{"parent":"a"}}}`), 0o600)
	t.Setenv(config.EnvFile, rc)
	f = newNodeFlags(io.Discard)
	parseFlags(f.fs, []string{"--profile", "a"}, io.Discard)
	if _, err := f.config(slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "profile loop") {
		t.Errorf("loop: %v", err)
	}
}
