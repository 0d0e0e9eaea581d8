package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tail keeps the last bytes written to it (a child's stderr).
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// rootCtx ends when this program is interrupted; it kills running senders.
var rootCtx, rootCancel = context.WithCancel(context.Background())

// tmpDir is removed when this program is interrupted.
var tmpDir string

// live holds the receivers running now, to stop them when interrupted.
var live = struct {
	sync.Mutex
	m map[*server]struct{}
}{m: map[*server]struct{}{}}

// stopOnSignal makes SIGINT and SIGTERM stop every child this program
// started (receivers by their process handles, senders through rootCtx)
// before it exits.
func stopOnSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		logf("interrupted: stopping the child processes")
		rootCancel()
		live.Lock()
		l := make([]*server, 0, len(live.m))
		for s := range live.m {
			l = append(l, s)
		}
		live.Unlock()
		for _, s := range l {
			s.stop()
		}
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
		os.Exit(130)
	}()
}

// server is a receiver running in a child process, or a group of them
// (members; addr is then their addresses, comma-separated).
type server struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	stderr  *tail
	done    chan struct{}
	members []*server
}

// cpu returns the CPU seconds of the receiver's processes so far.
func (s *server) cpu() float64 {
	if len(s.members) > 0 {
		var t float64
		for _, m := range s.members {
			t += m.cpu()
		}
		return t
	}
	if s.cmd == nil {
		return 0
	}
	return procCPU(s.pid())
}

// startServer runs argv and waits for the line that names its address:
// parse returns the address and true for it.
func startServer(name string, argv []string, env []string, parse func(string) (string, bool)) (*server, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	st := &tail{max: 8 << 10}
	cmd.Stderr = st
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := track(&server{name: name, cmd: cmd, stderr: st, done: make(chan struct{})})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := parse(sc.Text()); ok {
				select {
				case ready <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case s.addr = <-ready:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before it was ready: %s", name, st.String())
	case <-time.After(15 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s: not ready within 15 s: %s", name, st.String())
	}
}

// pid returns the child's process ID.
// pid returns the receiver's process ID (0 for an external node, whose
// CPU is then not measured).
func (s *server) pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// track registers a started receiver for stopOnSignal.
func track(s *server) *server {
	live.Lock()
	live.m[s] = struct{}{}
	live.Unlock()
	return s
}

// stop interrupts the child (the nodes close gracefully on SIGINT), then
// kills it if it is still there after 3 s.
func (s *server) stop() {
	var wg sync.WaitGroup
	for _, m := range s.members {
		wg.Add(1)
		go func() { defer wg.Done(); m.stop() }()
	}
	wg.Wait()
	if s.cmd == nil { // a group, or an external node (not ours to stop)
		return
	}
	live.Lock()
	delete(live.m, s)
	live.Unlock()
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// runOut is what one sender run produced.
type runOut struct {
	fields map[string]string // its RESULT line
	cpu    float64           // the sender process's user + system CPU seconds
	wall   float64
	err    error
}

// runProcess runs argv to completion (or timeout) and returns its stdout,
// its CPU seconds and wall time; err includes the end of its stderr.
func runProcess(argv []string, timeout time.Duration) (stdout string, o runOut) {
	ctx, cancel := context.WithTimeout(rootCtx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	st := &tail{max: 4 << 10}
	cmd.Stdout = &out
	cmd.Stderr = st
	start := time.Now()
	err := cmd.Run()
	o.wall = time.Since(start).Seconds()
	if ps := cmd.ProcessState; ps != nil {
		o.cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	switch {
	case ctx.Err() != nil:
		o.err = fmt.Errorf("timed out after %v", timeout)
	case err != nil:
		var ee *exec.ExitError
		msg := lastLine(st.String())
		if errors.As(err, &ee) {
			o.err = fmt.Errorf("exit status %d: %s", ee.ExitCode(), msg)
		} else {
			o.err = fmt.Errorf("%v: %s", err, msg)
		}
	}
	return out.String(), o
}

// runSender runs one load generator process and parses its RESULT line.
func runSender(argv []string, timeout time.Duration) runOut {
	stdout, o := runProcess(argv, timeout)
	for _, l := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
			o.fields = map[string]string{}
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				o.fields[k] = v
			}
		}
	}
	if o.err == nil && o.fields == nil {
		o.err = fmt.Errorf("no RESULT line in %q", lastLine(stdout))
	}
	return o
}

// watch is a Writer that keeps the tail of what it gets and closes seen
// once a line containing want was written.
type watch struct {
	tail
	want string
	line []byte
	seen chan struct{}
	once sync.Once
}

func newWatch(want string) *watch {
	return &watch{tail: tail{max: 4 << 10}, want: want, seen: make(chan struct{})}
}

func (w *watch) Write(p []byte) (int, error) {
	w.tail.Write(p)
	w.mu.Lock()
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		if bytes.Contains(w.line[:i], []byte(w.want)) {
			w.once.Do(func() { close(w.seen) })
		}
		w.line = w.line[i+1:]
	}
	if bytes.Contains(w.line, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	w.mu.Unlock()
	return len(p), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// clockTick is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTick = 100.0

// procCPU returns the user + system CPU seconds of process pid so far.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command may contain spaces
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14 of stat
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (ut + st) / clockTick
}

// sysCPU returns the busy CPU seconds of the whole machine so far (every
// CPU, everything but idle and iowait).
func sysCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTick
}
