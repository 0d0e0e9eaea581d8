package nodefuzz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a fuzz run (Run) or a replay (Replay).
type Options struct {
	Connect string // target HOST:PORT
	// Target is the node ID the target must have ("" : any).
	Target string
	Secret string
	// Duration and Cases end a run (whichever comes first; zero: no
	// limit from it; both zero: one minute).
	Duration time.Duration
	Cases    int
	Seed     uint64
	// Framings are the framings fuzzed (those the target also accepts),
	// in order. Default json, storable, cbor.
	Framings []string
	// Auth restricts the auth methods we authenticate with (default: the
	// hmac methods of both generations; the target picks).
	Auth []string
	// PID, when > 0, is the target's process: its RSS is watched.
	PID int
	// OutDir receives the finding files (default "fuzz-findings").
	OutDir string

	// Bounds of the oracles.
	ProbeTimeout time.Duration // a probe's time round trip (default 5 s)
	LinkTimeout  time.Duration // the fuzzed link's answer or close (default 2 s)
	CrashWait    time.Duration // the target accepting again after a crash, answering again after a hang (default 10 s)
	RSSDelay     time.Duration // when RSS is compared after a case (default 2 s)
	RSSLimit     int64         // allowed RSS growth in bytes (default 64 MiB)

	// Progress, when set, gets a progress line about once a second.
	Progress io.Writer

	rss func(pid int) (int64, error) // tests replace readRSS
}

// Defaults of the bounds.
const (
	DefaultProbeTimeout = 5 * time.Second
	DefaultLinkTimeout  = 2 * time.Second
	DefaultCrashWait    = 10 * time.Second
	DefaultRSSDelay     = 2 * time.Second
	DefaultRSSLimit     = 64 << 20
)

// DefaultFramings are the framings fuzzed by default.
var DefaultFramings = []string{fJSON, fStorable, fCBOR}

// ErrConnect wraps failures to connect to or authenticate with the
// target before fuzzing starts (exit status 1).
var ErrConnect = errors.New("cannot connect or authenticate")

// ErrStopped is returned when the target did not come back after a
// crash (the result holds the findings so far).
var ErrStopped = errors.New("target did not accept connections again")

func (o *Options) defaults() error {
	if o.Connect == "" {
		return errors.New("no target address")
	}
	if _, _, err := net.SplitHostPort(o.Connect); err != nil {
		return fmt.Errorf("target address: %w", err)
	}
	if o.Secret == "" {
		return errors.New("no secret")
	}
	if len(o.Framings) == 0 {
		o.Framings = DefaultFramings
	}
	for _, f := range o.Framings {
		if f != fJSON && f != fCBOR && f != fStorable {
			return fmt.Errorf("unknown framing %q", f)
		}
	}
	if o.Duration == 0 && o.Cases == 0 {
		o.Duration = time.Minute
	}
	if o.OutDir == "" {
		o.OutDir = "fuzz-findings"
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&o.ProbeTimeout, DefaultProbeTimeout)
	setDur(&o.LinkTimeout, DefaultLinkTimeout)
	setDur(&o.CrashWait, DefaultCrashWait)
	setDur(&o.RSSDelay, DefaultRSSDelay)
	if o.RSSLimit <= 0 {
		o.RSSLimit = DefaultRSSLimit
	}
	if o.rss == nil {
		o.rss = readRSS
	}
	return nil
}

// Result is the outcome of a run.
type Result struct {
	Seed     uint64
	Cases    int
	PerPhase map[Phase]int
	// Findings are the saved findings (one per kind and phase), Files
	// their paths; Occurrences counts every time an oracle failed, by
	// kind.
	Findings    []*Finding
	Files       []string
	Occurrences map[string]int
	Elapsed     time.Duration
	// Stopped says why the run ended early ("" : it ran its course).
	Stopped string
	// Target is the target's node ID and greeting line 1.
	TargetID, TargetLine string
}

// FindingsOf counts the saved findings of kind.
func (r *Result) FindingsOf(kind string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// Field is one key=value of the RESULT line.
type Field struct {
	Key   string
	Value any
}

// Fields returns the RESULT line's fields, plain numbers.
func (r *Result) Fields() []Field {
	el := r.Elapsed.Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(r.Cases) / el
	}
	f := []Field{
		{"cases", r.Cases},
		{"cases_greeting", r.PerPhase[PhaseGreeting]},
		{"cases_auth", r.PerPhase[PhaseAuth]},
		{"cases_data", r.PerPhase[PhaseData]},
		{"findings", len(r.Findings)},
		{"findings_crash", r.FindingsOf(KindCrash)},
		{"findings_hang", r.FindingsOf(KindHang)},
		{"findings_dead_link", r.FindingsOf(KindDeadLink)},
		{"findings_memory", r.FindingsOf(KindMemory)},
		{"occurrences", r.Occurrences[KindCrash] + r.Occurrences[KindHang] + r.Occurrences[KindDeadLink] + r.Occurrences[KindMemory]},
		{"elapsed", round3(el)},
		{"cases_per_s", round3(rate)},
		{"seed", r.Seed},
	}
	return f
}

func round3(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 3, 64), 64)
	return v
}

// caseRecord is what running a case produced.
type caseRecord struct {
	c        *Case
	greeting greeting
	sent     []Chunk
	// deadLink says why the link check failed so far ("" : it passed or
	// did not run); the verdict waits for the probe (see linkVerdict).
	deadLink string
}

// runner runs cases against the target.
type runner struct {
	o      *Options
	gen    *generator
	probe  *prober
	secret []byte
}

// runCase sends case c on a fresh connection and runs the link check. It
// returns the open link (nil if connecting failed), which the caller
// closes after the probe: probing while it is still open finds nodes
// that a pending connection blocks.
func (rn *runner) runCase(c *Case) (*caseRecord, *link) {
	rec := &caseRecord{c: c}
	l, err := dialLink(rn.o.Connect, rn.o.ProbeTimeout)
	if err != nil {
		return rec, nil
	}
	g, rawLines, gerr := l.greeting(rn.o.LinkTimeout)
	rec.greeting = g
	allSent := true
	var sendErr error
	for i := range c.steps {
		st := &c.steps[i]
		if st.probe && !c.Link {
			continue
		}
		b := st.bytes
		switch {
		case st.echo:
			if gerr != nil {
				allSent = false
			}
			b = rawLines
		case st.auth != nil:
			if gerr != nil {
				allSent = false
				break
			}
			b = st.auth.line(rn.secret, g.line1, g.nonce)
		}
		if !allSent {
			break
		}
		if st.probe {
			l.expect(c.marker)
		}
		out := b
		if len(st.tail) > 0 {
			out = append(slices.Clip(b), st.tail...)
		}
		rec.sent = append(rec.sent, chunkOf(st.phase, b, st))
		if sendErr = l.send(out, st.chunks, st.pause, rn.o.ProbeTimeout); sendErr != nil {
			allSent = false
			break
		}
	}
	// The link check: only when the handshake got as far as our frames
	// (without the target's greeting the probe tells what is wrong).
	if c.Link && gerr == nil && (allSent || sendErr != nil) {
		switch answered, closed := l.answeredOrClosed(rn.o.LinkTimeout); {
		case answered || closed:
		case !allSent && !isTimeout(sendErr):
			// the write failed otherwise: the target closed or reset
		case !allSent:
			rec.deadLink = "the target stopped reading the link (a write waited " + rn.o.ProbeTimeout.String() +
				") and did not close it within " + rn.o.LinkTimeout.String()
		default:
			rec.deadLink = "after the frames, the link neither answered time nor was closed within " + rn.o.LinkTimeout.String()
		}
	}
	return rec, l
}

// finding builds a Finding from a case record.
func (rn *runner) finding(kind, detail string, rec *caseRecord) *Finding {
	c := rec.c
	return &Finding{
		Kind: kind, Phase: c.Phase, What: c.What, Detail: detail, Seed: rn.gen.seed, Case: c.N,
		Target: rn.o.Connect, TargetGreeting: [2]string{rec.greeting.line1, rec.greeting.nonce},
		Framing: c.Framing, OurID: c.ourID, LinkCheck: c.Link, Marker: c.marker, Sent: rec.sent,
		Time: time.Now().UTC().Format(time.RFC3339),
	}
}

// start probes the target once and sets up the generator.
func start(o *Options) (*runner, *probeResult, error) {
	if err := o.defaults(); err != nil {
		return nil, nil, err
	}
	p, err := newProber(o)
	if err != nil {
		return nil, nil, err
	}
	pr := p.run("fz-probe", "fztstart")
	if pr.kind != "" {
		return nil, nil, fmt.Errorf("%w: %s", ErrConnect, pr.detail)
	}
	g := pr.greeting
	if o.Target != "" && g.g.NodeID != o.Target {
		return nil, nil, fmt.Errorf("%w: the node at %s is %q, not %q", ErrConnect, o.Connect, g.g.NodeID, o.Target)
	}
	t := target{id: g.g.NodeID, addr: o.Connect}
	for _, f := range o.Framings {
		if slices.Contains(g.g.Framings, f) {
			t.framings = append(t.framings, f)
		}
	}
	if len(t.framings) == 0 {
		return nil, nil, fmt.Errorf("%w: the target accepts %s, none of %s", ErrConnect,
			strings.Join(g.g.Framings, ","), strings.Join(o.Framings, ","))
	}
	t.method = g.authMethod(o.Auth)
	if t.method == "" {
		return nil, nil, fmt.Errorf("%w: the target accepts auth %s, none we send", ErrConnect, strings.Join(g.g.Auths, ","))
	}
	rn := &runner{o: o, probe: p, secret: []byte(o.Secret),
		gen: &generator{seed: o.Seed, secret: []byte(o.Secret), t: t}}
	return rn, &pr, nil
}

// Run fuzzes the target until the duration or the case count is reached,
// ctx is done, or the target does not come back after a crash
// (ErrStopped). Failures to reach the target at the start wrap
// ErrConnect. It runs one case at a time: at most two connections are
// open (the fuzzed link and the probe).
func Run(ctx context.Context, o Options) (*Result, error) {
	rn, pr, err := start(&o)
	if err != nil {
		return nil, err
	}
	res := &Result{Seed: o.Seed, PerPhase: map[Phase]int{}, Occurrences: map[string]int{},
		TargetID: pr.greeting.g.NodeID, TargetLine: pr.greeting.line1}
	seen := map[string]bool{}
	var mu sync.Mutex // guards res for the progress goroutine
	begin := time.Now()
	var end time.Time
	if o.Duration > 0 {
		end = begin.Add(o.Duration)
	}

	// Every occurrence gets a line in the occurrences file of the run
	// (findings keep only the first of each kind and phase).
	var occ *os.File
	defer func() {
		if occ != nil {
			occ.Close()
		}
	}()
	record := func(kind, detail string, rec *caseRecord, rssBefore, rssAfter int64) {
		mu.Lock()
		defer mu.Unlock()
		res.Occurrences[kind]++
		if occ == nil {
			if err := os.MkdirAll(o.OutDir, 0o755); err == nil {
				occ, _ = os.Create(filepath.Join(o.OutDir, fmt.Sprintf("occurrences-seed%d.txt", o.Seed)))
			}
		}
		if occ != nil {
			fmt.Fprintf(occ, "case %d\t%s\t%s\t%s\t%s\n", rec.c.N, kind, rec.c.Phase, rec.c.What, detail)
		}
		key := kind + "/" + string(rec.c.Phase)
		if seen[key] {
			return
		}
		seen[key] = true
		f := rn.finding(kind, detail, rec)
		f.RSSBefore, f.RSSAfter = rssBefore, rssAfter
		res.Findings = append(res.Findings, f)
		if p, err := f.save(o.OutDir); err == nil {
			res.Files = append(res.Files, p)
		} else if o.Progress != nil {
			fmt.Fprintf(o.Progress, "fuzz: cannot save a finding: %v\n", err)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "fuzz: case %d: %s (%s): %s\n  %s\n", rec.c.N, kind, rec.c.Phase, detail, rec.c.What)
		}
	}

	stopProgress := make(chan struct{})
	var wg sync.WaitGroup
	if o.Progress != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					mu.Lock()
					el := time.Since(begin).Seconds()
					fmt.Fprintf(o.Progress, "fuzz: %.0fs cases %d (%.1f/s) findings crash %d hang %d dead-link %d memory %d\n",
						el, res.Cases, float64(res.Cases)/el, res.FindingsOf(KindCrash), res.FindingsOf(KindHang),
						res.FindingsOf(KindDeadLink), res.FindingsOf(KindMemory))
					mu.Unlock()
				}
			}
		}()
	}

	mem := newMemWatch(o.RSSLimit, o.RSSDelay)
	// checkMem runs the checks that are due (all: every pending one,
	// waiting for them).
	checkMem := func(all bool) {
		for {
			wait, ok := mem.next(time.Now())
			if !ok || (wait > 0 && !all) {
				return
			}
			time.Sleep(wait)
			rss, err := o.rss(o.PID)
			if err != nil {
				mem.pending = nil // gone: the probe reports it
				return
			}
			if b := mem.check(rss); b != nil {
				record(KindMemory, b.detail, b.rec, b.before, b.after)
			}
		}
	}

	var runErr error
	for n := 0; ; n++ {
		if ctx.Err() != nil || (o.Cases > 0 && n >= o.Cases) || (!end.IsZero() && !time.Now().Before(end)) {
			break
		}
		c := rn.gen.generate(n)
		var before int64 = -1
		if o.PID > 0 {
			checkMem(len(mem.pending) > 2000)
			if b, err := o.rss(o.PID); err == nil {
				before = b
			}
		}
		rec, l := rn.runCase(c)
		_, probeID := idFor(n)
		pr := rn.probe.probeTwice(probeID, c.marker+"p")
		if rn.linkVerdict(rec, l, pr) {
			record(KindDeadLink, rec.deadLink, rec, 0, 0)
		}
		if l != nil {
			l.close()
		}
		mu.Lock()
		res.Cases++
		res.PerPhase[c.Phase]++
		mu.Unlock()
		if before >= 0 {
			mem.add(rec, before, time.Now())
		}
		switch pr.kind {
		case KindHang:
			record(KindHang, pr.detail, rec, 0, 0)
			// Let the target recover, so that the next cases are not
			// blamed for this one.
			rn.waitHealthy(ctx, n)
		case KindCrash:
			record(KindCrash, pr.detail, rec, 0, 0)
			if !waitAccept(ctx, o.Connect, o.CrashWait) {
				mu.Lock()
				res.Stopped = fmt.Sprintf("the target did not accept connections within %s after a crash", o.CrashWait)
				mu.Unlock()
				runErr = ErrStopped
			}
		}
		if runErr != nil {
			break
		}
	}
	if o.PID > 0 && runErr == nil {
		checkMem(true)
	}
	close(stopProgress)
	wg.Wait()
	res.Elapsed = time.Since(begin)
	return res, runErr
}

// waitAccept reports whether addr accepts a TCP connection within d.
func waitAccept(ctx context.Context, addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// waitHealthy probes until the target answers again, for at most
// CrashWait.
func (rn *runner) waitHealthy(ctx context.Context, n int) bool {
	deadline := time.Now().Add(rn.o.CrashWait)
	_, id := idFor(n)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		if pr := rn.probe.run(id+"w"+strconv.Itoa(i), "fztwait"+strconv.Itoa(i)); pr.kind == "" {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// linkVerdict decides a link check that has failed its first wait, once
// the probe has run: a target that also fails the probe is slow or hung
// as a whole (the probe's finding says so), not deaf on this link; one
// that passes it gets a second time request on the link and LinkTimeout
// more, so that neither a moment of load nor a target that dropped only
// the rest of its read is taken for a dead link. The second request is
// recorded with the bytes sent (replay sends it too, and checks anew).
func (rn *runner) linkVerdict(rec *caseRecord, l *link, pr probeResult) bool {
	if rec.deadLink == "" {
		return false
	}
	if pr.kind != "" {
		rec.deadLink = ""
		return false
	}
	if l.isClosed() {
		rec.deadLink = ""
		return false
	}
	// A second time request: a target may drop the rest of what it read
	// with a bad frame (AnyEvent::MP does after a JSON object at the top
	// level) and read on; such a link is not dead.
	c := rec.c
	m2 := c.marker + "2"
	l.expect(m2)
	b, _ := encode(c.Framing, arr(str(""), str("time"), str(c.ourID+"#"+m2), str(m2)), -1)
	rec.sent = append(rec.sent, chunkOf(PhaseData, b, &step{probe: true}))
	if err := l.send(b, nil, 0, rn.o.LinkTimeout); err != nil && !isTimeout(err) {
		rec.deadLink = ""
		return false
	}
	if answered, closed := l.answeredOrClosed(rn.o.LinkTimeout); answered || closed {
		rec.deadLink = ""
		return false
	}
	rec.deadLink = "after the frames, the link answered neither of two time requests and was not closed within " +
		rn.o.LinkTimeout.String() + " of each (a probe meanwhile got its answer)"
	return true
}
