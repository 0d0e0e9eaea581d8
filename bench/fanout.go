package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aemp-go/aemp/engine"
)

// runFanout is one node sending to many: a listener-less engine.Node
// connects to every address of o.Targets (each a node of its own serving
// the sink port, with a node ID of its own) and runs the sink protocol to
// all of them at once, one sending goroutine per target, each with its
// own reply port; Count is the total, shared evenly, Batch and
// Outstanding apply per target. The rate is the sum: every message the
// targets counted, over the time until the last one had all of its share.
func runFanout(ctx context.Context, o *Options) (*Result, error) {
	n := len(o.Targets)
	switch {
	case n == 0:
		return nil, fmt.Errorf("bench: fanout needs the addresses of its receivers")
	case o.Count < n:
		return nil, fmt.Errorf("bench: --count %d is less than the %d receivers", o.Count, n)
	}
	upCh := make(chan engine.NodeEvent, 2*n)
	node, err := engine.New(engine.Config{
		NodeID:         randomID(),
		Seeds:          o.Targets,
		Secret:         o.Secret,
		Framings:       o.Framings,
		AuthOffer:      o.Auth,
		AuthAccept:     o.acceptAuth(),
		MonitorTimeout: o.Timeout,
		EventLoops:     o.Loops,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnNodeEvent: func(ev engine.NodeEvent) {
			if ev.Up {
				select {
				case upCh <- ev:
				default:
				}
			}
		},
	})
	if err != nil {
		return nil, err
	}
	payload := []any{stringOf('x', o.Size)}
	streams := make([]*sinkStream, n)
	for i := range streams {
		st := &sinkStream{o: o, replies: make(chan []any, 1024), payload: payload, count: o.Count / n}
		if i < o.Count%n {
			st.count++
		}
		reply, err := node.Register("r"+strconv.Itoa(i), func(m *engine.Message) {
			if a, err := m.Args(); err == nil {
				st.deliver(a)
			}
		})
		if err != nil {
			return nil, err
		}
		st.report = []any{"report", reply}
		streams[i] = st
	}
	if err := node.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		node.Close(cctx)
	}()

	// Each target is a distinct node; the streams take them in the order
	// they came up.
	seen := map[string]bool{}
	var first engine.NodeEvent
	deadline := time.After(min(o.Timeout, 15*time.Second))
	for len(seen) < n {
		select {
		case ev := <-upCh:
			if seen[ev.Node] {
				continue
			}
			if len(seen) == 0 {
				first = ev
			}
			streams[len(seen)].dest = node.Dest(ev.Node + "#sink")
			seen[ev.Node] = true
		case <-deadline:
			return nil, fmt.Errorf("%w: %d of %d receivers authenticated (wrong address or secret, or two with the same node ID?)", ErrConnect, len(seen), n)
		case <-ctx.Done(): // receivers that never came up: a connect failure, not a slow run
			return nil, fmt.Errorf("%w: %d of %d receivers authenticated before the timeout (wrong address or secret, or two with the same node ID?)", ErrConnect, len(seen), n)
		}
	}
	for _, st := range streams {
		if err := st.base(ctx); err != nil {
			return nil, fmt.Errorf("%w: no sink report: %v", ErrConnect, err)
		}
	}

	p := &progress{o: o, start: time.Now(), what: "fanout"}
	tick := func() {
		var acked int64
		for _, st := range streams {
			acked += st.acked.Load()
		}
		p.update(acked, int64(o.Count))
	}
	start := time.Now()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.run(ctx, func() {})
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(time.Second):
			tick()
		}
	}
	p.finish()
	el := time.Since(start).Seconds()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}

	var received int64
	var cpu float64
	for _, st := range streams {
		received += st.received()
		cpu += st.nodeCPU()
	}
	r := &Result{}
	r.add("mode", "fanout")
	r.add("framing", first.SendFraming)
	r.add("peer_framing", first.RecvFraming)
	r.add("auth", first.Auth)
	r.add("size", o.Size)
	r.add("count", o.Count)
	r.add("received", received)
	r.add("elapsed", round(el, 6))
	rate := float64(received) / el
	r.add("msgs_per_s", round(rate, 0))
	r.add("payload_MB_per_s", round(rate*float64(o.Size)/1e6, 3))
	r.add("batch", o.Batch)
	r.add("outstanding", o.Outstanding)
	r.add("receivers", n)
	r.add("receivers_cpu_s", round(cpu, 3))
	if received < int64(o.Count) {
		return r, ErrShort
	}
	return r, nil
}
