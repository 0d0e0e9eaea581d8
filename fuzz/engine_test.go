package fuzz

import (
	"bufio"
	"flag"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/services"
)

// maxFuzzedInput bounds the inputs a fuzzing worker runs. The Go fuzzer
// minimizes every input that finds new coverage, trying O(n^2) smaller
// candidates for n bytes (up to -fuzzminimizetime, 60 s by default), and
// counts none of those executions until it is done: a 6 KB input (the
// hostile seeds are up to that, and mutation grows inputs) kept both
// workers minimizing at 0 execs/s for the rest of a run. Plain go test
// still runs every seed whole.
const maxFuzzedInput = 256

// fuzzWorker reports whether this process is a fuzzing worker (go test
// -fuzz), as opposed to go test running the seed corpus.
func fuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// engineFuzz is the node all executions of FuzzEngineConn in one process
// share: starting and closing a node per input cost milliseconds (its
// event loops and timers), most of an execution.
var engineFuzz struct {
	once sync.Once
	node *engine.Node
	err  error
	seq  atomic.Int64 // for a fresh peer node ID per execution
	cfgs sync.Map     // framing -> *handshake.Config of our side
}

func engineFuzzNode(t *testing.T) *engine.Node {
	e := &engineFuzz
	e.once.Do(func() {
		e.node, e.err = engine.New(engine.Config{
			NodeID: "fuzznode", Secret: "s", MonitorTimeout: 2 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if e.err != nil {
			return
		}
		services.Echo(e.node)
		services.ServeSink(e.node)
		e.node.Register("any", func(m *engine.Message) { m.Args() })
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.node
}

// FuzzEngineConn feeds a node an arbitrary byte stream through an
// in-memory connection: either raw from the first byte (a hostile
// greeting), or after a genuine handshake (a hostile data phase, in the
// framing the fuzzer picks). The node must not panic, and once we close
// our end it must have dropped the connection within a second (no hang).
//
// One node serves all executions of a process, each connection as a
// node with a new ID (so that no execution is refused as "already
// connected" and nothing queued for one reaches another); an execution
// costs a connection and a handshake, tens of microseconds, and waits on
// no timeout unless the node hangs.
func FuzzEngineConn(f *testing.F) {
	f.Add([]byte(`["echo","fz#r","hi",1]["sink","x"][]["",null]["","mon1","echo"]`), true, false)
	f.Add([]byte(`["echo","fz#r",{"a":[1,2.5e300,null,true]}]["sink"`), true, false)
	f.Add([]byte("\x0d\x05\x0b\x02\x00\x00\x00\x01\x0a\x04echo\x07\x05\x0b\x02\x00\x00\x00\x00"), true, true)
	f.Add([]byte("\x8f\xff\xff\xff\x7f\x05\x0b"), true, true)
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`), true, false)
	f.Add([]byte("aemp;1;fz;hmac_md6_64_256;json\nnonce\ncleartext;73;json\n[\"echo\",\"fz#r\",1]"), false, false)
	f.Add([]byte("aemp;1;x;hmac_md6_64_256\n\n"), false, false)
	f.Add([]byte("\x00\xff\xfe garbage \r\n\r\n\n"), false, false)
	worker := fuzzWorker()
	f.Fuzz(func(t *testing.T, data []byte, handshakeFirst, storable bool) {
		if worker && len(data) > maxFuzzedInput {
			return
		}
		n := engineFuzzNode(t)
		ours, theirs := net.Pipe()
		if err := n.ServeConn(ours); err != nil {
			t.Fatal(err)
		}
		// Only a hanging node makes a read or write wait this long.
		theirs.SetDeadline(time.Now().Add(2 * time.Second))
		rd := bufio.NewReader(theirs)
		if handshakeFirst {
			framing := "json"
			if storable {
				framing = "storable"
			}
			id := "fz" + strconv.FormatInt(engineFuzz.seq.Add(1), 36)
			if !fuzzHandshake(t, theirs, rd, id, framing) {
				theirs.Close()
				t.Fatal("genuine handshake failed")
			}
		}
		drained := make(chan struct{})
		go func() {
			io.Copy(io.Discard, rd)
			close(drained)
		}()
		for len(data) > 0 {
			k := min(len(data), 1+int(data[0])%64)
			if _, err := theirs.Write(data[:k]); err != nil {
				break // the node closed the connection: fine
			}
			data = data[k:]
		}
		theirs.Close()
		<-drained
		// The node must drop its side once ours is closed.
		deadline := time.Now().Add(time.Second)
		for n.Stats().Conns > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("node still holds the connection 1 s after the peer closed it")
			}
			time.Sleep(20 * time.Microsecond)
		}
	})
}

// fuzzHandshake authenticates as node id over c, announcing framing.
func fuzzHandshake(t *testing.T, c net.Conn, rd *bufio.Reader, id, framing string) bool {
	base, ok := engineFuzz.cfgs.Load(framing)
	if !ok {
		cfg, err := handshake.NewConfig(handshake.Options{NodeID: "fz", Secret: []byte("s"), Framings: []string{framing}})
		if err != nil {
			t.Fatal(err)
		}
		base, _ = engineFuzz.cfgs.LoadOrStore(framing, cfg)
	}
	cfg, err := base.(*handshake.Config).WithNodeID(id)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := handshake.New(cfg, handshake.ConnInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// net.Pipe has no buffer, but the node reads on a goroutine of its
	// own, so a write never waits for our reading.
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
