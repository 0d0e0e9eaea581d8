package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// startPerl2Peer runs bench/perl/aemp2-peer.pl: an AnyEvent::MP 2.x style
// peer on Debian's AnyEvent::Handle, JSON::XS, CBOR::XS, Digest::SHA3 and
// Digest::HMAC, with hmac_sha3_512 auth (it verifies our token) and cbor
// or json framing. Outside CI the test is skipped when perl or a module is
// missing; in CI (CI set) that is a failure.
func startPerl2Peer(t *testing.T, args ...string) *perlPeer {
	t.Helper()
	return runPerlScript(t, "aemp2-peer.pl", []string{"AnyEvent::Handle", "JSON::XS", "CBOR::XS", "Digest::SHA3", "Digest::HMAC"},
		"libanyevent-perl libjson-xs-perl libcbor-xs-perl libdigest-sha3-perl libdigest-hmac-perl", args...)
}

// perl2Framings are the framing setups tested: the peer's --framing list
// and what each side then sends. The Go node offers json,cbor,storable;
// each side sends the first entry of the other's list it supports.
var perl2Framings = []struct {
	name     string
	offer    string // the peer's --framing
	goSends  string
	perlSend string
}{
	{"cbor", "cbor", "cbor", "cbor"},
	{"json", "json", "json", "json"},
	// Perl's preference cbor,json: we send cbor, the peer sends json
	// (the first of our list): the directions differ.
	{"mixed", "cbor,json", "cbor", "json"},
}

// perl2Texts renders decoded scalars as Perl strings (byte strings as
// Latin-1), so that json and cbor results compare equal.
func perl2Texts(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if s, ok := framing.Text(a); ok {
			parts[i] = s
		} else {
			parts[i] = fmt.Sprint(a)
		}
	}
	return strings.Join(parts, "|")
}

// perl2Exchange runs the common part once the connection is up: messages
// both ways through the echo ports and the sinks.
func perl2Exchange(t *testing.T, g *testNode, p *perlPeer, peerID string, sinkFromPerl int) {
	t.Helper()
	back, backID := newCollector(t, g.Node, "back")
	// Go -> Perl echo -> Go, with text, bytes, integers, a float, nested data.
	mustf(t, g.Send(peerID+"#echo", backID, "from go", int64(7), "ü€", []byte{0xfc, 'x'}, 1.5, nil,
		map[string]any{"k": []any{"v", int64(-3)}}), "send to perl echo")
	got := back.next(t, 10*time.Second)
	if s := perl2Texts(got[:6]); s != "from go|7|ü€|üx|1.5|<nil>" {
		t.Fatalf("perl echo: %q (%#v)", s, got)
	}
	m, ok := got[6].(map[string]any)
	if !ok || fmt.Sprint(perl2Texts(m["k"].([]any))) != "v|-3" {
		t.Fatalf("perl echo map: %#v", got[6])
	}
	// Go -> Perl sink, then its report.
	for i := 0; i < 100; i++ {
		mustf(t, g.Send(peerID+"#sink", "payload"), "sink")
	}
	mustf(t, g.Send(peerID+"#sink", "report", backID), "report")
	if got := back.next(t, 10*time.Second); perl2Texts(got[:3]) != "count|100|700" {
		t.Fatalf("perl sink: %#v", got)
	}
	// The Perl peer's messages to our sink (sent right after UP).
	if sinkFromPerl > 0 {
		deadline := time.Now().Add(10 * time.Second)
		want := fmt.Sprintf("[count %d %d]", sinkFromPerl, sinkFromPerl*20)
		for {
			mustf(t, g.Send(g.ID()+"#sink", "report", backID), "local report")
			got := back.next(t, 5*time.Second)
			if fmt.Sprint(got[:3]) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("go sink: %v, want %s", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func checkPerl2Up(t *testing.T, ev NodeEvent, goSends, perlSends string) {
	t.Helper()
	if ev.Auth != "hmac_sha3_512" || ev.SendFraming != goSends || ev.RecvFraming != perlSends {
		t.Fatalf("up event: auth %q send %q recv %q, want hmac_sha3_512 %s %s", ev.Auth, ev.SendFraming, ev.RecvFraming, goSends, perlSends)
	}
}

// TestPerl2PeerConnects: the 2.x Perl peer connects to a Go node (default
// auth lists, framings json,cbor,storable).
func TestPerl2PeerConnects(t *testing.T) {
	for _, fr := range perl2Framings {
		t.Run(fr.name, func(t *testing.T) {
			g := startNode(t, "gonode", Config{Secret: "perl2-secret", Framings: []string{"json", "cbor", "storable"}})
			p := startPerl2Peer(t, "--connect", g.Addrs()[0], "--nodeid", "perl2peer", "--secret", "perl2-secret",
				"--framing", fr.offer,
				"--send", `["echo","perl2peer#r","hi",1,{"k":["v"]},"ü",null,-2.5]`,
				"--sink-count", "1000", "--sink-size", "20", "--quit-after", "30")
			if l := p.expect(t, "UP ", 10*time.Second); l != "UP gonode "+fr.goSends {
				t.Fatalf("perl peer: %q", l)
			}
			if l := p.expect(t, "SEND ", time.Second); l != "SEND "+fr.perlSend {
				t.Fatalf("perl peer: %q", l)
			}
			checkPerl2Up(t, g.waitEvent(t, "perl2peer", true, 5*time.Second), fr.goSends, fr.perlSend)
			if l := p.expect(t, `RECV ["r"`, 10*time.Second); l != `RECV ["r","hi",1,{"k":["v"]},"ü",null,-2.5]` {
				t.Fatalf("echo reply: %q", l)
			}
			perl2Exchange(t, g, p, "perl2peer", 1000)
		})
	}
}

// TestGoConnectsToPerl2Peer: a listener-less Go node connects to a
// listening 2.x Perl peer.
func TestGoConnectsToPerl2Peer(t *testing.T) {
	for _, fr := range perl2Framings {
		t.Run(fr.name, func(t *testing.T) {
			p := startPerl2Peer(t, "--listen", "127.0.0.1:0", "--nodeid", "perl2listen", "--secret", "s2x",
				"--framing", fr.offer, "--quit-after", "30")
			addr := strings.TrimPrefix(p.expect(t, "READY ", 10*time.Second), "READY ")
			g := startNode(t, "goclient", Config{Secret: "s2x", Binds: []string{}, Seeds: []string{addr},
				Framings: []string{"json", "cbor", "storable"}})
			checkPerl2Up(t, g.waitEvent(t, "perl2listen", true, 10*time.Second), fr.goSends, fr.perlSend)
			if l := p.expect(t, "UP ", 5*time.Second); l != "UP goclient "+fr.goSends {
				t.Fatalf("perl peer: %q", l)
			}
			perl2Exchange(t, g, p, "perl2listen", 0)
			// A message for an unknown port of the peer is printed by it.
			mustf(t, g.Send("perl2listen#other", "x", int64(1), []byte("b")), "send")
			if l := p.expect(t, `RECV ["other"`, 5*time.Second); l != `RECV ["other","x",1,"b"]` {
				t.Fatalf("perl peer: %q", l)
			}
		})
	}
}

// TestPerl2PeerWrongSecret: the peer checks our hmac_sha3_512 token, and we
// check its token: a wrong secret fails on both sides.
func TestPerl2PeerWrongSecret(t *testing.T) {
	g := startNode(t, "gonode", Config{Secret: "right", Framings: []string{"json", "cbor", "storable"}})
	p := startPerl2Peer(t, "--connect", g.Addrs()[0], "--nodeid", "perl2bad", "--secret", "wrong", "--quit-after", "10")
	if l := p.expect(t, "DOWN ", 10*time.Second); l != "DOWN authentication failure" {
		t.Fatalf("perl peer: %q", l)
	}
	select {
	case ev := <-g.events:
		if ev.Up {
			t.Fatalf("node came up: %+v", ev)
		}
	case <-time.After(200 * time.Millisecond):
	}
}
