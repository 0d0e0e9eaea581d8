package engine

import "time"

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow returns monotonic nanoseconds since the process started: a
// timestamp in 8 bytes instead of a time.Time's 24 (a peer keeps three).
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// monoMillis returns monoNow in milliseconds, in 32 bits (it wraps after
// 49 days: only differences of it are meaningful; see sinceMillis).
func monoMillis() uint32 { return millisOf(monoNow()) }

// millisOf converts a monoNow value to monoMillis.
func millisOf(mono int64) uint32 { return uint32(mono / int64(time.Millisecond)) }

// sinceMillis returns the time from then to now, two monoMillis values.
// It is signed (a timestamp taken just after now gives a small negative
// duration) and correct while they are less than 24 days apart.
func sinceMillis(now, then uint32) time.Duration {
	return time.Duration(int32(now-then)) * time.Millisecond
}

// monoAt converts a time read from the clock to monoNow's scale.
func monoAt(t time.Time) int64 { return int64(t.Sub(monoEpoch)) }
