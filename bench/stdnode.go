package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/aemp-go/aemp/engine/handshake"
)

// StdNode is the "plain Go" baseline: the same data phase as an aemp-go
// node, written the obvious way with the standard library. One goroutine
// reads each connection and decodes every message with encoding/json into
// []any; a second goroutine per connection writes the replies (flushing
// when no more are queued). The handshake is engine/handshake's, json
// framing only. It serves echo and sink with the semantics of
// services.Echo and services.ServeSink, so `aemp bench` and
// bench/perl/aemp-send.pl can drive it like any node. Comparing it with an
// aemp node shows what gnet, the framing package's codecs and batched
// writes buy.
type StdNode struct {
	cfg          *handshake.Config
	count, bytes atomic.Int64

	mu    sync.Mutex
	lns   []net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewStdNode returns a baseline node with the given ID and secret.
func NewStdNode(nodeID, secret string) (*StdNode, error) {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: nodeID, Secret: []byte(secret),
		Framings: []string{"json"}, Provider: "aemp-go-stdnode"})
	if err != nil {
		return nil, err
	}
	return &StdNode{cfg: cfg, conns: map[net.Conn]struct{}{}}, nil
}

// Counts returns the sink's message and byte counts.
func (s *StdNode) Counts() (msgs, bytes int64) { return s.count.Load(), s.bytes.Load() }

// Serve accepts connections on ln until ln is closed (by Close).
func (s *StdNode) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// Close stops the listeners and closes every connection.
func (s *StdNode) Close() {
	s.mu.Lock()
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *StdNode) serveConn(c net.Conn) {
	hs, err := handshake.New(s.cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	if err != nil {
		return
	}
	rd := bufio.NewReaderSize(c, 64<<10)
	res, err := handshakeConn(c, rd, hs)
	if err != nil {
		return
	}
	peer := res.PeerNodeID
	out := make(chan []byte, 4096)
	done := make(chan struct{})
	go func() { // the writer: one flush per burst of replies
		defer close(done)
		w := bufio.NewWriterSize(c, 64<<10)
		for b := range out {
			w.Write(b)
			for more := true; more; {
				select {
				case b, ok := <-out:
					if !ok {
						w.Flush()
						return
					}
					w.Write(b)
				default:
					more = false
				}
			}
			if w.Flush() != nil {
				for range out {
				}
				return
			}
		}
	}()
	defer func() { close(out); <-done }()
	reply := func(to string, args ...any) {
		node, port, ok := strings.Cut(to, "#")
		if !ok || node != peer {
			return // only the connected node is reachable here
		}
		b, err := json.Marshal(append([]any{port}, args...))
		if err == nil {
			out <- b
		}
	}
	dec := json.NewDecoder(rd)
	for {
		var msg []any
		if dec.Decode(&msg) != nil {
			return // end of stream or not JSON: the connection ends
		}
		if len(msg) == 0 {
			continue // keepalive
		}
		port, _ := msg[0].(string)
		args := msg[1:]
		switch port {
		case "echo":
			if len(args) > 0 {
				if to, ok := args[0].(string); ok {
					reply(to, args[1:]...)
				}
			}
		case "sink":
			if len(args) > 0 {
				switch args[0] {
				case "report":
					if len(args) > 1 {
						if to, ok := args[1].(string); ok {
							reply(to, "count", s.count.Load(), s.bytes.Load(), processCPU())
						}
					}
					continue
				case "reset":
					s.count.Store(0)
					s.bytes.Store(0)
					continue
				}
			}
			var size int64
			for _, a := range args {
				switch a := a.(type) {
				case string:
					size += int64(len(a))
				case nil, []any, map[string]any:
				case bool:
					if a {
						size++
					}
				default:
					size += int64(len(fmt.Sprint(a)))
				}
			}
			s.count.Add(1)
			s.bytes.Add(size)
		}
	}
}

// processCPU returns this process's user + system CPU seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
