package nodefuzz

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
)

// Finding kinds.
const (
	KindCrash    = "crash"     // a probe could not connect
	KindHang     = "hang"      // a probe connected but got no time answer in time
	KindDeadLink = "dead-link" // the fuzzed link neither answered time nor was closed
	KindMemory   = "memory"    // the target's RSS grew beyond the limit
)

// Kinds lists the finding kinds.
var Kinds = []string{KindCrash, KindHang, KindDeadLink, KindMemory}

// prober runs the probe: a fresh connection that authenticates like a
// node (package handshake) and completes a node-port time round trip.
type prober struct {
	addr    string
	base    *handshake.Config
	timeout time.Duration
}

func newProber(o *Options) (*prober, error) {
	cfg, err := handshake.NewConfig(handshake.Options{NodeID: "fz-probe", Secret: []byte(o.Secret),
		Framings: o.Framings, AuthOffer: o.Auth, AuthAccept: o.Auth, Provider: "aemp-fuzz"})
	if err != nil {
		return nil, err
	}
	return &prober{addr: o.Connect, base: cfg, timeout: o.ProbeTimeout}, nil
}

// probeResult is the outcome of one probe.
type probeResult struct {
	kind     string // "" (fine), KindCrash or KindHang
	detail   string
	greeting *greeting // the target's, when it arrived
	res      *handshake.Result
	rtt      time.Duration
}

// run probes once as node id, with marker as the unique text of the time
// request.
func (p *prober) run(id, marker string) probeResult {
	start := time.Now()
	deadline := start.Add(p.timeout)
	c, err := net.DialTimeout("tcp", p.addr, p.timeout)
	if err != nil {
		return probeResult{kind: KindCrash, detail: "connect: " + err.Error()}
	}
	defer c.Close()
	c.SetDeadline(deadline)
	hang := func(what string, err error) probeResult {
		d := what
		if err != nil {
			if isTimeout(err) {
				d += ": no answer within " + p.timeout.String()
			} else {
				d += ": " + err.Error()
			}
		}
		return probeResult{kind: KindHang, detail: d}
	}
	cfg, err := p.base.WithNodeID(id)
	if err != nil {
		return hang("probe config", err)
	}
	addr := ""
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		addr = a.String()
	}
	hs, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: addr})
	if err != nil {
		return hang("probe handshake", err)
	}
	if _, err := c.Write(hs.Start()); err != nil {
		return hang("probe: writing the greeting", err)
	}
	rd := bufio.NewReaderSize(c, 8192)
	var out probeResult
	lines := 0
	var l1 string
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return hang(fmt.Sprintf("probe: reading handshake line %d", lines+1), err)
		}
		lines++
		switch lines {
		case 1:
			l1 = trimLine(string(line))
		case 2:
			g := parseGreeting(l1, trimLine(string(line)))
			out.greeting = &g
		}
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			if _, werr := c.Write(st.Out); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return hang("probe handshake", err)
		}
		if st.StartTLS != handshake.TLSNone {
			return hang("probe", errors.New("the target wants TLS; the fuzzer speaks plaintext only"))
		}
		if st.Done {
			break
		}
	}
	out.res = hs.Result()
	codec, err := framing.ByName(out.res.SendFraming)
	if err != nil {
		return hang("probe", err)
	}
	req, err := codec.AppendMessage(nil, "", []any{"time", id + "#" + marker, marker})
	if err != nil {
		return hang("probe", err)
	}
	if _, err := c.Write(req); err != nil {
		return hang("probe: sending time", err)
	}
	// Search what arrives for the marker, keeping only a window.
	want := []byte(marker)
	var window []byte
	buf := make([]byte, 8192)
	for {
		n, err := rd.Read(buf)
		window = append(window, buf[:n]...)
		if bytes.Contains(window, want) {
			out.rtt = time.Since(start)
			return out
		}
		if len(window) > len(want) {
			window = append(window[:0], window[len(window)-len(want)+1:]...)
		}
		if err != nil {
			return hang("probe: waiting for the time answer", err)
		}
	}
}

// probeTwice probes, and once more after a short pause when the first
// attempt failed without timing out (a race such as a node ID still
// being known to the target): a hang is reported only when both fail.
func (p *prober) probeTwice(id, marker string) probeResult {
	r := p.run(id, marker)
	if r.kind != KindHang || strings.Contains(r.detail, "no answer within") {
		return r
	}
	time.Sleep(100 * time.Millisecond)
	r2 := p.run(id+"b", marker+"b")
	if r2.kind == "" {
		return r2
	}
	r2.detail = r.detail + "; again: " + r2.detail
	return r2
}

// readRSS returns the resident set size of process pid in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb << 10, nil
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}
