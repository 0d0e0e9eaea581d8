package bench

import (
	"errors"
	"net"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// The enrolment floor: the connection ceiling's connections (the same
// bytes in the same order, see RunConnCeiling's server) served the way
// an aemp node must take a socket, and with nothing else: Go's
// net.Listener accepts it, a few goroutines hand it to gnet with
// Client.EnrollContext (gnet duplicates the descriptor and registers the
// copy with an event loop; Go's own copy is then closed), and the event
// loop writes the replies. No parsing, hashing, node state or logging.
//
// It separates what the socket's path into gnet costs from what the
// protocol costs: the handshake rate of `aemp node` cannot exceed it
// while gnet has no way to adopt an accepted descriptor (it would then
// save the duplicate, the second close, Go's netpoller registration and
// its removal), and gnet's own listener is not used because it stops the
// whole engine when accept fails (EMFILE).

// ConnFloorServer serves enrolment-floor connections until Close.
type ConnFloorServer struct {
	ln      net.Listener
	cli     *gnet.Client
	workers sync.WaitGroup
}

// floorConn is the state of one connection, used on its event loop.
type floorConn struct {
	got   int
	stage uint8 // as ceilConn's
}

type floorHandler struct {
	gnet.BuiltinEventEngine
	greeting, auth, answer []byte
}

func (h *floorHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) { return h.greeting, gnet.None }

func (h *floorHandler) OnTraffic(c gnet.Conn) gnet.Action {
	fc := c.Context().(*floorConn)
	n := c.InboundBuffered()
	c.Discard(n)
	fc.got += n
	if fc.stage == 0 && fc.got >= ceilClientGreeting {
		c.Write(h.auth)
		fc.stage = 1
	}
	if fc.stage == 1 && fc.got >= ceilClientGreeting+ceilClientAuthEcho {
		c.Write(h.answer)
		fc.stage = 2
	}
	return gnet.None
}

// floorWorkers and floorQueue are the engine's enrolment workers and
// queue (engine/accept.go).
const (
	floorWorkers = 8
	floorQueue   = 64
)

// ListenConnFloor listens on addr and serves enrolment-floor
// connections with loops event loops (0: one per CPU, as aemp node).
func ListenConnFloor(addr string, loops int) (*ConnFloorServer, error) {
	cli, err := gnet.NewClient(&floorHandler{
		greeting: make([]byte, ceilServerGreeting),
		auth:     make([]byte, ceilServerAuth),
		answer:   make([]byte, ceilServerAnswer),
	}, gnet.WithMulticore(loops <= 0), gnet.WithNumEventLoop(max(loops, 0)),
		gnet.WithLockOSThread(false), gnet.WithTCPNoDelay(gnet.TCPDelay))
	if err != nil {
		return nil, err
	}
	if err := cli.Start(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		cli.Stop()
		return nil, err
	}
	s := &ConnFloorServer{ln: ln, cli: cli}
	q := make(chan net.Conn, floorQueue)
	for range floorWorkers {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			for nc := range q {
				if _, err := cli.EnrollContext(nc, &floorConn{}); err != nil {
					nc.Close()
				}
			}
		}()
	}
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		defer close(q)
		for {
			nc, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				q <- nc
			}
		}
	}()
	return s, nil
}

// Addr returns the listening address.
func (s *ConnFloorServer) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting and closes every connection.
func (s *ConnFloorServer) Close() error {
	err := s.ln.Close()
	s.workers.Wait()
	return errors.Join(err, s.cli.Stop())
}
