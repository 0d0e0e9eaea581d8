package nodefuzz

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// headMax is how much of what the target sends a link keeps from the
// start (for its greeting lines); the rest is only searched for a marker
// and dropped, so a target that floods us costs nothing.
const headMax = 16 << 10

// link is one connection to the target, with a goroutine reading
// whatever it sends. Its methods are called from one goroutine (the
// runner's); the reader runs on its own.
type link struct {
	c net.Conn

	mu     sync.Mutex
	head   []byte // the first headMax bytes received
	carry  []byte // the last bytes of the previous read, for a marker cut in two
	want   []byte // the marker looked for
	found  bool
	closed bool  // the reader stopped: EOF, reset, or our close
	err    error // why
	notify chan struct{}
}

func dialLink(addr string, timeout time.Duration) (*link, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	l := &link{c: c, notify: make(chan struct{}, 1)}
	go l.reader()
	return l, nil
}

func (l *link) reader() {
	buf := make([]byte, 32<<10)
	for {
		n, err := l.c.Read(buf)
		l.mu.Lock()
		if n > 0 {
			if len(l.head) < headMax {
				l.head = append(l.head, buf[:min(n, headMax-len(l.head))]...)
			}
			if len(l.want) > 0 && !l.found {
				scan := append(l.carry, buf[:n]...)
				if bytes.Contains(scan, l.want) {
					l.found = true
				}
				k := min(len(scan), len(l.want)-1)
				l.carry = append(l.carry[:0], scan[len(scan)-k:]...)
			}
		}
		if err != nil {
			l.closed, l.err = true, err
		}
		l.mu.Unlock()
		select {
		case l.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// wait calls cond under the lock until it is true or the deadline
// passes.
func (l *link) wait(deadline time.Time, cond func() bool) bool {
	for {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return true
		}
		d := time.Until(deadline)
		if d <= 0 {
			return false
		}
		t := time.NewTimer(d)
		select {
		case <-l.notify:
		case <-t.C:
		}
		t.Stop()
	}
}

// greeting waits for the target's two greeting lines; it returns them
// (without line ends) and their bytes as received.
func (l *link) greeting(timeout time.Duration) (g greeting, rawLines []byte, err error) {
	var l1, l2 string
	ok := l.wait(time.Now().Add(timeout), func() bool {
		i := bytes.IndexByte(l.head, '\n')
		if i < 0 {
			return l.closed || len(l.head) >= headMax
		}
		j := bytes.IndexByte(l.head[i+1:], '\n')
		if j < 0 {
			return l.closed || len(l.head) >= headMax
		}
		l1, l2 = string(l.head[:i+1]), string(l.head[i+1:i+1+j+1])
		rawLines = bytes.Clone(l.head[:i+1+j+1])
		return true
	})
	if !ok {
		return greeting{}, nil, errors.New("no greeting within " + timeout.String())
	}
	if l1 == "" {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.closed {
			return greeting{}, nil, errors.New("closed before sending its greeting")
		}
		return greeting{}, nil, errors.New("greeting lines too long")
	}
	return parseGreeting(trimLine(l1), trimLine(l2)), rawLines, nil
}

// expect starts looking for marker in what arrives from now on.
func (l *link) expect(marker string) {
	l.mu.Lock()
	l.want, l.found, l.carry = []byte(marker), false, l.carry[:0]
	l.mu.Unlock()
}

// answeredOrClosed waits until the marker arrived or the target closed
// the connection.
func (l *link) answeredOrClosed(timeout time.Duration) (answered, closed bool) {
	l.wait(time.Now().Add(timeout), func() bool { return l.found || l.closed })
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.found, l.closed && !l.found
}

// isClosed reports whether the target closed (or reset) the connection.
func (l *link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// send writes b, in pieces of chunks with pause between them (the rest
// in one piece), each write within timeout.
func (l *link) send(b []byte, chunks []int, pause, timeout time.Duration) error {
	for len(b) > 0 {
		n := len(b)
		if len(chunks) > 0 {
			n = min(n, max(1, chunks[0]))
			chunks = chunks[1:]
		}
		l.c.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := l.c.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 && pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

func (l *link) close() { l.c.Close() }

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isEOF reports whether err says the peer closed or reset.
func isEOF(err error) bool {
	return err == io.EOF || strings.Contains(err.Error(), "reset by peer") || strings.Contains(err.Error(), "broken pipe")
}
