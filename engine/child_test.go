package engine

// Faults that need a node in a process of its own: a lowered open-file
// limit (descriptor exhaustion) and a peer process killed with SIGKILL.
// The child is the real "aemp node" command, built once per test.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildAemp builds cmd/aemp (without the race detector) into a
// temporary directory and returns the binary's path.
func buildAemp(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			t.Skip("no go command to build cmd/aemp")
		}
	}
	bin := filepath.Join(t.TempDir(), "aemp")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/aemp-go/aemp/cmd/aemp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/aemp: %v\n%s", err, out)
	}
	return bin
}

// child is an "aemp node" process.
type child struct {
	cmd    *exec.Cmd
	id     string
	addrs  []string
	stderr *ringLog
	exited chan struct{}
	state  atomic.Pointer[os.ProcessState]
}

// startChild runs prefix... bin node args... and waits for its READY line.
func startChild(t *testing.T, bin string, prefix []string, args ...string) *child {
	t.Helper()
	argv := append(append(append([]string(nil), prefix...), bin, "node"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "PERL_ANYEVENT_MP_RC=/dev/null") // no configuration file
	ch := &child{cmd: cmd, stderr: &ringLog{size: 4 << 20}, exited: make(chan struct{})}
	cmd.Stderr = ch.stderr
	out, err := cmd.StdoutPipe()
	mustf(t, err, "stdout pipe")
	mustf(t, cmd.Start(), "start %v", argv)
	go func() {
		cmd.Wait()
		ch.state.Store(cmd.ProcessState)
		close(ch.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-ch.exited:
		default:
			cmd.Process.Kill()
			<-ch.exited
		}
		assertNoSecret(t, "log of child "+ch.id, []byte(ch.stderr.String()))
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- sc.Text()
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		for _, f := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "nodeid":
				ch.id = v
			case "binds":
				if v != "" {
					ch.addrs = strings.Split(v, ",")
				}
			}
		}
	case <-ch.exited:
		t.Fatalf("%v exited before READY: %v\n%s", argv, ch.state.Load(), ch.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%v: no READY line\n%s", argv, ch.stderr.String())
	}
	return ch
}

// alive fails the test when the child has exited.
func (ch *child) alive(t *testing.T) {
	t.Helper()
	select {
	case <-ch.exited:
		t.Fatalf("child %s exited: %v\n%s", ch.id, ch.state.Load(), tail(ch.stderr.String(), 4000))
	default:
	}
}

// echoer is an authenticated raw peer doing echo round trips on demand.
type echoer struct {
	p  *rawPeer
	fr *frameReader
	id string
	i  int
}

func dialEchoer(t *testing.T, addr, id string) *echoer {
	t.Helper()
	p, err := dialRaw(t, addr, id, hostileSecret, "json")
	mustf(t, err, "handshake of %s", id)
	t.Cleanup(func() { p.conn.Close() })
	return &echoer{p: p, fr: newFrameReader(p.rd, "json"), id: id}
}

// roundTrip sends one echo request and waits for its reply.
func (e *echoer) roundTrip() error {
	e.i++
	e.p.conn.SetDeadline(time.Now().Add(5 * time.Second))
	defer e.p.conn.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(e.p.conn, `["echo","%s#r",%d,"x"]`, e.id, e.i); err != nil {
		return err
	}
	for {
		port, args, err := e.fr.next()
		if err != nil {
			return err
		}
		if port == "r" && len(args) == 2 && fmt.Sprint(args[0]) == fmt.Sprint(e.i) {
			return nil
		}
	}
}

// floodResult classifies raw connection attempts.
type floodResult struct {
	served, refused, pending, dialFailed atomic.Int64
}

// flood opens n raw TCP connections to addr at once and keeps them open
// until release is closed. Each is classified: served (the node's greeting
// arrived), refused (closed without a byte), pending (neither within 2 s:
// still in the kernel's accept queue) or dialFailed.
func flood(addr string, n int, release <-chan struct{}) (*floodResult, *sync.WaitGroup, chan struct{}) {
	r := &floodResult{}
	var wg, classified sync.WaitGroup
	allClassified := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		classified.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				r.dialFailed.Add(1)
				classified.Done()
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var b [8]byte
			k, err := c.Read(b[:])
			var ne net.Error
			switch {
			case k > 0:
				r.served.Add(1)
			case errors.As(err, &ne) && ne.Timeout():
				r.pending.Add(1)
			default:
				r.refused.Add(1)
			}
			classified.Done()
			<-release
		}()
	}
	go func() {
		classified.Wait()
		close(allClassified)
	}()
	return r, &wg, allClassified
}

// TestHostileDescriptorExhaustion runs the node as a child process with
// an open-file limit of 256 and opens 600 raw connections at once. With
// the default cap (limit less 64) connections beyond it are refused at
// once; with a cap above the limit (--max-conns 100000) accept itself
// fails with EMFILE. Either way an authenticated connection keeps working
// during the flood, the node does not shut down, and once the flood is
// over it accepts and authenticates new connections.
func TestHostileDescriptorExhaustion(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	bin := buildAemp(t)
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"cap", nil},
		{"EMFILE", []string{"--max-conns", "100000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--nodeid", "fdnode", "--bind", "127.0.0.1:0", "--secret", hostileSecret, "--monitor-timeout", "3"}, tc.extra...)
			ch := startChild(t, bin, []string{"prlimit", "--nofile=256:256", "--"}, args...)
			addr := ch.addrs[0]
			keeper := dialEchoer(t, addr, "keeper")
			mustf(t, keeper.roundTrip(), "round trip before the flood")
			release := make(chan struct{})
			res, wg, classified := flood(addr, 600, release)
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
				wg.Wait()
			}()
			// While the flood holds every descriptor: the keeper works.
			trips := 0
			for done := false; !done; {
				select {
				case <-classified:
					done = true
				default:
				}
				if err := keeper.roundTrip(); err != nil {
					t.Fatalf("keeper round trip %d during the flood: %v\n%s", trips, err, tail(ch.stderr.String(), 3000))
				}
				trips++
			}
			ch.alive(t)
			t.Logf("flood of 600: served %d, refused %d, pending in the accept queue %d, dial failed %d; keeper made %d round trips meanwhile",
				res.served.Load(), res.refused.Load(), res.pending.Load(), res.dialFailed.Load(), trips)
			if res.served.Load() > 256 {
				t.Errorf("%d connections served with 256 descriptors", res.served.Load())
			}
			if tc.name == "cap" && res.refused.Load() < 600-256 {
				t.Errorf("only %d connections refused", res.refused.Load())
			}
			close(release)
			wg.Wait()
			// After the flood: new connections are accepted again.
			var late *echoer
			deadline := time.Now().Add(10 * time.Second)
			for {
				p, err := dialRaw(t, addr, "latecomer", hostileSecret, "json")
				if err == nil {
					late = &echoer{p: p, fr: newFrameReader(p.rd, "json"), id: "latecomer"}
					defer p.conn.Close()
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no new connection accepted after the flood: %v\n%s", err, tail(ch.stderr.String(), 3000))
				}
				time.Sleep(100 * time.Millisecond)
			}
			mustf(t, late.roundTrip(), "round trip on a connection opened after the flood")
			mustf(t, keeper.roundTrip(), "keeper round trip after the flood")
			ch.alive(t)
			log := ch.stderr.String()
			if strings.Contains(log, "panic") || strings.Contains(log, "closing") {
				t.Errorf("child log:\n%s", tail(log, 3000))
			}
			enrollFails := strings.Count(log, "cannot hand connection to the event loop")
			t.Logf("child log: %d accept failures logged, %d connections closed because the event loop could not take them",
				strings.Count(log, "accept failed"), enrollFails)
			if tc.name == "EMFILE" && !strings.Contains(log, "too many open files") {
				t.Errorf("EMFILE was never reached; child log:\n%s", tail(log, 1500))
			}
		})
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustf(t, err, "listen")
	defer ln.Close()
	return ln.Addr().String()
}

// TestHostilePeerProcessKilled: a peer node process, streaming echo
// replies to us, is killed with SIGKILL. The survivor reports the node
// down (event and monitor with transport_error), keeps serving its other
// peers, and reconnects (the dead node's address is a seed) when a new
// process with the same node ID and port comes up.
func TestHostilePeerProcessKilled(t *testing.T) {
	goroutineGuard(t, 5)
	bin := buildAemp(t)
	childAddr := freePort(t)
	args := []string{"--nodeid", "victim", "--bind", childAddr, "--secret", hostileSecret, "--monitor-timeout", "2"}
	ch := startChild(t, bin, nil, args...)
	srv := startHostile(t, "survivor", Config{Seeds: []string{childAddr}, ConnectInterval: 200 * time.Millisecond, MonitorTimeout: 3 * time.Second})
	srv.waitEvent(t, "victim", true, 10*time.Second)
	reasons := make(chan []any, 4)
	srv.Monitor("victim", func(r []any) { reasons <- r })
	var replies atomic.Int64
	rid, err := srv.Register("back", func(*Message) { replies.Add(1) })
	mustf(t, err, "register")
	by := startBystander(t, srv.Addrs()[0], "otherpeer")

	stop := make(chan struct{})
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		payload := strings.Repeat("s", 100)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := srv.Send("victim#echo", rid, int64(i), payload); err != nil {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-streamDone
	}()
	deadline := time.Now().Add(10 * time.Second)
	for replies.Load() < 5000 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d echo replies from the child", replies.Load())
		}
		time.Sleep(time.Millisecond)
	}
	mustf(t, ch.cmd.Process.Signal(syscall.SIGKILL), "kill -9")
	killed := time.Now()
	ev := srv.waitEvent(t, "victim", false, 5*time.Second)
	detect := time.Since(killed)
	close(stop)
	<-streamDone
	t.Logf("killed after %d echo replies; node down after %v, reason %q", replies.Load(), detect.Round(time.Microsecond), ev.Reason)
	if ev.Reason == "" {
		t.Error("node-down event without a reason")
	}
	select {
	case r := <-reasons:
		if len(r) != 3 || r[0] != "transport_error" || r[1] != "victim" || r[2] != ev.Reason {
			t.Errorf("monitor reason %#v", r)
		}
	case <-time.After(2 * time.Second):
		t.Error("the monitor of the node did not fire")
	}
	by.alive(t)
	<-ch.exited

	// Same node ID, same port: the survivor reconnects on its own.
	ch2 := startChild(t, bin, nil, args...)
	restarted := time.Now()
	srv.waitEvent(t, "victim", true, 10*time.Second)
	t.Logf("reconnected %v after the restart", time.Since(restarted).Round(time.Millisecond))
	before := replies.Load()
	for i := 0; i < 10; i++ {
		mustf(t, srv.Send("victim#echo", rid, int64(i)), "send after the restart")
	}
	deadline = time.Now().Add(5 * time.Second)
	for replies.Load() < before+10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 10 echo replies after the restart\n%s", replies.Load()-before, tail(ch2.stderr.String(), 2000))
		}
		time.Sleep(time.Millisecond)
	}
	by.alive(t)
	ch2.alive(t)
}
