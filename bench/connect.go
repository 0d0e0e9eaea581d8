package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// linkInfo is what a handshake negotiated.
type linkInfo struct{ auth, send, recv string }

// handshakeOnce opens a connection, authenticates as a fresh node ID,
// does one echo round trip in json and closes: one "connect" unit.
func handshakeOnce(ctx context.Context, o *Options) (*linkInfo, error) {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: randomID(), Secret: []byte(o.Secret), Framings: []string{"json"}})
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", o.Connect)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	c.SetDeadline(time.Now().Add(min(o.Timeout, 10*time.Second)))
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(hs.Start()); err != nil {
		return nil, err
	}
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			if _, err := c.Write(st.Out); err != nil {
				return nil, err
			}
		}
		if err != nil {
			return nil, err
		}
		if st.StartTLS != handshake.TLSNone {
			return nil, errors.New("target wants TLS; connect mode supports plaintext only")
		}
		if st.Done {
			break
		}
	}
	res := hs.Result()
	if res.RecvFraming != "json" {
		return nil, fmt.Errorf("target sends %s; connect mode reads json", res.RecvFraming)
	}
	fmt.Fprintf(c, `["echo","%s#r","hello",1]`, cfg.NodeID())
	want := []byte(`["r","hello",1]`)
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, want) {
		n, err := rd.Read(buf)
		if err != nil {
			return nil, err
		}
		got = append(got, buf[:n]...)
	}
	return &linkInfo{auth: res.PeerAuth, send: res.SendFraming, recv: res.RecvFraming}, nil
}
