package nodefuzz

import (
	"context"
	"fmt"
	"time"
)

// ReplayResult is what replaying a finding showed.
type ReplayResult struct {
	Finding *Finding
	// Kinds are the oracle failures seen this time (in the order the
	// oracles ran), Details what they saw.
	Kinds, Details []string
	// Reproduced: the finding's kind was among them.
	Reproduced bool
	Elapsed    time.Duration
}

// Replay sends the bytes of a saved finding to the target again (our
// auth line recomputed for the target's new nonce), runs the same
// oracles, and reports whether the finding's kind shows again. A crash
// finding needs a target that was restarted after the crash.
func Replay(ctx context.Context, o Options, path string) (*ReplayResult, error) {
	f, err := LoadFinding(path)
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := o.defaults(); err != nil {
		return nil, err
	}
	p, err := newProber(&o)
	if err != nil {
		return nil, err
	}
	c := &Case{N: f.Case, Phase: f.Phase, What: f.What, Framing: f.Framing, Link: f.LinkCheck, ourID: f.OurID, marker: f.Marker}
	for _, ch := range f.Sent {
		s, err := stepOf(ch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		c.steps = append(c.steps, s)
		if s.probe {
			break // the link check sends its second request itself
		}
	}
	rn := &runner{o: &o, probe: p, secret: []byte(o.Secret), gen: &generator{seed: f.Seed}}
	out := &ReplayResult{Finding: f}
	add := func(kind, detail string) {
		out.Kinds = append(out.Kinds, kind)
		out.Details = append(out.Details, detail)
		if kind == f.Kind {
			out.Reproduced = true
		}
	}
	var before int64 = -1
	if o.PID > 0 {
		if b, err := o.rss(o.PID); err == nil {
			before = b
		}
	}
	rec, l := rn.runCase(c)
	if l == nil && f.Kind != KindCrash {
		return nil, fmt.Errorf("%w: %s: the target does not accept connections", ErrConnect, o.Connect)
	}
	pr := p.probeTwice("fz-probe-replay", f.Marker+"r")
	if rn.linkVerdict(rec, l, pr) {
		add(KindDeadLink, rec.deadLink)
	}
	if l != nil {
		l.close()
	}
	if pr.kind != "" {
		add(pr.kind, pr.detail)
	}
	if before >= 0 {
		select {
		case <-time.After(o.RSSDelay):
		case <-ctx.Done():
		}
		if after, err := o.rss(o.PID); err == nil && after-before > o.RSSLimit {
			add(KindMemory, fmt.Sprintf("RSS %d MiB %s after the case, %d MiB before it", after>>20, o.RSSDelay, before>>20))
		}
	}
	out.Elapsed = time.Since(begin)
	return out, nil
}
