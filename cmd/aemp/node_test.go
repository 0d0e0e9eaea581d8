package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aemp-go/aemp/config"
)

var (
	aempBinOnce sync.Once
	aempBin     string
	aempBinErr  error
)

// aempBinary builds this command once per test run (without the race
// detector) for tests that need a process of their own (signals).
func aempBinary(t *testing.T) string {
	t.Helper()
	aempBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aemp-cmd-test")
		if err != nil {
			aempBinErr = err
			return
		}
		aempBin = filepath.Join(dir, "aemp")
		out, err := exec.Command("go", "build", "-o", aempBin, ".").CombinedOutput()
		if err != nil {
			aempBinErr = err
			aempBin = string(out)
		}
	})
	if aempBinErr != nil {
		t.Fatalf("go build: %v\n%s", aempBinErr, aempBin)
	}
	return aempBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if aempBin != "" && aempBinErr == nil {
		os.RemoveAll(filepath.Dir(aempBin))
	}
	os.Exit(code)
}

// nodeProc is an "aemp node" (or "aemp run") process.
type nodeProc struct {
	cmd     *exec.Cmd
	lines   chan string // stdout
	mu      sync.Mutex
	stderr  []string
	errLine chan struct{}
}

func startNodeProc(t *testing.T, args ...string) *nodeProc {
	t.Helper()
	p := &nodeProc{cmd: exec.Command(aempBinary(t), args...), lines: make(chan string, 16), errLine: make(chan struct{}, 1)}
	p.cmd.Env = append(os.Environ(), config.EnvFile+"=/dev/null", "AEMP_SECRET=")
	out, _ := p.cmd.StdoutPipe()
	errp, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		sc := bufio.NewScanner(errp)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr = append(p.stderr, sc.Text())
			p.mu.Unlock()
			select {
			case p.errLine <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

// line returns the next stdout line.
func (p *nodeProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("process ended; stderr:\n%s", strings.Join(p.errLines(), "\n"))
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no output within 20 s")
	}
	return ""
}

func (p *nodeProc) errLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stderr...)
}

// statsLines waits until at least n stderr lines are stats lines.
func (p *nodeProc) statsLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		var stats []string
		for _, l := range p.errLines() {
			if strings.Contains(l, "msg=stats ") {
				stats = append(stats, l)
			}
		}
		if len(stats) >= n {
			return stats
		}
		select {
		case <-p.errLine:
		case <-deadline:
			t.Fatalf("%d stats lines, want %d; stderr:\n%s", len(stats), n, strings.Join(p.errLines(), "\n"))
		}
	}
}

// stop sends SIGINT and returns the exit status.
func (p *nodeProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGINT")
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestNodeMetricsAndStats: aemp node --metrics serves the counters, and
// SIGUSR1 logs one line of the same counters; --stats-interval logs them
// periodically.
func TestNodeMetricsAndStats(t *testing.T) {
	p := startNodeProc(t, "node", "--bind", "127.0.0.1:0", "--nodeid", "M", "--secret", "aemp-test-secret", "--metrics", "127.0.0.1:0")
	l := p.line(t)
	url, ok := strings.CutPrefix(l, "METRICS ")
	if !ok || !strings.HasSuffix(url, "/metrics") {
		t.Fatalf("first line %q", l)
	}
	ready := p.line(t)
	addr, ok := strings.CutPrefix(ready, "READY nodeid=M binds=")
	if !ok {
		t.Fatalf("second line %q", ready)
	}
	// One call from aemp: one handshake, then its messages.
	t.Setenv(config.EnvFile, "/dev/null")
	if code, out, errs := aempOut("cal", "--seed", addr, "--secret", "aemp-test-secret", "M#calecho", "x"); code != 0 || out != "\"x\"\n" {
		t.Fatalf("aemp cal: exit %d, %q, %q", code, out, errs)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{"\naemp_handshakes_total 1\n", "\n# TYPE aemp_nodes_up gauge\n", "\ngo_goroutines ",
		"\n# HELP aemp_send_queue_bytes Bytes waiting to be written", `aemp_handshake_failures_total{reason="auth_failed"} 0`} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	received := regexp.MustCompile(`\naemp_messages_received_total (\d+)\n`).FindStringSubmatch(text)
	if received == nil || received[1] == "0" {
		t.Fatalf("/metrics: messages received %v", received)
	}
	if got := p.statsLines(t, 0); len(got) != 0 {
		t.Fatalf("stats lines before SIGUSR1: %q", got)
	}
	p.cmd.Process.Signal(syscall.SIGUSR1)
	line := p.statsLines(t, 1)[0]
	for _, want := range []string{" handshakes=1 ", " messages_received=" + received[1] + " ", " handshake_failures=0 ", " nodes_up="} {
		if !strings.Contains(line, want) {
			t.Errorf("stats line lacks %q: %s", want, line)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d after SIGINT", code)
	}

	q := startNodeProc(t, "node", "--bind", "127.0.0.1:0", "--secret", "s", "--stats-interval", "0.1")
	q.line(t)
	q.statsLines(t, 3)
	q.stop(t)
}

// TestRunNode: aemp run with configure's pairs runs the node.
func TestRunNode(t *testing.T) {
	p := startNodeProc(t, "run", "profile", "p", "nodeid", "R", "binds", `["127.0.0.1:0"]`, "secret", "s")
	if l := p.line(t); !strings.HasPrefix(l, "READY nodeid=R binds=127.0.0.1:") {
		t.Fatalf("got %q", l)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
	cmd := exec.Command(aempBinary(t), "run", "nodeid")
	cmd.Env = append(os.Environ(), config.EnvFile+"=/dev/null", "AEMP_SECRET=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	// One argument: the profile "nodeid"; no secret anywhere.
	if code := cmd.ProcessState.ExitCode(); code != 2 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 ||
		!strings.Contains(stderr.String(), "aemp run: ") || !strings.Contains(stderr.String(), "no secret") {
		t.Errorf("aemp run nodeid: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
