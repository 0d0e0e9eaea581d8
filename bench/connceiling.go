package bench

import (
	"context"
	"time"
)

// The connection ceiling: how many connections a second TCP on this
// machine opens and closes when each carries the bytes of one `aemp bench
// --mode connect` unit (same sizes, same order) and nobody parses,
// hashes, allocates or schedules anything for them: one goroutine per side,
// nonblocking sockets, epoll (the server is Linux-only). It bounds the
// handshake rate the way the loopback ceiling bounds the message rate.
//
// A ceiling connection: the server writes a "greeting" as it accepts; the
// client writes its own after connecting; when the client has the server's
// greeting it writes its "auth line and echo request"; the server writes
// its "auth line" once it has the client's greeting and its "echo answer"
// once it has the request; the client closes when it has everything, the
// server when it reads the end.
const (
	ceilServerGreeting = 259 // an aemp node's greeting (2.x-capable, default auth list)
	ceilClientGreeting = 195 // `aemp bench --mode connect`'s greeting
	ceilClientAuthEcho = 127 // its auth line and the echo request
	ceilServerAuth     = 75  // the node's auth line
	ceilServerAnswer   = 26  // the echo answer
)

var (
	ceilClientGreetingBytes = make([]byte, ceilClientGreeting)
	ceilClientAuthEchoBytes = make([]byte, ceilClientAuthEcho)
)

// ceilingUnit is the client side of a connection-ceiling connection.
type ceilingUnit struct {
	buf      [1024]byte
	got      int
	answered bool
}

func (u *ceilingUnit) begin(string) ([]byte, error) {
	u.got, u.answered = 0, false
	return ceilClientGreetingBytes, nil
}

func (u *ceilingUnit) space() []byte { return u.buf[:] }

func (u *ceilingUnit) received(m int) ([]byte, bool, error) {
	u.got += m
	var out []byte
	if !u.answered && u.got >= ceilServerGreeting {
		u.answered = true
		out = ceilClientAuthEchoBytes
	}
	return out, u.got >= ceilServerGreeting+ceilServerAuth+ceilServerAnswer, nil
}

// RunConnCeiling opens count connections to a connection-ceiling server
// at addr, conns at a time, with the driver of `aemp bench --mode connect`
// (epoll on Linux), and reports handshakes_per_s as that mode does.
func RunConnCeiling(addr string, count, conns int, timeout time.Duration) (*Result, error) {
	o := &Options{Connect: addr, Count: count, Conns: conns, Timeout: timeout}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := &connectRun{o: o, newUnit: func() (connUnit, error) { return new(ceilingUnit), nil }}
	return driveConnect(ctx, r, "connect-ceiling")
}
