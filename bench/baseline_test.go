package bench

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCeiling runs both ceiling modes against an in-process receiver.
func TestCeiling(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go ServeCeiling(ln)
	res, err := RunCeiling(CeilingOptions{Connect: ln.Addr().String(), Mode: "sink", Framing: "cbor", Size: 64 << 10,
		Count: 200, Timeout: 20 * time.Second})
	if err != nil || field(res, "received") != "200" {
		t.Fatalf("64 KiB: %v (%v)", err, res)
	}
	if mb, _ := strconv.ParseFloat(field(res, "payload_MB_per_s"), 64); mb <= 0 {
		t.Fatalf("64 KiB: no payload_MB_per_s in %v", res.Fields)
	}
	for _, f := range []string{"json", "storable"} {
		for _, mode := range []string{"sink", "ping"} {
			count := 200000
			if mode == "ping" {
				count = 1000
			}
			res, err := RunCeiling(CeilingOptions{Connect: ln.Addr().String(), Mode: mode, Framing: f, Size: 20,
				Count: count, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatalf("%s %s: %v", f, mode, err)
			}
			if got := field(res, "received"); got != strconv.Itoa(count) {
				t.Fatalf("%s %s: received %s of %d", f, mode, got, count)
			}
			t.Log(res.Fields)
		}
	}
}

// TestCeilingFrame: the ceiling's frames are the sink benchmark's frames.
func TestCeilingFrame(t *testing.T) {
	b, err := CeilingFrame("json", 3)
	if err != nil || string(b) != `["sink","xxx"]` {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := CeilingFrame("nope", 3); err == nil {
		t.Fatal("unknown framing accepted")
	}
}

// TestStdNode drives the net + encoding/json baseline with the Go load
// generator: handshake, echo, sink and reports must behave as on a node.
func TestStdNode(t *testing.T) {
	s, err := NewStdNode("stdnode", "bench-secret")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	for _, mode := range []string{"sink", "ping"} {
		count := 20000
		if mode == "ping" {
			count = 2000
		}
		res, err := Run(Options{Connect: ln.Addr().String(), Target: "stdnode", Secret: "bench-secret", Mode: mode,
			Count: count, Size: 20, Framings: []string{"json"}, Batch: 1000, Outstanding: 4, Inflight: 1,
			Timeout: 20 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		t.Log(res.Fields)
	}
	if n, b := s.Counts(); n != 20000 || b != 20000*20 {
		t.Fatalf("sink counted %d messages, %d bytes", n, b)
	}
}

func field(r *Result, k string) string {
	for _, f := range r.Fields {
		if f.Key == k {
			return strings.TrimSpace(strings.Trim(strconv.Quote(toString(f.Value)), `"`))
		}
	}
	return ""
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// needPerl skips the test when perl with AnyEvent::Handle and JSON::XS is
// missing, except in CI (CI set), where that is a failure.
func needPerl(t *testing.T) {
	t.Helper()
	if err := exec.Command("perl", "-MAnyEvent::Handle", "-MJSON::XS", "-MStorable", "-e", "1").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("perl with AnyEvent, JSON::XS and Storable is required in CI: %v", err)
		}
		t.Skipf("perl with AnyEvent::Handle and JSON::XS not available: %v", err)
	}
}

// startPerlNode runs aemp-peer.pl --listen and returns its address.
func startPerlNode(t *testing.T, framings string) string {
	t.Helper()
	cmd := exec.Command("perl", "perl/aemp-peer.pl", "--listen", "127.0.0.1:0", "--nodeid", "perlnode",
		"--secret", "bench-secret", "--framing", framings, "--quit-after", "60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- l
			}
		}
	}()
	select {
	case a := <-ready:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("aemp-peer.pl did not print READY")
	}
	return ""
}

// perlSend runs aemp-send.pl and returns its RESULT fields.
func perlSend(t *testing.T, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command("perl", append([]string{"perl/aemp-send.pl", "--secret", "bench-secret", "--quiet", "--timeout", "30"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aemp-send.pl %v: %v\n%s", args, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
			m := map[string]string{}
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
	}
	t.Fatalf("aemp-send.pl %v: no RESULT line in %q", args, out)
	return nil
}

// TestPerlBaselines: the Perl sender against a Go node and the Perl node,
// and the Go load generator against the Perl node, in both framings.
func TestPerlBaselines(t *testing.T) {
	needPerl(t)
	goNode := startTarget(t)
	perlNode := startPerlNode(t, "json,storable")
	for _, f := range []string{"json", "storable"} {
		for _, target := range []string{goNode.Addrs()[0], perlNode} {
			r := perlSend(t, "--connect", target, "--mode", "sink", "--count", "5000", "--framing", f)
			if r["received"] != "5000" || r["framing"] != f || r["peer_framing"] != f {
				t.Fatalf("perl sink %s -> %s: %v", f, target, r)
			}
			r = perlSend(t, "--connect", target, "--mode", "ping", "--count", "200", "--framing", f, "--inflight", "2")
			if r["received"] != "200" || r["p99_us"] == "" {
				t.Fatalf("perl ping %s -> %s: %v", f, target, r)
			}
			t.Log(f, target, r)
		}
		for _, mode := range []string{"sink", "ping"} {
			res, err := Run(Options{Connect: perlNode, Target: "perlnode", Secret: "bench-secret", Mode: mode,
				Count: 2000, Size: 20, Framings: []string{f}, Batch: 1000, Outstanding: 4, Inflight: 1,
				Timeout: 20 * time.Second})
			if err != nil {
				t.Fatalf("go %s -> perl %s: %v", mode, f, err)
			}
			if field(res, "framing") != f {
				t.Fatalf("go -> perl: %v", res.Fields)
			}
			// Several links into the Perl node, which counts them together.
			res, err = Run(Options{Connect: perlNode, Target: "perlnode", Secret: "bench-secret", Mode: mode,
				Count: 3001, Size: 20, Framings: []string{f}, Batch: 500, Outstanding: 2, Inflight: 1, Conns: 3,
				Timeout: 20 * time.Second})
			if err != nil || field(res, "received") != "3001" || field(res, "conns") != "3" {
				t.Fatalf("go %s -> perl %s, 3 links: %v (%v)", mode, f, err, res)
			}
		}
	}
	// Handshakes: we authenticate with HMAC-MD6; the Perl peer answers
	// with cleartext, which we must be told to accept.
	o := Options{Connect: perlNode, Target: "perlnode", Secret: "bench-secret", Mode: "connect", Count: 50, Conns: 4,
		Auth: []string{"hmac_md6_64_256"}, Timeout: 20 * time.Second}
	if _, err := Run(o); !errors.Is(err, ErrConnect) {
		t.Fatalf("cleartext not accepted: %v, want ErrConnect", err)
	}
	o.AcceptAuth = []string{"hmac_md6_64_256", "cleartext"}
	res, err := Run(o)
	if err != nil || field(res, "received") != "50" || field(res, "auth") != "cleartext" {
		t.Fatalf("handshakes with the Perl peer: %v (%v)", err, res)
	}
}
