package fuzz

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/services"
)

// FuzzEngineConn feeds a node an arbitrary byte stream through an
// in-memory connection: either raw from the first byte (a hostile
// greeting), or after a genuine handshake (a hostile data phase, in the
// framing the fuzzer picks). The node must neither panic nor hang, and
// must close the connection when the input is bad.
func FuzzEngineConn(f *testing.F) {
	f.Add([]byte(`["echo","fz#r","hi",1]["sink","x"][]["",null]["","mon1","echo"]`), true, false)
	f.Add([]byte(`["echo","fz#r",{"a":[1,2.5e300,null,true]}]["sink"`), true, false)
	f.Add([]byte("\x0d\x05\x0b\x02\x00\x00\x00\x01\x0a\x04echo\x07\x05\x0b\x02\x00\x00\x00\x00"), true, true)
	f.Add([]byte("\x8f\xff\xff\xff\x7f\x05\x0b"), true, true)
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`), true, false)
	f.Add([]byte("aemp;1;fz;hmac_md6_64_256;json\nnonce\ncleartext;73;json\n[\"echo\",\"fz#r\",1]"), false, false)
	f.Add([]byte("aemp;1;x;hmac_md6_64_256\n\n"), false, false)
	f.Add([]byte("\x00\xff\xfe garbage \r\n\r\n\n"), false, false)
	f.Fuzz(func(t *testing.T, data []byte, handshakeFirst, storable bool) {
		n, err := engine.New(engine.Config{
			NodeID: "fuzznode", Secret: "s", MonitorTimeout: 2 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		services.Echo(n)
		services.ServeSink(n)
		n.Register("any", func(m *engine.Message) { m.Args() })
		ours, theirs := net.Pipe()
		if err := n.ServeConn(ours); err != nil {
			t.Fatal(err)
		}
		defer func() {
			theirs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := n.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}()
		theirs.SetDeadline(time.Now().Add(3 * time.Second))
		rd := bufio.NewReader(theirs)
		if handshakeFirst {
			framing := "json"
			if storable {
				framing = "storable"
			}
			if !fuzzHandshake(t, theirs, rd, framing) {
				t.Fatal("genuine handshake failed")
			}
		}
		go io.Copy(io.Discard, rd)
		for len(data) > 0 {
			k := min(len(data), 1+int(data[0])%64)
			if _, err := theirs.Write(data[:k]); err != nil {
				return // the node closed the connection: fine
			}
			data = data[k:]
		}
	})
}

// fuzzHandshake authenticates as node "fz" over c.
func fuzzHandshake(t *testing.T, c net.Conn, rd *bufio.Reader, framing string) bool {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: "fz", Secret: []byte("s"), Framings: []string{framing}})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := handshake.New(cfg, handshake.ConnInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// Writes are synchronous: net.Pipe has no buffer, but the node reads
	// on a goroutine of its own, so a write never waits for our reading.
	if _, err := c.Write(hs.Start()); err != nil {
		return false
	}
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return false
		}
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			if _, err := c.Write(st.Out); err != nil {
				return false
			}
		}
		if err != nil {
			return false
		}
		if st.Done {
			return true
		}
	}
}
