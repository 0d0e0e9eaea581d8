package bench

import (
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

// connector runs "connect" units one after another: open a connection,
// authenticate as a fresh node ID, do one echo round trip in json, close.
// It keeps its buffers and the configuration (whose secret-derived keys
// are computed once) across units, and pipelines what the protocol allows:
// the greeting leaves as soon as the connection is up, and the echo request
// goes out in the same write as our auth line.
type connector struct {
	o    *Options
	base *handshake.Config
	buf  []byte
	out  []byte
}

func newConnector(o *Options) (*connector, error) {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: "bench", Secret: []byte(o.Secret),
		Framings: []string{"json"}, AuthOffer: o.Auth, AuthAccept: o.Auth})
	if err != nil {
		return nil, err
	}
	return &connector{o: o, base: cfg, buf: make([]byte, 8192)}, nil
}

// once performs one unit.
func (k *connector) once(ctx context.Context) (*linkInfo, error) {
	id := randomID()
	cfg, err := k.base.WithNodeID(id)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{KeepAlive: -1} // a connection of a few ms needs no keepalive (saves setsockopt calls)
	c, err := d.DialContext(ctx, "tcp", k.o.Connect)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(min(k.o.Timeout, 10*time.Second)))
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(hs.Start()); err != nil {
		return nil, err
	}
	// The echo reply names our reply port "r" on this node.
	want := []byte(`["r","hello",1]`)
	n, done, echoSent := 0, false, false
	for {
		m, err := c.Read(k.buf[n:])
		if err != nil {
			return nil, err
		}
		n += m
		if !done {
			st, err := hs.Feed(k.buf[:n])
			k.out = append(k.out[:0], st.Out...)
			if err == nil && !echoSent && len(st.Out) > 0 && bytes.HasSuffix(st.Out, []byte(";json\n")) {
				// Our auth line is out and says we send json: the request
				// may follow it at once.
				k.out = append(k.out, `["echo","`...)
				k.out = append(k.out, id...)
				k.out = append(k.out, `#r","hello",1]`...)
				echoSent = true
			}
			if len(k.out) > 0 {
				if _, werr := c.Write(k.out); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return nil, err
			}
			if st.StartTLS != handshake.TLSNone {
				return nil, errors.New("target wants TLS; connect mode supports plaintext only")
			}
			n = copy(k.buf, k.buf[st.Consumed:n])
			if !st.Done {
				continue
			}
			done = true
			if res := hs.Result(); res.RecvFraming != "json" {
				return nil, fmt.Errorf("target sends %s; connect mode reads json", res.RecvFraming)
			} else if !echoSent {
				return nil, fmt.Errorf("we send %s; connect mode sends json", res.SendFraming)
			}
		}
		if i := bytes.Index(k.buf[:n], want); i >= 0 {
			res := hs.Result()
			return &linkInfo{auth: res.PeerAuth, send: res.SendFraming, recv: res.RecvFraming}, nil
		}
		if n == len(k.buf) { // keep the tail that may hold the start of the reply
			n = copy(k.buf, k.buf[n-len(want):n])
		}
	}
}
