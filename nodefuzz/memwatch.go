package nodefuzz

import (
	"fmt"
	"time"
)

// memWatch is the memory oracle's bookkeeping, without I/O. The RSS is
// sampled before each case; RSSDelay after a case, the RSS then is
// compared with the sample before it. Cases run while a check waits, so
// a rise shows in the checks of every case of its window: a failed check
// blames the case after which the largest rise between two consecutive
// samples came, and each culprit only once.
type memWatch struct {
	limit   int64
	delay   time.Duration
	pending []memSample // in case order
	blamed  map[int]bool
}

type memSample struct {
	before int64 // RSS before the case
	end    time.Time
	rec    *caseRecord
}

// memBlame is a memory finding: rec's case, its RSS before, and the RSS
// seen when the check failed.
type memBlame struct {
	rec           *caseRecord
	before, after int64
	detail        string
}

func newMemWatch(limit int64, delay time.Duration) *memWatch {
	return &memWatch{limit: limit, delay: delay, blamed: map[int]bool{}}
}

// add records a finished case with the RSS sampled before it.
func (w *memWatch) add(rec *caseRecord, before int64, end time.Time) {
	w.pending = append(w.pending, memSample{before: before, end: end, rec: rec})
}

// next returns how long until the oldest check is due (0: now), and
// false when none is pending.
func (w *memWatch) next(now time.Time) (time.Duration, bool) {
	if len(w.pending) == 0 {
		return 0, false
	}
	return max(0, w.pending[0].end.Add(w.delay).Sub(now)), true
}

// check runs the oldest pending check with rss, the RSS now; call it when
// next says it is due.
func (w *memWatch) check(rss int64) *memBlame {
	s := w.pending[0]
	defer func() { w.pending = w.pending[1:] }()
	if rss-s.before <= w.limit {
		return nil
	}
	// the largest step between consecutive samples from this case on
	k, step := 0, int64(-1<<62)
	for i := range w.pending {
		nextRSS := rss
		if i+1 < len(w.pending) {
			nextRSS = w.pending[i+1].before
		}
		if d := nextRSS - w.pending[i].before; d > step {
			k, step = i, d
		}
	}
	c := w.pending[k]
	if w.blamed[c.rec.c.N] {
		return nil
	}
	w.blamed[c.rec.c.N] = true
	return &memBlame{rec: c.rec, before: c.before, after: rss,
		detail: fmt.Sprintf("RSS rose from %d MiB (before case %d) to %d MiB %s after it (limit +%d MiB); the largest rise between two cases, +%d MiB, came with case %d",
			s.before>>20, s.rec.c.N, rss>>20, w.delay, w.limit>>20, step>>20, c.rec.c.N)}
}
