package handshake

import (
	"strings"
	"testing"
)

// TestTranscriptTokens recomputes every recorded token (including the
// original's version-0 FULL EXAMPLE) from the recorded lines.
func TestTranscriptTokens(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		t.Run(tr.name, func(t *testing.T) {
			keys := newSecretKeys([]byte(tr.secret))
			for side := 0; side < 2; side++ {
				other := 1 - side
				method, token, _ := strings.Cut(tr.auth[side], ";")
				token, _, _ = strings.Cut(token, ";")
				m := lookupAuth(method)
				if m == nil {
					t.Fatalf("unknown method %q", method)
				}
				got := computeToken(m, &keys, tr.g1[side], tr.g2[side], tr.g1[other], tr.g2[other])
				if string(got) != token {
					t.Errorf("side %d token\n got %s\nwant %s", side, got, token)
				}
			}
		})
	}
}

// TestTranscriptReplay plays each real (version 1) capture through our
// machine, once as the connector and once as the acceptor, with our lines
// forced to the recorded ones: our auth line must be the recorded one, the
// recorded peer auth line must be accepted, and data behind it must be left.
func TestTranscriptReplay(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		if strings.HasPrefix(tr.g1[0], "aemp;0;") {
			continue // FULL EXAMPLE: token level only (TestTranscriptTokens)
		}
		for side := 0; side < 2; side++ {
			name := tr.name + []string{"/connector", "/acceptor"}[side]
			t.Run(name, func(t *testing.T) {
				for _, ch := range []struct {
					name string
					c    chunker
				}{{"whole", whole}, {"bytes", oneByte}, {"random", randomChunks(uint64(side))}} {
					replay(t, tr, side, ch.c)
				}
			})
		}
	}
}

func replay(t *testing.T, tr transcript, side int, ch chunker) {
	t.Helper()
	other := 1 - side
	own := ParseGreeting(tr.g1[side])
	c := mustConfig(t, Options{
		NodeID:   own.NodeID,
		Secret:   []byte(tr.secret),
		Framings: own.Framings,
	})
	h, err := newWithLines(c, "aemp", tr.g1[side], tr.g2[side])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(h.Start()), tr.g1[side]+"\n"+tr.g2[side]+"\n"; got != want {
		t.Fatalf("Start:\n got %q\nwant %q", got, want)
	}
	const data = `["","AnyEvent::MP::_spawn","x"]` + "\n" + `hmac_md6_64_256;00;json` + "\n"
	in := []byte(tr.g1[other] + "\n" + tr.g2[other] + "\n" + tr.auth[other] + "\n" + data)
	var out []byte
	var st Step
	for len(in) > 0 {
		k := ch(len(in))
		st, err = h.Feed(in[:k])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st.Out...)
		in = in[st.Consumed:]
		if st.Done {
			break
		}
	}
	if !st.Done {
		t.Fatal("not done")
	}
	if string(out) != tr.auth[side]+"\n" {
		t.Fatalf("our auth line\n got %q\nwant %q", out, tr.auth[side]+"\n")
	}
	if string(in) != data {
		t.Fatalf("leftover %q, want %q", in, data)
	}
	r := h.Result()
	peer := ParseGreeting(tr.g1[other])
	_, sendF, _ := cut3(tr.auth[side])
	_, recvF, _ := cut3(tr.auth[other])
	if r.PeerNodeID != peer.NodeID || r.PeerAuth != AuthHMACMD6 || r.SendFraming != sendF ||
		r.RecvFraming != recvF || !r.Trusted || r.Protocol != "aemp" || r.TLS != TLSNone {
		t.Fatalf("result %+v", r)
	}
	if r.PeerKV["provider"] != "AE-1.30" || !strings.HasPrefix(r.PeerKV["peeraddr"], "127.0.0.1:") {
		t.Fatalf("peer kv %v", r.PeerKV)
	}
	// Feed after Done: nothing consumed.
	if st, err := h.Feed([]byte("x")); err != nil || !st.Done || st.Consumed != 0 {
		t.Fatalf("Feed after done: %+v %v", st, err)
	}
}

// cut3 returns the token and framing of an auth line.
func cut3(line string) (token, framing, method string) {
	f := strings.SplitN(line, ";", 4)
	return f[1], f[2], f[0]
}

// TestTranscriptWrongSecret: the recorded peer line must be refused with
// another secret.
func TestTranscriptWrongSecret(t *testing.T) {
	tr := loadTranscripts(t)[0]
	c := mustConfig(t, Options{NodeID: "perlA", Secret: []byte(tr.secret + "x")})
	h, _ := newWithLines(c, "aemp", tr.g1[1], tr.g2[1])
	h.Start()
	st, err := h.Feed([]byte(tr.g1[0] + "\n" + tr.g2[0] + "\n" + tr.auth[0] + "\n[]"))
	expectErr(t, err, ErrAuthFailed, "authentication failure/shared secret mismatch")
	if st.Consumed != len(tr.g1[0])+len(tr.g2[0])+len(tr.auth[0])+3 {
		t.Fatalf("consumed %d", st.Consumed)
	}
}
