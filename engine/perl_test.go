package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// perlPeer runs bench/perl/aemp-peer.pl (AnyEvent::Handle + JSON::XS,
// cleartext auth, json framing). Outside CI the test is skipped when perl
// or the modules are missing; in CI (CI set) that is a failure.
type perlPeer struct {
	cmd   *exec.Cmd
	lines chan string
}

func startPerlPeer(t *testing.T, args ...string) *perlPeer {
	t.Helper()
	return runPerlScript(t, "aemp-peer.pl", []string{"AnyEvent::Handle", "JSON::XS"}, "libanyevent-perl libjson-xs-perl", args...)
}

// runPerlScript runs bench/perl/SCRIPT after checking that perl has the
// modules (Debian packages pkgs): outside CI a missing module skips the
// test, in CI (CI set) it fails it.
func runPerlScript(t *testing.T, script string, modules []string, pkgs string, args ...string) *perlPeer {
	t.Helper()
	path, _ := filepath.Abs("../bench/perl/" + script)
	check := []string{"-e", "1"}
	for _, m := range modules {
		check = append([]string{"-M" + m}, check...)
	}
	if out, err := exec.Command("perl", check...).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s needs perl with %v in CI (Debian: %s): %v\n%s", script, modules, pkgs, err, out)
		}
		t.Skipf("%s: perl modules %v not available (Debian: %s): %v", script, modules, pkgs, err)
	}
	cmd := exec.Command("perl", append([]string{path}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &perlPeer{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		close(p.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return p
}

// expect waits for a line starting with prefix and returns it.
func (p *perlPeer) expect(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("perl peer exited before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("perl peer: no %q within %v", prefix, d)
		}
	}
}

// TestPerlPeerConnects: the Perl peer connects to a Go node; messages go
// both ways through echo, and the sink counts the peer's messages.
func TestPerlPeerConnects(t *testing.T) {
	g := startNode(t, "gonode", Config{Secret: "perl-secret"})
	back, backID := newCollector(t, g.Node, "back")
	p := startPerlPeer(t, "--connect", g.Addrs()[0], "--nodeid", "perlpeer", "--secret", "perl-secret",
		"--send", `["echo","perlpeer#r","hi",1,{"k":["v"]}]`,
		"--sink-count", "1000", "--sink-size", "20",
		"--send", `["sink","report","perlpeer#rep"]`, "--quit-after", "20")
	if l := p.expect(t, "UP ", 10*time.Second); l != "UP gonode json" {
		t.Fatalf("perl peer: %q", l)
	}
	if l := p.expect(t, `RECV ["r"`, 5*time.Second); l != `RECV ["r","hi",1,{"k":["v"]}]` {
		t.Fatalf("echo reply: %q", l)
	}
	g.waitEvent(t, "perlpeer", true, 5*time.Second)
	mustf(t, g.Send("perlpeer#echo", backID, "from go", int64(7)), "send to perl")
	if got := back.next(t, 5*time.Second); fmt.Sprint(got) != "[from go 7]" {
		t.Fatalf("perl echo: %v", got)
	}
	// The sink on the Go side counted 1000 messages of 20 bytes.
	deadline := time.Now().Add(5 * time.Second)
	mustf(t, g.Send("perlpeer#sink", "report", backID), "report")
	for {
		mustf(t, g.Send("gonode#sink", "report", backID), "local report")
		got := back.next(t, 5*time.Second)
		if fmt.Sprint(got[:3]) == "[count 1000 20000]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGoConnectsToPerlPeer: a Go node connects to a listening Perl peer.
func TestGoConnectsToPerlPeer(t *testing.T) {
	p := startPerlPeer(t, "--listen", "127.0.0.1:0", "--nodeid", "perllisten", "--secret", "s2", "--quit-after", "20")
	ready := p.expect(t, "READY ", 10*time.Second)
	addr := strings.TrimPrefix(ready, "READY ")
	g := startNode(t, "goclient", Config{Secret: "s2", Binds: []string{}, Seeds: []string{addr}})
	g.waitEvent(t, "perllisten", true, 10*time.Second)
	back, backID := newCollector(t, g.Node, "back")
	for i := 0; i < 100; i++ {
		mustf(t, g.Send("perllisten#sink", "payload"), "sink")
	}
	mustf(t, g.Send("perllisten#sink", "report", backID), "report")
	if got := back.next(t, 5*time.Second); fmt.Sprint(got[:3]) != "[count 100 700]" {
		t.Fatalf("perl sink: %v", got)
	}
	mustf(t, g.Send("perllisten#echo", backID, "ü", nil), "echo")
	if got := back.next(t, 5*time.Second); fmt.Sprint(got) != "[ü <nil>]" {
		t.Fatalf("perl echo: %#v", got)
	}
	if l := p.expect(t, "UP ", time.Second); l != "UP goclient json" {
		t.Fatalf("perl peer: %q", l)
	}
}
