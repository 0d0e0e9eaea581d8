package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// The loopback ceiling: what TCP on this machine carries for the very
// frames a node would exchange, when nobody encodes, splits, decodes or
// routes them. The sender writes pre-encoded frames in 64 KiB writes; the
// receiver only counts bytes. Reported as messages per second for the
// frame size of the message measured elsewhere, it bounds every node.
//
// Protocol of a ceiling connection: the client sends one header line,
//
//	"sink BYTES\n": the server reads and counts BYTES bytes, then answers
//	                "done CPUSEC\n" (its CPU seconds spent meanwhile);
//	"ping\n":       the server echoes every byte back until EOF.

// CeilingWrite is the size of the sender's writes.
const CeilingWrite = 64 << 10

// CeilingFrame returns the wire bytes of ["sink", PAYLOAD] (PAYLOAD: size
// bytes 'x') in the named framing: the frame of the sink benchmarks.
func CeilingFrame(framingName string, size int) ([]byte, error) {
	c, err := framing.ByName(framingName)
	if err != nil {
		return nil, err
	}
	return c.AppendMessage(nil, "sink", []any{stringOf('x', size)})
}

// PingFrame returns the wire bytes of the ping request
// ["echo", REPLY, "pong", SEQ, PAYLOAD] with a typical reply port ID, as
// `aemp bench --mode ping` sends it.
func PingFrame(framingName string, size int) ([]byte, error) {
	c, err := framing.ByName(framingName)
	if err != nil {
		return nil, err
	}
	return c.AppendMessage(nil, "echo", []any{"bench-0123456789ab#reply", "pong", 12345, stringOf('x', size)})
}

// ServeCeiling serves ceiling connections on ln until ln is closed.
func ServeCeiling(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			serveCeilingConn(c)
		}()
	}
}

func serveCeilingConn(c net.Conn) {
	rd := bufio.NewReaderSize(c, 4096)
	line, err := rd.ReadString('\n')
	if err != nil {
		return
	}
	f := strings.Fields(line)
	buf := make([]byte, 256<<10)
	switch {
	case len(f) == 2 && f[0] == "sink":
		total, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return
		}
		cpu0 := processCPU()
		got := int64(rd.Buffered())
		rd.Discard(rd.Buffered())
		for got < total {
			n, err := c.Read(buf)
			got += int64(n)
			if err != nil {
				return
			}
		}
		fmt.Fprintf(c, "done %.6f\n", processCPU()-cpu0)
	case len(f) == 1 && f[0] == "ping":
		if n := rd.Buffered(); n > 0 {
			b, _ := rd.Peek(n)
			if _, err := c.Write(b); err != nil {
				return
			}
			rd.Discard(n)
		}
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// CeilingOptions configures one ceiling run.
type CeilingOptions struct {
	Connect string // host:port of a ServeCeiling listener
	Mode    string // sink or ping
	Framing string // whose frame: json or storable
	Size    int    // payload bytes
	Count   int    // frames (sink) or round trips (ping)
	Timeout time.Duration
}

// RunCeiling measures the loopback ceiling. The Result has the keys of
// the corresponding `aemp bench` mode that apply (msgs_per_s, node_cpu_s
// and msgs_per_node_cpu_s for sink; roundtrips_per_s and the latency
// percentiles for ping).
func RunCeiling(o CeilingOptions) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	var frame []byte
	var err error
	if o.Mode == "ping" {
		frame, err = PingFrame(o.Framing, o.Size)
	} else {
		frame, err = CeilingFrame(o.Framing, o.Size)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", o.Connect)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(o.Timeout))
	r := &Result{}
	r.add("mode", o.Mode)
	r.add("framing", o.Framing)
	r.add("size", o.Size)
	r.add("count", o.Count)
	switch o.Mode {
	case "sink":
		per := max(1, CeilingWrite/len(frame))
		chunk := make([]byte, 0, per*len(frame))
		for range per {
			chunk = append(chunk, frame...)
		}
		total := int64(o.Count) * int64(len(frame))
		start := time.Now()
		if _, err := fmt.Fprintf(c, "sink %d\n", total); err != nil {
			return nil, err
		}
		for left := o.Count; left > 0; {
			k := min(per, left)
			if _, err := c.Write(chunk[:k*len(frame)]); err != nil {
				return nil, err
			}
			left -= k
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("%w: no answer from the ceiling receiver: %v", ErrShort, err)
		}
		el := time.Since(start).Seconds()
		var cpu float64
		fmt.Sscanf(line, "done %g", &cpu)
		rate := float64(o.Count) / el
		r.add("received", o.Count)
		r.add("elapsed", round(el, 6))
		r.add("msgs_per_s", round(rate, 0))
		r.add("payload_MB_per_s", round(rate*float64(o.Size)/1e6, 3))
		r.add("wire_bytes_per_msg", len(frame))
		r.add("wire_MB_per_s", round(rate*float64(len(frame))/1e6, 3))
		r.add("write_bytes", len(chunk))
		r.add("node_cpu_s", round(cpu, 3))
		if cpu > 0 {
			r.add("msgs_per_node_cpu_s", round(float64(o.Count)/cpu, 0))
		} else {
			r.add("msgs_per_node_cpu_s", 0)
		}
	case "ping":
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return nil, err
		}
		back := make([]byte, len(frame))
		rtts := make([]float64, 0, o.Count)
		start := time.Now()
		for range o.Count {
			t0 := time.Now()
			if _, err := c.Write(frame); err != nil {
				return nil, err
			}
			if _, err := io.ReadFull(c, back); err != nil {
				return nil, err
			}
			rtts = append(rtts, float64(time.Since(t0).Nanoseconds())/1e3)
		}
		el := time.Since(start).Seconds()
		sort.Float64s(rtts)
		var sum float64
		for _, v := range rtts {
			sum += v
		}
		r.add("received", len(rtts))
		r.add("elapsed", round(el, 6))
		r.add("roundtrips_per_s", round(float64(len(rtts))/el, 0))
		r.add("wire_bytes_per_msg", len(frame))
		r.add("avg_rtt_us", round(sum/float64(len(rtts)), 1))
		for _, q := range []struct {
			k string
			p float64
		}{{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}} {
			r.add(q.k, round(percentile(rtts, q.p), 1))
		}
		r.add("max_us", round(rtts[len(rtts)-1], 1))
		r.add("inflight", 1)
	default:
		return nil, fmt.Errorf("bench: ceiling mode %q: want sink or ping", o.Mode)
	}
	return r, nil
}
