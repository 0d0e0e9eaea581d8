package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/framing"
)

// The links driver: sink and ping over many links at once (--conns C).
// Each link is a connection from a node ID of its own (the run's random
// ID plus "-" and the link's index), all of them on one gnet client whose
// event loops (GOMAXPROCS unless Options.Loops) take the links round-robin.
// A link's protocol runs entirely on its loop: the handshake, the encoding
// of every message (one AppendMessage per message, as an engine.Node's
// Send does), and the next batch or request, written as soon as the
// acknowledgement or answer that allows it is read. So the load generator
// pays per message what one engine link does, without a goroutine per
// link or a hand-off between goroutines.
//
// A run has two phases. Prelude: every link authenticates and makes one
// round trip (sink: ["sink","report",REPLY], whose count is the base;
// ping: an echo), and the run waits until all links have. Then the
// clock starts and every link is woken to send: sink, its share of
// Count in batches of Batch messages each followed by a report request,
// at most Outstanding batches unacknowledged on the link (a report answer
// acknowledges the link's oldest batch: the target handles a
// connection's messages in order); ping, its share of Count round trips
// with Inflight in flight on the link. The sink's count is the target's:
// the largest count in the last answers, less the base.

// linksRun is the shared state of one links run.
type linksRun struct {
	o       *Options
	mode    string
	loops   int
	links   []*link
	payload []any // ["x"*Size]: the sink message's arguments
	size    string
	epoch   time.Time

	running atomic.Bool  // the prelude is over: links send when woken
	ready   atomic.Int64 // links whose prelude round trip is done
	done    atomic.Int64 // links that have finished their share
	allUp   chan struct{}
	allDone chan struct{}
	failed  chan error

	acked    atomic.Int64 // sink: messages acknowledged; ping: round trips
	maxCount atomic.Int64 // sink: the largest count answered
	maxCPU   atomic.Uint64
}

// link is one connection of a links run. Its fields are used only on its
// event loop, except gc (set before the loop sees the link) and what the
// run reads after all links are ready or done.
type link struct {
	r     *linksRun
	idx   int
	id    string
	reply string // our reply port, "ID#r"
	gc    gnet.Conn
	hs    *handshake.Handshake
	res   *handshake.Result
	enc   framing.Codec
	dec   *framing.Decoder
	out   []byte
	ready bool // prelude answered
	fin   bool // share finished

	share int // messages (sink) or round trips (ping) of this link

	// sink
	sent, pendingBatches int
	baseCount            int64
	baseCPU              float64
	batchSizes           []int // of the unacknowledged batches, oldest first
	ackedMsgs            int
	reportArgs           []any

	// ping
	next  int     // next sequence number to send
	got   int     // answers in
	sentT []int64 // ns since epoch when request i left
	rtts  []float64
}

// runLinks performs a sink or ping run over o.Conns links.
func runLinks(ctx context.Context, o *Options) (*Result, error) {
	if o.Count < o.Conns {
		return nil, fmt.Errorf("bench: --count %d is less than --conns %d: every link needs at least one message", o.Count, o.Conns)
	}
	base, err := handshake.NewConfig(handshake.Options{NodeID: "bench", Secret: []byte(o.Secret),
		Framings: o.Framings, AuthOffer: o.Auth, AuthAccept: o.acceptAuth()})
	if err != nil {
		return nil, err
	}
	r := &linksRun{o: o, mode: o.Mode, loops: o.Loops, payload: []any{stringOf('x', o.Size)}, epoch: time.Now(),
		allUp: make(chan struct{}), allDone: make(chan struct{}), failed: make(chan error, 1)}
	if r.loops <= 0 {
		r.loops = runtime.GOMAXPROCS(0)
	}
	runID := randomID()
	for i := range o.Conns {
		share := o.Count / o.Conns
		if i < o.Count%o.Conns {
			share++
		}
		l := &link{r: r, idx: i, id: runID + "-" + strconv.Itoa(i), share: share}
		l.reply = l.id + "#r"
		cfg, err := base.WithNodeID(l.id)
		if err != nil {
			return nil, err
		}
		if l.hs, err = handshake.New(cfg, handshake.ConnInfo{PeerAddr: o.Connect}); err != nil {
			return nil, err
		}
		if o.Mode == "ping" {
			l.sentT = make([]int64, share)
			l.rtts = make([]float64, 0, share)
		} else {
			l.reportArgs = []any{"report", l.reply}
		}
		r.links = append(r.links, l)
	}
	cli, err := gnet.NewClient(&linksHandler{r: r},
		gnet.WithNumEventLoop(r.loops),
		gnet.WithLockOSThread(false),
		gnet.WithTCPNoDelay(gnet.TCPDelay), // the dialer has set TCP_NODELAY
		gnet.WithLogger(quietLogger{}),
	)
	if err != nil {
		return nil, err
	}
	if err := cli.Start(); err != nil {
		return nil, err
	}
	defer func() {
		for _, l := range r.links {
			if l.gc != nil {
				l.gc.Close()
			}
		}
		cli.Stop()
	}()

	p := &progress{o: o, start: time.Now(), what: o.Mode + " links up"}
	setup := time.Now()
	if err := r.dialAll(ctx, cli); err != nil {
		return nil, err
	}
	if err := r.wait(ctx, r.allUp, func() { p.update(r.ready.Load(), int64(o.Conns)) }); err != nil {
		return nil, err
	}
	p.finish()
	setupEl := time.Since(setup).Seconds()
	var base0 int64
	var cpu0 float64
	for _, l := range r.links {
		base0 = max(base0, l.baseCount)
		cpu0 = max(cpu0, l.baseCPU)
	}

	p = &progress{o: o, start: time.Now(), what: o.Mode}
	start := time.Now()
	r.running.Store(true)
	for _, l := range r.links {
		if err := l.gc.Wake(nil); err != nil {
			return nil, fmt.Errorf("bench: waking link %d: %w", l.idx, err)
		}
	}
	if err := r.wait(ctx, r.allDone, func() { p.update(r.acked.Load(), int64(o.Count)) }); err != nil {
		return nil, err
	}
	p.finish()
	el := time.Since(start).Seconds()

	res := &Result{}
	res.add("mode", o.Mode)
	l0 := r.links[0].res
	res.add("framing", l0.SendFraming)
	res.add("peer_framing", l0.RecvFraming)
	res.add("auth", l0.PeerAuth)
	res.add("size", o.Size)
	res.add("count", o.Count)
	if o.Mode == "ping" {
		return r.pingResult(res, el, setupEl), nil
	}
	received := r.maxCount.Load() - base0
	res.add("received", received)
	res.add("elapsed", round(el, 6))
	rate := float64(received) / el
	res.add("msgs_per_s", round(rate, 0))
	res.add("payload_MB_per_s", round(rate*float64(o.Size)/1e6, 3))
	wire, _ := r.links[0].enc.AppendMessage(nil, "sink", r.payload)
	res.add("wire_bytes_per_msg", len(wire))
	res.add("wire_MB_per_s", round(rate*float64(len(wire))/1e6, 3))
	res.add("batch", o.Batch)
	res.add("outstanding", o.Outstanding)
	ncpu := math.Float64frombits(r.maxCPU.Load()) - cpu0
	res.add("node_cpu_s", round(ncpu, 3))
	if ncpu > 0 {
		res.add("msgs_per_node_cpu_s", round(float64(received)/ncpu, 0))
	} else {
		res.add("msgs_per_node_cpu_s", 0)
	}
	res.add("conns", o.Conns)
	res.add("loops", r.loops)
	res.add("setup_s", round(setupEl, 3))
	if received < int64(o.Count) {
		return res, ErrShort
	}
	return res, nil
}

// pingResult adds the round trips and latencies of all links to res.
func (r *linksRun) pingResult(res *Result, el, setupEl float64) *Result {
	var rtts []float64
	for _, l := range r.links {
		rtts = append(rtts, l.rtts...)
	}
	sort.Float64s(rtts)
	res.add("received", len(rtts))
	res.add("elapsed", round(el, 6))
	res.add("roundtrips_per_s", round(float64(len(rtts))/el, 0))
	var sum float64
	for _, v := range rtts {
		sum += v
	}
	res.add("avg_rtt_us", round(sum/float64(len(rtts)), 1))
	for _, q := range []struct {
		k string
		p float64
	}{{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}} {
		res.add(q.k, round(percentile(rtts, q.p), 1))
	}
	res.add("max_us", round(rtts[len(rtts)-1], 1))
	res.add("inflight", r.o.Inflight)
	res.add("conns", r.o.Conns)
	res.add("loops", r.loops)
	res.add("setup_s", round(setupEl, 3))
	return res
}

// dialAll connects every link, 16 dials at a time, and hands each
// connection to the client's loops.
func (r *linksRun) dialAll(ctx context.Context, cli *gnet.Client) error {
	var wg sync.WaitGroup
	var firstErr atomic.Value
	next := atomic.Int64{}
	for range min(16, len(r.links)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{KeepAlive: -1}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(r.links) || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				l := r.links[i]
				c, err := d.DialContext(ctx, "tcp", r.o.Connect)
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("%w: %v", ErrConnect, err))
					return
				}
				// OnOpen runs on the loop before EnrollContext returns;
				// it sets l.gc there.
				if _, err := cli.EnrollContext(c, l); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("%w: %v", ErrConnect, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// wait waits for ch, calling tick about once a second.
func (r *linksRun) wait(ctx context.Context, ch chan struct{}, tick func()) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ch:
			return nil
		case err := <-r.failed:
			return err
		case <-ctx.Done():
			return ErrTimeout
		case <-t.C:
			tick()
		}
	}
}

func (r *linksRun) fail(err error) {
	select {
	case r.failed <- err:
	default:
	}
}

// noteCount records a sink answer.
func (r *linksRun) noteCount(count int64, cpu float64) {
	for {
		c := r.maxCount.Load()
		if count <= c || r.maxCount.CompareAndSwap(c, count) {
			break
		}
	}
	for {
		c := r.maxCPU.Load()
		if cpu <= math.Float64frombits(c) || r.maxCPU.CompareAndSwap(c, math.Float64bits(cpu)) {
			break
		}
	}
}

// linksHandler runs the links on the client's event loops.
type linksHandler struct {
	gnet.BuiltinEventEngine
	r *linksRun
}

// OnOpen sends the link's greeting.
func (h *linksHandler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	l, ok := gc.Context().(*link)
	if !ok {
		return nil, gnet.Close
	}
	l.gc = gc
	return l.hs.Start(), gnet.None
}

// OnTraffic feeds what arrived to the link (handshake, then messages) and
// writes what that produced in one write; a wake-up from the run starts
// the link's sending.
func (h *linksHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	l := gc.Context().(*link)
	buf, _ := gc.Peek(-1)
	used, err := l.consume(buf)
	if used > 0 {
		gc.Discard(used) // gnet discards everything for n <= 0
	}
	if err == nil && l.ready && !l.fin && h.r.running.Load() {
		err = l.fill()
	}
	if len(l.out) > 0 {
		if _, werr := gc.Write(l.out); werr != nil && err == nil {
			err = werr
		}
		l.out = l.out[:0]
	}
	if err != nil {
		h.r.fail(fmt.Errorf("link %d (%s): %w", l.idx, l.id, err))
		return gnet.Close
	}
	return gnet.None
}

// OnClose fails the run when a link goes before it has finished.
func (h *linksHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	if l, ok := gc.Context().(*link); ok && !l.fin {
		if err == nil {
			err = errors.New("connection closed")
		}
		h.r.fail(fmt.Errorf("link %d (%s): %w", l.idx, l.id, err))
	}
	return gnet.None
}

// consume handles the bytes in buf and returns how many it used.
func (l *link) consume(buf []byte) (int, error) {
	used := 0
	if l.res == nil {
		st, err := l.hs.Feed(buf)
		l.out = append(l.out, st.Out...)
		used = st.Consumed
		if err != nil {
			return used, fmt.Errorf("%w: %v", ErrConnect, err)
		}
		if st.StartTLS != handshake.TLSNone {
			return used, errors.New("target wants TLS; the links driver supports plaintext only")
		}
		if !st.Done {
			return used, nil
		}
		if err := l.up(); err != nil {
			return used, err
		}
	}
	for used < len(buf) {
		m, n, err := l.dec.Next(buf[used:])
		if err != nil {
			return used, err
		}
		if n == 0 {
			break
		}
		used += n
		if string(m.Port()) != "r" {
			continue // the node port's chatter; nothing for us
		}
		a, err := m.Args()
		if err != nil {
			return used, err
		}
		if err := l.answer(a); err != nil {
			return used, err
		}
	}
	return used, nil
}

// up takes the finished handshake and sends the prelude request.
func (l *link) up() error {
	res := l.hs.Result()
	if t := l.r.o.Target; t != "" && res.PeerNodeID != t {
		return fmt.Errorf("%w: connected to node %q, not %q", ErrConnect, res.PeerNodeID, t)
	}
	var err error
	if l.enc, err = framing.ByName(res.SendFraming); err != nil {
		return err
	}
	dc, err := framing.ByName(res.RecvFraming)
	if err != nil {
		return err
	}
	l.dec = framing.NewDecoder(dc, framing.Limits{})
	l.res = res
	if l.r.mode == "ping" {
		l.out, err = l.enc.AppendMessage(l.out, "echo", []any{l.reply, "hello", 1})
	} else {
		l.out, err = l.enc.AppendMessage(l.out, "sink", l.reportArgs)
	}
	return err
}

// answer handles a message to our reply port.
func (l *link) answer(a []any) error {
	r := l.r
	if !l.ready {
		if r.mode == "ping" {
			if len(a) != 2 || !isText(a[0], "hello") {
				return fmt.Errorf("%w: unexpected echo reply %v", ErrConnect, a)
			}
		} else {
			count, cpu, ok := sinkCount(a)
			if !ok {
				return nil
			}
			l.baseCount, l.baseCPU = count, cpu
		}
		l.ready = true
		if r.ready.Add(1) == int64(len(r.links)) {
			close(r.allUp)
		}
		return nil
	}
	if r.mode == "ping" {
		if len(a) < 2 || !isText(a[0], "pong") {
			return nil
		}
		seq, ok := framing.Int64(a[1])
		if !ok || seq < 0 || seq >= int64(l.next) {
			return fmt.Errorf("answer for request %v, which was not sent", a[1])
		}
		l.rtts = append(l.rtts, float64(int64(time.Since(r.epoch))-l.sentT[seq])/1e3)
		l.got++
		r.acked.Add(1)
		if l.got == l.share {
			l.finish()
		}
		return nil
	}
	count, cpu, ok := sinkCount(a)
	if !ok || len(l.batchSizes) == 0 {
		return nil
	}
	r.noteCount(count, cpu)
	k := l.batchSizes[0]
	l.batchSizes = l.batchSizes[1:]
	l.ackedMsgs += k
	r.acked.Add(int64(k))
	if l.ackedMsgs == l.share {
		l.finish()
	}
	return nil
}

func (l *link) finish() {
	l.fin = true
	if l.r.done.Add(1) == int64(len(l.r.links)) {
		close(l.r.allDone)
	}
}

// fill sends what the link may send now that the run is running: up to
// Inflight requests (ping) or Outstanding batches (sink) unanswered.
func (l *link) fill() error {
	o := l.r.o
	if l.r.mode == "ping" {
		for l.next < l.share && l.next-l.got < max(1, o.Inflight) {
			if err := l.sendPing(); err != nil {
				return err
			}
		}
		return nil
	}
	for l.sent < l.share && len(l.batchSizes) < o.Outstanding {
		if err := l.sendBatch(); err != nil {
			return err
		}
	}
	return nil
}

// sendBatch appends the next batch and its report request to l.out.
func (l *link) sendBatch() error {
	k := min(l.r.o.Batch, l.share-l.sent)
	var err error
	for range k {
		if l.out, err = l.enc.AppendMessage(l.out, "sink", l.r.payload); err != nil {
			return err
		}
	}
	if l.out, err = l.enc.AppendMessage(l.out, "sink", l.reportArgs); err != nil {
		return err
	}
	l.sent += k
	l.batchSizes = append(l.batchSizes, k)
	return nil
}

// sendPing appends the next request to l.out.
func (l *link) sendPing() error {
	i := l.next
	l.next++
	l.sentT[i] = int64(time.Since(l.r.epoch))
	var err error
	l.out, err = l.enc.AppendMessage(l.out, "echo", []any{l.reply, "pong", i, l.r.payload[0]})
	return err
}

// sinkCount parses a sink report ["count", N, BYTES, CPUSEC].
func sinkCount(a []any) (count int64, cpu float64, ok bool) {
	if len(a) < 4 || !isText(a[0], "count") {
		return 0, 0, false
	}
	count, ok = framing.Int64(a[1])
	cpu, _ = framing.Float64(a[3])
	return count, cpu, ok
}

// quietLogger drops gnet's own logs.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
