package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// linkInfo is what a handshake negotiated.
type linkInfo struct{ auth, send, recv string }

// unitTimeout bounds one connect unit.
func unitTimeout(o *Options) time.Duration { return min(o.Timeout, 10*time.Second) }

// unit is the protocol side of one "connect" unit, without I/O: a fresh
// node ID authenticates, sends one echo request in json and waits for the
// answer. A unit is reused for unit after unit; it keeps its buffers and
// the configuration (whose secret-derived keys are computed once), and it
// pipelines what the protocol allows: the greeting leaves as soon as the
// connection is up, and the echo request goes out in the same write as our
// auth line. The drivers (overNet, and runEpoll on Linux) move its
// bytes.
type unit struct {
	base     *handshake.Config
	hs       *handshake.Handshake
	buf      []byte // bytes received and not yet used
	n        int
	out      []byte
	id       string
	done     bool // handshake finished
	echoSent bool
}

func newUnit(o *Options) (*unit, error) {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: "bench", Secret: []byte(o.Secret),
		Framings: []string{"json"}, AuthOffer: o.Auth, AuthAccept: o.acceptAuth()})
	if err != nil {
		return nil, err
	}
	return &unit{base: cfg, buf: make([]byte, 8192)}, nil
}

// echoWant is the echo answer; it names our reply port "r" on this node.
var echoWant = []byte(`["r","hello",1]`)

// begin starts a unit on a new connection to peerAddr and returns the
// bytes to send first (our greeting).
func (u *unit) begin(peerAddr string) ([]byte, error) {
	u.id = randomID()
	cfg, err := u.base.WithNodeID(u.id)
	if err != nil {
		return nil, err
	}
	if u.hs, err = handshake.New(cfg, handshake.ConnInfo{PeerAddr: peerAddr}); err != nil {
		return nil, err
	}
	u.n, u.done, u.echoSent = 0, false, false
	return u.hs.Start(), nil
}

// space returns where the next bytes read go.
func (u *unit) space() []byte {
	if u.n == len(u.buf) { // keep the tail that may hold the start of the answer
		u.n = copy(u.buf, u.buf[u.n-len(echoWant):u.n])
	}
	return u.buf[u.n:]
}

// received takes m bytes read into space(). It returns the bytes to send
// (valid until the next call) and whether the echo answer is in.
func (u *unit) received(m int) (out []byte, finished bool, err error) {
	u.n += m
	u.out = u.out[:0]
	if !u.done {
		st, err := u.hs.Feed(u.buf[:u.n])
		u.out = append(u.out, st.Out...)
		if err != nil {
			return u.out, false, err
		}
		if !u.echoSent && len(st.Out) > 0 && bytes.HasSuffix(st.Out, []byte(";json\n")) {
			// Our auth line is out and says we send json: the request
			// may follow it at once.
			u.out = append(u.out, `["echo","`...)
			u.out = append(u.out, u.id...)
			u.out = append(u.out, `#r","hello",1]`...)
			u.echoSent = true
		}
		if st.StartTLS != handshake.TLSNone {
			return u.out, false, errors.New("target wants TLS; connect mode supports plaintext only")
		}
		u.n = copy(u.buf, u.buf[st.Consumed:u.n])
		if !st.Done {
			return u.out, false, nil
		}
		u.done = true
		if res := u.hs.Result(); res.RecvFraming != "json" {
			return u.out, false, fmt.Errorf("target sends %s; connect mode reads json", res.RecvFraming)
		} else if !u.echoSent {
			return u.out, false, fmt.Errorf("we send %s; connect mode sends json", res.SendFraming)
		}
	}
	return u.out, bytes.Contains(u.buf[:u.n], echoWant), nil
}

// link returns what the finished unit's handshake negotiated.
func (u *unit) link() *linkInfo {
	res := u.hs.Result()
	return &linkInfo{auth: res.PeerAuth, send: res.SendFraming, recv: res.RecvFraming}
}

// connUnit is what the drivers need of a unit: the bytes to send first on
// a new connection, where to read, and what to answer; finished is true
// once the unit is done and its connection may be closed.
type connUnit interface {
	begin(peerAddr string) ([]byte, error)
	space() []byte
	received(m int) (out []byte, finished bool, err error)
}

// connectRun is the shared state of the units of one connect run.
type connectRun struct {
	o        *Options
	newUnit  func() (connUnit, error) // nil: aemp units (newUnit(o))
	next     atomic.Int64             // units claimed
	done     atomic.Int64
	failed   atomic.Int64
	firstErr atomic.Value
	link     atomic.Pointer[linkInfo]
}

// claim reserves the next unit; false when all are taken.
func (r *connectRun) claim() bool { return r.next.Add(1) <= int64(r.o.Count) }

// unit returns a new unit of the run.
func (r *connectRun) unit() (connUnit, error) {
	if r.newUnit != nil {
		return r.newUnit()
	}
	return newUnit(r.o)
}

func (r *connectRun) finished(u connUnit) {
	if au, ok := u.(*unit); ok && r.link.Load() == nil {
		r.link.CompareAndSwap(nil, au.link())
	}
	r.done.Add(1)
}

func (r *connectRun) fail(err error) {
	r.failed.Add(1)
	r.firstErr.CompareAndSwap(nil, err)
}

// runNet drives the units with the net package: a goroutine per
// concurrent connection, each doing one unit after another.
func (r *connectRun) runNet(ctx context.Context) error {
	var wg sync.WaitGroup
	for w := 0; w < max(1, r.o.Conns); w++ {
		u, err := r.unit()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r.claim() {
				if err := overNet(ctx, r.o, u); err != nil {
					r.fail(err)
					if ctx.Err() != nil {
						return
					}
					continue
				}
				r.finished(u)
			}
		}()
	}
	wg.Wait()
	return nil
}

// overNet performs one unit over a net.Conn.
func overNet(ctx context.Context, o *Options, u connUnit) error {
	d := net.Dialer{KeepAlive: -1} // a connection of a few ms needs no keepalive (saves setsockopt calls)
	c, err := d.DialContext(ctx, "tcp", o.Connect)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(unitTimeout(o)))
	greeting, err := u.begin(c.RemoteAddr().String())
	if err != nil {
		return err
	}
	if _, err := c.Write(greeting); err != nil {
		return err
	}
	for {
		m, err := c.Read(u.space())
		if err != nil {
			return err
		}
		out, fin, err := u.received(m)
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil || fin {
			return err
		}
	}
}
