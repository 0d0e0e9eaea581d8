// Package bench measures AEMP nodes: a load generator that works against
// any node serving the echo and sink ports (aemp-go or Perl), and the
// end-to-end benchmarks and baselines built on it.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/framing"
)

// Options configures one load run.
type Options struct {
	Connect     string   // host:port of the target node
	Target      string   // its node ID
	Secret      string   // shared secret
	Mode        string   // sink, ping, connect or fanout
	Count       int      // messages (sink, ping, fanout: the total over all links) or handshakes (connect)
	Size        int      // payload bytes
	Framings    []string // what we offer, in preference order
	Auth        []string // auth methods we use and advertise (nil: the defaults)
	AcceptAuth  []string // auth methods we accept from the target (nil: Auth)
	Batch       int      // sink, fanout: messages per report, per link
	Outstanding int      // sink, fanout: unacknowledged batches per link
	Inflight    int      // ping: round trips in flight per link
	// SendMany makes the engine driver's sink and fanout hand each batch
	// to Dest.SendMany instead of calling Dest.Send per message.
	SendMany bool
	// Sender says where the engine driver's sink and fanout send their
	// batches after the first window: "loop" (""), from the handler of
	// the answer that allows it, or "goroutine", from a goroutine of the
	// load generator (see sinkStream.run).
	Sender string
	// Conns is, for connect, the concurrent connectors; for sink and
	// ping, the links, each from a node ID of its own (more than one: the
	// links driver, links.go).
	Conns int
	// Driver picks how sink and ping run: "engine" (one link through an
	// engine.Node, Conns must be 1) or "links" (links.go, any Conns);
	// "": engine for one link, links for more.
	Driver string
	// Loops is the links driver's event loops (0: GOMAXPROCS).
	Loops int
	// Targets lists the receivers of fanout (host:port each; Connect is
	// not used then).
	Targets  []string
	Timeout  time.Duration
	Progress io.Writer // progress lines; nil for none
	Terminal bool      // Progress is a terminal: rewrite one line
}

// Result holds the figures of one run; Fields lists them in RESULT order.
type Result struct {
	Fields []Field
}

// Field is one key=value of a result.
type Field struct {
	Key   string
	Value any
}

func (r *Result) add(k string, v any) { r.Fields = append(r.Fields, Field{k, v}) }

// Errors with their exit statuses.
var (
	ErrConnect = errors.New("bench: cannot connect or authenticate")
	ErrShort   = errors.New("bench: fewer messages arrived than were sent")
	ErrTimeout = errors.New("bench: timed out")
)

// ExitStatus maps a Run error to the command's exit status.
func ExitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrConnect):
		return 1
	case errors.Is(err, ErrShort):
		return 3
	case errors.Is(err, ErrTimeout):
		return 4
	}
	return 1
}

// acceptAuth returns the auth methods accepted from the target.
func (o *Options) acceptAuth() []string {
	if o.AcceptAuth != nil {
		return o.AcceptAuth
	}
	return o.Auth
}

// session is a connected benchmark node.
type session struct {
	node    *engine.Node
	target  string
	up      engine.NodeEvent
	replies chan []any
	reply   string
}

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

// open starts a listener-less node connected to the target, registers a
// reply port and confirms the link with one echo round trip.
func open(ctx context.Context, o *Options, replyFn engine.Handler) (*session, error) {
	s := &session{target: o.Target, replies: make(chan []any, 1024)}
	upCh := make(chan engine.NodeEvent, 4)
	n, err := engine.New(engine.Config{
		NodeID:         randomID(),
		Binds:          nil,
		Seeds:          []string{o.Connect},
		Secret:         o.Secret,
		Framings:       o.Framings,
		AuthOffer:      o.Auth,
		AuthAccept:     o.acceptAuth(),
		MonitorTimeout: o.Timeout,
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
	s.node = n
	if replyFn == nil {
		replyFn = func(m *engine.Message) {
			if a, err := m.Args(); err == nil {
				s.replies <- a
			}
		}
	}
	if s.reply, err = n.Register("reply", replyFn); err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	select {
	case ev := <-upCh:
		if o.Target == "" {
			s.target = ev.Node
		} else if ev.Node != o.Target {
			n.Close(context.Background())
			return nil, fmt.Errorf("%w: connected to node %q, not %q", ErrConnect, ev.Node, o.Target)
		}
		s.up = ev
	case <-time.After(min(o.Timeout, 15*time.Second)):
		n.Close(context.Background())
		return nil, fmt.Errorf("%w: %s: no authenticated connection (wrong address or secret?)", ErrConnect, o.Connect)
	case <-ctx.Done():
		n.Close(context.Background())
		return nil, ctx.Err()
	}
	return s, nil
}

func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.node.Close(ctx)
}

// send retries on backpressure until ctx ends.
func (s *session) send(ctx context.Context, port string, args ...any) error {
	return s.sendTo(ctx, s.node.Dest(s.target+"#"+port), args)
}

// sendTo is send with a resolved destination and the arguments as a
// slice, so that a hot loop can prepare both once.
func (s *session) sendTo(ctx context.Context, dest *engine.Dest, args []any) error {
	return sendRetry(ctx, dest, args)
}

// sendRetry sends args to dest, retrying on backpressure until ctx ends.
func sendRetry(ctx context.Context, dest *engine.Dest, args []any) error {
	for {
		err := dest.Send(args...)
		if err == nil {
			return nil
		}
		if err = backoff(ctx, err, true); err != nil {
			return err
		}
	}
}

// backoff says what a send that failed with err does next: nil to send
// again after a short pause (backpressure, where waiting is allowed),
// errWouldWait at backpressure where it is not (an event loop), ErrTimeout
// when ctx ends first, err itself for any other error.
func backoff(ctx context.Context, err error, wait bool) error {
	if !errors.Is(err, engine.ErrBackpressure) {
		return err
	}
	if !wait {
		return errWouldWait
	}
	select {
	case <-ctx.Done():
		return ErrTimeout
	case <-time.After(50 * time.Microsecond):
		return nil
	}
}

// senderOf is o.Sender with its default.
func senderOf(o *Options) string {
	if o.Sender == "" {
		return "loop"
	}
	return o.Sender
}

func (s *session) await(ctx context.Context) ([]any, error) { return awaitOn(ctx, s.replies) }

// awaitOn returns the next message of replies.
func awaitOn(ctx context.Context, replies chan []any) ([]any, error) {
	select {
	case a := <-replies:
		return a, nil
	case <-ctx.Done():
		return nil, ErrTimeout
	}
}

// Run performs one benchmark.
func Run(o Options) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if o.Conns <= 0 {
		o.Conns = 1
	}
	switch o.Mode {
	case "sink", "ping":
		switch {
		case o.Driver == "links" || o.Driver == "" && o.Conns > 1:
			return runLinks(ctx, &o)
		case o.Driver != "" && o.Driver != "engine":
			return nil, fmt.Errorf("bench: unknown driver %q", o.Driver)
		case o.Conns > 1:
			return nil, fmt.Errorf("bench: the engine driver runs one link, not %d", o.Conns)
		case o.Mode == "sink":
			return runSink(ctx, &o)
		}
		return runPing(ctx, &o)
	case "connect":
		return runConnect(ctx, &o)
	case "fanout":
		return runFanout(ctx, &o)
	}
	return nil, fmt.Errorf("bench: unknown mode %q", o.Mode)
}

// progress prints a rate line about once a second.
type progress struct {
	o     *Options
	start time.Time
	last  time.Time
	what  string
}

func (p *progress) update(done, total int64) {
	if p.o.Progress == nil || time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	rate := float64(done) / el
	eta := "?"
	if rate > 0 {
		eta = strconv.FormatFloat(float64(total-done)/rate, 'f', 1, 64) + "s"
	}
	line := fmt.Sprintf("%s: %d/%d  %.0f/s  elapsed %.1fs  eta %s", p.what, done, total, rate, el, eta)
	if p.o.Terminal {
		fmt.Fprintf(p.o.Progress, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(p.o.Progress, line)
	}
}

func (p *progress) finish() {
	if p.o.Progress != nil && p.o.Terminal {
		fmt.Fprint(p.o.Progress, "\r\x1b[K")
	}
}

// confirm does the link check: one echo round trip.
func (s *session) confirm(ctx context.Context) error {
	if err := s.send(ctx, "echo", s.reply, "hello", 1); err != nil {
		return err
	}
	a, err := s.await(ctx)
	if err != nil {
		return fmt.Errorf("%w: no echo reply from %s", ErrConnect, s.target)
	}
	if len(a) != 2 || fmt.Sprint(a[0]) != "hello" {
		return fmt.Errorf("%w: unexpected echo reply %v", ErrConnect, a)
	}
	return nil
}

func runSink(ctx context.Context, o *Options) (*Result, error) {
	var stp atomic.Pointer[sinkStream] // answers go to it once it exists
	var s *session
	s, err := open(ctx, o, func(m *engine.Message) {
		if a, err := m.Args(); err == nil {
			if st := stp.Load(); st != nil {
				st.deliver(a)
			} else {
				s.replies <- a
			}
		}
	})
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.confirm(ctx); err != nil {
		return nil, err
	}
	st := &sinkStream{o: o, dest: s.node.Dest(s.target + "#sink"), report: []any{"report", s.reply}, replies: s.replies,
		payload: []any{stringOf('x', o.Size)}, count: o.Count}
	stp.Store(st)
	if err := st.base(ctx); err != nil {
		return nil, err
	}
	var wire []byte
	if codec, err := framing.ByName(s.up.SendFraming); err == nil {
		wire, _ = codec.AppendMessage(nil, "sink", st.payload)
	}
	p := &progress{o: o, start: time.Now(), what: "sink"}
	start := time.Now()
	err = st.run(ctx, func() { p.update(st.acked.Load(), int64(o.Count)) })
	p.finish()
	el := time.Since(start).Seconds()
	if err != nil {
		return nil, err
	}
	last := st.received()
	r := &Result{}
	r.add("mode", "sink")
	s.addLink(r)
	r.add("size", o.Size)
	r.add("count", o.Count)
	r.add("received", last)
	r.add("elapsed", round(el, 6))
	rate := float64(last) / el
	r.add("msgs_per_s", round(rate, 0))
	r.add("payload_MB_per_s", round(rate*float64(o.Size)/1e6, 3))
	r.add("wire_bytes_per_msg", len(wire))
	r.add("wire_MB_per_s", round(rate*float64(len(wire))/1e6, 3))
	r.add("batch", o.Batch)
	r.add("outstanding", o.Outstanding)
	r.add("send_many", o.SendMany)
	r.add("sender", senderOf(o))
	r.add("conns", 1)
	ncpu := st.nodeCPU()
	r.add("node_cpu_s", round(ncpu, 3))
	if ncpu > 0 {
		r.add("msgs_per_node_cpu_s", round(float64(last)/ncpu, 0))
	} else {
		r.add("msgs_per_node_cpu_s", 0)
	}
	if last < int64(o.Count) {
		return r, ErrShort
	}
	return r, nil
}

// sinkStream is the sink protocol toward one target through an
// engine.Node: count messages in batches of o.Batch, each followed by a
// report request, at most o.Outstanding batches unacknowledged; the
// target's answers arrive on replies.
type sinkStream struct {
	o       *Options
	dest    *engine.Dest // the target's sink port
	report  []any        // ["report", REPLY]
	replies chan []any
	payload []any
	count   int

	base0, last int64 // the target's count before and at the end
	cpu0, cpu   float64
	acked       atomic.Int64

	streaming atomic.Bool   // run has begun: deliver acknowledges
	owed      atomic.Int64  // batches the window allows that are not sent yet
	kick      chan struct{} // tells run's goroutine that batches are owed
	done      chan struct{} // closed when run ends
	endOnce   sync.Once
	err       error

	sendMu sync.Mutex // held by whoever sends; guards what follows
	sent   int        // messages of whole batches sent
	pos    int        // messages of the current batch sent
	batch  [][]any    // SendMany: the payload o.Batch times
}

// base asks the target for its count before the stream starts.
func (st *sinkStream) base(ctx context.Context) error {
	if err := sendRetry(ctx, st.dest, st.report); err != nil {
		return err
	}
	for {
		a, err := awaitOn(ctx, st.replies)
		if err != nil {
			return err
		}
		if c, cpu, ok := sinkCount(a); ok {
			st.base0, st.cpu0, st.last, st.cpu = c, cpu, c, cpu
			return nil
		}
	}
}

// received is what the target counted during the stream.
func (st *sinkStream) received() int64 { return st.last - st.base0 }

// nodeCPU is the target's CPU seconds during the stream.
func (st *sinkStream) nodeCPU() float64 { return st.cpu - st.cpu0 }

// run sends the stream and returns when the target has acknowledged all
// of it, calling tick about once a second while it waits.
//
// Who sends (Options.Sender): "loop" (the default) sends the first
// window of batches from this goroutine and every later batch from the
// handler of the report answer that frees its slot, on the node's event
// loop, as ping sends its next request: the batch leaves in the loop's
// write after the read, with no hand-off between goroutines, which is
// how a Go node sends in answer to what it receives. "goroutine" sends
// every batch from this goroutine, the answers only freeing slots: each
// Send then hands its bytes to the event loop on another thread.
func (st *sinkStream) run(ctx context.Context, tick func()) error {
	o := st.o
	if st.count == 0 {
		return nil
	}
	st.kick = make(chan struct{}, 1)
	st.done = make(chan struct{})
	st.owed.Store(int64(o.Outstanding))
	st.streaming.Store(true)
	st.drive(ctx, true)
	for {
		select {
		case <-st.done:
			return st.failure()
		case <-st.kick:
			st.drive(ctx, true)
		case <-ctx.Done():
			return ErrTimeout
		case <-time.After(time.Second):
			tick()
		}
	}
}

// deliver takes an answer of the target; the reply port's handler calls
// it, on the node's event loop. Before run, answers go to replies (for
// base). During run each report answer acknowledges a batch: its slot of
// the window is owed a new batch, which the loop sends at once (Sender
// "loop") or the sending goroutine is told of.
func (st *sinkStream) deliver(a []any) {
	if !st.streaming.Load() {
		st.replies <- a
		return
	}
	c, cpu, ok := sinkCount(a)
	if !ok {
		return
	}
	st.last, st.cpu = c, cpu
	st.acked.Store(c - st.base0)
	if c-st.base0 >= int64(st.count) {
		st.finish(nil)
		return
	}
	st.owed.Add(1)
	if st.o.Sender == "goroutine" || !st.drive(nil, false) {
		select {
		case st.kick <- struct{}{}:
		default:
		}
	}
}

// drive sends the batches owed while it holds the sending side; another
// sender holding it sends them instead. With wait false (on the event
// loop, which must not wait) it stops at backpressure and reports false,
// leaving the rest to the goroutine; ctx is used only when waiting.
func (st *sinkStream) drive(ctx context.Context, wait bool) bool {
	for st.owed.Load() > 0 && st.sendMu.TryLock() {
		err := st.pump(ctx, wait)
		st.sendMu.Unlock()
		if err == errWouldWait {
			return false
		}
		if err != nil {
			st.finish(err)
			return true
		}
	}
	return true
}

// errWouldWait: pump met backpressure where it must not wait.
var errWouldWait = errors.New("bench: would wait")

// pump sends owed batches (st.sendMu held): the rest of the current
// batch, then its report request.
func (st *sinkStream) pump(ctx context.Context, wait bool) error {
	o := st.o
	for st.owed.Load() > 0 && st.sent < st.count {
		k := min(o.Batch, st.count-st.sent)
		for st.pos < k {
			var n int
			var err error
			if o.SendMany {
				if len(st.batch) < k {
					st.batch = make([][]any, k)
					for i := range st.batch {
						st.batch[i] = st.payload
					}
				}
				n, err = st.dest.SendMany(st.batch[st.pos:k])
			} else if err = st.dest.Send(st.payload...); err == nil {
				n = 1
			}
			st.pos += n
			if err != nil {
				if err = backoff(ctx, err, wait); err != nil {
					return err
				}
			}
		}
		for {
			err := st.dest.Send(st.report...)
			if err == nil {
				break
			}
			if err = backoff(ctx, err, wait); err != nil {
				return err
			}
		}
		st.sent += k
		st.pos = 0
		st.owed.Add(-1)
	}
	if st.sent >= st.count {
		st.owed.Store(0) // all sent: later answers owe nothing
	}
	return nil
}

// finish ends run with err (nil: everything acknowledged), once.
func (st *sinkStream) finish(err error) {
	st.endOnce.Do(func() {
		st.err = err
		close(st.done)
	})
}

// failure is what ended run.
func (st *sinkStream) failure() error { return st.err }

func (s *session) addLink(r *Result) {
	r.add("framing", s.up.SendFraming)
	r.add("peer_framing", s.up.RecvFraming)
	r.add("auth", s.up.Auth)
}

func runPing(ctx context.Context, o *Options) (*Result, error) {
	// Each answer is handled on the node's event loop, which records its
	// round trip and sends the next request from there: the request leaves
	// in the loop's own write after the read, with no hand-off to another
	// goroutine (what a Go node answering in its handler does). sent[i] is
	// written before request i leaves and read when its answer is in.
	sent := make([]int64, o.Count)
	rtts := make([]float64, 0, o.Count)
	var mu sync.Mutex
	done := make(chan struct{})
	failed := make(chan error, 1)
	var next atomic.Int64 // the next sequence number to send
	var sess *session
	var echo *engine.Dest
	payload := stringOf('x', o.Size)
	epoch := time.Now()
	sendNext := func() {
		i := next.Add(1) - 1
		if i >= int64(o.Count) {
			return
		}
		sent[i] = int64(time.Since(epoch))
		if err := echo.Send(sess.reply, "pong", i, payload); err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	handler := func(m *engine.Message) {
		a, err := m.Args()
		if err != nil || len(a) < 2 || !isText(a[0], "pong") {
			if err == nil && sess != nil {
				sess.replies <- a
			}
			return
		}
		seq, ok := framing.Int64(a[1])
		if !ok || seq < 0 || seq >= int64(o.Count) {
			return
		}
		rtt := float64(int64(time.Since(epoch))-sent[seq]) / 1e3
		mu.Lock()
		rtts = append(rtts, rtt)
		n := len(rtts)
		mu.Unlock()
		if n == o.Count {
			close(done)
			return
		}
		sendNext()
	}
	s, err := open(ctx, o, handler)
	if err != nil {
		return nil, err
	}
	sess = s
	defer s.close()
	if err := s.confirm(ctx); err != nil {
		return nil, err
	}
	echo = s.node.Dest(s.target + "#echo")
	p := &progress{o: o, start: time.Now(), what: "ping"}
	start := time.Now()
	for k := 0; k < max(1, o.Inflight); k++ {
		sendNext()
	}
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case err := <-failed:
			return nil, err
		case <-ctx.Done():
			return nil, ErrTimeout
		case <-time.After(time.Second):
			mu.Lock()
			n := len(rtts)
			mu.Unlock()
			p.update(int64(n), int64(o.Count))
		}
	}
	p.finish()
	el := time.Since(start).Seconds()
	mu.Lock()
	defer mu.Unlock()
	sort.Float64s(rtts)
	r := &Result{}
	r.add("mode", "ping")
	s.addLink(r)
	r.add("size", o.Size)
	r.add("count", o.Count)
	r.add("received", len(rtts))
	r.add("elapsed", round(el, 6))
	r.add("roundtrips_per_s", round(float64(len(rtts))/el, 0))
	var sum float64
	for _, v := range rtts {
		sum += v
	}
	r.add("avg_rtt_us", round(sum/float64(len(rtts)), 1))
	for _, q := range []struct {
		k string
		p float64
	}{{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}} {
		r.add(q.k, round(percentile(rtts, q.p), 1))
	}
	r.add("max_us", round(rtts[len(rtts)-1], 1))
	r.add("inflight", o.Inflight)
	r.add("conns", 1)
	return r, nil
}

func runConnect(ctx context.Context, o *Options) (*Result, error) {
	return driveConnect(ctx, &connectRun{o: o}, "connect")
}

// driveConnect runs r's units, printing progress, and reports them as
// mode.
func driveConnect(ctx context.Context, r *connectRun, mode string) (*Result, error) {
	o := r.o
	p := &progress{o: o, start: time.Now(), what: mode}
	start := time.Now()
	finished := make(chan error, 1)
	go func() { finished <- r.run(ctx) }()
	for {
		select {
		case err := <-finished:
			p.finish()
			el := time.Since(start).Seconds()
			done := r.done.Load()
			if done == 0 {
				if err == nil {
					err, _ = r.firstErr.Load().(error)
				}
				return nil, fmt.Errorf("%w: %v", ErrConnect, err)
			}
			res := &Result{}
			res.add("mode", mode)
			if lr := r.link.Load(); lr != nil {
				res.add("framing", lr.send)
				res.add("peer_framing", lr.recv)
				res.add("auth", lr.auth)
			}
			res.add("count", o.Count)
			res.add("received", done)
			res.add("failed", r.failed.Load())
			res.add("elapsed", round(el, 6))
			res.add("handshakes_per_s", round(float64(done)/el, 0))
			res.add("conns", o.Conns)
			if ctx.Err() != nil {
				return res, ErrTimeout
			}
			if err != nil {
				return res, err
			}
			if done < int64(o.Count) {
				return res, ErrShort
			}
			return res, nil
		case <-time.After(time.Second):
			p.update(r.done.Load(), int64(o.Count))
		}
	}
}

// isText reports whether v decodes to the Perl string want.
func isText(v any, want string) bool {
	t, ok := framing.Text(v)
	return ok && t == want
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func round(v float64, digits int) float64 {
	f := math.Pow(10, float64(digits))
	return math.Round(v*f) / f
}

func stringOf(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
