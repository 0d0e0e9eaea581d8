package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// Regression tests for what real AnyEvent::MP nodes showed in meshes with
// aemp-go (the captures in engine/mesh/testdata/interop).

// perl1Peer is a raw connection that speaks as a 1.30 node (MD6 auth,
// json) on a socket the node under test dialled.
type perl1Peer struct {
	conn net.Conn
	rd   io.Reader
	dec  *json.Decoder
}

// acceptPerl1 accepts the node's connection on ln and completes the
// handshake as 1.x node id.
func acceptPerl1(t *testing.T, ln net.Listener, id string) *perl1Peer {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	mustf(t, err, "accept")
	t.Cleanup(func() { c.Close() })
	md6 := []string{"hmac_md6_64_256"}
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: id, Secret: []byte("test-secret"),
		AuthOffer: md6, AuthAccept: md6, Framings: []string{"json"}, NoProtoKeys: true, Provider: "AE-1.30"})
	mustf(t, err, "config")
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	mustf(t, err, "handshake")
	c.SetDeadline(time.Now().Add(10 * time.Second))
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
			break
		}
	}
	c.SetDeadline(time.Time{})
	if g := hs.Result().Generation; g != handshake.Gen1 {
		t.Fatalf("handshake generation %d", g)
	}
	return &perl1Peer{conn: c, rd: rd}
}

// send writes messages (json arrays) to the node.
func (p *perl1Peer) send(t *testing.T, msgs ...string) {
	t.Helper()
	_, err := p.conn.Write([]byte(strings.Join(msgs, "")))
	mustf(t, err, "write")
}

// read returns the messages the node sends within d.
func (p *perl1Peer) read(t *testing.T, d time.Duration) [][]any {
	t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(d))
	defer p.conn.SetReadDeadline(time.Time{})
	var out [][]any
	if p.dec == nil {
		p.dec = json.NewDecoder(p.rd)
	}
	for {
		var m []any
		if err := p.dec.Decode(&m); err != nil {
			// A json.Decoder keeps its error: the next read starts a new
			// one on what this one had buffered.
			p.dec = json.NewDecoder(io.MultiReader(p.dec.Buffered(), p.rd))
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("read: %v", err)
				}
			}
			return out
		}
		out = append(out, m)
	}
}

// TestMeshGen1NodesDialBeforeQueue: a 1.x nodes message names a node that
// is not up. Perl connects to it first and then starts Global on it (the
// spawn waits in the node's queue with its addresses known); aemp-go
// queued the spawn before it knew the addresses, so the queue asked the
// mesh where the node listens: a second find (after the one for a node
// that went down) went to the master.
func TestMeshGen1NodesDialBeforeQueue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustf(t, err, "listen")
	defer ln.Close()
	x := startNode(t, "x", Config{Generation: 1, Seeds: []string{ln.Addr().String()}})
	s := acceptPerl1(t, ln, "S")
	// x announces itself on the Global port it spawns on S, picks S as
	// master (seedme1) and monitors the port.
	hello := s.read(t, 500*time.Millisecond)
	var seedme bool
	for _, m := range hello {
		seedme = seedme || len(m) == 2 && m[1] == "seedme1"
	}
	if !seedme {
		t.Fatalf("no seedme1 to the seed: %v", hello)
	}
	gone := freeAddr(t)
	s.send(t, `["","AnyEvent::MP::_spawn","sg.1","AnyEvent::MP::Global::connect",0,"S"]`,
		`["sg.1","nodes",{"b":["`+gone+`"]}]`)
	for _, m := range s.read(t, 1500*time.Millisecond) {
		if len(m) >= 2 && m[1] == "find" {
			t.Errorf("x asked its master to find %v: it was just told where b listens", m[2:])
		}
	}
	x.log.waitLog(t, "connection attempt failed", 5*time.Second)
	if !strings.Contains(x.log.String(), gone) {
		t.Errorf("x did not dial b at %s:\n%s", gone, tail(x.log.String(), 2000))
	}
}

// TestMeshGen1NodesTwiceOneDial: a 1.x seed names a node in two nodes
// messages in a row (its announcement and its answer to our seedme1, as
// real 1.30 seeds do). Perl connects once (a connect in progress, the
// handshake included, is not started again); aemp-go dialled again when
// the second message came during the first connection's handshake. The
// first message must still be acted on at once (a long connect interval
// shows a first attempt held back as if one had just been made).
func TestMeshGen1NodesTwiceOneDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustf(t, err, "listen")
	defer ln.Close()
	x := startNode(t, "x", Config{Generation: 1, Seeds: []string{ln.Addr().String()}, ConnectInterval: time.Hour})
	s := acceptPerl1(t, ln, "S")
	s.read(t, 300*time.Millisecond)
	// b accepts and stays silent: the handshake never ends.
	lb, err := net.Listen("tcp", "127.0.0.1:0")
	mustf(t, err, "listen")
	defer lb.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := lb.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	nodes := `["sg.1","nodes",{"b":["` + lb.Addr().String() + `"]}]`
	s.send(t, `["","AnyEvent::MP::_spawn","sg.1","AnyEvent::MP::Global::connect",0,"S"]`, nodes)
	var first net.Conn
	select {
	case first = <-accepted:
		defer first.Close()
	case <-time.After(2 * time.Second):
		t.Fatalf("x did not dial b:\n%s", tail(x.log.String(), 2000))
	}
	s.send(t, nodes)
	s.read(t, 300*time.Millisecond) // x has handled the second message
	select {
	case c := <-accepted:
		c.Close()
		t.Errorf("x dialled b again while its first connection was in the handshake:\n%s", tail(x.log.String(), 2000))
	case <-time.After(500 * time.Millisecond):
	}
}
