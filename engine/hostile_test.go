package engine

// Hostile input, faults and load, over real sockets on 127.0.0.1: every
// attack runs against a started node and checks what the node did (its
// log, its events, the bytes it wrote), that nothing after a rejected line
// was processed, and that memory and goroutines stay bounded. The tests
// that need child processes are in child_test.go and netns_linux_test.go,
// connection churn in churn_test.go.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
)

// hostileSecret is the secret of the nodes under attack: distinctive, so
// that a leak into a log or onto the wire is found by a plain search.
const hostileSecret = "hostile-s3cret-Qz7"

// hexSecret is the secret as a cleartext auth token carries it.
var hexSecret = hex.EncodeToString([]byte(hostileSecret))

// assertNoSecret fails the test when b contains the secret or its
// cleartext token.
func assertNoSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, s := range []string{hostileSecret, hexSecret, strings.ToUpper(hexSecret)} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s contains the secret (%q)", what, s)
		}
	}
}

// startHostile starts a node with the hostile secret (unless cfg has a
// certificate and no secret) and, once it is closed at the end of the
// test, checks that the secret never appeared in its log.
func startHostile(t *testing.T, id string, cfg Config) *testNode {
	t.Helper()
	if cfg.Secret == "" && cfg.CertPEM == nil {
		cfg.Secret = hostileSecret
	}
	var tn *testNode
	t.Cleanup(func() { // runs after the node's Close
		if tn != nil {
			assertNoSecret(t, "log of "+id, []byte(tn.log.String()))
		}
	})
	tn = startNode(t, id, cfg)
	return tn
}

// goroutineGuard records the goroutine count; when the test ends (after
// every later cleanup, so after the nodes are closed) the count must be
// back within slack of it.
func goroutineGuard(t *testing.T, slack int) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g := runtime.NumGoroutine()
			if g <= base+slack {
				return
			}
			if time.Now().After(deadline) {
				var b bytes.Buffer
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("goroutine leak: %d at the start, %d at the end (slack %d):\n%s", base, g, slack, b.String())
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// waitLogLine waits until one line of the log contains every one of subs
// and returns it.
func waitLogLine(t *testing.T, l *logBuffer, d time.Duration, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			ok := true
			for _, s := range subs {
				if !strings.Contains(line, s) {
					ok = false
					break
				}
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v; log:\n%s", subs, d, tail(l.String(), 6000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logHas reports whether one line of the log contains every one of subs.
func logHas(l *logBuffer, subs ...string) bool {
	for _, line := range strings.Split(l.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// heapWatch samples the heap while an attack runs.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
	gc   int
}

// watchHeap collects garbage, records the live heap and samples HeapAlloc
// every few milliseconds until growth is called. The GC runs more often
// meanwhile (GOGC=25), so that the samples show retained memory rather
// than garbage waiting for a collection.
func watchHeap() *heapWatch {
	h := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	h.gc = debug.SetGCPercent(25)
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.base = ms.HeapAlloc
	h.peak.Store(ms.HeapAlloc)
	go func() {
		defer close(h.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
		}
	}()
	return h
}

// growth stops sampling and returns the largest growth over the base.
func (h *heapWatch) growth() uint64 {
	select {
	case <-h.stop:
	default:
		close(h.stop)
		<-h.done
		debug.SetGCPercent(h.gc)
	}
	if p := h.peak.Load(); p > h.base {
		return p - h.base
	}
	return 0
}

const mib = 1 << 20

// hostile is a raw client socket driven by hand.
type hostile struct {
	c      net.Conn
	rd     *bufio.Reader
	l1, l2 string // the node's greeting lines, without LF
}

func dialHostile(t *testing.T, addr string) *hostile {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	mustf(t, err, "dial %s", addr)
	t.Cleanup(func() { c.Close() })
	return &hostile{c: c, rd: bufio.NewReader(c)}
}

// readGreeting reads the node's two greeting lines.
func (h *hostile) readGreeting(t *testing.T) {
	t.Helper()
	h.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer h.c.SetReadDeadline(time.Time{})
	l1, err := h.rd.ReadString('\n')
	mustf(t, err, "greeting line 1")
	l2, err := h.rd.ReadString('\n')
	mustf(t, err, "greeting line 2")
	h.l1, h.l2 = strings.TrimSuffix(l1, "\n"), strings.TrimSuffix(l2, "\n")
}

func (h *hostile) greeting() []byte { return []byte(h.l1 + "\n" + h.l2 + "\n") }

// drain reads until the node closes the connection and returns what it
// read; it fails the test when the connection is still open after d.
func (h *hostile) drain(t *testing.T, d time.Duration) []byte {
	t.Helper()
	h.c.SetReadDeadline(time.Now().Add(d))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := h.rd.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v (node sent %q)", d, got)
			}
			return got
		}
	}
}

// writeSplit writes b in chunks of size bytes (everything at once for 0),
// ignoring errors: the node may close the connection at any point.
func writeSplit(c net.Conn, b []byte, size int) {
	if size <= 0 {
		c.Write(b)
		return
	}
	for len(b) > 0 {
		k := min(size, len(b))
		if _, err := c.Write(b[:k]); err != nil {
			return
		}
		b = b[k:]
	}
}

// forgedPeer is a genuine handshake machine for the attacker's side,
// whose lines the hostile cases send as they are or tampered with.
type forgedPeer struct {
	hs       *handshake.Handshake
	greeting []byte
}

func forgePeer(t *testing.T, id, secret string, tls bool, framings ...string) *forgedPeer {
	t.Helper()
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: id, Secret: []byte(secret), TLS: tls, Framings: framings})
	mustf(t, err, "handshake config")
	hs, err := handshake.New(cfg, handshake.ConnInfo{})
	mustf(t, err, "handshake")
	return &forgedPeer{hs: hs, greeting: hs.Start()}
}

// authLine feeds the node's greeting and returns our auth line (with LF).
func (f *forgedPeer) authLine(t *testing.T, h *hostile) []byte {
	t.Helper()
	st, err := f.hs.Feed(h.greeting())
	mustf(t, err, "feeding the node's greeting")
	if len(st.Out) == 0 {
		t.Fatalf("no auth line (step %+v)", st)
	}
	return st.Out
}

// withMethod replaces the method of an auth line "METHOD;TOKEN;FRAMING\n".
func withMethod(line []byte, method string) []byte {
	_, rest, _ := bytes.Cut(line, []byte(";"))
	return append([]byte(method+";"), rest...)
}

// withFraming replaces the framing of an auth line.
func withFraming(line []byte, framing string) []byte {
	i := bytes.LastIndexByte(line, ';')
	return append(append([]byte(nil), line[:i+1]...), framing+"\n"...)
}

// trapFrames are data messages for the port "trap" in both framings,
// pipelined behind rejected lines: the port's handler must never run.
var trapFrames = func() []byte {
	j, _ := framing.ByName("json")
	s, _ := framing.ByName("storable")
	b, _ := j.AppendMessage(nil, "trap", []any{"pipelined"})
	b, _ = s.AppendMessage(b, "trap", []any{"pipelined"})
	return b
}()

// registerTrap registers the port "trap", whose handler must never run.
func registerTrap(t *testing.T, n *Node) *atomic.Int64 {
	var hits atomic.Int64
	_, err := n.Register("trap", func(m *Message) {
		hits.Add(1)
		t.Errorf("trap port reached by a message from %q", m.Source())
	})
	mustf(t, err, "register trap")
	return &hits
}

// TestHostileHandshake sends over-long lines (one write and one byte per
// write), garbage, binary and NUL bytes, an auth line before the greeting,
// the node's own greeting echoed back, an echoed nonce, a wrong secret,
// tls_* methods without TLS and other bad auth lines, each followed by
// pipelined data messages. Each connection must be closed at once (long
// before the monitor timeout) with AnyEvent::MP's error text in the log,
// and no data message may be processed.
func TestHostileHandshake(t *testing.T) {
	goroutineGuard(t, 5)
	const mt = 5 * time.Second
	srv := startHostile(t, "hsnode", Config{MonitorTimeout: mt})
	trap := registerTrap(t, srv.Node)
	addr := srv.Addrs()[0]
	long := strings.Repeat("A", 5000)
	nul := strings.Repeat("\x00", 64)
	binaryLine := "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\xff\xfe\x80\x81\x00\x7f\xc3\x28"
	hex64 := strings.Repeat("0123456789abcdef", 4)

	cases := []struct {
		name  string
		send  func(t *testing.T, h *hostile) []byte // after the node's greeting was read
		split int                                   // bytes per write; 0: one write
		want  string                                // reason in the node's log
	}{
		{"over-long greeting, one write", func(*testing.T, *hostile) []byte {
			return []byte("aemp;1;big;hmac_md6_64_256;json;pad=" + long)
		}, 0, "greeting line too long (over 4096 bytes)"},
		{"over-long greeting, byte by byte", func(*testing.T, *hostile) []byte {
			return []byte("aemp;1;big;hmac_md6_64_256;json;pad=" + long + "\n")
		}, 1, "greeting line too long (over 4096 bytes)"},
		{"over-long greeting with LF", func(*testing.T, *hostile) []byte {
			return []byte("aemp;1;big;hmac_md6_64_256;json;pad=" + long + "\nnonce\n")
		}, 0, "greeting line too long (over 4096 bytes)"},
		{"over-long nonce line", func(*testing.T, *hostile) []byte {
			return []byte("aemp;1;bignonce;hmac_md6_64_256;json\n" + long + "\n")
		}, 0, "nonce line too long (over 4096 bytes)"},
		{"over-long auth line, one write", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "bigauth1", hostileSecret, false)
			return append(f.greeting, "hmac_md6_64_256;"+long+";json\n"...)
		}, 0, "auth line too long (over 4096 bytes)"},
		{"over-long auth line, byte by byte", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "bigauth2", hostileSecret, false)
			return append(f.greeting, "hmac_md6_64_256;"+long+";json\n"...)
		}, 1, "auth line too long (over 4096 bytes)"},
		{"NUL flood without LF", func(*testing.T, *hostile) []byte {
			return bytes.Repeat([]byte{0}, 10000)
		}, 0, "greeting line too long (over 4096 bytes)"},
		{"garbage (HTTP request)", func(*testing.T, *hostile) []byte {
			return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		}, 0, "unparsable greeting, expected 'aemp', got 'GET / HTTP/1.1'"},
		{"binary", func(*testing.T, *hostile) []byte {
			return []byte(binaryLine + "\n\n")
		}, 0, `unparsable greeting, expected 'aemp', got '\x16\x03\x01`},
		{"NUL bytes", func(*testing.T, *hostile) []byte {
			return []byte(nul + "\n" + nul + "\n")
		}, 0, `unparsable greeting, expected 'aemp', got '\x00\x00\x00`},
		{"NUL bytes, byte by byte", func(*testing.T, *hostile) []byte {
			return []byte(nul + "\n" + nul + "\n")
		}, 1, `unparsable greeting, expected 'aemp', got '\x00\x00\x00`},
		{"empty node ID", func(*testing.T, *hostile) []byte {
			return []byte("aemp;1;;hmac_md6_64_256;json\nnonce\n")
		}, 0, "unparsable greeting, empty node ID"},
		{"auth line before the greeting", func(*testing.T, *hostile) []byte {
			return []byte("hmac_md6_64_256;" + hex64 + ";json\n")
		}, 0, "unparsable greeting, expected 'aemp', got 'hmac_md6_64_256'"},
		{"replayed greeting", func(_ *testing.T, h *hostile) []byte {
			return h.greeting()
		}, 0, "I refuse to talk to myself"},
		{"replayed greeting with the node's auth line shape", func(_ *testing.T, h *hostile) []byte {
			return append(h.greeting(), "hmac_md6_64_256;"+hex64+";json\n"...)
		}, 0, "I refuse to talk to myself"},
		{"echoed nonce", func(_ *testing.T, h *hostile) []byte {
			return []byte("aemp;1;mirror;hmac_md6_64_256,hmac_sha3_512;json\n" + h.l2 + "\n")
		}, 0, "authentication error, echo attack?"},
		{"wrong secret (hmac_md6_64_256)", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "intruder1", "not-the-secret", false)
			auth := f.authLine(t, h)
			if !bytes.HasPrefix(auth, []byte("hmac_")) {
				t.Fatalf("unexpected auth line %q", auth)
			}
			return append(f.greeting, withMethod(auth, "hmac_md6_64_256")...)
		}, 0, "authentication failure/shared secret mismatch"},
		{"wrong secret (hmac_sha3_512)", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "intruder2", "not-the-secret", false)
			return append(f.greeting, f.authLine(t, h)...)
		}, 0, "authentication failure/shared secret mismatch"},
		{"wrong secret, byte by byte", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "intruder3", "not-the-secret", false)
			return append(f.greeting, f.authLine(t, h)...)
		}, 1, "authentication failure/shared secret mismatch"},
		{"right token, tls_md6_64_256 without TLS", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "notls1", hostileSecret, false)
			return append(f.greeting, withMethod(f.authLine(t, h), "tls_md6_64_256")...)
		}, 0, "authentication failure/shared secret mismatch"},
		{"right token, tls_sha3_512 without TLS", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "notls2", hostileSecret, false)
			return append(f.greeting, withMethod(f.authLine(t, h), "tls_sha3_512")...)
		}, 0, "authentication failure/shared secret mismatch"},
		{"tls_anon without TLS", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "notls3", hostileSecret, false)
			return append(f.greeting, "tls_anon;;json\n"...)
		}, 0, "authentication failure/shared secret mismatch"},
		{"cleartext with a wrong token", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "clear1", hostileSecret, false)
			return append(f.greeting, "cleartext;"+hex.EncodeToString([]byte("guess"))+";json\n"...)
		}, 0, "authentication failure/shared secret mismatch"},
		{"unknown auth method", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "md5peer", hostileSecret, false)
			return append(f.greeting, "md5;"+hex64+";json\n"...)
		}, 0, "md5: fatal, selected unsupported rcv auth method"},
		{"empty auth line", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "emptyauth", hostileSecret, false)
			return append(f.greeting, '\n')
		}, 0, ": fatal, selected unsupported rcv auth method"},
		{"right token, unusable framing", func(t *testing.T, h *hostile) []byte {
			f := forgePeer(t, "yamlpeer", hostileSecret, false)
			return append(f.greeting, withFraming(f.authLine(t, h), "yaml")...)
		}, 0, "yaml: unusable remote framing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := dialHostile(t, addr)
			h.readGreeting(t)
			payload := append(tc.send(t, h), trapFrames...)
			start := time.Now()
			go writeSplit(h.c, payload, tc.split)
			got := h.drain(t, mt-time.Second)
			assertNoSecret(t, "node greeting", h.greeting())
			if el := time.Since(start); el > mt/2 {
				t.Errorf("closed after %v: by the monitor timeout, not by the error", el)
			}
			assertNoSecret(t, "node output", got)
			if bytes.Contains(got, []byte("trap")) {
				t.Errorf("the node wrote data after a rejected handshake: %q", got)
			}
			line := waitLogLine(t, srv.log, 3*time.Second, "handshake failed", "addr="+h.c.LocalAddr().String())
			if !strings.Contains(line, tc.want) {
				t.Fatalf("log line %q lacks %q", line, tc.want)
			}
		})
	}
	if st := srv.Stats(); st.Received != 0 || trap.Load() != 0 {
		t.Fatalf("data messages processed after rejected handshakes: received %d, trap %d", st.Received, trap.Load())
	}
	for len(srv.events) > 0 {
		if ev := <-srv.events; ev.Up {
			t.Fatalf("node up after a rejected handshake: %+v", ev)
		}
	}
}

// TestHostileSlowPeers: peers that stay silent or send their greeting one
// byte per second are closed once the monitor timeout has passed (never
// before), and keep reconnecting, so that a crowd of them is connected at
// any time; meanwhile an authenticated connection delivers every message
// of a long stream, in order.
func TestHostileSlowPeers(t *testing.T) {
	goroutineGuard(t, 5)
	crowd, total := 1000, 100_000
	if testing.Short() {
		crowd, total = 200, 20_000
	}
	const mt = 1500 * time.Millisecond
	srv := startHostile(t, "target", Config{MonitorTimeout: mt})
	addr := srv.Addrs()[0]
	var next, bad atomic.Int64
	done := make(chan struct{})
	_, err := srv.Register("seq", func(m *Message) {
		args, err := m.Args()
		if err != nil || len(args) != 2 || fmt.Sprint(args[0]) != fmt.Sprint(next.Load()) {
			bad.Add(1)
		}
		if next.Add(1) == int64(total) {
			close(done)
		}
	})
	mustf(t, err, "register")

	// The crowd: every slot reconnects as soon as the node closed it.
	var (
		stop              = make(chan struct{})
		stopOnce          sync.Once
		wg                sync.WaitGroup
		closes, early     atomic.Int64
		late, dialErrs    atomic.Int64
		maxLife, minLife  atomic.Int64
		trickled, greeted atomic.Int64
	)
	minLife.Store(int64(time.Hour))
	slot := func(i int) {
		defer wg.Done()
		trickle := i%2 == 1
		greeting := []byte(fmt.Sprintf("aemp;1;slow%d;hmac_md6_64_256;json\n", i))
		for cycle := 0; ; cycle++ {
			select {
			case <-stop:
				if cycle > 0 {
					return
				}
			default:
			}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				dialErrs.Add(1)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			start := time.Now()
			buf := make([]byte, 512)
			sent := 0
			for {
				c.SetReadDeadline(time.Now().Add(time.Second))
				n, err := c.Read(buf)
				if n > 0 {
					greeted.Add(1)
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					if trickle && sent < len(greeting) {
						c.Write(greeting[sent : sent+1])
						sent++
						trickled.Add(1)
					}
					if time.Since(start) > mt+5*time.Second {
						break // not closed: counted as late below
					}
					continue
				}
				if err != nil {
					break
				}
			}
			life := time.Since(start)
			c.Close()
			closes.Add(1)
			switch {
			case life < mt-50*time.Millisecond:
				early.Add(1)
			case life > mt+3*time.Second:
				late.Add(1)
			}
			for v := maxLife.Load(); int64(life) > v && !maxLife.CompareAndSwap(v, int64(life)); v = maxLife.Load() {
			}
			for v := minLife.Load(); int64(life) < v && !minLife.CompareAndSwap(v, int64(life)); v = minLife.Load() {
			}
		}
	}
	for i := 0; i < crowd; i++ {
		wg.Add(1)
		go slot(i)
	}
	stopCrowd := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopCrowd()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Stats().Conns < int64(crowd) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow peers connected", srv.Stats().Conns, crowd)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The authenticated stream, through the crowd.
	a := startHostile(t, "streamer", Config{Seeds: []string{addr}, Binds: []string{}})
	a.waitEvent(t, "target", true, 10*time.Second)
	start := time.Now()
	var minCrowd int64 = 1 << 62
	for i := 0; i < total; {
		err := a.Send("target#seq", int64(i), "payload-20-bytes-xxx")
		if errors.Is(err, ErrBackpressure) {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		mustf(t, err, "send %d", i)
		i++
		if i%1000 == 0 {
			minCrowd = min(minCrowd, srv.Stats().Conns)
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("received %d of %d messages", next.Load(), total)
	}
	el := time.Since(start)
	if bad.Load() != 0 {
		t.Fatalf("%d messages out of order or malformed", bad.Load())
	}
	// Every slot completes at least one cycle before it stops.
	stopCrowd()
	t.Logf("%d messages in %v through %d slow peers (fewest connected while streaming: %d); %d closes (%d reads of the node's greeting), lifetimes %v..%v, %d trickled bytes, %d dial errors",
		total, el.Round(time.Millisecond), crowd, minCrowd, closes.Load(), greeted.Load(),
		time.Duration(minLife.Load()).Round(time.Millisecond), time.Duration(maxLife.Load()).Round(time.Millisecond),
		trickled.Load(), dialErrs.Load())
	if early.Load() != 0 {
		t.Errorf("%d slow peers closed before the monitor timeout (shortest life %v)", early.Load(), time.Duration(minLife.Load()))
	}
	if late.Load() != 0 {
		t.Errorf("%d slow peers not closed within monitor timeout + 3 s (longest life %v)", late.Load(), time.Duration(maxLife.Load()))
	}
	if closes.Load() < int64(crowd) {
		t.Errorf("%d closes for %d slow peers", closes.Load(), crowd)
	}
	waitLogLine(t, srv.log, time.Second, "handshake failed", "handshake not completed within 1.5s")
}

// frameReader reads a node's messages on the client side of a raw peer.
type frameReader struct {
	rd         io.Reader
	dec        *framing.Decoder
	buf        []byte
	start, end int
}

func newFrameReader(rd io.Reader, name string) *frameReader {
	c, err := framing.ByName(name)
	if err != nil {
		panic(err)
	}
	return &frameReader{rd: rd, dec: framing.NewDecoder(c, framing.Limits{}), buf: make([]byte, 256<<10)}
}

// next returns the next message's port and arguments.
func (f *frameReader) next() (string, []any, error) {
	for {
		if f.start < f.end {
			m, n, err := f.dec.Next(f.buf[f.start:f.end])
			if err != nil {
				return "", nil, err
			}
			if n > 0 {
				f.start += n
				args, err := m.Args()
				return m.PortString(), args, err
			}
		}
		if f.start > 0 {
			f.end = copy(f.buf, f.buf[f.start:f.end])
			f.start = 0
		}
		if f.end == len(f.buf) {
			f.buf = append(f.buf, make([]byte, len(f.buf))...)
		}
		n, err := f.rd.Read(f.buf[f.end:])
		f.end += n
		if n == 0 && err != nil {
			return "", nil, err
		}
	}
}

// bystander is an authenticated raw peer that keeps exchanging echo round
// trips with the node while other connections misbehave.
type bystander struct {
	trips atomic.Int64
	err   atomic.Pointer[error]
	stop  chan struct{}
	done  chan struct{}
}

func startBystander(t *testing.T, addr, id string) *bystander {
	t.Helper()
	p, err := dialRaw(t, addr, id, hostileSecret, "json")
	mustf(t, err, "bystander handshake")
	b := &bystander{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer p.conn.Close()
		fr := newFrameReader(p.rd, "json")
		fail := func(err error) { b.err.Store(&err) }
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			default:
			}
			p.conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprintf(p.conn, `["echo","%s#r",%d]`, id, i); err != nil {
				fail(err)
				return
			}
			port, args, err := fr.next()
			if err != nil {
				fail(err)
				return
			}
			if port != "r" || len(args) != 1 || fmt.Sprint(args[0]) != fmt.Sprint(i) {
				fail(fmt.Errorf("round trip %d: got %s %v", i, port, args))
				return
			}
			b.trips.Add(1)
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *bystander) close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
}

// alive checks that the bystander makes more round trips now.
func (b *bystander) alive(t *testing.T) {
	t.Helper()
	before := b.trips.Load()
	deadline := time.Now().Add(5 * time.Second)
	for b.trips.Load() < before+3 {
		if e := b.err.Load(); e != nil {
			t.Fatalf("bystander failed: %v", *e)
		}
		if time.Now().After(deadline) {
			t.Fatalf("bystander stuck at %d round trips", b.trips.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// ber is a storable frame's BER length prefix.
func ber(n uint64) []byte {
	var b []byte
	for {
		b = append([]byte{byte(n & 0x7f)}, b...)
		n >>= 7
		if n == 0 {
			break
		}
	}
	for i := 0; i < len(b)-1; i++ {
		b[i] |= 0x80
	}
	return b
}

// storableFrame prefixes a storable image (after the 05 0b header) with
// the header and its BER length.
func storableFrame(body []byte) []byte {
	img := append([]byte{0x05, 0x0b}, body...)
	return append(ber(uint64(len(img))), img...)
}

// TestHostileDataPhase: after a genuine handshake, malformed JSON,
// invalid UTF-8, nesting 10,000 deep, a frame larger than MaxFrameSize
// (streamed as long as the node reads), a storable frame that declares
// 2^60 bytes, a string that declares 2 GiB inside a small frame, unknown
// and unsupported storable opcodes: each connection is closed at once with
// a clear error (a node-down event and log line naming the problem), an
// authenticated bystander keeps exchanging, and the heap does not grow by
// more than 16 MiB with MaxFrameSize 1 MiB.
func TestHostileDataPhase(t *testing.T) {
	goroutineGuard(t, 5)
	srv := startHostile(t, "dpnode", Config{MaxFrameSize: mib})
	registerTrap(t, srv.Node)
	addr := srv.Addrs()[0]
	by := startBystander(t, addr, "bystander")
	by.alive(t)
	flood := 64 * mib
	if testing.Short() {
		flood = 16 * mib
	}
	deep := 10_000
	var deepStorable []byte
	for i := 0; i < deep-1; i++ {
		deepStorable = append(deepStorable, 0x02, 0, 0, 0, 1, 0x04)
	}
	deepStorable = append(deepStorable, 0x02, 0, 0, 0, 0)
	lscalar := []byte{0x02, 0, 0, 0, 2, 0x0a, 4, 's', 'i', 'n', 'k', 0x01, 0x80, 0, 0, 0, 'x', 'y'}
	huge := ber(1 << 60)
	cases := []struct {
		name, framing string
		data          func(w io.Writer) // writes the attack (errors ignored)
		want          string            // in the node-down reason or log
	}{
		{"malformed JSON", "json", func(w io.Writer) { io.WriteString(w, `["sink","ok"]["sink",}["trap"]`) }, "framing: json:"},
		{"invalid UTF-8", "json", func(w io.Writer) { io.WriteString(w, "[\"sink\",\"\xff\xfe\xc3\x28\"][\"trap\"]") }, "framing: json:"},
		{"NUL in JSON", "json", func(w io.Writer) { io.WriteString(w, "[\"sink\",\x00][\"trap\"]") }, "framing: json:"},
		{"not an array", "json", func(w io.Writer) { io.WriteString(w, `{"sink":1}["trap"]`) }, "framing: json:"},
		{"nesting 10000 deep (JSON)", "json", func(w io.Writer) {
			io.WriteString(w, strings.Repeat("[", deep)+strings.Repeat("]", deep)+`["trap"]`)
		}, "framing: json:"},
		{"frame over MaxFrameSize (JSON, streamed)", "json", func(w io.Writer) {
			io.WriteString(w, `["trap","`)
			chunk := bytes.Repeat([]byte("a"), 64<<10)
			for sent := 0; sent < flood; sent += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "framing: json:"},
		{"storable frame declaring 2^60 bytes", "storable", func(w io.Writer) {
			w.Write(append(huge, 0x05, 0x0b, 0x02, 0, 0, 0, 1))
		}, "framing: storable:"},
		{"storable frame over MaxFrameSize (streamed)", "storable", func(w io.Writer) {
			w.Write(append(ber(uint64(mib+1)), 0x05, 0x0b, 0x02, 0, 0, 0, 1))
			chunk := make([]byte, 64<<10)
			for sent := 0; sent < flood; sent += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "framing: storable:"},
		{"storable string declaring 2 GiB", "storable", func(w io.Writer) { w.Write(storableFrame(lscalar)) }, "framing: storable:"},
		{"storable nesting 10000 deep", "storable", func(w io.Writer) { w.Write(storableFrame(deepStorable)) }, "framing: storable:"},
		{"storable unknown opcode 0x30", "storable", func(w io.Writer) {
			w.Write(storableFrame([]byte{0x02, 0, 0, 0, 2, 0x0a, 4, 's', 'i', 'n', 'k', 0x30}))
		}, "framing: storable:"},
		{"storable opcode 0xff", "storable", func(w io.Writer) {
			w.Write(storableFrame([]byte{0x02, 0, 0, 0, 1, 0xff}))
		}, "framing: storable:"},
		{"storable code reference", "storable", func(w io.Writer) {
			w.Write(storableFrame([]byte{0x02, 0, 0, 0, 2, 0x0a, 4, 's', 'i', 'n', 'k', 0x1a, 0x0a, 3, 's', 'u', 'b'}))
		}, "framing: storable:"},
		{"storable blessed object", "storable", func(w io.Writer) {
			w.Write(storableFrame([]byte{0x02, 0, 0, 0, 2, 0x0a, 4, 's', 'i', 'n', 'k', 0x04, 0x11, 3, 'F', 'o', 'o', 0x03, 0, 0, 0, 0}))
		}, "framing: storable:"},
		{"storable non-minimal BER", "storable", func(w io.Writer) { w.Write([]byte{0x80, 0x09, 0x05, 0x0b, 0x02, 0, 0, 0, 1, 0x0a, 1, 'x'}) }, "framing: storable:"},
		{"storable root hash", "storable", func(w io.Writer) {
			w.Write(storableFrame([]byte{0x03, 0, 0, 0, 1, 0x08, 0x81, 0, 0, 0, 1, 'a'}))
		}, "framing: storable:"},
	}
	hw := watchHeap()
	defer hw.growth()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("attacker%d", i)
			p, err := dialRaw(t, addr, id, hostileSecret, tc.framing)
			mustf(t, err, "handshake")
			defer p.conn.Close()
			srv.waitEvent(t, id, true, 5*time.Second)
			readDone := make(chan struct{})
			go func() {
				io.Copy(io.Discard, p.rd)
				close(readDone)
			}()
			start := time.Now()
			tc.data(p.conn)
			ev := srv.waitEvent(t, id, false, 5*time.Second)
			el := time.Since(start)
			line := waitLogLine(t, srv.log, 2*time.Second, "node down", "node="+id+" ")
			// The reason names the problem, or (if it is AnyEvent::MP's
			// "Bad message") another line of this node or address does.
			if !strings.Contains(line, tc.want) && !logHas(srv.log, "node="+id+" ", tc.want) &&
				!logHas(srv.log, "addr="+p.conn.LocalAddr().String(), tc.want) {
				t.Errorf("no log line names the problem (%q); node-down line: %q", tc.want, line)
			}
			t.Logf("closed after %v, reason %q", el.Round(time.Microsecond), ev.Reason)
			select {
			case <-readDone:
			case <-time.After(3 * time.Second):
				t.Fatal("connection still open")
			}
			by.alive(t)
		})
	}
	g := hw.growth()
	t.Logf("heap growth during the attacks: %.1f MiB", float64(g)/mib)
	if g > 16*mib {
		t.Errorf("heap grew by %.1f MiB with MaxFrameSize 1 MiB", float64(g)/mib)
	}
	by.alive(t)
}

// TestHostileBackpressureMemory: a peer that stops reading makes Send
// report ErrBackpressure once the high-water mark is reached, however long
// we keep trying, with the heap bounded; when the peer reads again a big
// volume arrives completely and in order. Plain connections (gnet) and
// TLS connections (the stream transport).
func TestHostileBackpressureMemory(t *testing.T) {
	t.Run("plain", func(t *testing.T) { backpressureRun(t, false) })
	t.Run("TLS", func(t *testing.T) { backpressureRun(t, true) })
}

// dialRawTLS completes a handshake with TLS (certificate pemText) as
// node id; the rawPeer reads and writes inside TLS.
func dialRawTLS(t *testing.T, addr, id string, pemText []byte) *rawPeer {
	t.Helper()
	h := dialHostile(t, addr)
	f := forgePeer(t, id, hostileSecret, true, "json")
	h.c.Write(f.greeting)
	h.readGreeting(t)
	st, err := f.hs.Feed(h.greeting())
	mustf(t, err, "feed")
	cert, err := tls.X509KeyPair(pemText, pemText)
	mustf(t, err, "key pair")
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}
	var tc *tls.Conn
	switch st.StartTLS {
	case handshake.TLSClient:
		tc = tls.Client(rdConn{h.c, h.rd}, cfg)
	case handshake.TLSServer:
		cfg.ClientAuth = tls.RequireAnyClientCert
		tc = tls.Server(rdConn{h.c, h.rd}, cfg)
	default:
		t.Fatalf("no TLS switch (step %+v)", st)
	}
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	mustf(t, tc.Handshake(), "TLS handshake")
	line, err := f.hs.TLSUp()
	mustf(t, err, "TLSUp")
	_, err = tc.Write(line)
	mustf(t, err, "write auth line")
	rd := bufio.NewReader(tc)
	auth, err := rd.ReadSlice('\n')
	mustf(t, err, "read auth line")
	st, err = f.hs.Feed(auth)
	mustf(t, err, "node's auth line")
	if !st.Done {
		t.Fatalf("handshake not done: %+v", st)
	}
	tc.SetDeadline(time.Time{})
	return &rawPeer{conn: tc, rd: rd, res: f.hs.Result()}
}

func backpressureRun(t *testing.T, withTLS bool) {
	goroutineGuard(t, 5)
	const hwm = mib
	total := 100_000 // 1 KiB each: 100 MiB
	if testing.Short() {
		total = 20_000
	}
	cfg := Config{HighWaterMark: hwm}
	var p *rawPeer
	var srv *testNode
	if withTLS {
		cert := testCertPEM(t, "bp")
		cfg.CertPEM, cfg.Secret = cert, hostileSecret
		srv = startHostile(t, "pusher", cfg)
		p = dialRawTLS(t, srv.Addrs()[0], "sloth", cert)
	} else {
		srv = startHostile(t, "pusher", cfg)
		var err error
		p, err = dialRaw(t, srv.Addrs()[0], "sloth", hostileSecret, "json")
		mustf(t, err, "handshake")
	}
	defer p.conn.Close()
	srv.waitEvent(t, "sloth", true, 5*time.Second)
	// held is what the node accounts for the peer: pending bytes and what
	// gnet still buffers (the stream transport reports nothing for the
	// buffer its writer is blocked on).
	// Read under the connection's lock: a flush moves bytes from pending
	// to the transport's account under it, and a lock-free read in the
	// middle can count them twice (Send's check errs that way on purpose).
	held := func() int64 {
		if pp, ok := srv.peers.load("sloth"); ok {
			if c := pp.conn.Load(); c != nil {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.backlog()
			}
		}
		return 0
	}
	payload := strings.Repeat("p", 1000)
	hw := watchHeap()
	defer hw.growth()
	seq := 0
	var maxHeld int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := srv.Send("sloth#in", int64(seq), payload)
		maxHeld = max(maxHeld, held())
		if errors.Is(err, ErrBackpressure) {
			break
		}
		mustf(t, err, "send")
		seq++
		if time.Now().After(deadline) {
			t.Fatalf("no backpressure after %d messages", seq)
		}
	}
	accepted := seq
	// Keep pushing for a while: (almost) nothing more is taken; the
	// kernel's socket buffers may still grow by autotuning.
	refused := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		err := srv.Send("sloth#in", int64(seq), payload)
		maxHeld = max(maxHeld, held())
		if err == nil {
			seq++
			continue
		}
		if !errors.Is(err, ErrBackpressure) {
			t.Fatalf("send: %v", err)
		}
		refused++
		time.Sleep(50 * time.Microsecond)
	}
	stalled := hw.growth()
	t.Logf("stalled peer: %d messages (%.1f MiB) taken before backpressure, %d more while stalled, %d refused; node accounted at most %.2f MiB; heap growth %.1f MiB",
		accepted, float64(accepted*1015)/mib, seq-accepted, refused, float64(maxHeld)/mib, float64(stalled)/mib)
	if refused == 0 {
		t.Error("no send refused while the peer was not reading")
	}
	if maxHeld > 2*hwm+64<<10 {
		t.Errorf("the node holds %d bytes for a stalled peer, high-water mark %d", maxHeld, hwm)
	}
	if stalled > 4*hwm+8*mib {
		t.Errorf("heap grew by %.1f MiB with a high-water mark of 1 MiB", float64(stalled)/mib)
	}

	// The peer reads again; everything arrives in order.
	hw = watchHeap()
	readErr := make(chan error, 1)
	go func() {
		fr := newFrameReader(p.rd, "json")
		for want := 0; want < total; want++ {
			p.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			port, args, err := fr.next()
			if err != nil {
				readErr <- fmt.Errorf("after %d messages: %w", want, err)
				return
			}
			if len(args) != 2 || port != "in" || fmt.Sprint(args[0]) != fmt.Sprint(want) || args[1] != any(payload) {
				readErr <- fmt.Errorf("message %d: %s %.40v", want, port, args)
				return
			}
		}
		readErr <- nil
	}()
	start := time.Now()
	waits := 0
	for seq < total {
		err := srv.Send("sloth#in", int64(seq), payload)
		if errors.Is(err, ErrBackpressure) {
			waits++
			time.Sleep(100 * time.Microsecond)
			continue
		}
		mustf(t, err, "send %d", seq)
		seq++
	}
	select {
	case err := <-readErr:
		mustf(t, err, "reader")
	case <-time.After(60 * time.Second):
		t.Fatal("reader did not finish")
	}
	g := hw.growth()
	t.Logf("resumed: %d messages (%.0f MiB) in %v, %d backpressure waits, heap growth %.1f MiB",
		total, float64(total*1015)/mib, time.Since(start).Round(time.Millisecond), waits, float64(g)/mib)
	if g > 4*hwm+8*mib {
		t.Errorf("heap grew by %.1f MiB while streaming with a high-water mark of 1 MiB", float64(g)/mib)
	}
	if maxHeld > hwm+2048 {
		t.Errorf("the node accounted %d bytes for a stalled peer, above the high-water mark %d by more than one message", maxHeld, hwm)
	}
}

// TestHostileNeverSendsCleartext: the node never authenticates itself
// with cleartext (which would put the secret on the wire): not to a peer
// that offers only cleartext, inbound or outbound, and not when cleartext
// comes first in the peer's list.
func TestHostileNeverSendsCleartext(t *testing.T) {
	goroutineGuard(t, 5)
	srv := startHostile(t, "clearnode", Config{MonitorTimeout: 3 * time.Second})
	addr := srv.Addrs()[0]
	t.Run("inbound, cleartext only", func(t *testing.T) {
		h := dialHostile(t, addr)
		h.readGreeting(t)
		h.c.Write([]byte("aemp;1;clearpeer;cleartext;json\nnonce1\n"))
		got := h.drain(t, 2*time.Second)
		assertNoSecret(t, "node output", got)
		if len(got) != 0 {
			t.Errorf("the node sent %q after its greeting", got)
		}
		waitLogLine(t, srv.log, 2*time.Second, "addr="+h.c.LocalAddr().String(), "cleartext: no common auth type supported")
	})
	t.Run("inbound, cleartext first", func(t *testing.T) {
		h := dialHostile(t, addr)
		h.readGreeting(t)
		h.c.Write([]byte("aemp;1;clearpeer2;cleartext,hmac_md6_64_256;json\nnonce2\n"))
		h.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		auth, err := h.rd.ReadString('\n')
		mustf(t, err, "reading the node's auth line")
		if !strings.HasPrefix(auth, "hmac_md6_64_256;") {
			t.Errorf("node authenticated with %q", auth)
		}
		assertNoSecret(t, "node auth line", []byte(auth))
	})
	t.Run("outbound, cleartext only", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		mustf(t, err, "listen")
		defer ln.Close()
		srv.Connect(ln.Addr().String())
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := ln.Accept()
		mustf(t, err, "accept")
		h := &hostile{c: c, rd: bufio.NewReader(c)}
		defer c.Close()
		c.Write([]byte("aemp;1;clearlistener;cleartext;json\nnonce3\n"))
		h.readGreeting(t)
		got := h.drain(t, 2*time.Second)
		assertNoSecret(t, "node output", append(h.greeting(), got...))
		if len(got) != 0 {
			t.Errorf("the node sent %q after its greeting", got)
		}
		waitLogLine(t, srv.log, 2*time.Second, "cleartext: no common auth type supported")
	})
}

// rdConn reads through a bufio.Reader that may hold bytes already read
// from the socket.
type rdConn struct {
	net.Conn
	r io.Reader
}

func (c rdConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// TestHostileTLSPeerCertificate: with a certificate configured, a peer
// that completes the AEMP greeting with tls=1 but has no client
// certificate, or one that does not chain to ours, is refused in the TLS
// handshake (whichever TLS role the nonces give it); a peer with a
// trusted certificate but a wrong secret is refused at the auth line. No
// data pipelined behind is processed.
func TestHostileTLSPeerCertificate(t *testing.T) {
	goroutineGuard(t, 5)
	cert := testCertPEM(t, "aemp-node")
	rogue := testCertPEM(t, "rogue")
	srv := startHostile(t, "tlsnode", Config{CertPEM: cert, Secret: hostileSecret, MonitorTimeout: 4 * time.Second})
	trap := registerTrap(t, srv.Node)
	addr := srv.Addrs()[0]
	keyPair := func(pemText []byte) []tls.Certificate {
		c, err := tls.X509KeyPair(pemText, pemText)
		mustf(t, err, "key pair")
		return []tls.Certificate{c}
	}
	cases := []struct {
		name   string
		role   handshake.TLSRole // the role we need; others are retried
		certs  []tls.Certificate
		secret string
		want   string
	}{
		{"client without certificate", handshake.TLSClient, nil, hostileSecret, "TLS handshake"},
		{"client with untrusted certificate", handshake.TLSClient, keyPair(rogue), hostileSecret, "TLS handshake"},
		{"server with untrusted certificate", handshake.TLSServer, keyPair(rogue), hostileSecret, "TLS handshake"},
		// tls_* tokens hash the transcript without the secret (the
		// certificate is the credential, as in AnyEvent::MP): a tampered
		// token inside TLS must still be refused.
		{"trusted certificate, tampered token", handshake.TLSNone, keyPair(cert), "not-the-secret", "authentication failure/shared secret mismatch"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := 0; ; attempt++ {
				if attempt == 40 {
					t.Fatalf("never got TLS role %v", tc.role)
				}
				h := dialHostile(t, addr)
				f := forgePeer(t, fmt.Sprintf("tlsattacker%d", i), tc.secret, true)
				h.c.Write(f.greeting)
				h.readGreeting(t)
				st, err := f.hs.Feed(h.greeting())
				mustf(t, err, "feed")
				if st.StartTLS == handshake.TLSNone {
					t.Fatalf("no TLS switch (step %+v)", st)
				}
				if tc.role != handshake.TLSNone && st.StartTLS != tc.role {
					h.c.Close()
					continue
				}
				raw := rdConn{h.c, h.rd}
				cfg := &tls.Config{Certificates: tc.certs, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
				var tc2 *tls.Conn
				if st.StartTLS == handshake.TLSClient {
					tc2 = tls.Client(raw, cfg)
				} else {
					tc2 = tls.Server(raw, cfg)
				}
				tc2.SetDeadline(time.Now().Add(5 * time.Second))
				herr := tc2.Handshake()
				if tc.role == handshake.TLSNone {
					mustf(t, herr, "TLS handshake with a trusted certificate")
					line, err := f.hs.TLSUp()
					mustf(t, err, "TLSUp")
					method, _, _ := strings.Cut(string(line), ";")
					if !strings.HasPrefix(method, "tls_") {
						t.Fatalf("auth line %q", line)
					}
					// Flip the token's last hex digit.
					i := bytes.LastIndexByte(line, ';') - 1
					if line[i] == '0' {
						line[i] = '1'
					} else {
						line[i] = '0'
					}
					tc2.Write(append(line, `["trap","pipelined"]`...))
				} else if herr == nil {
					tc2.Write(trapFrames) // TLS 1.3 client: the refusal comes after
				}
				start := time.Now()
				var got []byte
				buf := make([]byte, 4096)
				for {
					n, err := tc2.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						var ne net.Error
						if errors.As(err, &ne) && ne.Timeout() {
							t.Fatalf("TLS connection still open (got %q)", got)
						}
						break
					}
				}
				if time.Since(start) > 2*time.Second {
					t.Errorf("refusal took %v", time.Since(start))
				}
				if tc.role == handshake.TLSNone {
					// What came inside TLS is the node's auth line only.
					if bytes.Count(got, []byte("\n")) > 1 || bytes.Contains(got, []byte("trap")) {
						t.Errorf("node sent %q", got)
					}
				}
				assertNoSecret(t, "node output", got)
				line := waitLogLine(t, srv.log, 3*time.Second, "handshake failed", "addr="+h.c.LocalAddr().String())
				if !strings.Contains(line, tc.want) {
					t.Fatalf("log line %q lacks %q", line, tc.want)
				}
				t.Logf("attempt %d: %s", attempt, line)
				return
			}
		})
	}
	// A node with a certificate, a peer that leaves tls out of its
	// greeting and claims tls_anon (or a tls_* token) in plain text.
	for _, method := range []string{"tls_anon", "tls_sha3_512", "tls_md6_64_256"} {
		t.Run(method+" without TLS", func(t *testing.T) {
			h := dialHostile(t, addr)
			h.readGreeting(t)
			f := forgePeer(t, "plainclaims", hostileSecret, false)
			auth := withMethod(f.authLine(t, h), method)
			if method == "tls_anon" {
				auth = []byte("tls_anon;;json\n")
			}
			h.c.Write(append(append(f.greeting, auth...), trapFrames...))
			got := h.drain(t, 3*time.Second)
			assertNoSecret(t, "node output", got)
			waitLogLine(t, srv.log, 3*time.Second, "handshake failed", "addr="+h.c.LocalAddr().String(), "authentication failure/shared secret mismatch")
		})
	}
	if st := srv.Stats(); st.Received != 0 || trap.Load() != 0 {
		t.Fatalf("data processed from refused TLS peers: received %d, trap %d", st.Received, trap.Load())
	}
	for len(srv.events) > 0 {
		if ev := <-srv.events; ev.Up {
			t.Fatalf("node up for a refused TLS peer: %+v", ev)
		}
	}
}

// TestHostileGhostNodes: an authenticated peer relays messages (node port
// "snd") to thousands of node IDs that do not exist. The node queues them
// for the monitor timeout, then drops them; afterwards nothing of those
// nodes may remain (queues, peer entries), and the heap is back near its
// base.
func TestHostileGhostNodes(t *testing.T) {
	goroutineGuard(t, 5)
	ghosts := 20_000
	if testing.Short() {
		ghosts = 3_000
	}
	const mt = time.Second
	srv := startHostile(t, "relay", Config{MonitorTimeout: mt, ConnectInterval: 100 * time.Millisecond})
	p, err := dialRaw(t, srv.Addrs()[0], "spammer", hostileSecret, "json")
	mustf(t, err, "handshake")
	defer p.conn.Close()
	go io.Copy(io.Discard, p.rd)
	countPeers := func() int { return len(srv.peers.all()) }
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, basePeers, baseLog := ms.HeapAlloc, countPeers(), len(srv.log.String())
	pad := strings.Repeat("g", 200)
	w := bufio.NewWriterSize(p.conn, 64<<10)
	for i := 0; i < ghosts; i++ {
		fmt.Fprintf(w, `["","snd","ghost%d#port","%s"]`, i, pad)
	}
	mustf(t, w.Flush(), "write")
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Received < int64(ghosts) {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d", srv.Stats().Received, ghosts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	peak := countPeers()
	// After the monitor timeout the queues are dropped.
	deadline = time.Now().Add(mt + 5*time.Second)
	for srv.Stats().Dropped < int64(ghosts) {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d of %d queued messages", srv.Stats().Dropped, ghosts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(mt)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := countPeers()
	// The node's log (kept in memory by the test) grows too: not counted.
	growth := int64(ms.HeapAlloc) - int64(base) - int64(len(srv.log.String())-baseLog)
	t.Logf("%d ghost nodes: peer entries %d -> %d (peak) -> %d after the queues were dropped; heap growth after %.1f MiB (%d B per ghost)",
		ghosts, basePeers, peak, after, float64(growth)/mib, growth/int64(ghosts))
	if after > basePeers+10 {
		t.Errorf("%d peer entries remain for nodes that never existed (%d B per ghost)", after-basePeers, growth/int64(ghosts))
	}
}
