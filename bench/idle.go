package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
)

// IdleConns is a set of open, authenticated, idle connections to a node.
type IdleConns struct {
	Conns   []net.Conn
	Elapsed time.Duration // time to open and authenticate all of them
}

// Close closes every connection.
func (ic *IdleConns) Close() {
	for _, c := range ic.Conns {
		c.Close()
	}
	ic.Conns = nil
}

// OpenIdleConns opens n connections to addr, par at a time, each
// authenticated as a node of its own (distinct node IDs, so the target
// keeps all of them) with json framing, and does one echo round trip on
// each, so that the target has completed its side of the handshake and
// carried one message on every connection. The connections then stay open
// and idle until Close. Each connection is one file descriptor in this
// process.
func OpenIdleConns(ctx context.Context, addr, secret string, n, par int) (*IdleConns, error) {
	prefix := randomID()
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range max(1, par) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := openIdleConn(ctx, addr, secret, fmt.Sprintf("%s-idle-%d", prefix, i))
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					next.Store(int64(n)) // stop the others
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	ic := &IdleConns{Elapsed: time.Since(start)}
	for _, c := range conns {
		if c != nil {
			ic.Conns = append(ic.Conns, c)
		}
	}
	if err, _ := firstErr.Load().(error); err != nil {
		ic.Close()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		ic.Close()
		return nil, err
	}
	return ic, nil
}

func openIdleConn(ctx context.Context, addr, secret, nodeID string) (net.Conn, error) {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: nodeID, Secret: []byte(secret), Framings: []string{"json"}})
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: c.RemoteAddr().String()})
	if err != nil {
		c.Close()
		return nil, err
	}
	rd := bufio.NewReaderSize(c, 512)
	res, err := handshakeConn(c, rd, hs)
	if err != nil {
		c.Close()
		return nil, err
	}
	if res.RecvFraming != "json" {
		c.Close()
		return nil, fmt.Errorf("target sends %s, not json", res.RecvFraming)
	}
	fmt.Fprintf(c, `["echo","%s#r","idle"]`, nodeID)
	want := []byte(`["r","idle"]`)
	var got []byte
	buf := make([]byte, 256)
	for !bytes.Contains(got, want) {
		k, err := rd.Read(buf)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("echo: %w", err)
		}
		got = append(got, buf[:k]...)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// ProcRSS returns the resident set size (VmRSS) of process pid in bytes,
// from /proc/PID/status.
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// IdleMemory is the outcome of MeasureIdleMemory.
type IdleMemory struct {
	Conns       int
	RSSBefore   int64         // the node's RSS before the connections
	RSSOpen     int64         // right after all were open and authenticated
	RSSSettled  int64         // after the settle time
	RSSMax      int64         // the highest RSS from then to the end of the hold time
	Hold        time.Duration // how long RSS was watched after settling
	OpenElapsed time.Duration // time to open and authenticate them
	// BytesPerConn is (RSSMax - RSSBefore) / Conns: an idle node whose
	// RSS creeps up after settling is charged for it.
	BytesPerConn float64
}

// MeasureIdleMemory opens n idle authenticated connections (this process
// is the client) to the node process pid listening on addr and reports
// the growth of the node's RSS per connection: read settle after the last
// connection was up (so that the node's garbage from the handshakes can
// be collected and returned), then every 250 ms for hold, keeping the
// highest.
func MeasureIdleMemory(ctx context.Context, pid int, addr, secret string, n int, settle, hold time.Duration) (*IdleMemory, *IdleConns, error) {
	before, err := ProcRSS(pid)
	if err != nil {
		return nil, nil, err
	}
	ic, err := OpenIdleConns(ctx, addr, secret, n, 32)
	if err != nil {
		return nil, nil, err
	}
	m := &IdleMemory{Conns: n, RSSBefore: before, OpenElapsed: ic.Elapsed, Hold: hold}
	if m.RSSOpen, err = ProcRSS(pid); err != nil {
		ic.Close()
		return nil, nil, err
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
	}
	if m.RSSSettled, err = ProcRSS(pid); err != nil {
		ic.Close()
		return nil, nil, err
	}
	m.RSSMax = m.RSSSettled
	for end := time.Now().Add(hold); time.Now().Before(end) && ctx.Err() == nil; {
		time.Sleep(250 * time.Millisecond)
		rss, err := ProcRSS(pid)
		if err != nil {
			ic.Close()
			return nil, nil, err
		}
		m.RSSMax = max(m.RSSMax, rss)
	}
	m.BytesPerConn = float64(m.RSSMax-m.RSSBefore) / float64(n)
	return m, ic, nil
}
