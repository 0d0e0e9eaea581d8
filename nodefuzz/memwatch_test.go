package nodefuzz

import (
	"strings"
	"testing"
	"time"
)

// TestMemWatchBlamesTheRise: a rise shows in the checks of all cases of
// its window; the case after which it came is blamed, once.
func TestMemWatchBlamesTheRise(t *testing.T) {
	const mib = 1 << 20
	w := newMemWatch(64*mib, 2*time.Second)
	t0 := time.Unix(1000, 0)
	befores := []int64{10, 11, 10, 12, 90, 91, 91, 92}
	for i, b := range befores {
		w.add(&caseRecord{c: &Case{N: i}}, b*mib, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	if d, ok := w.next(t0); !ok || d != 2*time.Second {
		t.Fatalf("next: %v %v", d, ok)
	}
	var blamed []*memBlame
	for range befores {
		if b := w.check(95 * mib); b != nil {
			blamed = append(blamed, b)
		}
	}
	if len(blamed) != 1 || blamed[0].rec.c.N != 3 || blamed[0].before != 12*mib || blamed[0].after != 95*mib {
		t.Fatalf("blamed %+v, want case 3 once", blamed)
	}
	if !strings.Contains(blamed[0].detail, "+78 MiB, came with case 3") {
		t.Errorf("detail %q", blamed[0].detail)
	}
	if _, ok := w.next(t0); ok {
		t.Error("checks left")
	}
	// within the limit: nothing
	w.add(&caseRecord{c: &Case{N: 8}}, 90*mib, t0)
	if b := w.check(150 * mib); b != nil {
		t.Errorf("+60 MiB blamed: %+v", b)
	}
	// a rise that shows only after the last case: that case
	w.add(&caseRecord{c: &Case{N: 9}}, 90*mib, t0)
	w.add(&caseRecord{c: &Case{N: 10}}, 91*mib, t0)
	if b := w.check(200 * mib); b == nil || b.rec.c.N != 10 {
		t.Errorf("blamed %+v, want case 10", b)
	}
}
