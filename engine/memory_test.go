package engine

import (
	"testing"
	"time"
	"unsafe"
)

// TestStructSizes guards what an idle connection costs: a node keeps a
// conn and a peer for every connected node (10,000 idle connections must
// fit in 1 KiB each, gnet's share included), so growing either past its
// allocation size class is a decision, not an accident.
func TestStructSizes(t *testing.T) {
	for _, s := range []struct {
		name      string
		size, max uintptr
	}{
		{"conn", unsafe.Sizeof(conn{}), 128},
		{"peer", unsafe.Sizeof(peer{}), 48},
	} {
		if s.size > s.max {
			t.Errorf("%s is %d bytes, more than %d", s.name, s.size, s.max)
		}
	}
}

// TestSinceMillis: 32-bit millisecond stamps keep conn and peer small;
// their differences must survive the wrap and a stamp taken just after
// "now" (the housekeeping tick's time) must not look 49 days old.
func TestSinceMillis(t *testing.T) {
	for _, c := range []struct {
		now, then uint32
		want      time.Duration
	}{
		{1500, 1000, 500 * time.Millisecond},
		{1000, 1500, -500 * time.Millisecond},
		{5, 0xffff_fff0, 21 * time.Millisecond},
		{0xffff_fff0, 5, -21 * time.Millisecond},
	} {
		if got := sinceMillis(c.now, c.then); got != c.want {
			t.Errorf("sinceMillis(%d, %d) = %v, want %v", c.now, c.then, got, c.want)
		}
	}
}
