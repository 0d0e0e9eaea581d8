package nodefuzz

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
)

// brokenServer is a small AEMP node with one deliberate defect:
//
//   - "hang": after a node-port mon1 request it takes no new connection
//     through the handshake for hangFor (links already up keep working);
//   - "deaf": after a frame it cannot decode it keeps the connection open
//     but never reads from it again (as AnyEvent::MP 1.30 does after
//     malformed JSON);
//   - "crash": a node-port g_found request makes it close its listener
//     and every connection, as if the process had died.
//
// Otherwise it answers time requests like any node. Mode "droprest" is
// not broken in the fuzzer's sense: after a bad frame it drops the rest of
// that read and decodes the next one afresh.
type brokenServer struct {
	t       *testing.T
	mode    string
	secret  string
	hangFor time.Duration
	ln      net.Listener
	cfg     *handshake.Config

	mu        sync.Mutex
	conns     map[net.Conn]bool
	hungUntil time.Time
	crashed   bool
	wg        sync.WaitGroup
}

func startBroken(t *testing.T, mode, secret string) *brokenServer {
	t.Helper()
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: "broken-" + mode, Secret: []byte(secret),
		Framings: []string{"json", "cbor", "storable"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &brokenServer{t: t, mode: mode, secret: secret, hangFor: 3 * time.Second, ln: ln, cfg: cfg, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.stop)
	return s
}

func (s *brokenServer) addr() string { return s.ln.Addr().String() }

func (s *brokenServer) stop() {
	s.crash()
	s.wg.Wait()
}

// crash closes the listener and every connection.
func (s *brokenServer) crash() {
	s.mu.Lock()
	s.crashed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
}

func (s *brokenServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.crashed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *brokenServer) serve(c net.Conn) {
	s.mu.Lock()
	wait := time.Until(s.hungUntil)
	s.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs, err := handshake.New(s.cfg, handshake.ConnInfo{})
	if err != nil {
		return
	}
	if _, err := c.Write(hs.Start()); err != nil {
		return
	}
	rd := bufio.NewReaderSize(c, 8192)
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return
		}
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			c.Write(st.Out)
		}
		if err != nil || st.StartTLS != handshake.TLSNone {
			return
		}
		if st.Done {
			break
		}
	}
	res := hs.Result()
	recv, _ := framing.ByName(res.RecvFraming)
	send, _ := framing.ByName(res.SendFraming)
	dec := framing.NewDecoder(recv, framing.Limits{MaxFrameSize: 4 << 20})
	c.SetDeadline(time.Time{})
	var buf []byte
	tmp := make([]byte, 64<<10)
	for {
		n, err := rd.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for len(buf) > 0 {
			m, k, derr := dec.Next(buf)
			if derr != nil && s.mode == "droprest" {
				// drop the rest of this read, decode the next one afresh
				dec.Reset()
				buf = buf[:0]
				break
			}
			if derr != nil {
				if s.mode == "deaf" {
					// keep the connection, never read again
					s.mu.Lock()
					crashed := s.crashed
					s.mu.Unlock()
					for !crashed {
						time.Sleep(20 * time.Millisecond)
						s.mu.Lock()
						crashed = s.crashed
						s.mu.Unlock()
					}
				}
				return
			}
			if k == 0 {
				break
			}
			s.message(c, send, &m)
			buf = buf[k:]
		}
		if err != nil {
			return
		}
	}
}

func (s *brokenServer) message(c net.Conn, send framing.Codec, m *framing.Message) {
	if m.PortString() != "" {
		return
	}
	args, err := m.Args()
	if err != nil || len(args) == 0 {
		return
	}
	name, _ := framing.Text(args[0])
	switch {
	case name == "mon1" && s.mode == "hang":
		s.mu.Lock()
		s.hungUntil = time.Now().Add(s.hangFor)
		s.mu.Unlock()
	case name == "g_found" && s.mode == "crash":
		s.crash()
	case name == "time" && len(args) >= 2:
		reply, ok := framing.Text(args[1])
		if !ok {
			return
		}
		_, port, ok := strings.Cut(reply, "#")
		if !ok {
			return
		}
		out, err := send.AppendMessage(nil, port, append(append([]any{}, args[2:]...), 1795610557.5))
		if err == nil {
			c.Write(out)
		}
	}
}

// brokenOptions are short bounds for the broken servers (long enough for
// a megabyte frame under the race detector).
func brokenOptions(addr, out string, cases int) Options {
	return Options{Connect: addr, Secret: "sec", Cases: cases, Seed: 3, OutDir: out,
		ProbeTimeout: 2 * time.Second, LinkTimeout: 2 * time.Second, CrashWait: 500 * time.Millisecond}
}

// findingFile returns the saved file of kind, failing the test if the
// run did not find it.
func findingFile(t *testing.T, res *Result, kind string) string {
	t.Helper()
	for i, f := range res.Findings {
		if f.Kind == kind {
			return res.Files[i]
		}
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Kind+"/"+string(f.Phase))
	}
	t.Fatalf("no %s finding in %d cases (found: %v)", kind, res.Cases, got)
	return ""
}

func TestFindsHang(t *testing.T) {
	s := startBroken(t, "hang", "sec")
	out := t.TempDir()
	o := brokenOptions(s.addr(), out, 120)
	o.CrashWait = 5 * time.Second // the server hangs for 3 s
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	file := findingFile(t, res, KindHang)
	for _, f := range res.Findings {
		if f.Kind != KindHang || f.Phase != PhaseData {
			t.Errorf("also found %s (%s): %s", f.Kind, f.Phase, f.Detail)
		}
	}
	f, err := LoadFinding(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.What, "mon1") && !strings.Contains(string(mustHexText(t, f)), "mon1") {
		t.Errorf("the hang finding's case sent no mon1: %s", f.What)
	}
	// Replay against a fresh server with the same defect.
	s2 := startBroken(t, "hang", "sec")
	rr, err := Replay(context.Background(), brokenOptions(s2.addr(), out, 0), file)
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Reproduced {
		t.Errorf("replay did not reproduce the hang: %v %v", rr.Kinds, rr.Details)
	}
}

func TestFindsDeadLink(t *testing.T) {
	s := startBroken(t, "deaf", "sec")
	out := t.TempDir()
	o := brokenOptions(s.addr(), out, 80)
	o.LinkTimeout = time.Second // each dead link costs this much
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	file := findingFile(t, res, KindDeadLink)
	for _, f := range res.Findings {
		if f.Kind != KindDeadLink || f.Phase != PhaseData {
			t.Errorf("also found %s (%s): %s", f.Kind, f.Phase, f.Detail)
		}
	}
	s2 := startBroken(t, "deaf", "sec")
	rr, err := Replay(context.Background(), brokenOptions(s2.addr(), out, 0), file)
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Reproduced {
		t.Errorf("replay did not reproduce the dead link: %v %v", rr.Kinds, rr.Details)
	}
	// The same bytes against a node that is not deaf: nothing.
	good := startBroken(t, "none", "sec")
	rr, err = Replay(context.Background(), brokenOptions(good.addr(), out, 0), file)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Reproduced || len(rr.Kinds) > 0 {
		t.Errorf("replay against a sound server found %v %v", rr.Kinds, rr.Details)
	}
}

func TestFindsCrash(t *testing.T) {
	s := startBroken(t, "crash", "sec")
	out := t.TempDir()
	res, err := Run(context.Background(), brokenOptions(s.addr(), out, 400))
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("run ended with %v after %d cases, want ErrStopped", err, res.Cases)
	}
	file := findingFile(t, res, KindCrash)
	if len(res.Findings) != 1 {
		t.Errorf("findings %d, want only the crash", len(res.Findings))
	}
	if res.Stopped == "" {
		t.Error("Result.Stopped is empty")
	}
	s2 := startBroken(t, "crash", "sec")
	rr, err := Replay(context.Background(), brokenOptions(s2.addr(), out, 0), file)
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Reproduced {
		t.Errorf("replay did not reproduce the crash: %v %v", rr.Kinds, rr.Details)
	}
	if _, err := os.Stat(filepath.Join(out, filepath.Base(file))); err != nil {
		t.Error(err)
	}
}

// mustHexText returns the bytes a finding sent, concatenated.
func mustHexText(t *testing.T, f *Finding) []byte {
	var b []byte
	for _, c := range f.Sent {
		s, err := stepOf(c)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, s.bytes...)
		b = append(b, s.tail...)
	}
	return b
}

// TestDropRestIsNotDeadLink: a server that drops the rest of a read after
// a bad frame but reads on answers the link check's second request.
func TestDropRestIsNotDeadLink(t *testing.T) {
	s := startBroken(t, "droprest", "sec")
	o := brokenOptions(s.addr(), t.TempDir(), 60)
	o.LinkTimeout = time.Second
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		t.Errorf("found %s (%s): %s\n  %s", f.Kind, f.Phase, f.Detail, f.What)
	}
}
