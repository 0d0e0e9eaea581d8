package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// TestMain removes the aemp binary built by aempBinary.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// aempBinary builds cmd/aemp once per test binary.
func aempBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aemp-bench")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "aemp")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/aemp").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// startNodeProcess runs "aemp node" in its own process and returns its
// address once it printed READY.
func startNodeProcess(tb testing.TB, args ...string) string {
	tb.Helper()
	addr, _ := startNodeCmd(tb, args...)
	return addr
}

// startNodeCmd is startNodeProcess that also returns the process (for its
// PID). The node is stopped (SIGINT, then SIGKILL) when tb ends.
func startNodeCmd(tb testing.TB, args ...string) (string, *exec.Cmd) {
	tb.Helper()
	cmd := exec.Command(aempBinary(tb), append([]string{"node", "--bind", "127.0.0.1:0", "--nodeid", "target", "--secret", "bench-secret"}, args...)...)
	cmd.Env = append(os.Environ(), "PERL_ANYEVENT_MP_RC=/dev/null") // no configuration file
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "READY ") {
				ready <- l
			}
		}
	}()
	select {
	case l := <-ready:
		i := strings.Index(l, "binds=")
		return strings.Split(l[i+len("binds="):], ",")[0], cmd
	case <-time.After(10 * time.Second):
		tb.Fatal("aemp node did not print READY")
	}
	return "", nil
}

// BenchmarkE2ESink: a Go sender in this process, an aemp node in another,
// one connection, 20-byte payloads to the sink port; b.N messages.
func BenchmarkE2ESink(b *testing.B) {
	for _, f := range []string{"json", "storable"} {
		b.Run("framing="+f, func(b *testing.B) {
			addr := startNodeProcess(b)
			n := max(b.N, 10000)
			b.ResetTimer()
			res, err := Run(Options{Connect: addr, Target: "target", Secret: "bench-secret", Mode: "sink",
				Count: n, Size: 20, Framings: []string{f}, Batch: 1000, Outstanding: 4, Timeout: 120 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			for _, fl := range res.Fields {
				switch fl.Key {
				case "msgs_per_s", "msgs_per_node_cpu_s":
					b.ReportMetric(fl.Value.(float64), fl.Key)
				}
			}
		})
	}
}

// TestE2ESink checks the two-process path end to end (small count).
func TestE2ESink(t *testing.T) {
	addr := startNodeProcess(t)
	count := 50000
	if testing.Short() {
		count = 20000
	}
	for _, f := range []string{"json", "storable"} {
		res, err := Run(Options{Connect: addr, Target: "target", Secret: "bench-secret", Mode: "sink",
			Count: count, Size: 20, Framings: []string{f}, Batch: 1000, Outstanding: 4, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		t.Log(res.Fields)
	}
}
