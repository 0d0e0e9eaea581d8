package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aemp-go/aemp/engine/handshake"
)

// logBuffer collects a node's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog waits until the log contains s.
func (l *logBuffer) waitLog(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(l.String(), s) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("log does not contain %q within %v; log:\n%s", s, d, l.String())
}

// testNode is a started node with its log and events.
type testNode struct {
	*Node
	log    *logBuffer
	events chan NodeEvent
}

// startNode starts a node listening on 127.0.0.1 with cfg's other
// settings; it is closed when the test ends.
func startNode(t testing.TB, id string, cfg Config) *testNode {
	t.Helper()
	tn := &testNode{log: &logBuffer{}, events: make(chan NodeEvent, 1024)}
	cfg.NodeID = id
	if cfg.Binds == nil {
		cfg.Binds = []string{"127.0.0.1:0"}
	}
	if cfg.Secret == "" && cfg.CertPEM == nil {
		cfg.Secret = "test-secret"
	}
	if cfg.MonitorTimeout == 0 {
		cfg.MonitorTimeout = 5 * time.Second
	}
	cfg.Logger = slog.New(slog.NewTextHandler(tn.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.OnNodeEvent = func(ev NodeEvent) {
		select {
		case tn.events <- ev:
		default:
		}
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	if err := serveTestEcho(n); err != nil {
		t.Fatal(err)
	}
	if err := serveTestSink(n); err != nil {
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
	return tn
}

// waitEvent waits for an event of node id (up or down).
func (tn *testNode) waitEvent(t *testing.T, id string, up bool, d time.Duration) NodeEvent {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-tn.events:
			if ev.Node == id && ev.Up == up {
				return ev
			}
		case <-timeout:
			t.Fatalf("%s: no %v event for %s within %v; log:\n%s", tn.ID(), up, id, d, tn.log.String())
		}
	}
}

// collector is a port handler that hands decoded messages to a channel.
type collector chan []any

func newCollector(t *testing.T, n *Node, name string) (collector, string) {
	c := make(collector, 1<<16)
	id, err := n.Register(name, func(m *Message) {
		args, err := m.Args()
		if err != nil {
			t.Errorf("decode: %v", err)
			return
		}
		c <- args
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

func (c collector) next(t *testing.T, d time.Duration) []any {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return nil
}

// rawPeer is a hand-driven AEMP peer over a plain socket: the handshake
// package for the greeting, and raw bytes after.
type rawPeer struct {
	conn net.Conn
	rd   *bufio.Reader
	res  *handshake.Result
}

// dialRaw connects to addr and completes a handshake as node id, offering
// framings (default json: the raw peers read and write json).
func dialRaw(t *testing.T, addr, id, secret string, framings ...string) (*rawPeer, error) {
	t.Helper()
	if len(framings) == 0 {
		framings = []string{"json"}
	}
	return dialRawWith(t, addr, handshake.Options{NodeID: id, Secret: []byte(secret), Framings: framings})
}

// dialRawWith is dialRaw with every handshake option.
func dialRawWith(t *testing.T, addr string, o handshake.Options) (*rawPeer, error) {
	t.Helper()
	cfg, err := handshake.NewConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(hs.Start()); err != nil {
		c.Close()
		return nil, err
	}
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			c.Write(st.Out)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		if st.Done {
			break
		}
	}
	c.SetDeadline(time.Time{})
	return &rawPeer{conn: c, rd: rd, res: hs.Result()}, nil
}

// readJSON reads the next JSON message (the node writes no separators:
// this reads up to the matching close bracket).
func (p *rawPeer) readJSON(t *testing.T, d time.Duration) string {
	t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(d))
	defer p.conn.SetReadDeadline(time.Time{})
	var b []byte
	depth, inStr, esc := 0, false, false
	for {
		c, err := p.rd.ReadByte()
		if err != nil {
			t.Fatalf("read: %v (have %q)", err, b)
		}
		if len(b) == 0 && (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
			continue
		}
		b = append(b, c)
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return string(b)
			}
		}
	}
}

// expectClosed checks that the node closes the connection within d.
func expectClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v", d)
			}
			return
		}
	}
}

func mustf(t *testing.T, err error, f string, a ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(f, a...), err)
	}
}

// acceptRaw completes the handshake on an accepted socket as node id,
// offering json.
func acceptRaw(t *testing.T, c net.Conn, id, secret string) *rawPeer {
	t.Helper()
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: id, Secret: []byte(secret), Framings: []string{"json"}})
	mustf(t, err, "config")
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	mustf(t, err, "handshake")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	_, err = c.Write(hs.Start())
	mustf(t, err, "write")
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadSlice('\n')
		mustf(t, err, "read")
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			c.Write(st.Out)
		}
		mustf(t, err, "feed")
		if st.Done {
			return &rawPeer{conn: c, rd: rd, res: hs.Result()}
		}
	}
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on
// (just closed), for a node to bind later.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logger returns a debug-level logger writing to l.
func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// closeNode closes n, waiting at most 5 s.
func closeNode(n *Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
}

// serveTestEcho registers echo: [REPLY, ARGS...] -> ARGS... to REPLY (as
// package services does; engine's tests cannot import it).
func serveTestEcho(n *Node) error {
	_, err := n.Register("echo", func(m *Message) {
		args, err := m.Args()
		if err != nil || len(args) == 0 {
			return
		}
		if reply, ok := args[0].(string); ok {
			n.Send(reply, args[1:]...)
		}
	})
	return err
}

// serveTestSink registers a sink that counts messages and the characters
// of their string arguments; ["report", REPLY] answers "count", N, CHARS.
func serveTestSink(n *Node) error {
	var count, chars atomic.Int64
	_, err := n.Register("sink", func(m *Message) {
		// Plain scalars are counted without decoding (as services.Sink
		// does), so that BenchmarkSendRemote's receiving half allocates
		// nothing.
		if k, length, first, ok := m.ScalarArgs(); ok && (k == 0 || first != nil) && string(first) != "report" {
			count.Add(1)
			chars.Add(int64(length))
			return
		}
		args, err := m.Args()
		if err != nil {
			return
		}
		if len(args) == 2 && args[0] == "report" {
			if reply, ok := args[1].(string); ok {
				n.Send(reply, "count", count.Load(), chars.Load())
			}
			return
		}
		count.Add(1)
		for _, a := range args {
			if s, ok := a.(string); ok {
				chars.Add(int64(utf8.RuneCountInString(s)))
			}
		}
	})
	return err
}

// readJSONNoMesh is readJSON, skipping the mesh's own messages (the
// Global service's spawn, its port's messages and g_* requests), which a
// node sends to its peers by itself.
func (p *rawPeer) readJSONNoMesh(t *testing.T, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := p.readJSON(t, time.Until(deadline))
		if strings.HasPrefix(m, `["","g_`) || strings.HasPrefix(m, `["","AnyEvent::MP::_spawn"`) || meshPortMessage(m) {
			continue
		}
		return m
	}
}

// meshPortMessage tells a message to a 1.x Global port (named by this
// package's generated names) or the mon1 of one.
func meshPortMessage(m string) bool {
	return strings.Contains(m, `.g`) && (strings.HasPrefix(m, `["","mon1",`) || strings.Contains(m, `","addr",`) ||
		strings.Contains(m, `","setup"]`) || strings.Contains(m, `","seedme1"]`) || strings.Contains(m, `","nodes",`) ||
		strings.Contains(m, `","set",`))
}
