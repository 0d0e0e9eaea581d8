package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/nodefuzz"
)

func fuzzTarget(t *testing.T) string {
	t.Helper()
	n, err := engine.New(engine.Config{NodeID: "target", Secret: "s3", Binds: []string{"127.0.0.1:0"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n.Addrs()[0]
}

// resultFields parses a RESULT line.
func resultFields(t *testing.T, out string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			m := map[string]string{}
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
	}
	t.Fatalf("no RESULT line in %q", out)
	return nil
}

func TestFuzzUsage(t *testing.T) {
	for _, args := range [][]string{
		{"fuzz"},
		{"fuzz", "--connect", "127.0.0.1:1"},
		{"fuzz", "--connect", "127.0.0.1:1", "--secret", "s", "--framing", "xml"},
		{"fuzz", "--connect", "127.0.0.1:1", "--secret", "s", "--duration", "soon"},
		{"fuzz", "--connect", "127.0.0.1:1", "--secret", "s", "--seed", "-1"},
		{"fuzz", "--connect", "127.0.0.1:1", "--secret", "s", "extra"},
	} {
		if code, _, errOut := runCmd(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	if code, out, _ := runCmd(t, "", "fuzz", "--help"); code != 0 || !strings.Contains(out, "--replay FILE") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

func TestFuzzCannotConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, errOut := runCmd(t, "", "fuzz", "--connect", addr, "--secret", "s", "--cases", "5")
	if code != 1 || !strings.Contains(errOut, "cannot connect") {
		t.Errorf("exit %d, stderr %q; want 1 and cannot connect", code, errOut)
	}
	// a node that does not know our secret
	target := fuzzTarget(t)
	code, _, errOut = runCmd(t, "", "fuzz", "--connect", target, "--secret", "wrong", "--cases", "5", "--probe-timeout", "1s")
	if code != 1 {
		t.Errorf("wrong secret: exit %d, want 1 (%s)", code, errOut)
	}
}

func TestFuzzAgainstNode(t *testing.T) {
	target := fuzzTarget(t)
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "", "fuzz", "--connect", target, "--secret", "s3", "--target", "target",
		"--cases", "60", "--seed", "42", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	f := resultFields(t, stdout)
	for _, k := range []string{"cases", "cases_greeting", "cases_auth", "cases_data", "findings", "findings_crash",
		"findings_hang", "findings_dead_link", "findings_memory", "elapsed", "cases_per_s", "seed"} {
		if _, ok := f[k]; !ok {
			t.Errorf("RESULT has no %s: %s", k, stdout)
		}
	}
	if f["cases"] != "60" || f["findings"] != "0" || f["seed"] != "42" {
		t.Errorf("RESULT %v", f)
	}
	var obj map[string]any
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &obj); err != nil || obj["cases"] != float64(60) {
		t.Errorf("--json: %v %v", obj, err)
	}
	// another node ID than --target: cannot go on
	code, _, stderr = runCmd(t, "", "fuzz", "--connect", target, "--secret", "s3", "--target", "other", "--cases", "1")
	if code != 1 || !strings.Contains(stderr, `"target", not "other"`) {
		t.Errorf("--target other: exit %d, %s", code, stderr)
	}
}

// TestFuzzReplay replays a hand-made dead-link finding (malformed JSON
// after a good handshake) against an aemp-go node, which closes such a
// link: not reproduced (exit 0); a missing file is a usage error.
func TestFuzzReplay(t *testing.T) {
	target := fuzzTarget(t)
	greet := "aemp;1;fz-link1;hmac_sha3_512;json\nQUJD\n"
	f := nodefuzz.Finding{Kind: nodefuzz.KindDeadLink, Phase: nodefuzz.PhaseData, What: "json: malformed", Seed: 1, Case: 1,
		Framing: "json", OurID: "fz-link1", LinkCheck: true, Marker: "fztmarker1",
		Sent: []nodefuzz.Chunk{
			{Phase: nodefuzz.PhaseGreeting, Hex: hex.EncodeToString([]byte(greet))},
			{Phase: nodefuzz.PhaseAuth, Auth: &nodefuzz.AuthTemplate{Template: "hmac_sha3_512;{token};json\n", Method: "hmac_sha3_512",
				Ours: [2]string{"aemp;1;fz-link1;hmac_sha3_512;json", "QUJD"}}},
			{Phase: nodefuzz.PhaseData, Hex: hex.EncodeToString([]byte(`["fz-none",1,}`))},
			{Phase: nodefuzz.PhaseData, Probe: true, Hex: hex.EncodeToString([]byte(`["","time","fz-link1#fztmarker1","fztmarker1"]`))},
		}}
	b, _ := json.Marshal(f)
	file := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "", "fuzz", "--replay", file, "--connect", target, "--secret", "s3")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := resultFields(t, stdout)
	if r["kind"] != "dead-link" || r["reproduced"] != "0" || r["seen"] != "-" {
		t.Errorf("RESULT %v", r)
	}
	if code, _, _ := runCmd(t, "", "fuzz", "--replay", file+".missing", "--connect", target, "--secret", "s3"); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}
